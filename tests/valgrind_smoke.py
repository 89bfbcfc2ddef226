"""Every case of tests/leak_cases.py (every op, valid and error paths) a few times, for valgrind.

Run by tests/test_leaks.py::test_valgrind_memcheck_finds_nothing_in_fastconv as

    PYTHONMALLOC=malloc OMP_NUM_THREADS=2 PYTHONPATH=<package root>:tests \\
        valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
        --show-leak-kinds=definite python tests/valgrind_smoke.py

on the path FASTCONV_ISA asks for (CI's per-ISA runs: one path each), or else on every ISA
path of the CPU valgrind emulates.  Valgrind 3.19 has no AVX-512: its CPU offers AVX2 at most,
and FASTCONV_ISA=avx512 falls back to it; the AVX-512 kernels are covered by the ASan build.
The drivers, which own every allocation, are the same on every path.  Prints
"valgrind_smoke: done" at the end.
"""
import os
import sys

import fastconv
from fastconv.ops import _ext
from leak_cases import CASES, run

CALLS = 2


def main():
    # two threads: the mid-size cases run a team of two (its per-thread workspace), the small
    # ones one thread (the drivers' serial path); valgrind runs the team one thread at a time
    fastconv.set_num_threads(2)
    if os.environ.get("FASTCONV_ISA"):
        paths = [_ext.active_isa()]  # fastconv has applied it at import
    else:
        paths = list(_ext.ISA_NAMES[:_ext.ISA_NAMES.index(_ext.cpu_isa()) + 1])
    for isa in paths:
        _ext.select_isa(isa)
        for case in CASES:
            run(case, CALLS)
        print(f"valgrind_smoke: {isa}: {len(CASES)} cases x {CALLS} calls", flush=True)
    print("valgrind_smoke: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
