"""The block cache (csrc/common/memory.c, fastconv/ops/_output_memory.h): large workspaces and
outputs that fastconv frees are reused by the next call instead of being mapped and faulted in
afresh; bounded by set_cache_limit, released by empty_cache, invisible to numpy's own
allocations."""
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import fastconv
from fastconv.ops import _ext
from subprocess_env import subprocess_env

ASAN = _ext.cache_info()[1] == 0  # the sanitizer build keeps no blocks


@pytest.fixture
def cache_limit():
    saved = _ext.cache_info()[1]
    yield fastconv.set_cache_limit
    fastconv.set_cache_limit(saved)


pytestmark = pytest.mark.skipif(ASAN, reason="the sanitizer build has no block cache")


def test_a_freed_output_is_the_next_calls_output():
    fastconv.empty_cache()
    x = np.ones((64, 64, 32), np.float32)  # 512 KiB
    first = fastconv.relu(x)
    address = first.ctypes.data
    del first
    second = fastconv.relu(x)
    assert second.ctypes.data == address
    assert second.flags.owndata and second.base is None and second.flags.writeable
    np.testing.assert_array_equal(second, x)


def test_small_outputs_and_numpys_own_arrays_do_not_use_it():
    fastconv.empty_cache()
    small = fastconv.relu(np.ones(100, np.float32))
    mine = np.ones((512, 512), np.float32)
    del small, mine
    assert _ext.cache_info()[0] == 0


def test_the_limit_bounds_what_is_kept_and_zero_keeps_nothing(cache_limit):
    cache_limit(1 << 20)
    outputs = [fastconv.relu(np.ones((512, 256), np.float32)) for _ in range(4)]  # 512 KiB each
    del outputs
    assert 0 < _ext.cache_info()[0] <= 1 << 20
    cache_limit(0)
    assert _ext.cache_info() == (0, 0)
    y = fastconv.relu(np.ones((512, 256), np.float32))
    del y
    assert _ext.cache_info()[0] == 0


def test_empty_cache_returns_what_it_freed():
    y = fastconv.relu(np.ones((256, 256), np.float32))
    del y
    held = _ext.cache_info()[0]
    assert held >= 256 * 256 * 4
    assert fastconv.empty_cache() == held
    assert _ext.cache_info()[0] == 0 and fastconv.empty_cache() == 0


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**63, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("1", TypeError)])
def test_set_cache_limit_rejects_bad_values(bad, error):
    with pytest.raises(error, match="set_cache_limit: nbytes"):
        fastconv.set_cache_limit(bad)


def test_outputs_are_seen_by_tracemalloc():
    tracemalloc.start()
    try:
        y = fastconv.relu(np.ones((512, 512), np.float32))
        assert tracemalloc.get_traced_memory()[0] >= y.nbytes
        del y
        assert tracemalloc.get_traced_memory()[0] < 512 * 512 * 4
    finally:
        tracemalloc.stop()


def test_an_output_freed_in_another_thread_returns_to_the_cache():
    import threading
    y = fastconv.relu(np.ones((256, 256), np.float32))
    fastconv.empty_cache()
    box = [y]
    del y
    t = threading.Thread(target=box.clear)
    t.start()
    t.join()
    assert _ext.cache_info()[0] >= 256 * 256 * 4


# With malloc told to map every block of 64 KiB or more afresh (mallopt), a loop of
# back-to-back calls faults in every output and workspace page on every call, unless the
# blocks are reused.
FAULTS = r"""
import ctypes, resource, sys
import numpy as np
ctypes.CDLL(None).mallopt(-3, 64 << 10)  # M_MMAP_THRESHOLD
import fastconv
fastconv.set_cache_limit(int(sys.argv[1]))
fastconv.set_num_threads(1)
x = np.ones((8, 16, 64, 64), np.float32)
w = np.ones((16, 16, 3, 3), np.float32)
def step():
    y = fastconv.conv2d(x, w, padding=1)
    return fastconv.relu_backward(fastconv.relu(y), y)
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def test_back_to_back_calls_fault_in_no_fresh_pages():
    def faults(limit):
        # cwd: the tests' folder, not the repository root, whose unbuilt fastconv `-c` would
        # import
        out = subprocess.run([sys.executable, "-c", FAULTS, str(limit)], env=subprocess_env(),
                             capture_output=True, text=True, timeout=120,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        assert out.returncode == 0, out.stderr
        return float(out.stdout.split()[-1])
    # three 2 MiB outputs per step: 1536 pages; the cache leaves only stray ones
    assert faults(256 << 20) < 20
    assert faults(0) > 1000  # without the cache: the test can fail
