/* cpuid once -> the kernel table.  BLIS's pattern: install the scalar members first, then let
 * each ISA the CPU (and FASTCONV_ISA) allows override the families it has kernels for, so a
 * family without a SIMD member still runs, on its scalar member. */
#include <string.h>

#include "dispatch.h"
#include "simd/arch.h"

#if FC_ARCH_AARCH64
#include <sys/auxv.h> /* getauxval: Linux's CPU feature bits */
#endif

static fc_kernel_table table;
static int table_ready = 0;

static void install_scalar(fc_kernel_table *t)
{
    /* 4x4 fills the 16 accumulators of scalar code without spills; kc * nc * 8 bytes = 256 KiB
     * per thread keeps the packed B panel in a 1-2 MiB L2 beside its A panel. */
    t->f32_gemm = (fc_f32_gemm_config){fc_f32_gemm_ukernel_4x4__scalar, 4, 4, 256, 128,
                                       "f32-gemm 4x4 scalar",
                                       fc_f32_gemm_rows_ukernel_4x4__scalar};
    t->f64_gemm = (fc_f64_gemm_config){fc_f64_gemm_ukernel_4x4__scalar, 4, 4, 256, 128,
                                       "f64-gemm 4x4 scalar",
                                       fc_f64_gemm_rows_ukernel_4x4__scalar};
    t->f32_gemm_nt = (fc_f32_gemm_nt_config){fc_f32_gemm_nt_ukernel_4x4__scalar, 4, 4, 1,
                                             "f32-gemm-nt 4x4 scalar"};
    t->f64_gemm_nt = (fc_f64_gemm_nt_config){fc_f64_gemm_nt_ukernel_4x4__scalar, 4, 4, 1,
                                             "f64-gemm-nt 4x4 scalar"};
    t->f32_dconv = (fc_f32_dconv_config){fc_f32_dconv_ukernel_4__scalar, 4, "f32-dconv 4 scalar"};
    t->f64_dconv = (fc_f64_dconv_config){fc_f64_dconv_ukernel_4__scalar, 4, "f64-dconv 4 scalar"};
    /* 32 output rows per depthwise item: the 2-4 extra input rows a 3x3-5x5 filter needs per
     * tile are copied 6-12% more often, and a 1024-wide plane still splits into 32 items for
     * the threads.  5% faster than 16 rows, as fast as 64 (avx512, 2-core Zen 4 EPYC). */
    t->f32_dwconv = (fc_f32_dwconv_config){fc_f32_dwconv_ukernel__scalar, 32, "f32-dwconv scalar"};
    t->f64_dwconv = (fc_f64_dwconv_config){fc_f64_dwconv_ukernel__scalar, 32, "f64-dwconv scalar"};
    t->f32_maxpool = fc_f32_maxpool_ukernel__scalar;
    t->f64_maxpool = fc_f64_maxpool_ukernel__scalar;
    t->f32_avgpool = fc_f32_avgpool_ukernel__scalar;
    t->f64_avgpool = fc_f64_avgpool_ukernel__scalar;
    t->f32_relu = fc_f32_relu_ukernel__scalar;
    t->f64_relu = fc_f64_relu_ukernel__scalar;
    t->f32_relu_backward = fc_f32_relu_backward_ukernel__scalar;
    t->f64_relu_backward = fc_f64_relu_backward_ukernel__scalar;
    t->f32_vadd = fc_f32_vadd_ukernel__scalar;
    t->f64_vadd = fc_f64_vadd_ukernel__scalar;
    t->index_check = fc_index_check_ukernel__scalar;
    t->f32_relu_stream = fc_f32_relu_ukernel__scalar;
    t->f64_relu_stream = fc_f64_relu_ukernel__scalar;
    t->pool_name = "pool scalar";
    t->relu_name = "relu scalar";
}

/* The pooling and ReLU families have one member per ISA, of the same names. */
#define FC_INSTALL_POOL_RELU(t, isa)                                \
    do {                                                            \
        (t)->f32_relu = fc_f32_relu_ukernel__##isa;                 \
        (t)->f64_relu = fc_f64_relu_ukernel__##isa;                 \
        (t)->f32_relu_stream = fc_f32_relu_stream_ukernel__##isa;   \
        (t)->f64_relu_stream = fc_f64_relu_stream_ukernel__##isa;   \
        (t)->relu_name = "relu " #isa;                              \
        (t)->f32_maxpool = fc_f32_maxpool_ukernel__##isa;           \
        (t)->f64_maxpool = fc_f64_maxpool_ukernel__##isa;           \
        (t)->f32_avgpool = fc_f32_avgpool_ukernel__##isa;           \
        (t)->f64_avgpool = fc_f64_avgpool_ukernel__##isa;           \
        (t)->pool_name = "pool row " #isa;                          \
    } while (0)

#if FC_ARCH_X86_64
/* Each ISA's overrides, for the families that have a member for it.  AVX-512 machines also
 * have AVX2, so install_avx512 runs after install_avx2 and a family without an AVX-512 member
 * keeps its AVX2 one.  ISA files are compiled for their target by a `#pragma GCC target` at
 * their top (common/target_avx2.h, common/target_avx512.h), never by -march flags. */
static void install_avx2(fc_kernel_table *t)
{
    /* 6x16: 12 accumulators + 2 B vectors + 1 broadcast fill the 16 ymm registers.  kc x nc
     * (256 x 512 floats, 512 KiB) keeps B in a 1 MiB L2; kc x MR of A stays in L1. */
    t->f32_gemm = (fc_f32_gemm_config){fc_f32_gemm_ukernel_6x16__avx2, 6, 16, 256, 512,
                                       "f32-gemm 6x16 avx2",
                                       fc_f32_gemm_rows_ukernel_6x16__avx2};
    t->f64_gemm = (fc_f64_gemm_config){fc_f64_gemm_ukernel_6x8__avx2, 6, 8, 256, 256,
                                       "f64-gemm 6x8 avx2",
                                       fc_f64_gemm_rows_ukernel_6x8__avx2};
    t->f32_dconv = (fc_f32_dconv_config){fc_f32_dconv_ukernel_4x24__avx2, 4,
                                         "f32-dconv 4x24 avx2"};
    t->f32_dwconv = (fc_f32_dwconv_config){fc_f32_dwconv_ukernel_2x24__avx2, 32,
                                           "f32-dwconv 2x24 avx2"};
    t->f32_gemm_nt = (fc_f32_gemm_nt_config){fc_f32_gemm_nt_ukernel_3x4__avx2, 3, 4, 8,
                                             "f32-gemm-nt 3x4 avx2"};
    t->f64_gemm_nt = (fc_f64_gemm_nt_config){fc_f64_gemm_nt_ukernel_3x4__avx2, 3, 4, 4,
                                             "f64-gemm-nt 3x4 avx2"};
    FC_INSTALL_POOL_RELU(t, avx2);
}

static void install_avx512(fc_kernel_table *t)
{
    /* Measured on the CI machine's Zen 5 EPYC (48 KiB L1d, 1 MiB L2): 8x32, 14x32, 12x32 and
     * 6x64 all reach ~245 GFLOP/s per core on L1/L2-resident panels (2 x 512-bit FMA per
     * cycle), so the tile is chosen for the layers: 8 rows divide the filter counts of the
     * common networks (16, 64, 96, 128, ...), so no edge tiles in M, and 32 pixels waste less
     * on small images than 64.  kc 128-384 and nc 256-1024 were within noise on the ResNet,
     * VGG and AlexNet layers (bench shapes); 256 x 512 floats = 512 KiB of B stays in L2. */
    t->f32_gemm = (fc_f32_gemm_config){fc_f32_gemm_ukernel_8x32__avx512, 8, 32, 256, 512,
                                       "f32-gemm 8x32 avx512",
                                       fc_f32_gemm_rows_ukernel_8x32__avx512};
    t->f64_gemm = (fc_f64_gemm_config){fc_f64_gemm_ukernel_8x16__avx512, 8, 16, 256, 256,
                                       "f64-gemm 8x16 avx512",
                                       fc_f64_gemm_rows_ukernel_8x16__avx512};
    t->f32_dconv = (fc_f32_dconv_config){fc_f32_dconv_ukernel_8x32__avx512, 8,
                                         "f32-dconv 8x32 avx512"};
    t->f32_dwconv = (fc_f32_dwconv_config){fc_f32_dwconv_ukernel_2x64__avx512, 32,
                                           "f32-dwconv 2x64 avx512"};
    t->f32_gemm_nt = (fc_f32_gemm_nt_config){fc_f32_gemm_nt_ukernel_6x4__avx512, 6, 4, 16,
                                             "f32-gemm-nt 6x4 avx512"};
    t->f64_gemm_nt = (fc_f64_gemm_nt_config){fc_f64_gemm_nt_ukernel_6x4__avx512, 6, 4, 8,
                                             "f64-gemm-nt 6x4 avx512"};
    t->f32_vadd = fc_f32_vadd_ukernel__avx512;
    t->f64_vadd = fc_f64_vadd_ukernel__avx512;
    t->index_check = fc_index_check_ukernel__avx512;
    FC_INSTALL_POOL_RELU(t, avx512);
}

#endif /* FC_ARCH_X86_64 */

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

/* Position of isa in this architecture's list, -1 if it is another architecture's. */
static int isa_rank(fc_isa isa)
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

void fc_select_isa(fc_isa requested)
{
    const int cpu = isa_rank(fc_cpu_isa());
    int rank = isa_rank(requested);
    if (rank < 0 || rank > cpu) rank = cpu;
    fc_kernel_table t;
    memset(&t, 0, sizeof t);
    install_scalar(&t);
    t.isa = arch_isas[rank];
#if FC_ARCH_X86_64
    if (rank >= isa_rank(FC_ISA_AVX2)) install_avx2(&t);
    if (rank >= isa_rank(FC_ISA_AVX512)) install_avx512(&t);
#endif
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
    if (strcmp(op, "conv2d_direct") == 0) return f64 ? t->f64_dconv.name : t->f32_dconv.name;
    if (strcmp(op, "conv2d_depthwise") == 0) return f64 ? t->f64_dwconv.name : t->f32_dwconv.name;
    if (strcmp(op, "conv2d_backward_weight") == 0)
        return f64 ? t->f64_gemm_nt.name : t->f32_gemm_nt.name;
    if (strcmp(op, "max_pool2d") == 0 || strcmp(op, "avg_pool2d") == 0) return t->pool_name;
    if (strcmp(op, "relu") == 0) return t->relu_name;
    return NULL;
}
