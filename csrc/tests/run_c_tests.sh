#!/usr/bin/env bash
# Builds and runs the C tests with the sources of one architecture (chosen by file name, as
# setup.py does: *-avx2-* and *-avx512-* on x86-64, *-neon-* on aarch64):
#   test_members.c  every member of every kernel family against its scalar twin
#   test_ops.c      the ops against the references through the C API, on every ISA path
#
#   csrc/tests/run_c_tests.sh            native: every member and path the CPU can run
#   csrc/tests/run_c_tests.sh aarch64    cross-compiled with aarch64-linux-gnu-gcc, run under
#                                        qemu-aarch64: the scalar and NEON members and paths
# Extra arguments go to test_members (--isa NAME).  Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:-native}
[ $# -gt 0 ] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case "$target" in
native)
    cc=${CC:-gcc}
    arch=$(uname -m)
    run=() ;;
aarch64)
    cc=aarch64-linux-gnu-gcc
    arch=aarch64
    run=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
*) echo "run_c_tests.sh: unknown target $target (native or aarch64)" >&2; exit 2 ;;
esac
case "$arch" in
x86_64) exclude='-neon-' ;;
aarch64|arm64) exclude='-(avx2|avx512)-' ;;
*) exclude='-(avx2|avx512|neon)-' ;;
esac
mapfile -t kernels < <(find csrc/kernels -name '*.c' | grep -Ev -- "$exclude" | sort)
mapfile -t library < <(find csrc -name '*.c' -not -path 'csrc/tests/*' | grep -Ev -- "$exclude" |
    sort)
flags=(-O2 -std=gnu11 -Wall -Wno-unused-function -fopenmp -Icsrc/include -Icsrc)
# Every file is compiled once, to an object that both programs link, as many at a time as there
# are CPUs (the kernel files dominate the time).  -Werror on the kernels and the dispatch: a
# member table row whose function has another family's type is a warning (members.h's
# FC_MEMBER_FN), made fatal here.
mkdir "$out/objects"
object() { echo "$out/objects/${1//\//_}.o"; }  # csrc/ops/conv2d.c -> <out>/objects/csrc_ops_conv2d.c.o
export CC_FOR_TESTS="$cc" FLAGS="${flags[*]}" OBJECTS="$out/objects"
printf '%s\n' "${library[@]}" csrc/tests/test_members.c csrc/tests/test_ops.c |
    xargs -P "$(nproc 2> /dev/null || echo 2)" -n 1 bash -c '
        strict=""; case "$1" in csrc/kernels/*|csrc/dispatch.c) strict=-Werror ;; esac
        exec $CC_FOR_TESTS $FLAGS $strict -c -o "$OBJECTS/${1//\//_}.o" "$1"' _
kernel_objects=(); for source in "${kernels[@]}"; do kernel_objects+=("$(object "$source")"); done
library_objects=(); for source in "${library[@]}"; do library_objects+=("$(object "$source")"); done
"$cc" -fopenmp -o "$out/test_members" "$(object csrc/tests/test_members.c)" \
    "$(object csrc/dispatch.c)" "${kernel_objects[@]}" -lm
"$cc" -fopenmp -o "$out/test_ops" "$(object csrc/tests/test_ops.c)" "${library_objects[@]}" -lm
"${run[@]}" "$out/test_members" "$@"
"${run[@]}" "$out/test_ops"
