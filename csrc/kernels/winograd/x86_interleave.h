/* The x86 half of WINO_INTERLEAVE (simd.tmpl.h), for AVX2 and AVX-512: with T the vector type
 * (__m256, __m512) and P its intrinsics' prefix (_mm256, _mm512), declares r0 .. r3, whose
 * 128-bit lane L holds tile 4 L + s of r_s, columns j = 0 .. 3 (a 4x4 transpose inside each
 * 128-bit lane: x86's unpacks work lane by lane).  The including file then transposes the
 * lanes. */
#define WINO_X86_LANE_TRANSPOSE(T, P, y, r0, r1, r2, r3)                  \
    const T##d a_ = P##_castps_pd(P##_unpacklo_ps(y[0], y[1]));          \
    const T##d b_ = P##_castps_pd(P##_unpackhi_ps(y[0], y[1]));          \
    const T##d c_ = P##_castps_pd(P##_unpacklo_ps(y[2], y[3]));          \
    const T##d d_ = P##_castps_pd(P##_unpackhi_ps(y[2], y[3]));          \
    const T r0 = P##_castpd_ps(P##_unpacklo_pd(a_, c_));                 \
    const T r1 = P##_castpd_ps(P##_unpackhi_pd(a_, c_));                 \
    const T r2 = P##_castpd_ps(P##_unpacklo_pd(b_, d_));                 \
    const T r3 = P##_castpd_ps(P##_unpackhi_pd(b_, d_))
