/* NEON has no masked or gathered loads and stores: the vocabularies' FC_VLOADM, FC_VSTOREM and
 * FC_VGATHERM go lane by lane through memory here.  They are only used on the last, partial
 * vector of a row (and for strides other than 1 and 2), so the plain vector loop stays fast.
 * Masked-off lanes are never read or written, so they never fault. */
#ifndef FC_SIMD_NEON_HELPERS_H
#define FC_SIMD_NEON_HELPERS_H

#include "simd/target_neon.h"

static const uint32_t fc_neon_iota32[4] = {0, 1, 2, 3};
static const uint64_t fc_neon_iota64[2] = {0, 1};

static inline float32x4_t fc_neon_loadm_f32(uint32x4_t m, const float *p)
{
    uint32_t on[4];
    float v[4];
    vst1q_u32(on, m);
    for (int l = 0; l < 4; l++) v[l] = on[l] ? p[l] : 0.0f;
    return vld1q_f32(v);
}

static inline float32x4_t fc_neon_load_lanes_f32(const float *p, int64_t lo, int64_t hi)
{
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t l = lo; l < hi; l++) v[l] = p[l - lo];
    return vld1q_f32(v);
}

static inline void fc_neon_storem_f32(float *p, uint32x4_t m, float32x4_t x)
{
    uint32_t on[4];
    float v[4];
    vst1q_u32(on, m);
    vst1q_f32(v, x);
    for (int l = 0; l < 4; l++)
        if (on[l]) p[l] = v[l];
}

static inline float32x4_t fc_neon_gatherm_f32(uint32x4_t m, const float *p, int32x4_t idx)
{
    uint32_t on[4];
    int32_t at[4];
    float v[4];
    vst1q_u32(on, m);
    vst1q_s32(at, idx);
    for (int l = 0; l < 4; l++) v[l] = on[l] ? p[at[l]] : 0.0f;
    return vld1q_f32(v);
}

static inline float64x2_t fc_neon_loadm_f64(uint64x2_t m, const double *p)
{
    uint64_t on[2];
    double v[2];
    vst1q_u64(on, m);
    for (int l = 0; l < 2; l++) v[l] = on[l] ? p[l] : 0.0;
    return vld1q_f64(v);
}

static inline void fc_neon_storem_f64(double *p, uint64x2_t m, float64x2_t x)
{
    uint64_t on[2];
    double v[2];
    vst1q_u64(on, m);
    vst1q_f64(v, x);
    for (int l = 0; l < 2; l++)
        if (on[l]) p[l] = v[l];
}

static inline float64x2_t fc_neon_gatherm_f64(uint64x2_t m, const double *p, int64x2_t idx)
{
    uint64_t on[2];
    int64_t at[2];
    double v[2];
    vst1q_u64(on, m);
    vst1q_s64(at, idx);
    for (int l = 0; l < 2; l++) v[l] = on[l] ? p[at[l]] : 0.0;
    return vld1q_f64(v);
}

#endif
