#!/usr/bin/env bash
# Builds csrc/tests/test_members.c with the kernel sources of one architecture (chosen by file
# name, as setup.py does: *-avx2-* and *-avx512-* on x86-64, *-neon-* on aarch64) and runs it.
#
#   csrc/tests/run_members.sh            native: every member the CPU can run
#   csrc/tests/run_members.sh aarch64    cross-compiled with aarch64-linux-gnu-gcc, run under
#                                        qemu-aarch64: the scalar and NEON members
# Extra arguments go to the program (--isa NAME).  Exits non-zero on any mismatch.
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
*) echo "run_members.sh: unknown target $target (native or aarch64)" >&2; exit 2 ;;
esac
case "$arch" in
x86_64) exclude='-neon-' ;;
aarch64|arm64) exclude='-(avx2|avx512)-' ;;
*) exclude='-(avx2|avx512|neon)-' ;;
esac
mapfile -t kernels < <(find csrc/kernels -name '*.c' | grep -Ev -- "$exclude" | sort)
"$cc" -O2 -std=gnu11 -Wall -Wno-unused-function -Icsrc/include -Icsrc -o "$out/test_members" \
    csrc/tests/test_members.c csrc/dispatch.c "${kernels[@]}" -lm
"${run[@]}" "$out/test_members" "$@"
