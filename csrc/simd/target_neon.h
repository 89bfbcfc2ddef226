/* Include first in a kernel file written for NEON (Advanced SIMD, with the FMA and the
 * divide of AArch64): baseline on every aarch64 CPU, so no target pragma is needed.  setup.py
 * compiles *-neon-* files for aarch64 only; anywhere else this is an error.  (32-bit ARM's
 * NEON lacks vfmaq/vdivq on some cores and is not a target.) */
#if !defined(__aarch64__)
#error "a NEON kernel file is compiled for a target that is not aarch64 (see setup.py)"
#endif
#include <arm_neon.h>
#include <stdint.h>
