# The C library as the Cython bridge sees it: every declaration _ext.pyx uses (it cimports
# them all), so that the bridge itself is code only.
#
# First csrc/include/fastconv.h, the public C API (status codes, parameter structs, the ops and
# their reference twins, threads, ISA paths), mirrored by hand: a change there is made here too.
# Then what the public API does not offer, from csrc's internal headers: the kernel member
# tables, the block cache, the geometry, size arithmetic and scheduler modes the tests probe;
# and _output_memory.h, beside this file: numpy's memory handler for large outputs.
from libc.stdint cimport int64_t, uint64_t

cdef extern from "fastconv.h" nogil:
    ctypedef enum fc_status:
        FC_OK
        FC_ERR_INVALID_ARGUMENT
        FC_ERR_SIZE_OVERFLOW
        FC_ERR_OUT_OF_MEMORY
        FC_ERR_WORKSPACE_TOO_SMALL
    ctypedef enum fc_dtype:
        FC_FLOAT32
        FC_FLOAT64
    ctypedef enum fc_activation:
        FC_ACTIVATION_NONE
    ctypedef struct fc_epilogue:
        const void *bias
        const void *residual
        fc_activation activation
        double alpha
    ctypedef enum fc_conv_algorithm:
        FC_CONV_AUTO
        FC_CONV_DIRECT
        FC_CONV_IM2COL
        FC_CONV_POINTWISE
        FC_CONV_DEPTHWISE
        FC_CONV_WINOGRAD
        FC_CONV_AUTO_HIGH
    ctypedef enum fc_isa:
        FC_ISA_SCALAR
        FC_ISA_AVX2
        FC_ISA_AVX512
        FC_ISA_NEON

    ctypedef struct fc_conv2d_params:
        int64_t n, c, h, w, k, r, s
        int64_t stride_h, stride_w, dilation_h, dilation_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t groups
        int64_t max_workspace_bytes

    ctypedef struct fc_pool2d_params:
        int64_t n, c, h, w
        int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w
        int ceil_mode
        int count_include_pad
        int64_t divisor_override

    fc_status fc_conv2d_output_size(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w)
    fc_status fc_pool2d_output_size(const fc_pool2d_params *p, int64_t *out_h, int64_t *out_w)

    fc_status fc_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const fc_epilogue *epilogue, void *y,
                                fc_conv_algorithm algorithm)
    fc_conv_algorithm fc_conv2d_auto_algorithm(const fc_conv2d_params *p, fc_dtype dtype,
                                               fc_conv_algorithm mode)
    fc_status fc_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y, int64_t *indices)
    fc_status fc_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y)

    fc_status fc_ref_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                    const void *weight, const fc_epilogue *epilogue, void *y)
    fc_status fc_ref_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype,
                                        const void *x, void *y, int64_t *indices)
    fc_status fc_ref_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype,
                                        const void *x, void *y)
    fc_status fc_linear_forward(int64_t n, int64_t in_features, int64_t out_features,
                                fc_dtype dtype, const void *x, const void *weight,
                                const fc_epilogue *epilogue, void *y)
    fc_status fc_ref_linear_forward(int64_t n, int64_t in_features, int64_t out_features,
                                    fc_dtype dtype, const void *x, const void *weight,
                                    const fc_epilogue *epilogue, void *y)
    fc_status fc_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                                 fc_dtype dtype, const void *grad_output, const void *x,
                                 const void *weight, void *grad_input, void *grad_weight,
                                 void *grad_bias)
    fc_status fc_ref_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                                     fc_dtype dtype, const void *grad_output, const void *x,
                                     const void *weight, void *grad_input, void *grad_weight,
                                     void *grad_bias)

    fc_status fc_conv2d_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                      fc_conv_algorithm algorithm, int64_t *bytes)
    # channels last (NHWC)
    fc_status fc_conv2d_forward_nhwc(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                     const void *weight, const fc_epilogue *epilogue, void *y)
    fc_status fc_conv2d_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                           int64_t *bytes)
    fc_status fc_max_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype,
                                         const void *x, void *y, int64_t *indices)
    fc_status fc_avg_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype,
                                         const void *x, void *y)
    fc_status fc_max_pool2d_backward_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                                          int64_t out_h, int64_t out_w, fc_dtype dtype,
                                          const void *grad_output, const int64_t *indices,
                                          void *grad_input)
    fc_status fc_avg_pool2d_backward_nhwc(const fc_pool2d_params *p, fc_dtype dtype,
                                          const void *grad_output, void *grad_input)
    fc_status fc_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                 const void *grad_output, const void *x, const void *weight,
                                 void *grad_input, void *grad_weight, void *grad_bias,
                                 fc_conv_algorithm grad_input_algorithm)
    fc_status fc_conv2d_backward_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                               int grad_input, int grad_weight, int grad_bias,
                                               fc_conv_algorithm grad_input_algorithm,
                                               int64_t *bytes)
    fc_status fc_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                      const void *grad_output, const void *x,
                                      const void *weight, void *grad_input, void *grad_weight,
                                      void *grad_bias)
    fc_status fc_conv2d_backward_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                                    int grad_input, int grad_weight,
                                                    int grad_bias, int64_t *bytes)
    fc_status fc_ref_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                          const void *grad_output, const void *x,
                                          const void *weight, void *grad_input,
                                          void *grad_weight, void *grad_bias)
    # Winograd filters transformed once (fastconv.prepare_weights)
    fc_status fc_conv2d_winograd_prepared_size(const fc_conv2d_params *p, int64_t *floats,
                                               int64_t *mr)
    fc_status fc_conv2d_winograd_prepare(const fc_conv2d_params *p, const float *weight,
                                         float *u, int64_t floats)
    fc_status fc_conv2d_forward_prepared(const fc_conv2d_params *p, const float *x,
                                         const float *u, int64_t floats, int64_t mr,
                                         const fc_epilogue *epilogue, float *y)
    fc_status fc_conv2d_prepared_min_workspace(const fc_conv2d_params *p, int64_t floats,
                                               int64_t mr, int64_t *bytes)
    fc_status fc_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w, fc_dtype dtype, const void *grad_output,
                                     const int64_t *indices, void *grad_input)
    fc_status fc_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                     const void *grad_output, void *grad_input)
    fc_status fc_ref_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                     const void *grad_output, const void *x, const void *weight,
                                     void *grad_input, void *grad_weight, void *grad_bias)
    fc_status fc_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype,
                                          const void *x, const void *weight,
                                          const fc_epilogue *epilogue, void *y)
    fc_status fc_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                           const void *grad_output, const void *x,
                                           const void *weight, void *grad_input,
                                           void *grad_weight, void *grad_bias)
    fc_status fc_ref_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype,
                                              const void *x, const void *weight,
                                              const fc_epilogue *epilogue, void *y)
    fc_status fc_ref_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                               const void *grad_output, const void *x,
                                               const void *weight, void *grad_input,
                                               void *grad_weight, void *grad_bias)
    fc_status fc_ref_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                         int64_t out_h, int64_t out_w, fc_dtype dtype,
                                         const void *grad_output, const int64_t *indices,
                                         void *grad_input)
    fc_status fc_ref_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                         const void *grad_output, void *grad_input)
    fc_status fc_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                             int64_t out_h, int64_t out_w, fc_dtype dtype,
                                             const void *x, void *y)
    fc_status fc_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                              int64_t out_h, int64_t out_w, fc_dtype dtype,
                                              const void *grad_output, void *grad_input)
    fc_status fc_ref_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                                 int64_t out_h, int64_t out_w, fc_dtype dtype,
                                                 const void *x, void *y)
    fc_status fc_ref_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                                  int64_t out_h, int64_t out_w, fc_dtype dtype,
                                                  const void *grad_output, void *grad_input)
    ctypedef struct fc_batch_norm_params:
        int64_t n, c, hw
        int training
        double momentum, eps
    fc_status fc_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype,
                                    const void *x, const void *weight, const void *bias,
                                    void *running_mean, void *running_var, void *y,
                                    void *save_mean, void *save_invstd)
    fc_status fc_ref_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype,
                                        const void *x, const void *weight, const void *bias,
                                        void *running_mean, void *running_var, void *y,
                                        void *save_mean, void *save_invstd)
    fc_status fc_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                     const void *grad_output, const void *x,
                                     const void *weight, const void *mean, const void *invstd,
                                     void *grad_input, void *grad_weight, void *grad_bias)
    fc_status fc_ref_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                         const void *grad_output, const void *x,
                                         const void *weight, const void *mean,
                                         const void *invstd, void *grad_input,
                                         void *grad_weight, void *grad_bias)
    fc_status fc_add_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                             double alpha, const void *a, const void *b, void *y)
    fc_status fc_ref_add_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                 double alpha, const void *a, const void *b, void *y)
    fc_status fc_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                    double alpha, const void *x, void *y)
    fc_status fc_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                     double alpha, const void *grad_output, const void *x,
                                     void *grad_input)
    fc_status fc_ref_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                        double alpha, const void *x, void *y)
    fc_status fc_ref_activation_backward(int64_t count, fc_dtype dtype,
                                         fc_activation activation, double alpha,
                                         const void *grad_output, const void *x,
                                         void *grad_input)

    ctypedef enum fc_border:
        FC_BORDER_CONSTANT
        FC_BORDER_REPLICATE
        FC_BORDER_REFLECT
        FC_BORDER_REFLECT101
        FC_BORDER_WRAP
    ctypedef enum fc_pixel_type:
        FC_PIXEL_U8
        FC_PIXEL_U16
        FC_PIXEL_I16
        FC_PIXEL_F32
        FC_PIXEL_F64
    ctypedef struct fc_filter2d_params:
        int64_t n, h, w, c
        int64_t x_strides[4]
        int64_t kh, kw, anchor_y, anchor_x
        fc_border border
        double value, delta
        fc_pixel_type x_type, y_type
    fc_status fc_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                          void *y)
    fc_status fc_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                              const double *ky, void *y)
    fc_status fc_ref_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                              void *y)
    fc_status fc_ref_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                                  const double *ky, void *y)

    const char *fc_status_string(fc_status status)
    const char *fc_activation_name(fc_activation activation)
    fc_status fc_set_num_threads(int n)
    int fc_get_num_threads()
    int fc_has_openmp()
    int fc_arch_isas(const fc_isa **isas)
    fc_isa fc_cpu_isa()
    fc_isa fc_active_isa()
    void fc_select_isa(fc_isa requested)
    const char *fc_isa_name(fc_isa isa)
    const char *fc_kernel_name(const char *op, fc_dtype dtype)


# ---- csrc's internal headers ------------------------------------------------------------------

cdef extern from "kernels/members.h" nogil:
    ctypedef enum fc_family:
        FC_FAMILY_COUNT
    ctypedef struct fc_member:
        fc_family family
        const char *dtype
        fc_isa isa
        const char *name
        const char *symbol
        int64_t mr, nr, kc, nc, lanes, item_rows
    size_t fc_family_members(fc_family family, const fc_member **members)
    const char *fc_family_name(fc_family family)
    const fc_member *fc_active_member(fc_family family, const char *dtype)
    int fc_isa_rank(fc_isa isa)


cdef extern from "common/internal.h" nogil:
    int fc_probe_team_size(int64_t work)
    fc_status fc_checked_product(const int64_t *factors, int count, int64_t *out)
    int64_t fc_mul_saturating(int64_t a, int64_t b)
    int64_t fc_ceil_div(int64_t a, int64_t b)
    int64_t fc_floor_div(int64_t a, int64_t b)
    void *fc_aligned_alloc(int64_t bytes)
    void fc_aligned_free(void *p)

cdef extern from "common/memory.h" nogil:
    void fc_cache_set_limit(int64_t bytes)
    int64_t fc_cache_limit()
    int64_t fc_cache_bytes()
    int64_t fc_cache_empty()

cdef extern from "_output_memory.h":
    object fc_output_handler_capsule()
    object PyDataMem_SetHandler(object handler)

cdef extern from "common/geometry.h" nogil:
    fc_status fc_window_count(int64_t size, int64_t pad_before, int64_t pad_after,
                              int64_t kernel, int64_t stride, int64_t dilation, int ceil_mode,
                              int64_t *out)
    void fc_valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count,
                        int64_t *lo, int64_t *hi)
    void fc_window_interior(int64_t size, int64_t pad_before, int64_t kernel, int64_t stride,
                            int64_t dilation, int64_t count, int64_t *lo, int64_t *hi)
    void fc_avg_pool_window(int64_t o, int64_t stride, int64_t pad, int64_t kernel,
                            int64_t size, int64_t *lo, int64_t *hi, int64_t *padded)
    ctypedef struct fc_avg_pool_rule:
        int count_include_pad
        int64_t divisor_override
    int64_t fc_avg_pool_divisor(fc_avg_pool_rule rule, int64_t rows, int64_t cols,
                                int64_t padded_rows, int64_t padded_cols)

cdef extern from "common/parallel.h" nogil:
    void fc_task_range(int64_t total, int64_t count, int64_t i, int64_t *begin, int64_t *end)
    int64_t fc_task_count(int64_t units, int64_t unit_cost, int64_t min_task)
    void fc_set_schedule_test(int mode, uint64_t seed)
    int fc_schedule_test_mode()
    void fc_probe_schedule(int threads, int64_t phases, const int64_t *tasks,
                           int64_t *first_task, int64_t *started, int64_t *thread)
    int FC_SCHEDULE_SHUFFLE
    int FC_SCHEDULE_DELAY
