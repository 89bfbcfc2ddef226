"""How fastconv's OpenMP threads wait between ops: a short spin, then sleep.

GNU OpenMP's idle threads spin for 300,000 iterations (tens of milliseconds) after every
parallel region before they sleep; LLVM's for 200 ms.  On a quiet machine that saves a wake-up;
on a machine whose cores are busy with other processes (another job, a Dask worker, numpy's
BLAS threads) the spinning threads take the cores that the working ones need: with one busy
process beside it a 2-thread conv2d ran 2-3x slower than on one thread, and two processes each
running 2 threads on 2 cores got a sixth of one process's throughput.

The runtimes read their wait policy from the environment once, when they load.  So fastconv
sets it for the moment of loading its own extension -- and with it the OpenMP runtime it links --
and restores the environment at once: the setting reaches only a runtime that loads then, never
one that torch, scikit-learn or another library loaded before (their pools keep their own
behaviour), and no child process inherits it.  A user's own OMP_WAIT_POLICY, GOMP_SPINCOUNT or
KMP_BLOCKTIME always wins.
"""
import contextlib
import os

# GNU OpenMP: pause-loop iterations an idle thread spins before it sleeps on a futex.
# 10,000 keep the next op's wake-up free when ops follow each other within ~50-100 us (a
# training step's layers) and give the core back within that time otherwise.  Measured on
# the 2-core AVX-512 machine: see the README's Threads section.
GOMP_SPINCOUNT = "10000"
# LLVM OpenMP (a clang build): the same in its unit, milliseconds (the least it takes).
KMP_BLOCKTIME = "1"

_USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

# what loading found: shown by show_config()
wait_policy = "not configured"


# The runtimes a plain build links, by file name (libgomp.so.1 -> libgomp.so.1.0.0).  The
# dynamic loader binds fastconv to one already loaded under that soname -- torch's bundled
# torch/lib/libgomp.so.1 among them -- so such a runtime is another library's, configured
# before fastconv came.  Copies that wheels bundle under hashed names (libgomp-a34b3233.so.1)
# are runtimes of their own that fastconv never binds to.
_SHARED_RUNTIMES = ("libgomp.so", "libomp.so", "libiomp5.so")


def _runtime_already_loaded():
    """Whether the OpenMP runtime a plain build links is mapped in this process already
    (Linux; elsewhere: False)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(os.path.basename(line.split()[-1]).startswith(_SHARED_RUNTIMES)
                       for line in maps if "/" in line)
    except OSError:
        return False


@contextlib.contextmanager
def bounded_waiting():
    """Around the import of fastconv._ext: the OpenMP runtime it loads spins briefly, then
    sleeps (unless the user set a policy, or a runtime was loaded before)."""
    global wait_policy
    user = [name for name in _USER_VARIABLES if name in os.environ]
    if user:
        wait_policy = "as set by " + ", ".join(f"{n}={os.environ[n]}" for n in user)
        yield
        return
    if _runtime_already_loaded():
        wait_policy = ("the OpenMP runtime was loaded before fastconv (by another library): "
                       "its own setting")
        yield
        return
    os.environ["GOMP_SPINCOUNT"] = GOMP_SPINCOUNT
    os.environ["KMP_BLOCKTIME"] = KMP_BLOCKTIME
    try:
        yield
    finally:
        del os.environ["GOMP_SPINCOUNT"], os.environ["KMP_BLOCKTIME"]
    wait_policy = (f"spin briefly, then sleep (GOMP_SPINCOUNT={GOMP_SPINCOUNT} / "
                   f"KMP_BLOCKTIME={KMP_BLOCKTIME}, set by fastconv for its own runtime only)")
