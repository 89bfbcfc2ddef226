/* The epilogue row loop (rows.tmpl.h) for float32, compiled for AVX-512: 16 elements a vector. */
#include "simd/target_avx512.h"
/* 512-bit vectors: gcc's generic tuning would vectorise with 256-bit ones (relu6 on 300k
 * floats: 32 us at 512 bits, 55 with AVX2, 93 with SSE2) */
#pragma GCC target("prefer-vector-width=512")
#include "kernels/epilogue/epilogue.h"

#include "simd/dtype_f32.h"
#define FC_EPILOGUE_NAME fc_f32_epilogue_ukernel_16__avx512
#include "kernels/epilogue/rows.tmpl.h"
