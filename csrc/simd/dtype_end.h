/* Close an instantiation begun with dtype_f32.h or dtype_f64.h. */
#undef FC_REAL
#undef FC_FN
#undef FC_DTYPE_TAG
#undef FC_MEMBER
