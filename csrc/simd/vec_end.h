/* Close a vec_<isa>_<dtype>.h vocabulary. */
#undef FC_V
#undef FC_M
#undef FC_LANES
#undef FC_ISA_SUFFIX
#undef FC_VLOAD
#undef FC_VSTORE
#undef FC_VSTREAM
#undef FC_VSTREAM_FENCE
#undef FC_VSET1
#undef FC_VZERO
#undef FC_VADD
#undef FC_VFMA
#undef FC_VDIV
#undef FC_VNLE
#undef FC_VORD
#undef FC_MAND
#undef FC_VBLEND
#undef FC_VRELU
#undef FC_TAIL_MASK
#undef FC_RANGE_MASK /* f32 vocabularies only */
#undef FC_VLOADM
#undef FC_VSTOREM
#undef FC_VLOAD_LANES
#undef FC_VEVEN
#undef FC_VIDX
#undef FC_VIDX_STRIDE
#undef FC_VGATHERM
#undef FC_VODD
#undef FC_STORE_INDICES /* optional: the templates have a scalar loop without it */
