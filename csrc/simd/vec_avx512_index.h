/* Max pooling's flat indices from the winners' window positions, 8 int64 lanes at a time, for
 * the AVX-512 vocabularies (vec_avx512_f32.h, vec_avx512_f64.h). */
#ifndef FC_SIMD_VEC_AVX512_INDEX_H
#define FC_SIMD_VEC_AVX512_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* indices[l] = row_offsets[row[l]] + base + l * s + col[l] * d for the lanes of m: the window
 * row is looked up in a register up to 8 rows, by a gather above */
static inline void fc_store_indices8__avx512(int64_t *indices, __mmask8 m, __m512i row,
                                             __m512i col, const int64_t *row_offsets,
                                             size_t rows, int64_t base, int64_t s, int64_t d)
{
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i offsets =
        rows <= 8 ? _mm512_permutexvar_epi64(
                        row, _mm512_maskz_loadu_epi64(
                                 (__mmask8)(rows >= 8 ? 0xFF : (1u << rows) - 1), row_offsets))
                  : _mm512_i64gather_epi64(row, row_offsets, 8);
    const __m512i columns = _mm512_add_epi64(
        _mm512_set1_epi64(base),
        _mm512_add_epi64(_mm512_mullo_epi64(lane, _mm512_set1_epi64(s)),
                         _mm512_mullo_epi64(col, _mm512_set1_epi64(d))));
    _mm512_mask_storeu_epi64(indices, m, _mm512_add_epi64(offsets, columns));
}

#endif
