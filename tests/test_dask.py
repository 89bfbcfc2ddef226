"""fastconv.dask: the ops on Dask arrays are bitwise the numpy ops on the whole array, for any
chunking, on the threaded scheduler and on a real two-process distributed cluster; a worker
killed mid-computation changes nothing; bad input fails at graph construction with the numpy
call's error; predict ships the model once; the workers share the cores.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array", reason="fastconv.dask needs dask: pip install "
                         "'fastconv[dask]'")
distributed = pytest.importorskip("distributed", reason="fastconv.dask's cluster tests need "
                                  "distributed: pip install 'fastconv[dask]'")

import dask  # noqa: E402
import fastconv  # noqa: E402
import fastconv.dask as fd  # noqa: E402
from fastconv import models  # noqa: E402
from subprocess_env import subprocess_env  # noqa: E402

# a computation on the cluster that takes longer than this has hung: fail, do not block
TIMEOUT = 60

# Few examples: each builds and runs a graph of up to a few hundred tasks
FEW = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client():
    """A real cluster: two worker processes of one thread each, closed however the tests end.
    Not the default client: the tests that use it make it current (client.as_current()) while
    they build their graphs, as user code would have it; the others run without one."""
    # A worker that fetches a block from a peer which has just died retries the connection for
    # distributed.comm.timeouts.connect (30 s by default; longer under the sanitizer build)
    # before the scheduler's rerun reaches it: short here, so that the killed-worker test's
    # recovery is quick.  The nannies hand this config to their workers, restarts included.
    with dask.config.set({"distributed.comm.timeouts.connect": "5s"}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, timeout=TIMEOUT)
        client = distributed.Client(cluster, timeout=TIMEOUT, set_as_default=False)
        try:
            yield client
        finally:
            client.close(timeout=TIMEOUT)
            cluster.close(timeout=TIMEOUT)


def _on_cluster(client, y):
    return client.compute(y).result(timeout=TIMEOUT)


def _threads(y):
    return y.compute(scheduler="threads", num_workers=2)


# ---- cases -----------------------------------------------------------------------------------

@st.composite
def chunks_of(draw, n):
    """Chunk sizes summing to n: single rows, one chunk, or random cuts (uneven last chunk)."""
    kind = draw(st.sampled_from(["ones", "whole", "cuts"]))
    if kind == "ones" or n == 1:
        return (1,) * n
    if kind == "whole":
        return (n,)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), min_size=1, max_size=min(4, n - 1))))
    return tuple(b - a for a, b in zip([0] + cuts, cuts + [n]))


@st.composite
def conv_cases(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 13)), draw(st.integers(1, 13))
    groups = draw(st.sampled_from([1, c]))
    k = groups * draw(st.integers(1, 2))
    r, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    padding = draw(st.one_of(st.integers(0, 3), st.just("same"),
                             st.tuples(st.tuples(st.integers(0, 4), st.integers(0, 4)),
                                       st.tuples(st.integers(0, 4), st.integers(0, 4)))))
    kwargs = dict(stride=draw(st.sampled_from([1, 2, 3, (1, 2), (3, 1)])),
                  dilation=draw(st.sampled_from([1, 2, (2, 1)])), padding=padding,
                  groups=groups, algorithm=draw(st.sampled_from(
                      ["auto", "direct", "im2col"] + (["depthwise"] if groups == c else []))),
                  activation=draw(st.sampled_from([None, "relu"])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype) if draw(st.booleans()) else None
    unbatched = n == 1 and draw(st.booleans())
    if unbatched:
        x = x[0]
    chunks = tuple(draw(chunks_of(extent)) for extent in x.shape)
    return x, weight, bias, kwargs, chunks


@st.composite
def pool_cases(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 13)),
             draw(st.integers(1, 13)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kwargs = dict(kernel_size=kernel, stride=draw(st.sampled_from([None, 1, 2, 3, (2, 1)])),
                  padding=(draw(st.integers(0, kernel[0] // 2)),
                           draw(st.integers(0, kernel[1] // 2))),
                  ceil_mode=draw(st.booleans()))
    op = draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    if op == "max_pool2d":
        kwargs["dilation"] = draw(st.sampled_from([1, 2, (1, 2)]))
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    x = x.astype(dtype)
    if draw(st.booleans()):  # ties, -0.0 and -inf, where the order of a max shows
        x = np.round(x).astype(dtype) * np.where(x > 1.5, np.inf, 1).astype(dtype)
    chunks = tuple(draw(chunks_of(extent)) for extent in shape)
    return op, x, kwargs, chunks


def _numpy_or_error(call):
    try:
        return call(), None
    except (TypeError, ValueError) as exc:
        return None, exc


def _check(numpy_call, dask_call, compute):
    """The dask op computes the numpy op's bits, or raises its error while building the graph."""
    expected, error = _numpy_or_error(numpy_call)
    if error is not None:
        with pytest.raises(type(error)) as raised:
            dask_call()
        assert str(raised.value) == str(error)
        return
    y = dask_call()
    assert isinstance(y, da.Array) and y.shape == expected.shape and y.dtype == expected.dtype
    got = compute(y)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected, strict=True)
    # bitwise: the sign of zeros and NaN payloads too
    assert got.tobytes() == expected.tobytes()


# ---- bitwise, threaded scheduler -------------------------------------------------------------

@FEW
@given(conv_cases())
def test_conv2d_bitwise_threads(case):
    x, weight, bias, kwargs, chunks = case
    _check(lambda: fastconv.conv2d(x, weight, bias, **kwargs),
           lambda: fd.conv2d(da.from_array(x, chunks=chunks), weight, bias, **kwargs), _threads)


@FEW
@given(pool_cases())
def test_pools_bitwise_threads(case):
    op, x, kwargs, chunks = case
    _check(lambda: getattr(fastconv, op)(x, **kwargs),
           lambda: getattr(fd, op)(da.from_array(x, chunks=chunks), **kwargs), _threads)


def test_relu_bitwise():
    x = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32)
    x[0, 0, :3] = [-0.0, np.nan, -np.inf]
    y = fd.relu(da.from_array(x, chunks=(1, 2, 3)))
    assert _threads(y).tobytes() == fastconv.relu(x).tobytes()


def test_chunks_smaller_than_the_halo_and_strided_output_chunks():
    """One-row chunks under a 7x7 dilated kernel with stride 2: each task joins many chunks,
    and the output's chunks are the input's, mapped through the stride."""
    x = np.random.default_rng(1).standard_normal((1, 2, 21, 17)).astype(np.float32)
    weight = np.random.default_rng(2).standard_normal((3, 2, 7, 7)).astype(np.float32)
    y = fd.conv2d(da.from_array(x, chunks=(1, 1, 1, 4)), weight, stride=2, padding=5,
                  dilation=2)
    assert y.chunks[1] == (3,)
    assert sum(y.chunks[2]) == y.shape[2] and len(y.chunks[2]) > 5
    assert _threads(y).tobytes() == fastconv.conv2d(x, weight, stride=2, padding=5,
                                                    dilation=2).tobytes()


@pytest.mark.parametrize("gather_bytes", [1, 3 * 160, 1 << 30])
def test_rows_of_halo_strips_gathered_in_bounded_runs(monkeypatch, gather_bytes):
    """A row of chunks' halo arrays is gathered by one task per run of consecutive chunks of
    at most _GATHER_BYTES (here: one chunk per run, i.e. no gathering; runs of about 3 chunks;
    whole rows), the blocks reading their strips from the runs' tuples: bitwise."""
    monkeypatch.setattr(fd, "_GATHER_BYTES", gather_bytes)
    x = np.random.default_rng(3).standard_normal((1, 2, 11, 45)).astype(np.float32)
    weight = np.random.default_rng(4).standard_normal((3, 2, 3, 5)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 2, 4, 5))  # 160 bytes a chunk (120 in the last row)
    y = fd.conv2d(dx, weight, padding=(1, 2))
    graph = dict(y.__dask_graph__())
    halos = {key[1:] for key in graph if "-halo-" in key[0] and "-halo-row-" not in key[0]}
    runs = [graph[key] for key in graph if "-halo-row-" in key[0]]
    gathered = [member for run in runs for member in run[1:]]
    assert len(gathered) == len(set(gathered))  # each halo array in one run at most
    for run in runs:
        members = sorted(key[1:] for key in run[1:])
        assert len(members) >= 2 and len({m[:3] for m in members}) == 1  # one row
        assert [m[3] for m in members] == list(range(members[0][3], members[-1][3] + 1))
        assert sum(2 * 5 * 4 * dx.chunks[2][m[2]] for m in members) <= gather_bytes
    per_row = {}
    for index in halos:
        per_row[index[:3]] = per_row.get(index[:3], 0) + 1
    if gather_bytes == 1:
        assert not runs
    elif gather_bytes == 1 << 30:
        assert len(runs) == sum(n >= 2 for n in per_row.values())
    else:
        assert len(runs) > sum(n >= 2 for n in per_row.values())
    assert _threads(y).tobytes() == fastconv.conv2d(x, weight, padding=(1, 2)).tobytes()


@pytest.mark.parametrize("size,extent,stride,pads", [(37, 5, 1, (2, 2)), (10, 5, 4, (0, 0)),
                                                     (13, 7, 3, (6, 0)), (9, 3, 2, (0, 9))])
@pytest.mark.parametrize("chunk", [1, 2, 4, 100])
def test_axis_blocks_cover_each_output_once(size, extent, stride, pads, chunk):
    """The slab plan: output blocks tile the output, slabs start on a multiple of the stride (or
    at 0) and contain every input row their kept windows read."""
    out = (size + sum(pads) - extent) // stride + 1
    chunks = (chunk,) * (size // chunk) + ((size % chunk,) if size % chunk else ())
    blocks = fd._axis_blocks(size, out, chunks, extent, stride, *pads)
    assert [b[0] for b in blocks] == [0] + [b[1] for b in blocks[:-1]]
    assert blocks[-1][1] == out
    for o0, o1, a, b, crop in blocks:
        assert 0 <= a < b <= size and a % stride == 0 and crop == o0 - a // stride
        first, last = o0 * stride - pads[0], (o1 - 1) * stride - pads[0] + extent
        assert a <= max(first, 0) and b >= min(last, size)


# ---- bitwise, on the cluster -----------------------------------------------------------------

@settings(FEW, max_examples=8)
@given(case=conv_cases())
def test_conv2d_bitwise_cluster(client, case):
    x, weight, bias, kwargs, chunks = case
    with client.as_current():
        _check(lambda: fastconv.conv2d(x, weight, bias, **kwargs),
               lambda: fd.conv2d(da.from_array(x, chunks=chunks), weight, bias, **kwargs),
               lambda y: _on_cluster(client, y))


@settings(FEW, max_examples=8)
@given(case=pool_cases())
def test_pools_bitwise_cluster(client, case):
    op, x, kwargs, chunks = case
    with client.as_current():
        _check(lambda: getattr(fastconv, op)(x, **kwargs),
               lambda: getattr(fd, op)(da.from_array(x, chunks=chunks), **kwargs),
               lambda y: _on_cluster(client, y))


def _slow_copy(block):
    time.sleep(0.05)
    return block.copy()


def test_worker_killed_mid_computation(client):
    """SIGKILL one worker process while the graph runs: its nanny restarts it, Dask reruns the
    lost tasks, and the result is still bitwise the numpy call's."""
    x = np.random.default_rng(3).standard_normal((2, 2, 64, 64)).astype(np.float32)
    weight = np.random.default_rng(4).standard_normal((2, 2, 5, 5)).astype(np.float32)
    # a slow first stage, so that the kill lands while tasks are running or held on workers
    slow = da.from_array(x, chunks=(1, 1, 16, 16)).map_blocks(_slow_copy, dtype=x.dtype)
    with client.as_current():
        future = client.compute(fd.conv2d(slow, weight, padding=2, algorithm="direct"))
    time.sleep(0.5)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)
    got = future.result(timeout=TIMEOUT)
    assert future.status == "finished"
    assert got.tobytes() == fastconv.conv2d(x, weight, padding=2, algorithm="direct").tobytes()
    client.wait_for_workers(2, timeout=TIMEOUT)
    assert victim not in client.scheduler_info()["workers"]  # it did die


class _Storage:
    """An on-disk array's stand-in: shape, dtype, slicing; counts the reads and their sizes."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.reads = []

    def __getitem__(self, region):
        self.reads.append(region)
        return self.array[region].copy()


def test_from_storage_reads_each_slab_once_and_is_bitwise():
    x = np.random.default_rng(7).standard_normal((1, 2, 23, 19)).astype(np.float32)
    weight = np.random.default_rng(8).standard_normal((3, 2, 5, 3)).astype(np.float32)
    storage = _Storage(x)
    y = fd.conv2d(fd.from_storage(storage, chunks=(1, 1, 6, 7)), weight, stride=2, padding=2)
    got = y.compute(scheduler="sync")
    assert got.tobytes() == fastconv.conv2d(x, weight, stride=2, padding=2).tobytes()
    # one read per output block, of its slab with the halo, never of the whole array (and
    # dask.array.from_array's empty read, for its meta)
    reads = [r for r in storage.reads if storage.array[r].size]
    assert len(reads) == len(list(np.ndindex(*y.numblocks)))
    assert all(storage.array[r].size < x.size for r in reads)


# ---- bad input: the numpy call's error, at graph construction ---------------------------------

@pytest.mark.parametrize("op,args", [
    ("conv2d", (np.ones((2, 3, 3, 3), np.float32),)), ("max_pool2d", (2,)),
    ("avg_pool2d", (2,)), ("relu", ())])
@pytest.mark.parametrize("x", [
    da.zeros((1, 3, 8, 8), dtype=np.int32, chunks=4),       # wrong dtype
    da.zeros((1, 3, 8, 8), dtype=np.float16, chunks=4),
    da.zeros((8, 8), dtype=np.float32, chunks=4),           # wrong rank
    da.zeros((1, 1, 3, 8, 8), dtype=np.float32, chunks=4),
    da.zeros((1, 2, 8, 8), dtype=np.float32, chunks=4),     # channels the weight does not take
])
def test_bad_input_raises_the_numpy_error_at_construction(op, args, x):
    stand_in = np.zeros(x.shape, x.dtype)
    expected, error = _numpy_or_error(lambda: getattr(fastconv, op)(stand_in, *args))
    if error is None:
        assert getattr(fd, op)(x, *args).shape == expected.shape
        return
    with pytest.raises(type(error)) as raised:
        getattr(fd, op)(x, *args)  # no compute: the error comes from building the graph
    assert str(raised.value) == str(error)


def test_unsupported_arguments_say_so():
    x = da.zeros((1, 1, 4, 4), dtype=np.float32, chunks=2)
    with pytest.raises(NotImplementedError, match="return_indices"):
        fd.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(TypeError, match="out= is not supported"):
        fd.conv2d(x, np.ones((1, 1, 1, 1), np.float32), out=np.empty((1, 1, 4, 4), np.float32))
    with pytest.raises(TypeError, match="dask.array.Array"):
        fd.relu([1.0, 2.0])
    if HAS_FILTER2D:
        with pytest.raises(TypeError, match="out= is not supported"):
            fd.filter2d(x[0, 0], np.ones((3, 3), np.float32), out=np.empty((4, 4), np.float32))


# ---- filter2d (written against fastconv.filter2d, where this build has it) --------------------

HAS_FILTER2D = hasattr(fastconv, "filter2d")


@pytest.mark.skipif(HAS_FILTER2D, reason="fastconv.filter2d exists: the wrapper runs it")
def test_filter2d_without_the_numpy_op_says_which_is_missing():
    with pytest.raises(NotImplementedError, match="fastconv.filter2d"):
        fd.filter2d(da.zeros((8, 8), dtype=np.float32, chunks=4), np.ones((3, 3), np.float32))


@pytest.mark.skipif(not HAS_FILTER2D, reason="fastconv.filter2d is not in this build (it "
                    "comes from the image-filter work); fastconv.dask.filter2d wraps it")
@FEW
@given(data=st.data())
def test_filter2d_bitwise_threads(data):
    shape = (data.draw(st.integers(1, 13)), data.draw(st.integers(1, 13)))
    if data.draw(st.booleans()):
        shape += (data.draw(st.integers(1, 3)),)
    kernel_shape = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    image = rng.standard_normal(shape).astype(np.float32)
    kernel = rng.standard_normal(kernel_shape).astype(np.float32)
    kwargs = dict(border=data.draw(st.sampled_from(
        ["constant", "replicate", "reflect", "reflect101", "wrap"])), value=1.5)
    if data.draw(st.booleans()):  # any anchor (the halo follows it), a delta
        kwargs.update(anchor=tuple(data.draw(st.integers(0, n - 1)) for n in kernel_shape),
                      delta=0.25)
    chunks = tuple(data.draw(chunks_of(extent)) for extent in shape)
    _check(lambda: fastconv.filter2d(image, kernel, **kwargs),
           lambda: fd.filter2d(da.from_array(image, chunks=chunks), kernel, **kwargs), _threads)


@pytest.mark.skipif(not HAS_FILTER2D, reason="fastconv.filter2d is not in this build (it "
                    "comes from the image-filter work); fastconv.dask.filter2d wraps it")
@FEW
@given(data=st.data())
def test_filter2d_bitwise_wide_images_every_dtype_and_separable_kernels(data):
    """Rows wider than a vector of every ISA path (so a block's outputs fall on other lanes, or
    in the scalar tail, than the same outputs of the whole call), uint8 and float64 images, and
    rank-1 kernels (filter2d's "auto" runs them separably): still bitwise, for any chunking."""
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.uint8]))
    shape = (data.draw(st.integers(1, 24)), data.draw(st.integers(17, 90)))
    if data.draw(st.booleans()):
        shape += (data.draw(st.integers(1, 3)),)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    image = (rng.integers(0, 256, shape).astype(dtype) if dtype == np.uint8
             else rng.standard_normal(shape).astype(dtype))
    kh, kw = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    if data.draw(st.booleans()):  # an exact outer product: the separable path for sides >= 5
        kernel = np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)) / 8.0
    else:
        kernel = rng.standard_normal((kh, kw))
    kwargs = dict(border=data.draw(st.sampled_from(
        ["constant", "replicate", "reflect", "reflect101"])), value=2.0,
        separable=data.draw(st.sampled_from(["auto", False])))
    chunks = tuple(data.draw(chunks_of(extent)) for extent in shape)
    _check(lambda: fastconv.filter2d(image, kernel, **kwargs),
           lambda: fd.filter2d(da.from_array(image, chunks=chunks), kernel, **kwargs), _threads)


# ---- predict ---------------------------------------------------------------------------------

def _images(n, seed=5):
    return np.random.default_rng(seed).standard_normal((n, 1, 28, 28)).astype(np.float32)


def test_predict_threads_bitwise_and_the_model_once_in_the_graph():
    net = models.lenet5(seed=0)
    images = _images(70)
    logits = fd.predict(net, da.from_array(images, chunks=(20, 1, 28, 28)), batch_size=16)
    tasks = dict(logits.__dask_graph__())
    assert sum(type(v) is type(net) for v in tasks.values()) == 1
    assert _threads(logits).tobytes() == net.eval()(images).tobytes()
    classes = fd.predict(net, da.from_array(images, chunks=30), classes=True)
    np.testing.assert_array_equal(_threads(classes), net(images).argmax(axis=1))


def test_predict_on_the_cluster_scatters_the_model(client):
    net = models.lenet5(seed=1)
    images = _images(90, seed=6)
    with client.as_current():
        logits = fd.predict(net, da.from_array(images, chunks=(25, 1, 28, 28)))
    tasks = dict(logits.__dask_graph__())
    assert not any(type(v) is type(net) for v in tasks.values())  # a future, not the model
    assert _on_cluster(client, logits).tobytes() == net.eval()(images).tobytes()
    with client.as_current():
        classes = fd.predict(net, da.from_array(images, chunks=(40, 1, 28, 28)), batch_size=15,
                             classes=True)
    np.testing.assert_array_equal(_on_cluster(client, classes), net(images).argmax(axis=1))


def test_predict_bad_images_fail_at_construction():
    net = models.lenet5(seed=0)
    with pytest.raises(ValueError):
        fd.predict(net, da.zeros((4, 3, 28, 28), dtype=np.float32, chunks=2))
    with pytest.raises(ValueError, match="batch_size"):
        fd.predict(net, da.zeros((4, 1, 28, 28), dtype=np.float32, chunks=2), batch_size=0)


@pytest.mark.parametrize("batch_size", [None, 1, 7, 25, 1000])
def test_predict_one_task_per_chunk_in_batches(batch_size):
    """The chunks along N set the tasks (no rechunk along N), batch_size the calls inside
    each; logits and classes are bitwise the model on the whole array, whatever the split."""
    net = models.lenet5(seed=2).eval()
    images = _images(53, seed=7)
    x = da.from_array(images, chunks=((20, 25, 8), 1, 28, 28))
    logits = fd.predict(net, x, batch_size=batch_size)
    assert logits.chunks == ((20, 25, 8), (10,))
    assert _threads(logits).tobytes() == net(images).tobytes()
    classes = fd.predict(net, x, batch_size=batch_size, classes=True)
    assert classes.chunks == ((20, 25, 8),)
    out = _threads(classes)
    assert out.dtype == classes.dtype
    np.testing.assert_array_equal(out, net(images).argmax(axis=1))


# ---- threads ---------------------------------------------------------------------------------

def _threads_in_a_task():
    """fastconv's thread count as a fastconv.dask task sees it (each task takes its worker's
    share first), in the worker's executor thread, not the thread share_cores ran in."""
    fd._take_share()
    return fastconv.get_num_threads()


def _task_threads(client):
    return {address: client.submit(_threads_in_a_task, workers=[address], pure=False,
                                   allow_other_workers=False).result(timeout=TIMEOUT)
            for address in client.scheduler_info()["workers"]}


def test_cluster_workers_share_the_cores(client):
    """The share reaches the threads tasks run in: the nanny starts workers with
    OMP_NUM_THREADS=1, so an executor thread would otherwise run fastconv at 1 thread."""
    cores = fd._cores()
    share = {address: max(1, cores // 2) for address in client.scheduler_info()["workers"]}
    assert fd.share_cores(client) == share
    assert _task_threads(client) == share
    assert fd.share_cores(client, cores=8) == {
        address: 4 for address in client.scheduler_info()["workers"]}
    assert _task_threads(client) == {address: 4 for address in share}
    assert fd.share_cores(client) == share
    assert _task_threads(client) == share


def test_local_threads_sets_and_restores():
    before = fastconv.get_num_threads()
    with fd.local_threads(fd._cores()):
        assert fastconv.get_num_threads() == 1
    assert fastconv.get_num_threads() == before


# ---- import ----------------------------------------------------------------------------------

def test_fastconv_does_not_import_dask_and_says_what_to_install_without_it():
    code = ("import sys, fastconv; assert 'dask' not in sys.modules\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'dask' or name.startswith('dask.'):\n"
            "            raise ImportError('no dask here')\n"
            "sys.meta_path.insert(0, Block())\n"
            "try:\n"
            "    import fastconv.dask\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=subprocess_env(), cwd="/", timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert 'pip install "fastconv[dask]"' in result.stdout


# ---- documentation ---------------------------------------------------------------------------

def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(fd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 2 and result.failed == 0


def test_readme_example_runs_on_its_own_cluster():
    """The README's "Bigger than one machine" block, on a 512^2 image instead of 8192^2."""
    import re
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "README.md")) as f:
        text = f.read()
    code = re.search(r"## Bigger than one machine\n.*?```python\n(.*?)```", text, re.S).group(1)
    assert "8192" in code
    namespace = {}
    exec(compile(code.replace("8192", "512"), "README.md dask example", "exec"), namespace)
    assert namespace["result"].shape == (1, 1, 512, 512)
