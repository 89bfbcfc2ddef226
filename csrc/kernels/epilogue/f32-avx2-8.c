/* The epilogue row loop (rows.tmpl.h) for float32, compiled for AVX2: 8 elements a vector. */
#include "simd/target_avx2.h"
#include "kernels/epilogue/epilogue.h"

#include "simd/dtype_f32.h"
#define FC_EPILOGUE_NAME fc_f32_epilogue_ukernel_8__avx2
#include "kernels/epilogue/rows.tmpl.h"
