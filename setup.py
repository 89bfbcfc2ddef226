"""Builds fastconv.ops._ext: the Cython bridge (fastconv/ops/_ext.pyx, which cimports the C
library's declarations from libfastconv.pxd) plus the C sources under csrc/ for the target
architecture.

Kernel files carry their ISA in their name (csrc/kernels/gemm/f32-avx512-8x32.c): *-avx2-* and
*-avx512-* files are compiled on x86-64 only, *-neon-* on aarch64 only, and elsewhere only the
scalar members (numpy's and XNNPACK's per-architecture source lists).  The architecture is the
one sysconfig reports for the build (it honours _PYTHON_HOST_PLATFORM when cross-compiling).
csrc/tests/ holds C test programs, never part of the extension (.ci/run builds them).

OpenMP is used when the compiler has it (probed by compiling and linking a small program);
otherwise the build still succeeds and every op runs serially.  FASTCONV_NO_OPENMP=1 forces the
serial build.  FASTCONV_SANITIZE=1 builds for AddressSanitizer and UndefinedBehaviorSanitizer
(-O1 -g, as .ci/run's sanitizer stage does; the library then needs the sanitizer runtimes
preloaded: LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)").
Nothing is compiled for the build machine's own CPU (no -march=native): the ISA
is chosen at run time by csrc/dispatch.c.
"""
import os
import struct
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
# the ISA tags of kernel file names, and the architectures that compile each
ISA_TAGS = {"x86_64": ("avx2", "avx512"), "aarch64": ("neon",)}


def target_arch():
    """'x86_64', 'aarch64' or another machine name: the architecture the extension is for."""
    machine = sysconfig.get_platform().rsplit("-", 1)[-1].lower()
    if struct.calcsize("P") != 8:  # a 32-bit interpreter on a 64-bit kernel: no SIMD members
        return machine + "-32bit"
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def c_sources(arch):
    """Every csrc/**/*.c but the test programs, without the kernel files of other ISAs."""
    allowed = set(ISA_TAGS.get(arch, ()))
    every_tag = {tag for tags in ISA_TAGS.values() for tag in tags}
    sources = []
    for path in sorted((ROOT / "csrc").rglob("*.c")):
        relative = path.relative_to(ROOT)
        if relative.parts[1] == "tests":
            continue
        tags = set(path.stem.split("-")) & every_tag
        if tags <= allowed:
            sources.append(str(relative))
    return sources


C_SOURCES = c_sources(target_arch())
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
            # FC_SANITIZE_BUILD: the kernels leave out their compile-time-only copies (see
            # csrc/kernels/dwconv/simd.tmpl.h), whose instrumented compile costs minutes each
            # -fno-var-tracking: the reports keep their files and lines, gdb loses some
            # variables' values, and the unrolled kernels compile a fifth faster
            compile_args = ["-O1", "-g", "-fno-var-tracking", "-fno-omit-frame-pointer",
                            "-DFC_NO_MEMORY_CACHE", "-DFC_SANITIZE_BUILD"] + sanitize
            link_args = sanitize
            # Python's CFLAGS carry -fwrapv, which hides signed overflow from UBSan and makes
            # the instrumented dwconv kernels compile 5x slower (240 s against 50 s): our own C
            # (csrc/) is built with -fno-wrapv, so UBSan reports its signed overflows; the
            # Cython module keeps Python's flags
            own_c_args = ["-fno-wrapv"]
        else:
            own_c_args = []
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
        compile_files_in_parallel(self.compiler, build_jobs(), own_c_args)
        super().build_extensions()


def build_jobs():
    """How many C files to compile at once: FASTCONV_BUILD_JOBS, else one per CPU we may use."""
    jobs = os.environ.get("FASTCONV_BUILD_JOBS", "")
    if jobs:
        return max(1, int(jobs))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def compile_files_in_parallel(compiler, jobs, own_c_args=()):
    """setuptools compiles one extension's sources one after another (its -j runs whole
    extensions in parallel, and fastconv is one extension of ~120 files): wrap the compiler's
    compile() so that each source is compiled on its own, `jobs` at a time (numpy.distutils did
    the same).  The object list keeps the sources' order, so the link line is unchanged.
    own_c_args go last on the command line of the files under csrc/ only."""
    compile_all = compiler.compile

    def compile_one(source, args, kwargs):
        if own_c_args and source.replace(os.sep, "/").startswith("csrc/"):
            kwargs = dict(kwargs, extra_postargs=list(kwargs.get("extra_postargs") or [])
                          + list(own_c_args))
        return compile_all([source], *args, **kwargs)

    def compile(sources, *args, **kwargs):
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            per_source = list(pool.map(lambda source: compile_one(source, args, kwargs),
                                       sources))
        return [obj for objects in per_source for obj in objects]

    compiler.compile = compile


extension = Extension(
    "fastconv.ops._ext",
    sources=["fastconv/ops/_ext.pyx"] + C_SOURCES,
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
