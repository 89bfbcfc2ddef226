"""fastconv on Dask arrays: images and feature maps bigger than one machine's memory or cores.

``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``relu`` and ``filter2d`` take a
``dask.array.Array`` and return one, lazily, with the numpy functions' signatures; ``predict``
maps a ``fastconv.nn`` model over a batch chunked along N; ``from_storage`` wraps an on-disk
array so that each task reads its own slab; ``share_cores`` (a worker plugin,
registered by default when a distributed client is active) and ``local_threads`` (for the
threaded scheduler) keep processes x Dask threads x fastconv threads within the cores.

Exact, for every chunking
-------------------------
Each output block is one task that calls the numpy op on the input slab it needs, with the op's
*own* arguments (padding, ceil_mode, count_include_pad, border mode), then crops.  Along each
spatial axis (:func:`_axis_blocks`):

* output block boundaries are the input chunk boundaries mapped through the stride (output j
  goes with the input chunk holding its window's first row), so every output is computed once;
* the slab of outputs [o0, o1) starts at a multiple of the stride, ``a`` (0 when the block
  touches the image's first rows), so the op's windows on the slab fall exactly on the whole
  call's windows, and reaches every input row those windows read;
* where the slab starts or ends inside the image, the op pads it as it would pad the image, but
  only windows that are cropped away read that padding; where the slab's edge is the image's,
  the padding is the image's, so zero padding, max pooling's -inf, avg pooling's divisors
  (count_include_pad, ceil_mode) and a filter's border mode are those of the whole call.

Each kept output is therefore computed by the same kernel from the same inputs in the same
order, and fastconv's kernels do not depend on where an output sits in its array (each
algorithm's per-output arithmetic is position independent; the tests check it): the result is
bitwise identical to the numpy call on the whole array, for one-row chunks, chunks smaller than
the halo and uneven last chunks alike.  ``algorithm="auto"`` is resolved once, for the whole
array's layer (its measured plan if the plan cache has one, else the shape rule: what
``fastconv.explain`` reports), and every block runs that algorithm; two algorithms may differ in
the last bits, so pass an explicit algorithm to compare with a numpy call that measured a plan.

Tasks: one per output block, one per input chunk that cuts the halo strips its neighbours need
(packed into one array, beside the chunk, so only strips travel between workers), and one per
row of chunks (per run of at most 64 MiB of chunks along it) that gathers their strips into one
tuple, so that a worker fetches a row's strips from another in one transfer.  Dask's cost per task and per transfer (a few hundred
microseconds to milliseconds of the scheduler's and the workers' event loops) is what a 5x5
filter on 1024² chunks spends beside its ~2 ms of arithmetic per block: larger chunks amortise it.

Memory: a chunk stays in memory until its neighbours' strips are cut: streaming an image row
by row holds about two rows of chunks.
For an image on disk, ``from_storage`` makes each task read its own slab, halo included, from
the file instead (bench/out_of_core_filter.py).

Channels: chunks along N (and along C for pooling, ReLU and filter2d) map blockwise.  conv2d
needs all input channels of a pixel in one sum whose order is fixed by the kernel, and a sum of
per-chunk partial sums would round differently; so each conv task gathers all C chunks of its
slab (the output has one chunk along K): bitwise identical, at the memory cost of a slab of all
channels.
"""
import contextlib
import copy
import functools
import math
import operator
import os
import threading
import uuid
import weakref

try:
    import dask
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph
    from dask.base import tokenize
except ImportError as exc:  # fastconv itself needs numpy only
    raise ImportError('fastconv.dask needs Dask: pip install "fastconv[dask]" (dask[array] and '
                      f'distributed); {exc}') from exc

import numpy as np

from . import _config
from .ops import functional as F

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "filter2d", "predict", "share_cores",
           "local_threads", "ShareCores", "from_storage"]


# ---- the halo plan along one axis ------------------------------------------------------------

def _axis_blocks(size, out_size, chunks, extent, stride, pad_before, pad_after):
    """Output blocks along one axis and the input slab each needs.

    The op reads input rows ``j * stride - pad_before + [0, extent)`` for output j (extent: the
    dilated kernel).  Returns [(o0, o1, a, b, crop)]: outputs [o0, o1) are outputs
    [crop, crop + o1 - o0) of the op called on input rows [a, b) with the same padding.
    """
    bounds, edge = [0], 0
    for chunk in chunks[:-1]:
        edge += chunk
        # output j goes with the chunk holding its window's first input row (or the first
        # chunk, for windows starting in the padding): ceil((edge + pad_before) / stride)
        j = min(max(-(-(edge + pad_before) // stride), 0), out_size)
        if j > bounds[-1]:
            bounds.append(j)
    if out_size > bounds[-1]:
        bounds.append(out_size)
    blocks = []
    for o0, o1 in zip(bounds[:-1], bounds[1:]):
        lo = o0 * stride - pad_before                 # first input row of the first window
        hi = (o1 - 1) * stride - pad_before + extent  # past the last input row of the last one
        # windows of the call on [a, b) start at a - pad_before + i * stride: a multiple of the
        # stride puts output o0 at i = o0 - a / stride; 0 when the block touches the top
        a = 0 if lo <= 0 else min(lo, size - 1) // stride * stride
        b = min(max(hi, a + 1), size)
        while b - a + pad_before + pad_after < extent and (a > 0 or b < size):
            b = min(size, a + extent)                 # a slab the op accepts at all
            if b - a + pad_before + pad_after < extent:
                a = max(0, a - stride)
        blocks.append((o0, o1, a, b, o0 - a // stride))
    return blocks


# ---- one task per output block ---------------------------------------------------------------

def _descend(tree, levels):
    """The first entry of the nested lists `tree` at `levels` levels down."""
    for _ in range(levels):
        tree = tree[0]
    return tree


def _slab_shape(tree, axes):
    """The shape of the pieces of `tree` joined along `axes` (outermost first)."""
    shape = list(_descend(tree, len(axes)).shape)
    for depth, axis in enumerate(axes):
        shape[axis] = sum(_descend(part, len(axes) - depth - 1).shape[axis]
                          for part in _descend(tree, depth))
    return tuple(shape)


def _fill(dst, tree, axes):
    """Copy the pieces of `tree` into their places in dst, along `axes` (outermost first)."""
    if not axes:
        dst[...] = tree
        return
    start = 0
    for part in tree:
        n = _descend(part, len(axes) - 1).shape[axes[0]]
        index = [slice(None)] * dst.ndim
        index[axes[0]] = slice(start, start + n)
        _fill(dst[tuple(index)], part, axes[1:])
        start += n


def _assemble(tree, axes):
    """The nested lists of chunks `tree` joined along `axes` (outermost list first) into one
    new array: one copy, whatever the number of pieces (nested np.concatenate calls would copy
    once per level).  The slab lives only for its task, so it comes from fastconv's block
    cache, where the last task's slab went back: a Dask worker runs with
    MALLOC_TRIM_THRESHOLD_ set, so glibc maps every large np.empty afresh and each task would
    pay a page fault per 4 KiB of its slab (~0.5 ms of a 1028² float32 slab's ~1.5 ms)."""
    leaf = _descend(tree, len(axes))
    if all(len(_descend(tree, depth)) == 1 for depth in range(len(axes))):
        return leaf  # one piece: the chunk itself
    slab = F._empty(_slab_shape(tree, axes), leaf.dtype)
    _fill(slab, tree, axes)
    return slab


def _nest(items, grid):
    """The flat list `items` as nested lists of grid[0] x grid[1] x ... entries (row-major)."""
    if not grid:
        return items[0]
    step = len(items) // grid[0]
    return [_nest(items[i * step:(i + 1) * step], grid[1:]) for i in range(grid[0])]


def _run_block(fn, layout, crop, *values):
    """One output block: the input pieces joined into the slab, fn on it, the kept outputs
    cropped out.  layout: (join axes, pieces per join axis, leaves, n); leaf i of the pieces
    (row-major over the join axes) is (j, place, offset, shape): of values[j] (a chunk or a
    packed halo array), or of values[j][place] (a row's tuple of halo arrays, _gather), the
    whole when offset is None, else the strip at `offset` of the packed halo array (see
    _pieces); values[n:] are fn's constant arguments.  The crop is a view where it keeps most
    of fn's outputs (the halo's few rows and columns stay alive with it, the input slab does
    not), else a copy."""
    _take_share()
    join_axes, grid, leaves, n = layout
    pieces = []
    for j, place, offset, shape in leaves:
        source = values[j] if place is None else values[j][place]
        pieces.append(source if offset is None
                      else source[offset:offset + math.prod(shape)].reshape(shape))
    y = fn(_assemble(_nest(pieces, grid), join_axes), *values[n:])
    kept = y[crop]
    wanted = tuple(s.stop - s.start for s in crop if s.stop is not None)
    if len(wanted) == len(crop) and kept.shape != wanted:
        # a slab plan that misses outputs is a bug here, never a silent crop
        raise AssertionError(f"fastconv.dask: block of shape {y.shape} lacks outputs {crop}")
    return kept if 2 * kept.size >= y.size else np.ascontiguousarray(kept)


def _gather(*packed):
    """A row of chunks' packed halo arrays, as one tuple (one key to fetch for all of them)."""
    return packed


def _pieces(regions, chunk):
    """The halo strips `regions` of a chunk, copied (a view would keep the whole chunk alive in
    the worker's memory as long as the strip) one after the other into one flat array: one
    task per chunk serves all its neighbours, and a neighbour on another worker fetches one
    buffer, not a tuple of small arrays to serialize one by one."""
    parts = [chunk[region] for region in regions]
    packed = np.empty(sum(part.size for part in parts), chunk.dtype)
    start = 0
    for part in parts:
        packed[start:start + part.size].reshape(part.shape)[...] = part
        start += part.size
    return packed


# the input chunks whose halo strips one task gathers (fastconv.dask._halo_map) at most
_GATHER_BYTES = 64 << 20


def _halo_map(name, fn, x, spatial, axis_blocks, out_shape, dtype, gather=(), args=()):
    """The lazy result of fn over output blocks of x.

    spatial: x's two spatial axes, with their _axis_blocks in axis_blocks; gather: axes whose
    chunks every task joins (conv2d's C; the output has one chunk of out_shape's extent there);
    every other axis maps chunk to chunk.  args: constant arrays passed to fn after the slab,
    each stored once in the graph.  A slab reads the part of a neighbouring chunk it needs
    through a small task of its own beside that chunk: on a cluster only the halo strips
    travel between workers, not whole chunks.
    """
    token = tokenize(name, x, spatial, axis_blocks, out_shape, gather, args,
                     getattr(fn, "__name__", None), getattr(fn, "keywords", None),
                     getattr(fn, "args", None))
    out_name = f"fastconv-{name}-{token}"
    piece_name = f"fastconv-{name}-halo-{token}"
    row_name = f"fastconv-{name}-halo-row-{token}"
    layer = {}
    arg_keys = []
    for i, arg in enumerate(args):
        key = f"fastconv-{name}-arg{i}-{token}"
        layer[key] = arg
        arg_keys.append(key)
    out_chunks = []
    # per axis, per output block along it: [(input chunk index, slice of that chunk)], and the
    # crop of the block's outputs out of fn's
    per_axis = []
    for axis in range(x.ndim):
        chunks = x.chunks[axis]
        if axis in spatial:
            offsets = np.cumsum((0,) + chunks)
            entries = []
            blocks = axis_blocks[spatial.index(axis)]
            for o0, o1, a, b, crop in blocks:
                first = int(np.searchsorted(offsets, a, side="right")) - 1
                last = int(np.searchsorted(offsets, b, side="left"))
                parts = [(c, slice(max(a, int(offsets[c])) - int(offsets[c]),
                                   min(b, int(offsets[c + 1])) - int(offsets[c])))
                         for c in range(first, last)]
                entries.append((parts, slice(crop, crop + o1 - o0)))
            out_chunks.append(tuple(o1 - o0 for o0, o1, *_ in blocks))
        elif axis in gather:
            entries = [([(c, slice(0, n)) for c, n in enumerate(chunks)], slice(None))]
            out_chunks.append((out_shape[axis],))
        else:
            entries = [([(c, slice(0, n))], slice(None)) for c, n in enumerate(chunks)]
            out_chunks.append(chunks)
        per_axis.append(entries)
    # the axes whose pieces a task joins (all but the chunk-to-chunk ones), outermost first
    join_axes = tuple(axis for axis in range(x.ndim) if axis in spatial or axis in gather)

    # input chunk index -> {(start, stop) per axis: (offset, shape) in its packed _pieces array}
    strips = {}
    packed_sizes = {}

    def leaf(parts):
        """The key a piece comes from, and where in it: (key, offset, shape), offset None for
        a whole chunk."""
        index = tuple(c for c, _ in parts)
        if all(r.stop - r.start == x.chunks[axis][c]
               for axis, (c, r) in enumerate(parts)):
            return (x.name,) + index, None, None
        wanted = strips.setdefault(index, {})
        bounds = tuple((r.start, r.stop) for _, r in parts)
        if bounds not in wanted:
            shape = tuple(stop - start for start, stop in bounds)
            wanted[bounds] = (packed_sizes.get(index, 0), shape)
            packed_sizes[index] = packed_sizes.get(index, 0) + math.prod(shape)
        return ((piece_name,) + index,) + wanted[bounds]

    def leaves(choice, axis, parts):
        """The pieces of a block, row-major over the join axes."""
        if axis == x.ndim:
            return [leaf(parts)]
        pieces = choice[axis][0]
        if axis in join_axes:
            return [item for piece in pieces
                    for item in leaves(choice, axis + 1, parts + (piece,))]
        return leaves(choice, axis + 1, parts + (pieces[0],))

    storage = _storage.get(x.name)
    if storage is not None:  # from_storage: each task reads its own slab, halo included
        storage_key = f"fastconv-{name}-storage-{token}"
        layer[storage_key] = storage
        offsets = [np.cumsum((0,) + c) for c in x.chunks]

    blocks = []  # (index, crop, the slab's pieces (key, offset, shape) or its _read task)
    for index in np.ndindex(*[len(entries) for entries in per_axis]):
        choice = [per_axis[axis][i] for axis, i in enumerate(index)]
        crop = tuple(entry[1] for entry in choice)
        if storage is None:
            blocks.append((index, crop, leaves(choice, 0, ()),
                           tuple(len(choice[axis][0]) for axis in join_axes)))
        else:
            region = tuple(slice(int(offsets[axis][pieces[0][0]]) + pieces[0][1].start,
                                 int(offsets[axis][pieces[-1][0]]) + pieces[-1][1].stop)
                           for axis, (pieces, _) in enumerate(choice))
            blocks.append((index, crop, (_read, storage_key, region), None))
    # The halo arrays of a row of chunks (along the last spatial axis) are gathered into one
    # tuple by one task, and a block reads its neighbours' strips from the rows' tuples: a
    # worker then fetches a row's strips from another worker in one transfer, where it would
    # fetch each neighbour's array on its own (one request, and the scheduler's and both
    # workers' bookkeeping, per block; about as costly as a block's whole filter for a 5x5
    # kernel on 1024² chunks).  The strips are small, so a row's tuple is too; but its blocks
    # wait for all its chunks, so a row is cut into runs of at most _GATHER_BYTES of chunks
    # (an image chunked along W only would otherwise be read whole before any block runs).
    w = spatial[-1]
    rows = {}
    for index in sorted(strips, key=lambda index: index[w]):
        row = index[:w] + index[w + 1:]
        nbytes = x.dtype.itemsize * math.prod(x.chunks[axis][c] for axis, c in enumerate(index))
        runs = rows.setdefault(row, [[[], 0]])
        if runs[-1][0] and runs[-1][1] + nbytes > _GATHER_BYTES:
            runs.append([[], 0])
        runs[-1][0].append(index)
        runs[-1][1] += nbytes
    rows = {row + (run,): members for row, runs in rows.items()
            for run, (members, _) in enumerate(runs)}
    source_of = {}  # halo key -> (the key holding it, its place in that key's tuple or None)
    for row, members in rows.items():
        if len(members) == 1:
            source_of[(piece_name,) + members[0]] = ((piece_name,) + members[0], None)
            continue
        row_key = (row_name,) + row
        layer[row_key] = (_gather,) + tuple((piece_name,) + index for index in members)
        for place, index in enumerate(members):
            source_of[(piece_name,) + index] = (row_key, place)
    for index, crop, pieces, grid in blocks:
        if grid is None:
            keys, layout = [pieces], ((), (), ((0, None, None, None),), 1)
        else:
            keys, items = [], []
            for key, offset, shape in pieces:
                key, place = source_of.get(key, (key, None))
                if key not in keys:
                    keys.append(key)
                items.append((keys.index(key), place, offset, shape))
            layout = (join_axes, grid, tuple(items), len(keys))
        # the constants in a partial, the keys as the task's own arguments: each task's spec
        # stays flat (no nested lists or inline tasks for Dask to convert, pickle and run
        # one by one on the scheduler and the workers)
        layer[(out_name,) + index] = (functools.partial(_run_block, fn, layout, crop), *keys,
                                      *arg_keys)
    for index, wanted in strips.items():
        regions = tuple(tuple(slice(*bounds) for bounds in region) for region in wanted)
        layer[(piece_name,) + index] = (functools.partial(_pieces, regions),
                                        (x.name,) + index)
    graph = HighLevelGraph.from_collections(out_name, layer,
                                            dependencies=[] if storage is not None else [x])
    return da.Array(graph, out_name, tuple(out_chunks), dtype=dtype,
                    meta=np.empty((0,) * x.ndim, dtype))


def _read(storage, region):
    return np.asarray(storage[region])


# dask array name -> the array-like it reads (from_storage)
_storage = {}


def from_storage(array, chunks):
    """A Dask array over an array-like on disk (a zarr array, an h5py dataset, a .npy file opened
    per read: anything with shape, dtype and numpy slicing, that pickles cheaply), which the ops
    here read directly: each output task reads its own slab, halo included, from `array`, so a
    worker holds one slab and one output block per task, whatever the image's size (halos read
    from neighbouring chunks in memory would keep about two rows of chunks there).  Other Dask
    operations see an ordinary array (da.from_array).
    """
    x = da.from_array(array, chunks=chunks, asarray=False, lock=False,
                      name=f"fastconv-storage-{tokenize(array, chunks)}")
    _storage[x.name] = array
    return x


# ---- arguments -------------------------------------------------------------------------------

def _dask_array(op, name, x):
    if isinstance(x, da.Array):
        return x
    if isinstance(x, np.ndarray):
        return da.from_array(x, chunks=x.shape or ())
    raise TypeError(f"fastconv.dask.{op}: {name} must be a dask.array.Array (or an ndarray), "
                    f"got {type(x).__name__}")


def _stand_in(x):
    """A numpy array of x's shape and dtype that owns one element (zero strides): what the numpy
    op's checks see, so a bad call raises the numpy call's error here, at graph construction."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, x.dtype), x.shape, (0,) * x.ndim)


def _spatial_blocks(x4_chunks, x4_shape, out_hw, extents, stride, pads):
    return [_axis_blocks(x4_shape[2 + i], out_hw[i], x4_chunks[2 + i], extents[i], stride[i],
                         pads[i][0], pads[i][1]) for i in range(2)]


def _batched(x):
    """x as (N, C, H, W) (a (C, H, W) array gets a batch of one) and a function undoing it."""
    if x.ndim == 3:
        return x[None], (lambda y: y[0])
    return x, (lambda y: y)


def _resolved_algorithm(algorithm, x_shape, weight, stride, pads, dilation, groups):
    """The algorithm every block runs: `auto` is decided once, for the whole array's layer.
    Never Winograd: its 4x4 tiles start at the block's edge, so a block's sums would differ
    from the whole call's (asked for by name, it is refused; `auto` falls back to im2col)."""
    if algorithm == "winograd":
        raise ValueError("fastconv.dask.conv2d: algorithm='winograd' is not bitwise "
                         "reproducible blockwise (its tiles depend on the block's origin); use "
                         "'auto' or 'im2col'")
    if algorithm not in (None, "auto"):
        return algorithm
    from .ops import plans
    try:
        chosen = plans.explain(x_shape, weight.shape, stride, pads, dilation, groups,
                               dtype=weight.dtype, precision="highest", print_=False)["algorithm"]
    except MemoryError:  # a layer bigger than this machine: the shape rule, without the check
        from .ops import _ext
        chosen = _ext.conv2d_auto_algorithm(x_shape, weight.shape, stride, pads, dilation, groups,
                                            weight.dtype)
    return "im2col" if chosen == "winograd" else chosen


# ---- the ops ---------------------------------------------------------------------------------

def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, algorithm="auto", out=None, max_workspace_bytes=None):
    """fastconv.conv2d on a Dask array (N, C, H, W) or (C, H, W), lazily; bitwise the numpy
    call on the whole array, for any chunking (see the module's docstring).

    weight and bias are numpy arrays, stored once in the graph.  The output is chunked like x
    along N, with one chunk along K, and along H and W at x's chunk boundaries mapped through
    the stride.  Each task gathers all C chunks of its slab.  ``out=`` is not supported.

    Example
    -------
    >>> import numpy as np, dask.array as da, fastconv, fastconv.dask
    >>> x = np.random.default_rng(0).standard_normal((1, 1, 64, 64)).astype(np.float32)
    >>> w = np.ones((1, 1, 5, 5), np.float32)
    >>> y = fastconv.dask.conv2d(da.from_array(x, chunks=(1, 1, 20, 20)), w, padding=2)
    >>> np.array_equal(y.compute(scheduler="threads"), fastconv.conv2d(x, w, padding=2))
    True
    """
    x = _dask_array("conv2d", "x", x)
    if out is not None:
        raise TypeError("fastconv.dask.conv2d: out= is not supported (the result is a Dask "
                        "array; store it with dask.array.store)")
    spec = F._conv2d(_stand_in(x), weight, bias, stride, padding, dilation, groups, activation,
                     algorithm, None, False, max_workspace_bytes, checks_only=True)
    x4, unbatch = _batched(x)
    weight, bias = F._c_array(spec["weight"]), spec["bias"]
    pads, stride, dilation = spec["padding"], spec["stride"], spec["dilation"]
    r, s = weight.shape[2:]
    algorithm = _resolved_algorithm(algorithm, x4.shape, weight, stride, pads, dilation,
                                    spec["groups"])
    out4 = (x4.shape[0],) + tuple(spec["shape"][-3:])
    blocks = _spatial_blocks(x4.chunks, x4.shape, out4[2:],
                             ((r - 1) * dilation[0] + 1, (s - 1) * dilation[1] + 1), stride,
                             pads)
    fn = functools.partial(_conv_block, stride=stride, padding=pads, dilation=dilation,
                           groups=spec["groups"], activation=activation, algorithm=algorithm,
                           max_workspace_bytes=max_workspace_bytes)
    args = (weight,) if bias is None else (weight, F._c_array(bias))
    _share_cores_by_default()
    return unbatch(_halo_map("conv2d", fn, x4, (2, 3), blocks, out4, weight.dtype,
                             gather=(1,), args=args))


def _conv_block(x, weight, bias=None, **kwargs):
    return F.conv2d(x, weight, bias, **kwargs)


def _pool(op, numpy_op, x, spec, call_kwargs):
    x4, unbatch = _batched(x)
    kernel, stride, dilation = spec["kernel"], spec["stride"], spec["dilation"]
    pad = spec["padding"]
    out4 = (x4.shape[0], x4.shape[1]) + tuple(spec["shape"][-2:])
    blocks = _spatial_blocks(x4.chunks, x4.shape, out4[2:],
                             ((kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1),
                             stride, ((pad[0], pad[0]), (pad[1], pad[1])))
    fn = functools.partial(numpy_op, kernel_size=kernel, stride=stride, padding=pad,
                           **call_kwargs)
    _share_cores_by_default()
    return unbatch(_halo_map(op, fn, x4, (2, 3), blocks, out4, x.dtype))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """fastconv.max_pool2d on a Dask array (N, C, H, W) or (C, H, W), lazily; bitwise the numpy
    call on the whole array, for any chunking.  Chunks along N and C map blockwise.
    ``return_indices=True`` is not supported (NotImplementedError)."""
    x = _dask_array("max_pool2d", "x", x)
    spec = F._max_pool2d(_stand_in(x), kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices, False, checks_only=True)
    if spec["return_indices"]:
        raise NotImplementedError("fastconv.dask.max_pool2d: return_indices=True is not "
                                  "supported")
    return _pool("max_pool2d", F.max_pool2d, x, spec,
                 dict(dilation=spec["dilation"], ceil_mode=F._flag("", "", ceil_mode)))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """fastconv.avg_pool2d on a Dask array (N, C, H, W) or (C, H, W), lazily; bitwise the numpy
    call on the whole array, for any chunking: the blocks at the image's edge see its padding
    and so its divisors (count_include_pad, ceil_mode, divisor_override).  Chunks along N and C
    map blockwise."""
    x = _dask_array("avg_pool2d", "x", x)
    spec = F._avg_pool2d(_stand_in(x), kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, False, checks_only=True)
    return _pool("avg_pool2d", F.avg_pool2d, x, spec,
                 dict(ceil_mode=F._flag("", "", ceil_mode),
                      count_include_pad=F._flag("", "", count_include_pad),
                      divisor_override=divisor_override))


def relu(x, *, out=None):
    """fastconv.relu on a Dask array of any shape, chunk by chunk (elementwise: exact)."""
    x = _dask_array("relu", "x", x)
    if out is not None:
        raise TypeError("fastconv.dask.relu: out= is not supported (the result is a Dask "
                        "array; store it with dask.array.store)")
    F._array("relu", "x", _stand_in(x))
    return x.map_blocks(_relu_block, dtype=x.dtype, meta=np.empty((0,) * x.ndim, x.dtype),
                        name=f"fastconv-relu-{tokenize(x)}")


def _relu_block(x):
    _take_share()
    return F.relu(x)


def _filter2d_function():
    from . import filter2d as numpy_filter2d  # noqa: the image-filter op, where this build has it
    return numpy_filter2d


def filter2d(image, kernel, *, border="reflect101", value=0.0, dtype=None, out=None,
             anchor=None, delta=0.0, separable="auto"):
    """fastconv.filter2d on a Dask array (H, W) or (H, W, C), lazily; bitwise the numpy call on
    the whole image, for any chunking: the blocks at the image's edge apply the border mode
    there (constant, replicate, reflect, reflect101), interior blocks read their halo from the
    neighbouring chunks.  ``border="wrap"`` reads the opposite edge, so the image is not split
    along H and W for it (rechunked to one chunk there; C chunks still map blockwise).
    ``separable="auto"`` is decided once, from the kernel, for every block.  ``out=`` is not
    supported.

    Raises NotImplementedError when this fastconv has no fastconv.filter2d.
    """
    try:
        numpy_filter2d = _filter2d_function()
    except ImportError:
        raise NotImplementedError("fastconv.dask.filter2d wraps fastconv.filter2d, which this "
                                  "fastconv does not have") from None
    image = _dask_array("filter2d", "image", image)
    if out is not None:
        raise TypeError("fastconv.dask.filter2d: out= is not supported (the result is a Dask "
                        "array; store it with dask.array.store)")
    call = functools.partial(numpy_filter2d, kernel=kernel, border=border, value=value,
                             dtype=dtype, anchor=anchor, delta=delta, separable=separable)
    # the numpy call's checks on a small stand-in; an error is raised again on a stand-in of
    # the whole shape, so that it names the image's own shape
    small = np.zeros(tuple(min(n, 3) for n in image.shape), image.dtype)
    try:
        sample = call(small)
    except (TypeError, ValueError):
        call(_stand_in(image))
        raise
    from .ops import filtering
    # the kernel's taps and whether it runs separably, once for the image: each block then
    # runs the same kernel without repeating the rank test (~70 us of Python per block, with
    # the worker's GIL held)
    taps, factors = filtering._kernel_plan("filter2d", kernel, separable)
    if factors is None:
        call = functools.partial(numpy_filter2d, kernel=taps, border=border, value=value,
                                 dtype=dtype, anchor=anchor, delta=delta, separable=False)
    else:
        call = functools.partial(filtering.sep_filter2d, kx=factors[0], ky=factors[1],
                                 border=border, value=value, dtype=dtype, anchor=anchor,
                                 delta=delta)
    if border == "wrap":
        image = image.rechunk({0: -1, 1: -1})
    # a halo as wide on both sides as the kernel reaches on either side of its anchor: the
    # kept outputs' windows, and where the slab's edge is the image's the pixels a reflecting
    # border mirrors, then lie inside the slab
    reach = [max(a, n - 1 - a)
             for a, n in zip(filtering._anchor("filter2d", anchor, taps.shape), taps.shape)]
    blocks = [_axis_blocks(image.shape[i], image.shape[i], image.chunks[i], 2 * reach[i] + 1, 1,
                           reach[i], reach[i]) for i in range(2)]
    _share_cores_by_default()
    return _halo_map("filter2d", call, image, (0, 1), blocks, image.shape, sample.dtype)


# ---- batch inference -------------------------------------------------------------------------

def predict(model, images, batch_size=None, *, classes=False):
    """A fastconv.nn model over a Dask array of images (N, ...) chunked along N: its logits
    (N, outputs), or with classes=True their argmax (N,), lazily.

    One task per chunk along N (other axes are joined into one chunk): the chunks set the
    tasks, so chunk N for the parallelism you want (``images.rechunk``).  batch_size: images
    per ``model`` call, a task running its chunk in batches of it (what one call's
    intermediates hold in memory); None: one call per chunk.  Few large chunks keep Dask's
    cost per task (a few ms of the scheduler's and the worker's time) small beside the
    model's.  The result is bitwise the model on the whole array: each image's logits do not
    depend on the others in its batch.  classes=True takes the argmax inside each task, so
    only the (N,) classes leave the workers.

    The model is copied and put in inference mode (``eval()``); with a distributed client
    active it is scattered to the workers once (``client.scatter(broadcast=True)``), else it is
    one key of the graph, never one copy per task.  The model runs once on one image here, so
    that a bad input raises now, not in a worker.
    """
    images = _dask_array("predict", "images", images)
    if images.ndim < 2:
        raise ValueError(f"fastconv.dask.predict: images must be (N, ...) with N along the "
                         f"first axis, got shape {images.shape}")
    if batch_size is not None:
        batch_size = operator.index(batch_size)
        if batch_size < 1:
            raise ValueError(f"fastconv.dask.predict: batch_size must be at least 1, got "
                             f"{batch_size}")
    model = copy.deepcopy(model).eval()
    probe = model(np.zeros((1,) + images.shape[1:], images.dtype))
    images = images.rechunk({axis: -1 for axis in range(1, images.ndim)})
    client = _distributed_client()
    _share_cores_by_default(client)
    token = uuid.uuid4().hex  # the model is a copy: each call's graph is its own
    name = f"fastconv-predict-{token}"
    if client is not None:
        # a Future in a task is a dependency on data the workers already hold
        model_ref, layer = client.scatter(model, broadcast=True, hash=False), {}
    else:
        model_ref = f"fastconv-model-{token}"
        layer = {model_ref: model}
    out_tail = () if classes else probe.shape[1:]
    for i in range(len(images.chunks[0])):
        layer[(name, i) + (0,) * len(out_tail)] = (
            _predict_block, model_ref, (images.name, i) + (0,) * (images.ndim - 1), batch_size,
            classes)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[images])
    dtype = np.dtype(np.intp) if classes else probe.dtype
    return da.Array(graph, name, (images.chunks[0],) + tuple((n,) for n in out_tail),
                    dtype=dtype, meta=np.empty((0,) * (1 + len(out_tail)), dtype))


def _predict_block(model, x, batch_size, classes):
    """model over the chunk x in batches of batch_size, into one array of the chunk's
    results (logits, or their argmax)."""
    _take_share()
    step = batch_size or len(x) or 1
    out = None
    for start in range(0, len(x), step):
        y = model(x[start:start + step])
        if classes:
            y = y.argmax(axis=1)
        if step >= len(x):
            return y
        if out is None:
            out = np.empty((len(x),) + y.shape[1:], y.dtype)
        out[start:start + len(y)] = y
    if out is None:  # an empty chunk
        y = model(x)
        return y.argmax(axis=1) if classes else y
    return out


# ---- threads and processes -------------------------------------------------------------------

def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads_for(cores, processes, threads_per_process):
    return max(1, cores // max(1, processes * threads_per_process))


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # dask without distributed: the threaded scheduler only
    _WorkerPlugin = object


class ShareCores(_WorkerPlugin):
    """A distributed worker plugin: each worker sets fastconv's thread count to its share of its
    machine's cores, cores // (worker processes on the machine x the worker's Dask threads), so
    that Dask's threads times fastconv's threads do not exceed the cores.  Each fastconv.dask
    task takes the share in the thread it runs in (OpenMP's count is per thread).

    processes_by_host: {host: worker processes} as the scheduler saw them at registration
    (share_cores fills it in); cores: the machine's cores (None: the worker's CPU affinity).
    """
    name = "fastconv-share-cores"

    def __init__(self, processes_by_host=None, cores=None):
        self.processes_by_host = dict(processes_by_host or {})
        self.cores = cores

    def setup(self, worker):
        global _task_threads
        processes = self.processes_by_host.get(worker.address.rsplit(":", 1)[0].split("://")[-1],
                                               1)
        _task_threads = _threads_for(self.cores or _cores(), processes, worker.state.nthreads)
        _config.set_num_threads(_task_threads)


# The thread count ShareCores gave this worker (None: no ShareCores here), and the count each
# thread took (_take_share).  OpenMP's count is per thread: set_num_threads in the plugin's
# setup reaches the thread that runs it, but a worker's tasks run in its executor threads,
# which start from OpenMP's default, and the nanny starts workers with OMP_NUM_THREADS=1
# (distributed's pre-spawn-environ): without this, every task ran fastconv at 1 thread
# whatever share_cores reported.
_task_threads = None
_thread_share = threading.local()


def _take_share():
    """In a task: this thread's fastconv (and OpenMP) thread count set to the worker's share,
    once per thread and share (a C call each task would be cheap too, but a check is cheaper)."""
    threads = _task_threads
    if threads is not None and getattr(_thread_share, "threads", None) != threads:
        _config.set_num_threads(threads)
        _thread_share.threads = threads


_registered = weakref.WeakSet()
_lock = threading.Lock()


def _distributed_client():
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):
        return None


def share_cores(client=None, cores=None):
    """Register :class:`ShareCores` on the client's workers (the active client by default),
    now and on workers that join or restart later.  The ops here do it on their own, once per
    client, when a distributed client is active; call this again after adding workers to a
    machine, or with ``cores=`` to give fastconv another budget.  Returns the thread count each
    worker took ({worker address: threads})."""
    client = client or _distributed_client()
    if client is None:
        raise ValueError("fastconv.dask.share_cores: no distributed client is active")
    workers = client.scheduler_info(n_workers=-1)["workers"]
    by_host = {}
    for info in workers.values():
        by_host[info["host"]] = by_host.get(info["host"], 0) + 1
    client.register_plugin(ShareCores(by_host, cores), name=ShareCores.name)
    with _lock:
        _registered.add(client)
    return client.run(_config.get_num_threads)


def _share_cores_by_default(client=None):
    client = client or _distributed_client()
    if client is None or client in _registered:
        return
    share_cores(client)


@contextlib.contextmanager
def local_threads(num_workers=None):
    """For Dask's threaded scheduler: fastconv's threads set to cores // num_workers (Dask's
    thread count; None: dask's num_workers setting, else the cores) within the block, restored
    after.

    Example
    -------
    >>> import fastconv.dask
    >>> with fastconv.dask.local_threads(2):
    ...     pass  # dask.compute(..., scheduler="threads", num_workers=2)
    """
    num_workers = num_workers or dask.config.get("num_workers", None) or _cores()
    before = _config.get_num_threads()
    _config.set_num_threads(_threads_for(_cores(), 1, num_workers))
    try:
        yield
    finally:
        _config.set_num_threads(before)
