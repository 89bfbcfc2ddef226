"""Builds fastconv._ext: the Cython bridge plus every C source under csrc/.

OpenMP is used when the compiler has it (probed by compiling and linking a small program);
otherwise the build still succeeds and every op runs serially.  FASTCONV_NO_OPENMP=1 forces the
serial build.  FASTCONV_SANITIZE=1 builds for AddressSanitizer and UndefinedBehaviorSanitizer
(-O1 -g, as .ci/run's sanitizer stage does; the library then needs the sanitizer runtimes
preloaded: LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)").
Nothing is compiled for the build machine's own CPU (no -march=native): the ISA
is chosen at run time by csrc/dispatch.c.
"""
import os
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
C_SOURCES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*.c"))
OPENMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


def compiler_has_openmp(compiler, flag):
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=[flag])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        # gcc or clang: the C code uses their overflow and cpuid builtins.
        compile_args = ["-O3"]
        link_args = []
        if os.environ.get("FASTCONV_SANITIZE", "") not in ("", "0"):
            # -O1 keeps the reports' stacks true; no recovery, so the first report is fatal
            sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
            # no memory cache: every free is a real one, which ASan checks
            compile_args = ["-O1", "-g", "-fno-omit-frame-pointer",
                            "-DFC_NO_MEMORY_CACHE"] + sanitize
            link_args = sanitize
        openmp_flag = "-fopenmp"
        use_openmp = os.environ.get("FASTCONV_NO_OPENMP", "") in ("", "0")
        if use_openmp and compiler_has_openmp(self.compiler, openmp_flag):
            compile_args.append(openmp_flag)
            link_args.append(openmp_flag)
        else:
            compile_args.append("-Wno-unknown-pragmas")  # the omp pragmas, ignored on purpose
            print("fastconv: building without OpenMP, every op will run on one thread",
                  file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + ext.extra_compile_args
            ext.extra_link_args = link_args + ext.extra_link_args
        super().build_extensions()


extension = Extension(
    "fastconv._ext",
    sources=["fastconv/_ext.pyx"] + C_SOURCES,
    include_dirs=["csrc/include", "csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION")],
    # every C file includes some of these (templates, dispatch, kernel headers): a change to
    # any of them rebuilds the extension
    depends=sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*.h")),
)

setup(
    ext_modules=cythonize([extension], language_level=3),
    cmdclass={"build_ext": BuildExt},
)
