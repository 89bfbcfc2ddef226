/* Instantiate a *.tmpl.h for float32: FC_REAL is the element type, FC_FN(name) the symbol. */
#define FC_REAL float
#define FC_FN(name) fc_f32_##name
#define FC_DTYPE_TAG f32
#define FC_MEMBER(name) f32_##name
