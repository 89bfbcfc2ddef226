/* The epilogue row loop (rows.tmpl.h) for float64, compiled for AVX2: 4 elements a vector. */
#include "simd/target_avx2.h"
#include "kernels/epilogue/epilogue.h"

#include "simd/dtype_f64.h"
#define FC_EPILOGUE_NAME fc_f64_epilogue_ukernel_4__avx2
#include "kernels/epilogue/rows.tmpl.h"
