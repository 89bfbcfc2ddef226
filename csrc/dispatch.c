/* CPU features once -> the kernel table.  Every family lists its members in a table
 * (kernels/<family>/members.c, kernels/members.h); for each family and dtype the table gets
 * the member of the highest ISA path that the CPU and FASTCONV_ISA allow.  Every family has a
 * scalar member, so a family without a SIMD member for the path still runs, on that (BLIS's
 * reference-first structure).  ISA paths are per architecture: x86-64 scalar < avx2 < avx512
 * (cpuid), aarch64 scalar < neon (NEON is baseline; HWCAP asked anyway), else scalar. */
#include <string.h>

#include "dispatch.h"
#include "simd/arch.h"

#if FC_ARCH_AARCH64
#include <sys/auxv.h> /* getauxval: Linux's CPU feature bits */
#endif

static fc_kernel_table table;
static int table_ready = 0;

/* This architecture's paths, lowest first: "best" is the last one the CPU has. */
static const fc_isa arch_isas[] = {
    FC_ISA_SCALAR,
#if FC_ARCH_X86_64
    FC_ISA_AVX2, FC_ISA_AVX512,
#elif FC_ARCH_AARCH64
    FC_ISA_NEON,
#endif
};
enum { ARCH_ISA_COUNT = sizeof arch_isas / sizeof arch_isas[0] };

int fc_arch_isas(const fc_isa **isas)
{
    *isas = arch_isas;
    return ARCH_ISA_COUNT;
}

int fc_isa_rank(fc_isa isa)
{
    for (int i = 0; i < ARCH_ISA_COUNT; i++)
        if (arch_isas[i] == isa) return i;
    return -1;
}

fc_isa fc_cpu_isa(void)
{
#if FC_ARCH_X86_64
    /* libgcc's probe also checks that the OS saves the wide registers (XGETBV). */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return FC_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FC_ISA_AVX2;
#elif FC_ARCH_AARCH64
    /* Advanced SIMD is part of the base architecture (HWCAP_ASIMD is set on every Linux
     * aarch64 CPU); asked anyway, so a kernel that hides it falls back to scalar. */
#ifdef HWCAP_ASIMD
    if (!(getauxval(AT_HWCAP) & HWCAP_ASIMD)) return FC_ISA_SCALAR;
#endif
    return FC_ISA_NEON;
#endif
    return FC_ISA_SCALAR;
}

size_t fc_family_members(fc_family family, const fc_member **members)
{
    switch (family) {
    case FC_FAMILY_GEMM: *members = fc_gemm_members; return fc_gemm_member_count;
    case FC_FAMILY_GEMM_NT: *members = fc_gemm_nt_members; return fc_gemm_nt_member_count;
    case FC_FAMILY_DCONV: *members = fc_dconv_members; return fc_dconv_member_count;
    case FC_FAMILY_DWCONV: *members = fc_dwconv_members; return fc_dwconv_member_count;
    case FC_FAMILY_POOL: *members = fc_pool_members; return fc_pool_member_count;
    case FC_FAMILY_RELU: *members = fc_relu_members; return fc_relu_member_count;
    case FC_FAMILY_RELU_BACKWARD:
        *members = fc_relu_backward_members;
        return fc_relu_backward_member_count;
    case FC_FAMILY_VADD: *members = fc_vadd_members; return fc_vadd_member_count;
    case FC_FAMILY_INDEX_CHECK:
        *members = fc_index_check_members;
        return fc_index_check_member_count;
    case FC_FAMILY_WINOGRAD:
        *members = fc_winograd_members;
        return fc_winograd_member_count;
    case FC_FAMILY_EPILOGUE: *members = fc_epilogue_members; return fc_epilogue_member_count;
    case FC_FAMILY_POOL_NHWC:
        *members = fc_pool_nhwc_members;
        return fc_pool_nhwc_member_count;
    case FC_FAMILY_DWCONV_NHWC:
        *members = fc_dwconv_nhwc_members;
        return fc_dwconv_nhwc_member_count;
    case FC_FAMILY_COUNT: break;
    }
    *members = NULL;
    return 0;
}

const char *fc_family_name(fc_family family)
{
    static const char *const names[FC_FAMILY_COUNT] = {
        "gemm", "gemm_nt", "dconv", "dwconv", "pool", "relu", "relu_backward", "vadd",
        "index_check", "winograd", "epilogue", "pool_nhwc", "dwconv_nhwc"};
    return (unsigned)family < FC_FAMILY_COUNT ? names[family] : NULL;
}

/* The family's member for dtype of the highest path of rank <= `rank` (the first listed of
 * equals); NULL if the family has none for dtype. */
static const fc_member *best_member(fc_family family, const char *dtype, int rank)
{
    const fc_member *members, *best = NULL;
    const size_t count = fc_family_members(family, &members);
    int best_rank = -1;
    for (size_t i = 0; i < count; i++) {
        const int r = fc_isa_rank(members[i].isa);
        if (strcmp(members[i].dtype, dtype) == 0 && r >= 0 && r <= rank && r > best_rank) {
            best = &members[i];
            best_rank = r;
        }
    }
    return best;
}

static int dtype_slot(const char *dtype) { return strcmp(dtype, "f64") == 0; }

const fc_member *fc_active_member(fc_family family, const char *dtype)
{
    if ((unsigned)family >= FC_FAMILY_COUNT) return NULL;
    const fc_member *m = fc_kernels()->members[family][dtype_slot(dtype)];
    return m && strcmp(m->dtype, dtype) == 0 ? m : NULL;
}

/* The table's entries from the chosen members: the drivers read these typed configs. */
#define FC_INSTALL_DTYPE(tag, t, rank)                                                          \
    do {                                                                                    \
        const fc_member *m;                                                                 \
        m = t->members[FC_FAMILY_GEMM][dtype_slot(#tag)] =                                  \
            best_member(FC_FAMILY_GEMM, #tag, rank);                                        \
        t->tag##_gemm = (fc_##tag##_gemm_config){(fc_##tag##_gemm_ukernel_fn)m->fn, m->mr,  \
                                                 m->nr, m->kc, m->nc, m->name,              \
                                                 (fc_##tag##_gemm_rows_ukernel_fn)m->fn2,   \
                                                 (fc_##tag##_gemm_im2col_run_fn)m->fn3,     \
                                                 (fc_##tag##_gemm_nhwc_pack_fn)m->fn4};     \
        m = t->members[FC_FAMILY_GEMM_NT][dtype_slot(#tag)] =                               \
            best_member(FC_FAMILY_GEMM_NT, #tag, rank);                                     \
        t->tag##_gemm_nt = (fc_##tag##_gemm_nt_config){(fc_##tag##_gemm_nt_ukernel_fn)m->fn, \
                                                       m->mr, m->nr, m->lanes, m->name};    \
        m = t->members[FC_FAMILY_DCONV][dtype_slot(#tag)] =                                 \
            best_member(FC_FAMILY_DCONV, #tag, rank);                                       \
        t->tag##_dconv =                                                                    \
            (fc_##tag##_dconv_config){(fc_##tag##_dconv_ukernel_fn)m->fn, m->mr, m->name};  \
        m = t->members[FC_FAMILY_DWCONV][dtype_slot(#tag)] =                                \
            best_member(FC_FAMILY_DWCONV, #tag, rank);                                      \
        t->tag##_dwconv = (fc_##tag##_dwconv_config){(fc_##tag##_dwconv_ukernel_fn)m->fn,    \
                                                     m->item_rows,                          \
                                                     (fc_##tag##_dwconv_gw_ukernel_fn)m->fn2, \
                                                     (fc_##tag##_dwconv_direct_ukernel_fn)m->fn3, \
                                                     m->name};                              \
        m = t->members[FC_FAMILY_POOL][dtype_slot(#tag)] =                                  \
            best_member(FC_FAMILY_POOL, #tag, rank);                                        \
        t->tag##_maxpool = (fc_##tag##_maxpool_ukernel_fn)m->fn;                            \
        t->tag##_avgpool = (fc_##tag##_avgpool_ukernel_fn)m->fn2;                           \
        m = t->members[FC_FAMILY_POOL_NHWC][dtype_slot(#tag)] =                             \
            best_member(FC_FAMILY_POOL_NHWC, #tag, rank);                                   \
        t->tag##_maxpool_nhwc = (fc_##tag##_maxpool_nhwc_ukernel_fn)m->fn;                  \
        t->tag##_avgpool_nhwc = (fc_##tag##_avgpool_nhwc_ukernel_fn)m->fn2;                 \
        m = t->members[FC_FAMILY_DWCONV_NHWC][dtype_slot(#tag)] =                           \
            best_member(FC_FAMILY_DWCONV_NHWC, #tag, rank);                                 \
        t->tag##_dwconv_nhwc = (fc_##tag##_dwconv_nhwc_ukernel_fn)m->fn;                    \
        t->tag##_dwconv_nhwc_gw = (fc_##tag##_dwconv_nhwc_gw_ukernel_fn)m->fn2;             \
        m = t->members[FC_FAMILY_RELU][dtype_slot(#tag)] =                                  \
            best_member(FC_FAMILY_RELU, #tag, rank);                                        \
        t->tag##_relu = (fc_##tag##_relu_ukernel_fn)m->fn;                                  \
        t->tag##_relu_stream = (fc_##tag##_relu_ukernel_fn)m->fn2;                          \
        m = t->members[FC_FAMILY_RELU_BACKWARD][dtype_slot(#tag)] =                         \
            best_member(FC_FAMILY_RELU_BACKWARD, #tag, rank);                               \
        t->tag##_relu_backward = (fc_##tag##_relu_backward_ukernel_fn)m->fn;                \
        m = t->members[FC_FAMILY_VADD][dtype_slot(#tag)] =                                  \
            best_member(FC_FAMILY_VADD, #tag, rank);                                        \
        t->tag##_vadd = (fc_##tag##_vadd_ukernel_fn)m->fn;                                  \
        m = t->members[FC_FAMILY_EPILOGUE][dtype_slot(#tag)] =                              \
            best_member(FC_FAMILY_EPILOGUE, #tag, rank);                                    \
        t->tag##_epilogue = (fc_##tag##_epilogue_ukernel_fn)m->fn;                          \
    } while (0)

void fc_select_isa(fc_isa requested)
{
    const int cpu = fc_isa_rank(fc_cpu_isa());
    int rank = fc_isa_rank(requested);
    if (rank < 0 || rank > cpu) rank = cpu;
    fc_kernel_table t;
    memset(&t, 0, sizeof t);
    t.isa = arch_isas[rank];
    fc_kernel_table *tp = &t;
    FC_INSTALL_DTYPE(f32, tp, rank);
    FC_INSTALL_DTYPE(f64, tp, rank);
    const fc_member *check = best_member(FC_FAMILY_INDEX_CHECK, "i64", rank);
    t.members[FC_FAMILY_INDEX_CHECK][0] = check;
    t.index_check = (fc_index_check_ukernel_fn)check->fn;
    const fc_member *wino = t.members[FC_FAMILY_WINOGRAD][0] =
        best_member(FC_FAMILY_WINOGRAD, "f32", rank);
    t.f32_winograd = (fc_f32_winograd_config){
        (fc_f32_winograd_input_fn)wino->fn, (fc_f32_winograd_output_fn)wino->fn2,
        (fc_f32_winograd_filter_fn)wino->fn3, wino->nr, wino->name};
    t.pool_name = t.members[FC_FAMILY_POOL][0]->name;
    t.relu_name = t.members[FC_FAMILY_RELU][0]->name;
    table = t;
    table_ready = 1;
}

const fc_kernel_table *fc_kernels(void)
{
    if (!table_ready) fc_select_isa(arch_isas[ARCH_ISA_COUNT - 1]);
    return &table;
}

fc_isa fc_active_isa(void) { return fc_kernels()->isa; }

const char *fc_isa_name(fc_isa isa)
{
    switch (isa) {
    case FC_ISA_SCALAR: return "scalar";
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_AVX512: return "avx512";
    case FC_ISA_NEON: return "neon";
    }
    return "unknown";
}

const char *fc_kernel_name(const char *op, fc_dtype dtype)
{
    const fc_kernel_table *t = fc_kernels();
    int f64 = dtype == FC_FLOAT64;
    if (strcmp(op, "conv2d_im2col") == 0 || strcmp(op, "conv2d_pointwise") == 0)
        return f64 ? t->f64_gemm.name : t->f32_gemm.name;
    if (strcmp(op, "conv2d_winograd") == 0) return f64 ? NULL : t->f32_winograd.name;
    if (strcmp(op, "conv2d_direct") == 0) return f64 ? t->f64_dconv.name : t->f32_dconv.name;
    if (strcmp(op, "conv2d_depthwise") == 0) return f64 ? t->f64_dwconv.name : t->f32_dwconv.name;
    if (strcmp(op, "conv2d_backward_weight") == 0)
        return f64 ? t->f64_gemm_nt.name : t->f32_gemm_nt.name;
    if (strcmp(op, "max_pool2d") == 0 || strcmp(op, "avg_pool2d") == 0) return t->pool_name;
    if (strcmp(op, "relu") == 0) return t->relu_name;
    return NULL;
}
