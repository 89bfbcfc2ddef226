/* Instantiate a *.tmpl.h for float64: FC_REAL is the element type, FC_FN(name) the symbol. */
#define FC_REAL double
#define FC_FN(name) fc_f64_##name
#define FC_DTYPE_TAG f64
#define FC_MEMBER(name) f64_##name
