"""Run numpy's BLAS (used by Linear) on one thread while training.

Linear's matrices are small (64 x 400 x 120 for LeNet-5): one thread does each product in
tens of microseconds.  OpenBLAS's own thread pool, spinning beside fastconv's OpenMP team on
a 2-core machine, made the same products take 5-35 ms each (measured on the 2-core AVX-512
development machine under load): 90% of a LeNet-5 step.  So training turns it down to one
thread and restores it after.  Works with threadpoolctl when installed, else with the
OpenBLAS that numpy loaded (found in /proc/self/maps); does nothing where neither is found.
"""
import contextlib
import ctypes

_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads", "openblas_set_num_threads64_")


def _openblas():
    """(get, set) of the OpenBLAS numpy uses, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter in _SETTERS:
            getter = setter.replace("_set_", "_get_")
            if hasattr(lib, setter) and hasattr(lib, getter):
                get, put = getattr(lib, getter), getattr(lib, setter)
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, put
    return None


@contextlib.contextmanager
def single_threaded_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(1, user_api="blas"):
            yield
        return
    blas = _openblas()
    if blas is None:
        yield
        return
    get, put = blas
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)
