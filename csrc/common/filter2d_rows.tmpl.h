/* filter2d's pixel rows in the sum type FC_REAL (instantiated by ops/filter2d.c and
 * ref/filter2d.c): converting loads from any pixel type and stride, and rounding, saturating
 * stores to the output type.  The contiguous cases are separate loops so that they vectorise. */

/* dst[j * dst_stride] = x[j * stride] for j < count, converted to FC_REAL (exactly: every
 * uint8, uint16 and int16 is a float32; float64 pixels summed in float32 are rounded once,
 * here). */
static void FC_FN(filter2d_load_row)(FC_REAL *dst, int64_t dst_stride, const char *x,
                                     int64_t count, int64_t stride, fc_pixel_type type)
{
#define FC_LOAD(T)                                                          \
    do {                                                                    \
        const T *src = (const T *)x;                                        \
        if (stride == 1 && dst_stride == 1)                                 \
            for (int64_t j = 0; j < count; j++) dst[j] = (FC_REAL)src[j];   \
        else                                                                \
            for (int64_t j = 0; j < count; j++)                             \
                dst[j * dst_stride] = (FC_REAL)src[j * stride];             \
    } while (0)
    /* pixels of the sum type, packed: a copy, in libc's widest vectors (the loop below is
     * compiled for the baseline's 16-byte ones): a float32 RGB 5x5 filter 5-10% faster */
    if (type == (sizeof(FC_REAL) == 4 ? FC_PIXEL_F32 : FC_PIXEL_F64) && stride == 1 &&
        dst_stride == 1) {
        memcpy(dst, x, (size_t)count * sizeof(FC_REAL));
        return;
    }
    switch (type) {
    case FC_PIXEL_U8: FC_LOAD(uint8_t); break;
    case FC_PIXEL_U16: FC_LOAD(uint16_t); break;
    case FC_PIXEL_I16: FC_LOAD(int16_t); break;
    case FC_PIXEL_F32: FC_LOAD(float); break;
    default: FC_LOAD(double); break;
    }
#undef FC_LOAD
}

/* y[j * stride] = src[j] for j < count, rounded half to even and saturated for integer types
 * (cv::saturate_cast), converted for float types. */
FC_VECTORIZABLE_CLAMPS static void FC_FN(filter2d_store_row)(char *y, int64_t stride,
                                                             const FC_REAL *src, int64_t count,
                                                             fc_pixel_type type)
{
#define FC_STORE(T, LO, HI)                                                                  \
    do {                                                                                     \
        T *dst = (T *)y;                                                                     \
        if (stride == 1)                                                                     \
            for (int64_t j = 0; j < count; j++)                                              \
                dst[j] = (T)(int32_t)FC_FN(filter2d_round)(src[j], LO, HI);                 \
        else                                                                                 \
            for (int64_t j = 0; j < count; j++)                                              \
                dst[j * stride] = (T)(int32_t)FC_FN(filter2d_round)(src[j], LO, HI);        \
    } while (0)
#if defined(__SSE2__)
    if (type == FC_PIXEL_U8 && stride == 1 && sizeof(FC_REAL) == sizeof(float)) {
        const int64_t done = fc_store_u8_sse2((uint8_t *)y, (const float *)(const void *)src,
                                              count);
        y += done;
        src += done;
        count -= done;
    }
#endif
    switch (type) {
    case FC_PIXEL_U8: FC_STORE(uint8_t, 0, 255); break;
    case FC_PIXEL_U16: FC_STORE(uint16_t, 0, 65535); break;
    case FC_PIXEL_I16: FC_STORE(int16_t, -32768, 32767); break;
    case FC_PIXEL_F32:
        for (int64_t j = 0; j < count; j++) ((float *)y)[j * stride] = (float)src[j];
        break;
    default:
        for (int64_t j = 0; j < count; j++) ((double *)y)[j * stride] = (double)src[j];
        break;
    }
#undef FC_STORE
}
