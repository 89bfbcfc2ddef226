/* The target architecture, as the compiler sees it.  setup.py picks the kernel sources by the
 * same architecture (file names: *-avx2-*, *-avx512-* on x86-64, *-neon-* on aarch64), and
 * dispatch.c refers to a member only where its file is compiled. */
#ifndef FC_SIMD_ARCH_H
#define FC_SIMD_ARCH_H

#if defined(__x86_64__)
#define FC_ARCH_X86_64 1
#else
#define FC_ARCH_X86_64 0
#endif

#if defined(__aarch64__)
#define FC_ARCH_AARCH64 1
#else
#define FC_ARCH_AARCH64 0
#endif

#endif
