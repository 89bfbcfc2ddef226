/* gemm.h's NHWC A-panel pack for the f32 x86 members (AVX2 6x16, AVX-512 8x32): the MR pixels'
 * runs of cg channels of one tap to the rows of a packed A panel, dst[c * step + i] =
 * src[i][c].  The including file has its target header, FC_GEMM_MR (6 or 8) and
 * FC_GEMM_NHWC_PACK_NAME.
 *
 * 8 channels at a time: each pixel's run is one 256-bit load, and two rounds of in-lane
 * shuffles leave, in each 128-bit lane, 4 pixels of one channel, stored as they stand.  256-bit
 * in-lane shuffles, not 512-bit ones, even in the AVX-512 member: Ice Lake and later Intel
 * cores run them on two ports, the 512-bit ones on one.  On the 2-core AVX-512 Xeon the
 * driver's SSE2 4x4 transposes were 34% of the grouped layer (Cg = Kg = 32: one NR tile, so
 * the pack is not shared by several filter tiles). */
#if FC_GEMM_MR != 8 && FC_GEMM_MR != 6
#error "the NHWC pack is written for MR 6 and 8"
#endif

/* q[j], lane l: 4 pixels' (a, b, c, d) values of channel 4 l + j of their 8 (two rounds of
 * in-lane shuffles: pairs of pixels interleaved, then pairs of pairs) */
static inline __attribute__((always_inline)) void
fc_nhwc_pack_quad(const float *a, const float *b, const float *c, const float *d, __m256 q[4])
{
    const __m256 va = _mm256_loadu_ps(a), vb = _mm256_loadu_ps(b), vc = _mm256_loadu_ps(c),
                 vd = _mm256_loadu_ps(d);
    const __m256 ab0 = _mm256_unpacklo_ps(va, vb), ab1 = _mm256_unpackhi_ps(va, vb);
    const __m256 cd0 = _mm256_unpacklo_ps(vc, vd), cd1 = _mm256_unpackhi_ps(vc, vd);
    q[0] = _mm256_shuffle_ps(ab0, cd0, 0x44);
    q[1] = _mm256_shuffle_ps(ab0, cd0, 0xEE);
    q[2] = _mm256_shuffle_ps(ab1, cd1, 0x44);
    q[3] = _mm256_shuffle_ps(ab1, cd1, 0xEE);
}

void FC_GEMM_NHWC_PACK_NAME(const float *const *src, int64_t cg, float *dst, int64_t step)
{
    /* the pointers in registers: the stores to dst could alias src[], for all gcc knows */
    const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4],
                *s5 = src[5];
#if FC_GEMM_MR == 8
    const float *s6 = src[6], *s7 = src[7];
#endif
    int64_t c = 0;
    for (; c + 8 <= cg; c += 8) {
        __m256 lo[4]; /* lo[j], lane l: pixels 0-3 of channel c + 4 l + j */
        fc_nhwc_pack_quad(s0 + c, s1 + c, s2 + c, s3 + c, lo);
#if FC_GEMM_MR == 8
        __m256 hi[4]; /* pixels 4-7 */
        fc_nhwc_pack_quad(s4 + c, s5 + c, s6 + c, s7 + c, hi);
#else
        /* pixels 4 and 5 interleaved, per lane: t4 channels 0, 1 as 64-bit halves, t5 2, 3 */
        const __m256 t4 = _mm256_unpacklo_ps(_mm256_loadu_ps(s4 + c), _mm256_loadu_ps(s5 + c));
        const __m256 t5 = _mm256_unpackhi_ps(_mm256_loadu_ps(s4 + c), _mm256_loadu_ps(s5 + c));
#endif
        for (int j = 0; j < 4; j++) {
            float *d0 = dst + (c + j) * step, *d1 = d0 + 4 * step; /* channels c+j, c+4+j */
            _mm_storeu_ps(d0, _mm256_castps256_ps128(lo[j]));
            _mm_storeu_ps(d1, _mm256_extractf128_ps(lo[j], 1));
#if FC_GEMM_MR == 8
            _mm_storeu_ps(d0 + 4, _mm256_castps256_ps128(hi[j]));
            _mm_storeu_ps(d1 + 4, _mm256_extractf128_ps(hi[j], 1));
#else
            const __m256 t = j < 2 ? t4 : t5;
            if (j % 2 == 0) {
                _mm_storel_pi((__m64 *)(d0 + 4), _mm256_castps256_ps128(t));
                _mm_storel_pi((__m64 *)(d1 + 4), _mm256_extractf128_ps(t, 1));
            } else {
                _mm_storeh_pi((__m64 *)(d0 + 4), _mm256_castps256_ps128(t));
                _mm_storeh_pi((__m64 *)(d1 + 4), _mm256_extractf128_ps(t, 1));
            }
#endif
        }
    }
    for (; c < cg; c++)
        for (int i = 0; i < FC_GEMM_MR; i++) dst[c * step + i] = src[i][c];
}
