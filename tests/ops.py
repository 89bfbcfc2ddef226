"""The op table: one row per public op, read by every suite that runs all the ops.

test_errors, test_fuzz, leak_cases (test_leaks), test_concurrency, test_determinism and
test_sizes iterate ``OPS`` where they used to name the ops by hand, and tests/test_ops.py
checks the table against ``fastconv.__all__``: a public op without a row fails.  A new op is a
row here plus its own test file (and, as test_fuzz and test_leaks then demand, a fuzz drawer
``<op>_calls`` in test_fuzz.py and its cases in leak_cases.py: those are deep per-op code, not
facts).

A row (``Op``) holds what the suites need to know of an op:

* ``fn``, ``reference``, ``oracle``: fastconv's function, its C reference twin, and the float64
  NumPy oracle (tests/oracle.py, which never imports fastconv).
* ``abs_bound`` and ``tolerance``: the oracle on absolute values and the named tolerance of
  tests/tolerances.py.  ``assert_exact`` for data movement (no ``abs_bound``);
  ``assert_reduction_close`` for sums, whose bound grows with the reduction length.
* ``outputs``: the arguments the op writes (``out=``); every other argument is read only.
  ``in_place``: the input ``out`` may be (the same array), or None.
* ``allocations(kwargs)``: how many arrays a call allocates for its results, each counted
  against the memory limit (test_sizes); checked in test_ops with the ``nan_outputs`` recorder.
* ``work_unit``: what the op's driver sizes its team by (determinism's team-size probe).
* ``example(dtype)``: a small valid call, ``(args, kwargs)``.  ``flags``: its boolean
  arguments, each with a value that has no truth value (test_errors).
* ``twin_errors``: invalid calls on which fastconv and fastconv.reference must raise the same
  exception with the same message (test_errors).
* ``huge``: a call whose output is beyond any machine's memory, or None (test_sizes).
* ``determinism``, ``concurrency``: the ``Sample`` calls those suites repeat, on the input sets
  ``determinism_inputs(dtype)`` and ``concurrency_inputs(seed)``.  A sample may also run other
  ops (a backward pass on its forward's indices): ``Sample.also`` names them.

Imports only numpy, fastconv and the oracle (no pytest): leak_cases.py, which valgrind runs,
reads it.
"""
from typing import Callable, NamedTuple, Optional

import numpy as np

import fastconv
import fastconv.reference
import oracle
from tolerances import assert_exact, assert_reduction_close


class Sample(NamedTuple):
    """A representative call of a suite.  ``run(d)`` (test_determinism) or ``run(d, own)``
    (test_concurrency: ``own`` is the calling thread's dict of reusable out= arrays) returns
    the list of result arrays; ``work(d, results)`` is a lower bound of the driver's work units
    (None: the suite does not probe the team size on this sample)."""
    name: str
    run: Callable
    work: Optional[Callable] = None
    also: tuple = ()


class Twin(NamedTuple):
    """``call(module)`` must raise ``raises`` for module = fastconv and fastconv.reference alike."""
    name: str
    call: Callable
    raises: type


class Op(NamedTuple):
    """A row of the table; the module's docstring says what each field is for."""
    name: str
    fn: Callable
    reference: Callable
    oracle: Callable
    abs_bound: Optional[Callable]
    tolerance: Callable
    outputs: tuple
    in_place: Optional[str]
    allocations: Callable
    work_unit: str
    example: Callable
    flags: tuple
    twin_errors: tuple
    huge: Optional[Callable]
    determinism: tuple
    concurrency: tuple


def _f32(*shape):
    return np.zeros(shape, np.float32)


def _f64(*shape):
    return np.zeros(shape, np.float64)


def _ones32(*shape):
    return np.ones(shape, np.float32)


def huge_view(*shape):
    """A float32 input of any size that owns one element (a zero-stride broadcast view)."""
    return np.broadcast_to(np.float32(1), shape)


def _masked(kwargs):
    return sum(bool(m) for m in kwargs.get("output_mask", (True, True, True)))


def _one_unless_out(kwargs):
    return 0 if kwargs.get("out") is not None else 1


# the small valid call of test_errors (its X and W): 1 x 3 x 5 x 5 input, 2 filters of 3 x 3
_X, _W = (1, 3, 5, 5), (2, 3, 3, 3)
_AMBIGUOUS = np.array([True, False])


# ---- the input sets of the suites ---------------------------------------------------------------

def determinism_inputs(dtype):
    """test_determinism's arrays.  The shapes cross the register tiles of every ISA (37
    filters, 23-wide rows: no multiple of 4, 6, 8, 16, 24 or 32) and are big enough that the
    team really has 2, 3 and 4 threads."""
    rng = np.random.default_rng(5)
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in [
        ("x", (3, 14, 19, 23)), ("w", (37, 14, 3, 3)), ("b", (37,)), ("w1", (37, 14, 1, 1)),
        ("wd", (28, 1, 3, 3)), ("wgroups", (38, 7, 3, 3)), ("g", (3, 37, 19, 23)),
        ("wdb", (42, 1, 3, 3)), ("gdb", (3, 42, 10, 12)),
        ("wdw", (14, 1, 3, 3)), ("gdw", (3, 14, 19, 23)), ("wdw16", (16, 1, 3, 3)),
        ("p", (4, 16, 45, 53)), ("gp", (4, 16, 23, 27)), ("gr", (4, 16, 45, 53)),
        ("xl", (57, 300)), ("wl", (37, 300)), ("bl", (37,)), ("gl", (57, 37)),
        ("xl3", (3, 19, 130)), ("wl3", (70, 130)), ("gl3", (3, 19, 70)),
        ("rd", (3, 28, 19, 23)),
        # conv_transpose2d: x, 2 groups of 7 -> 5 channels, 3x3 stride 2, padding 1,
        # output_padding 1: (3, 10, 38, 46)
        ("wt", (14, 5, 3, 3)), ("bt", (10,)), ("gt", (3, 10, 38, 46)),
        # conv2d_backward of one image, 60 -> 37 channels: grad_input split into ranges of
        # input channels (16, 16, 16, 12) on 2 threads and more
        ("xc", (1, 60, 19, 23)), ("wc", (37, 60, 3, 3)), ("gc", (1, 37, 19, 23)),
        ("gc2", (1, 37, 10, 12))]}


def concurrency_inputs(seed):
    """test_concurrency's input set; shapes small enough for 8 threads x every op x 2 rounds to
    take < 1 s, big enough that two OpenMP threads really split the convolutions (see
    test_the_teams_split)."""
    rng = np.random.default_rng(seed)
    f = np.float32
    x = rng.standard_normal((4, 16, 32, 32)).astype(f)
    w = rng.standard_normal((24, 16, 3, 3)).astype(f)
    d = dict(
        x=x, w=w, b=rng.standard_normal(24).astype(f),
        w1=rng.standard_normal((24, 16, 1, 1)).astype(f),
        wd=rng.standard_normal((32, 1, 3, 3)).astype(f),
        x64=x.astype(np.float64), w64=w.astype(np.float64),
        g=rng.standard_normal((4, 24, 16, 16)).astype(f),
        img=rng.standard_normal((4, 1, 28, 28)).astype(f),
        # LeNet-5's fc1 at batch 64: a team of two at 2 threads
        xl=rng.standard_normal((64, 400)).astype(f), wl=rng.standard_normal((120, 400)).astype(f),
        bl=rng.standard_normal(120).astype(f), gl=rng.standard_normal((64, 120)).astype(f),
    )
    d["gpool"] = rng.standard_normal((4, 16, 16, 16)).astype(f)
    # conv_transpose2d of x: 16 -> 8 channels, 4x4 stride 2 padding 1 (U-Net's up-conv)
    d["wt"] = rng.standard_normal((16, 8, 4, 4)).astype(f)
    d["gt"] = rng.standard_normal((4, 8, 64, 64)).astype(f)
    return d


# ---- work units ---------------------------------------------------------------------------------

def conv_macs(x, w, out, groups=1):
    """Multiply-adds of a convolution whose output (or grad_output) is ``out``."""
    return out.size * (x.shape[1] // groups) * w.shape[2] * w.shape[3]


# ---- conv2d -------------------------------------------------------------------------------------

_CONV2D_DETERMINISM = (
    Sample("conv2d_direct_bias_relu",
           lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, activation="relu",
                                      algorithm="direct")],
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv2d_im2col_bias_relu",
           lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, activation="relu",
                                      algorithm="im2col")],
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv2d_im2col_stride2_dilated",
           lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], stride=2, padding=2, dilation=2,
                                      algorithm="im2col")],
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv2d_pointwise_bias",
           lambda d: [fastconv.conv2d(d["x"], d["w1"], d["b"], algorithm="pointwise")],
           lambda d, r: conv_macs(d["x"], d["w1"], r[0])),
    Sample("conv2d_depthwise_relu",
           lambda d: [fastconv.conv2d(d["x"], d["wd"], padding=1, groups=14, activation="relu",
                                      algorithm="depthwise")],
           lambda d, r: conv_macs(d["x"], d["wd"], r[0], groups=14)),
    Sample("conv2d_auto_groups2",
           lambda d: [fastconv.conv2d(d["x"], d["wgroups"], padding=1, groups=2)],
           lambda d, r: conv_macs(d["x"], d["wgroups"], r[0], groups=2)),
    # the epilogue's unfused path: a residual and an activation no microkernel fuses, applied
    # to each tile as the drivers finish it ("g" has the output's shape)
    Sample("conv2d_im2col_residual_leaky_relu",
           lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, residual=d["g"],
                                      activation="leaky_relu", algorithm="im2col")],
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv2d_direct_residual_relu6",
           lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, residual=d["g"],
                                      activation="relu6", algorithm="direct")],
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv2d_depthwise_residual_relu",
           lambda d: [fastconv.conv2d(d["x"], d["wd"], padding=1, groups=14, residual=d["rd"],
                                      activation="relu", algorithm="depthwise")],
           lambda d, r: conv_macs(d["x"], d["wd"], r[0], groups=14)),
)


def _conc_conv(algorithm, **kw):
    def run(d, own):
        return [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, algorithm=algorithm, **kw)]
    return run


def _conc_conv_out(d, own):
    """out= into a per-thread array that is reused from call to call."""
    out = own.setdefault("conv_out", np.empty((4, 24, 32, 32), np.float32))
    out.fill(np.nan)
    result = fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, out=out)
    assert result is out
    return [out.copy()]


_CONV2D_CONCURRENCY = (
    # the first sample of the table: test_concurrency's single-op checks run it
    Sample("conv_direct", _conc_conv("direct"),
           lambda d, r: conv_macs(d["x"], d["w"], r[0])),
    Sample("conv_im2col_relu", _conc_conv("im2col", activation="relu")),
    Sample("conv_auto", _conc_conv("auto")),
    Sample("conv_stride2", lambda d, own: [fastconv.conv2d(d["x"], d["w"], d["b"], stride=2,
                                                           padding=1, activation="relu")]),
    Sample("conv_pointwise", lambda d, own: [fastconv.conv2d(d["x"], d["w1"], d["b"],
                                                             algorithm="pointwise")]),
    Sample("conv_depthwise", lambda d, own: [fastconv.conv2d(d["x"], d["wd"], groups=16, padding=1,
                                                             algorithm="depthwise")]),
    Sample("conv_float64", lambda d, own: [fastconv.conv2d(d["x64"], d["w64"], padding=1)]),
    Sample("conv_out", _conc_conv_out),
)

CONV2D = Op(
    name="conv2d", fn=fastconv.conv2d, reference=fastconv.reference.conv2d,
    oracle=oracle.conv2d, abs_bound=oracle.conv2d_abs_bound, tolerance=assert_reduction_close,
    outputs=("out",), in_place=None, allocations=_one_unless_out, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), np.zeros(_W, dtype)), {}),
    flags=(),
    twin_errors=(
        Twin("channels", lambda m: m.conv2d(_f64(1, 3, 5, 5), _f64(2, 2, 3, 3)), ValueError),
        Twin("dtypes", lambda m: m.conv2d(_f32(1, 3, 5, 5), _f64(2, 3, 3, 3)), TypeError),
        Twin("stride", lambda m: m.conv2d(_f64(*_X), _f64(*_W), stride=0), ValueError),
        Twin("huge_padding", lambda m: m.conv2d(_f64(*_X), _f64(*_W), padding=2**63),
             ValueError),
        Twin("residual_shape", lambda m: m.conv2d(_f64(*_X), _f64(*_W), residual=_f64(*_X)),
             ValueError),
        Twin("residual_dtype", lambda m: m.conv2d(_f64(*_X), _f64(*_W), residual=_f32(1, 2, 3, 3)),
             TypeError),
    ),
    # 2**41 x 3 float32: the count fits in 64 bits, no machine has the 24 TiB
    huge=lambda: fastconv.conv2d(_ones32(1, 1, 3, 3), _ones32(1, 1, 1, 1), padding=(2**40, 0)),
    determinism=_CONV2D_DETERMINISM,
    concurrency=_CONV2D_CONCURRENCY,
)


# ---- conv2d_backward ----------------------------------------------------------------------------

def _nhwc(a):
    """(N, C, H, W) -> a C-contiguous channels-last copy."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


CONV2D_BACKWARD = Op(
    name="conv2d_backward", fn=fastconv.conv2d_backward,
    reference=fastconv.reference.conv2d_backward, oracle=oracle.conv2d_backward,
    abs_bound=oracle.conv2d_backward_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=_masked, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.ones((1, 2, 3, 3), dtype), np.zeros(_X, dtype),
                                       np.zeros(_W, dtype)), {}),
    flags=(("output_mask", (True, _AMBIGUOUS, True)),),
    twin_errors=(),
    huge=None,
    determinism=(
        Sample("conv2d_backward",
               lambda d: list(fastconv.conv2d_backward(d["g"], d["x"], d["w"], padding=1)),
               lambda d, r: conv_macs(d["x"], d["w"], d["g"])),
        Sample("conv2d_backward_depthwise_stride2",
               lambda d: list(fastconv.conv2d_backward(d["gdb"], d["x"], d["wdb"], stride=2,
                                                       padding=1, groups=14)),
               lambda d, r: conv_macs(d["x"], d["wdb"], d["gdb"], groups=14)),
        # multiplier 1: the depthwise pass takes grad_input too (spread, at stride 2)
        Sample("conv2d_backward_depthwise",
               lambda d: list(fastconv.conv2d_backward(d["gdw"], d["x"], d["wdw"], padding=1,
                                                       groups=14)),
               lambda d, r: conv_macs(d["x"], d["wdw"], d["gdw"], groups=14)),
        Sample("conv2d_backward_depthwise_s2",
               lambda d: list(fastconv.conv2d_backward(d["gp"], d["p"], d["wdw16"], stride=2,
                                                       padding=1, groups=16)),
               lambda d, r: conv_macs(d["p"], d["wdw16"], d["gp"], groups=16)),
        # 1x1 without padding: grad_weight reads grad_output and x in place
        Sample("conv2d_backward_1x1",
               lambda d: list(fastconv.conv2d_backward(d["g"], d["x"], d["w1"])),
               lambda d, r: conv_macs(d["x"], d["w1"], d["g"])),
        # one image: grad_input's items are ranges of input channels (on the virtual grid;
        # stride 2: col2im)
        Sample("conv2d_backward_channel_ranges",
               lambda d: list(fastconv.conv2d_backward(d["gc"], d["xc"], d["wc"], padding=1)),
               lambda d, r: conv_macs(d["xc"], d["wc"], d["gc"])),
        Sample("conv2d_backward_channel_ranges_stride2",
               lambda d: list(fastconv.conv2d_backward(d["gc2"], d["xc"], d["wc"], stride=2,
                                                       padding=1)),
               lambda d, r: conv_macs(d["xc"], d["wc"], d["gc2"])),
        # channels last (ops/conv2d_backward_nhwc.tmpl.h): the batch, one image (grad_input
        # split into bands of input rows), grouped and strided
        Sample("conv2d_backward_nhwc",
               lambda d: list(fastconv.conv2d_backward(_nhwc(d["g"]), _nhwc(d["x"]), d["w"],
                                                       padding=1, layout="NHWC")),
               lambda d, r: conv_macs(d["x"], d["w"], d["g"])),
        Sample("conv2d_backward_nhwc_one_image",
               lambda d: list(fastconv.conv2d_backward(_nhwc(d["g"][:1]), _nhwc(d["x"][:1]),
                                                       d["w"], padding=1, layout="NHWC")),
               lambda d, r: conv_macs(d["x"][:1], d["w"], d["g"][:1])),
        Sample("conv2d_backward_nhwc_depthwise_stride2",
               lambda d: list(fastconv.conv2d_backward(_nhwc(d["gdb"]), _nhwc(d["x"]), d["wdb"],
                                                       stride=2, padding=1, groups=14,
                                                       layout="NHWC")),
               lambda d, r: conv_macs(d["x"], d["wdb"], d["gdb"], groups=14)),
        Sample("conv2d_backward_nhwc_depthwise",  # multiplier 1: the depthwise pass
               lambda d: list(fastconv.conv2d_backward(_nhwc(d["gdw"]), _nhwc(d["x"]), d["wdw"],
                                                       padding=1, groups=14, layout="NHWC")),
               lambda d, r: conv_macs(d["x"], d["wdw"], d["gdw"], groups=14)),
    ),
    concurrency=(
        Sample("conv_backward", lambda d, own: list(fastconv.conv2d_backward(
            d["g"], d["x"], d["w"], stride=2, padding=1))),
    ),
)


# ---- conv_transpose2d and its backward ----------------------------------------------------------

def _transpose_macs(x, w, groups=1):
    """Multiply-adds of a transposed convolution of x with w (each input pixel, every tap)."""
    return x.size * w.shape[1] * w.shape[2] * w.shape[3]


CONV_TRANSPOSE2D = Op(
    name="conv_transpose2d", fn=fastconv.conv_transpose2d,
    reference=fastconv.reference.conv_transpose2d, oracle=oracle.conv_transpose2d,
    abs_bound=oracle.conv_transpose2d_abs_bound, tolerance=assert_reduction_close,
    outputs=("out",), in_place=None, allocations=_one_unless_out, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), np.zeros((3, 2, 3, 3), dtype)), {}),
    flags=(),
    twin_errors=(
        Twin("transpose_output_padding",
             lambda m: m.conv_transpose2d(_f64(*_X), _f64(3, 2, 3, 3), stride=2,
                                          output_padding=2), ValueError),
        Twin("transpose_channels",
             lambda m: m.conv_transpose2d(_f64(*_X), _f64(2, 2, 3, 3)), ValueError),
        Twin("transpose_size",
             lambda m: m.conv_transpose2d(_f64(1, 3, 1, 1), _f64(3, 2, 1, 1), padding=1),
             ValueError),
    ),
    # (2**21 + 1)**2 float32 outputs: 16 TiB
    huge=lambda: fastconv.conv_transpose2d(_ones32(1, 1, 3, 3), _ones32(1, 1, 1, 1),
                                           stride=2**20),
    determinism=(
        Sample("conv_transpose2d_groups_bias_relu_and_backward",
               lambda d: [fastconv.conv_transpose2d(d["x"], d["wt"], d["bt"], 2, 1, 1, 2,
                                                    activation="relu"),
                          *fastconv.conv_transpose2d_backward(d["gt"], d["x"], d["wt"], 2, 1,
                                                              1, 2)],
               lambda d, r: _transpose_macs(d["x"], d["wt"]),
               also=("conv_transpose2d_backward",)),
    ),
    concurrency=(
        Sample("conv_transpose", lambda d, own: [
            fastconv.conv_transpose2d(d["x"], d["wt"], d["b"][:8], 2, 1),
            *fastconv.conv_transpose2d_backward(d["gt"], d["x"], d["wt"], 2, 1)],
            also=("conv_transpose2d_backward",)),
    ),
)

CONV_TRANSPOSE2D_BACKWARD = Op(
    name="conv_transpose2d_backward", fn=fastconv.conv_transpose2d_backward,
    reference=fastconv.reference.conv_transpose2d_backward,
    oracle=oracle.conv_transpose2d_backward,
    abs_bound=oracle.conv_transpose2d_backward_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=_masked, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.ones((1, 2, 7, 7), dtype), np.zeros(_X, dtype),
                                       np.zeros((3, 2, 3, 3), dtype)), {}),
    flags=(("output_mask", (True, _AMBIGUOUS, True)),),
    twin_errors=(),
    huge=None,
    determinism=(), concurrency=(),  # with its forward: conv_transpose2d's samples
)


# ---- pooling ------------------------------------------------------------------------------------

def _conc_max_pool(d, own):
    y, idx = fastconv.max_pool2d(d["x"], 3, 2, 1, return_indices=True)
    return [y, idx, fastconv.max_pool2d_backward(d["gpool"], idx, d["x"].shape)]


def _conc_avg_pool(d, own):
    y = fastconv.avg_pool2d(d["x"], 3, 2, 1, count_include_pad=False)
    return [y, fastconv.avg_pool2d_backward(d["gpool"], d["x"].shape, 3, 2, 1,
                                            count_include_pad=False)]


MAX_POOL2D = Op(
    name="max_pool2d", fn=fastconv.max_pool2d, reference=fastconv.reference.max_pool2d,
    oracle=oracle.max_pool2d, abs_bound=None, tolerance=assert_exact,
    outputs=(), in_place=None,
    allocations=lambda kwargs: 2 if kwargs.get("return_indices") else 1,
    work_unit="window visits",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), 2), {}),
    flags=(("ceil_mode", _AMBIGUOUS), ("return_indices", _AMBIGUOUS)),
    twin_errors=(
        Twin("pool_padding", lambda m: m.max_pool2d(_f64(*_X), 3, padding=2), ValueError),
        Twin("pool_dtype", lambda m: m.max_pool2d(np.zeros(_X, np.int32), 2), TypeError),
    ),
    huge=lambda: fastconv.max_pool2d(huge_view(1, 1, 2**21, 2**21), 1),
    determinism=(
        Sample("max_pool2d_and_backward",
               lambda d: (lambda y, i: [y, i, fastconv.max_pool2d_backward(d["gp"], i,
                                                                           d["p"].shape)])(
                   *fastconv.max_pool2d(d["p"], 3, 2, 1, return_indices=True)),
               lambda d, r: r[0].size * 9, also=("max_pool2d_backward",)),
    ),
    concurrency=(
        Sample("max_pool", _conc_max_pool, lambda d, r: r[0].size * 9,
               also=("max_pool2d_backward",)),
    ),
)

MAX_POOL2D_BACKWARD = Op(
    name="max_pool2d_backward", fn=fastconv.max_pool2d_backward,
    reference=fastconv.reference.max_pool2d_backward, oracle=oracle.max_pool2d_backward,
    # overlapping windows add their gradients into one element: a sum
    abs_bound=lambda g, indices, input_shape: oracle.max_pool2d_backward(np.abs(g), indices,
                                                                         input_shape),
    tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=lambda kwargs: 1, work_unit="window visits",
    example=lambda dtype=np.float64: ((np.ones((1, 3, 2, 2), dtype),
                                       np.zeros((1, 3, 2, 2), np.int64), _X), {}),
    flags=(), twin_errors=(),
    huge=lambda: fastconv.max_pool2d_backward(
        _ones32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), (1, 1, 2**21, 2**21)),
    determinism=(), concurrency=(),  # with its forward: max_pool2d's samples
)

AVG_POOL2D = Op(
    name="avg_pool2d", fn=fastconv.avg_pool2d, reference=fastconv.reference.avg_pool2d,
    oracle=oracle.avg_pool2d, abs_bound=oracle.avg_pool2d_abs_bound,
    tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=lambda kwargs: 1, work_unit="window visits",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), 2), {}),
    flags=(("ceil_mode", _AMBIGUOUS), ("count_include_pad", _AMBIGUOUS)),
    twin_errors=(
        Twin("pool_small", lambda m: m.avg_pool2d(_f64(1, 1, 2, 2), 3), ValueError),
        Twin("divisor_zero", lambda m: m.avg_pool2d(_f64(*_X), 2, divisor_override=0),
             ValueError),
    ),
    huge=lambda: fastconv.avg_pool2d(huge_view(1, 1, 2**21, 2**21), 1),
    determinism=(
        Sample("avg_pool2d_and_backward",
               lambda d: [fastconv.avg_pool2d(d["p"], 3, 2, 1, count_include_pad=False),
                          fastconv.avg_pool2d_backward(d["gp"], d["p"].shape, 3, 2, 1,
                                                       count_include_pad=False)],
               lambda d, r: r[0].size * 9, also=("avg_pool2d_backward",)),
        Sample("avg_pool2d_divisor_override",
               lambda d: [fastconv.avg_pool2d(d["p"], 3, 2, 1, divisor_override=7),
                          fastconv.avg_pool2d_backward(d["gp"], d["p"].shape, 3, 2, 1,
                                                       divisor_override=7)],
               lambda d, r: r[0].size * 9, also=("avg_pool2d_backward",)),
    ),
    concurrency=(Sample("avg_pool", _conc_avg_pool, also=("avg_pool2d_backward",)),),
)

AVG_POOL2D_BACKWARD = Op(
    name="avg_pool2d_backward", fn=fastconv.avg_pool2d_backward,
    reference=fastconv.reference.avg_pool2d_backward, oracle=oracle.avg_pool2d_backward,
    abs_bound=oracle.avg_pool2d_backward_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=lambda kwargs: 1, work_unit="window visits",
    example=lambda dtype=np.float64: ((np.ones((1, 3, 2, 2), dtype), _X, 2), {}),
    flags=(("count_include_pad", _AMBIGUOUS),),
    twin_errors=(),
    huge=lambda: fastconv.avg_pool2d_backward(_ones32(1, 1, 2, 2), (1, 1, 2**21, 2**21), 2**20),
    determinism=(), concurrency=(),  # with its forward: avg_pool2d's samples
)


ADAPTIVE_AVG_POOL2D = Op(
    name="adaptive_avg_pool2d", fn=fastconv.adaptive_avg_pool2d,
    reference=fastconv.reference.adaptive_avg_pool2d, oracle=oracle.adaptive_avg_pool2d,
    abs_bound=oracle.adaptive_avg_pool2d_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=lambda kwargs: 1, work_unit="window visits",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), (3, 2)), {}),
    flags=(),
    twin_errors=(
        Twin("adaptive_size", lambda m: m.adaptive_avg_pool2d(_f64(*_X), 0), ValueError),
    ),
    huge=lambda: fastconv.adaptive_avg_pool2d(huge_view(1, 1, 2, 2), 2**21),
    determinism=(
        Sample("adaptive_avg_pool2d_and_backward",
               lambda d: [fastconv.adaptive_avg_pool2d(d["p"], (7, 10)),
                          fastconv.adaptive_avg_pool2d_backward(d["gp"], d["p"].shape)],
               lambda d, r: d["p"].size, also=("adaptive_avg_pool2d_backward",)),
    ),
    concurrency=(Sample("adaptive_avg_pool",
                        lambda d, own: [fastconv.adaptive_avg_pool2d(d["x"], (5, None)),
                                        fastconv.adaptive_avg_pool2d_backward(
                                            d["gpool"], d["x"].shape)],
                        also=("adaptive_avg_pool2d_backward",)),),
)

ADAPTIVE_AVG_POOL2D_BACKWARD = Op(
    name="adaptive_avg_pool2d_backward", fn=fastconv.adaptive_avg_pool2d_backward,
    reference=fastconv.reference.adaptive_avg_pool2d_backward,
    oracle=oracle.adaptive_avg_pool2d_backward,
    abs_bound=oracle.adaptive_avg_pool2d_backward_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=lambda kwargs: 1, work_unit="window visits",
    example=lambda dtype=np.float64: ((np.ones((1, 3, 2, 2), dtype), _X), {}),
    flags=(), twin_errors=(),
    huge=lambda: fastconv.adaptive_avg_pool2d_backward(_ones32(1, 1, 1, 1),
                                                       (1, 1, 2**21, 2**21)),
    determinism=(), concurrency=(),  # with its forward: adaptive_avg_pool2d's samples
)


# ---- batch_norm and add -------------------------------------------------------------------------

def _bn_vectors(dtype, c=3):
    """weight, bias, running_mean, running_var of c channels (fresh: training updates the last
    two in place)."""
    rng = np.random.default_rng(11)
    return (rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype),
            rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype))


def _bn_bound(x, running_mean, running_var, weight=None, bias=None, training=False,
              momentum=0.1, eps=1e-5):
    return oracle.batch_norm(x, running_mean, running_var, weight, bias, training, momentum,
                             eps)[5]


def _bn_sample(d):
    """Training (running statistics updated: fresh copies each call) and eval, then the
    backward of both: every result, the updated statistics included."""
    x, g = d["p"], d["gr"]
    w, b, rm, rv = _bn_vectors(x.dtype, x.shape[1])
    rm_t, rv_t = rm.copy(), rv.copy()
    y, mean, invstd = fastconv.batch_norm(x, rm_t, rv_t, w, b, training=True,
                                          return_stats=True)
    y_eval, mean_e, invstd_e = fastconv.batch_norm(x, rm, rv, w, b, return_stats=True)
    grads = fastconv.batch_norm_backward(g, x, w, mean, invstd)
    grads_eval = fastconv.batch_norm_backward(g, x, w, mean_e, invstd_e, training=False)
    return [y, mean, invstd, rm_t, rv_t, y_eval, *grads, *grads_eval]


def _conc_bn(d, own):
    w, b, rm, rv = _bn_vectors(np.float32, d["x"].shape[1])
    y, mean, invstd = fastconv.batch_norm(d["x"], rm, rv, w, b, training=True,
                                          return_stats=True)
    return [y, rm, rv, *fastconv.batch_norm_backward(d["x"], d["x"], w, mean, invstd)]


BATCH_NORM = Op(
    name="batch_norm", fn=fastconv.batch_norm, reference=fastconv.reference.batch_norm,
    oracle=oracle.batch_norm, abs_bound=_bn_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None,
    allocations=lambda kwargs: 3 if kwargs.get("return_stats") else 1,
    work_unit="element visits",
    example=lambda dtype=np.float64: ((np.ones(_X, dtype), *_bn_vectors(dtype)[2:]),
                                      dict(weight=_bn_vectors(dtype)[0])),
    flags=(("training", _AMBIGUOUS), ("return_stats", _AMBIGUOUS)),
    twin_errors=(
        Twin("eval_without_running_stats", lambda m: m.batch_norm(_f64(*_X), None, None),
             ValueError),
        Twin("one_value_per_channel", lambda m: m.batch_norm(_f64(1, 3, 1, 1), None, None,
                                                             training=True), ValueError),
    ),
    huge=lambda: fastconv.batch_norm(huge_view(2**21, 1, 2**21, 1), None, None, training=True),
    determinism=(Sample("batch_norm_train_eval_and_backward", _bn_sample,
                        lambda d, r: d["p"].size * 3, also=("batch_norm_backward",)),),
    concurrency=(Sample("batch_norm", _conc_bn, also=("batch_norm_backward",)),),
)


def _bn_backward_bound(g, x, weight, mean, invstd, training=True):
    return oracle.batch_norm_backward(g, x, weight, mean, invstd, training)[1]


BATCH_NORM_BACKWARD = Op(
    name="batch_norm_backward", fn=fastconv.batch_norm_backward,
    reference=fastconv.reference.batch_norm_backward, oracle=oracle.batch_norm_backward,
    abs_bound=_bn_backward_bound, tolerance=assert_reduction_close, outputs=(), in_place=None,
    allocations=lambda kwargs: sum(kwargs.get("output_mask", (True, True, True))),
    work_unit="element visits",
    example=lambda dtype=np.float64: ((np.ones(_X, dtype), np.ones(_X, dtype),
                                       *_bn_vectors(dtype)[:3]), {}),
    flags=(("training", _AMBIGUOUS), ("output_mask", (_AMBIGUOUS, True, True))),
    twin_errors=(
        Twin("grad_output_shape", lambda m: m.batch_norm_backward(
            _f64(1, 3, 2, 2), _f64(*_X), None, _f64(3), _f64(3)), ValueError),
    ),
    huge=lambda: fastconv.batch_norm_backward(huge_view(2**21, 1, 2**21, 1),
                                              huge_view(2**21, 1, 2**21, 1), None,
                                              _ones32(1), _ones32(1)),
    determinism=(), concurrency=(),  # with its forward: batch_norm's samples
)


def _conc_add(d, own):
    y = fastconv.add(d["x"], d["x"], activation="relu")
    inplace = own.setdefault("add_inplace", np.empty_like(d["x"]))
    np.copyto(inplace, d["x"])
    fastconv.add(inplace, d["x"], activation="leaky_relu", out=inplace)
    return [y, inplace.copy()]


ADD = Op(
    name="add", fn=fastconv.add, reference=fastconv.reference.add, oracle=oracle.add,
    abs_bound=None, tolerance=assert_exact, outputs=("out",), in_place="a",
    allocations=_one_unless_out, work_unit="elements",
    example=lambda dtype=np.float64: ((np.ones(_X, dtype), np.ones(_X, dtype)), {}),
    flags=(),
    twin_errors=(
        Twin("shapes_differ", lambda m: m.add(_f64(2, 3), _f64(3, 2)), ValueError),
        Twin("bad_activation", lambda m: m.add(_f64(2), _f64(2), activation="tanh"),
             ValueError),
    ),
    huge=lambda: fastconv.add(huge_view(2**22, 2**22), huge_view(2**22, 2**22)),
    determinism=(Sample("add_relu6_leaky", lambda d: [
        fastconv.add(d["p"], d["gr"], activation="relu6"),
        fastconv.add(d["p"], d["gr"], activation="leaky_relu", negative_slope=0.3)],
        lambda d, r: d["p"].size),),
    concurrency=(Sample("add", _conc_add),),
)


# ---- relu ---------------------------------------------------------------------------------------

def _conc_relu(d, own):
    y = fastconv.relu(d["x"])
    out = own.setdefault("relu_out", np.empty_like(d["x"]))
    fastconv.relu(d["x"], out=out)
    inplace = own.setdefault("relu_inplace", np.empty_like(d["x"]))
    np.copyto(inplace, d["x"])
    assert fastconv.relu(inplace, out=inplace) is inplace
    gx = fastconv.relu_backward(d["x"], y)
    g_inplace = own.setdefault("relu_g", np.empty_like(d["x"]))
    np.copyto(g_inplace, d["x"])
    fastconv.relu_backward(g_inplace, y, out=g_inplace)
    return [y, out.copy(), inplace.copy(), gx, g_inplace.copy()]


RELU = Op(
    name="relu", fn=fastconv.relu, reference=fastconv.reference.relu, oracle=oracle.relu,
    abs_bound=None, tolerance=assert_exact,
    outputs=("out",), in_place="x", allocations=_one_unless_out, work_unit="elements",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype),), {}),
    flags=(),
    twin_errors=(Twin("relu_none", lambda m: m.relu(None), TypeError),),
    huge=None,
    determinism=(
        Sample("relu_and_backward",
               lambda d: (lambda y: [y, fastconv.relu_backward(d["gr"], y)])(fastconv.relu(d["p"])),
               lambda d, r: d["p"].size, also=("relu_backward",)),
    ),
    concurrency=(Sample("relu_ops", _conc_relu, lambda d, r: d["x"].size,
                        also=("relu_backward",)),),
)

RELU_BACKWARD = Op(
    name="relu_backward", fn=fastconv.relu_backward, reference=fastconv.reference.relu_backward,
    oracle=oracle.relu_backward, abs_bound=None, tolerance=assert_exact,
    outputs=("out",), in_place="grad_output", allocations=_one_unless_out,
    work_unit="elements",
    example=lambda dtype=np.float64: ((np.zeros(_X, dtype), np.zeros(_X, dtype)), {}),
    flags=(), twin_errors=(), huge=None,
    determinism=(), concurrency=(),  # with its forward: relu's samples
)


# ---- relu6, leaky_relu (the epilogue's table, standalone) ---------------------------------------

def _activation_rows(name, fn, ref, oracle_fn, backward, ref_backward, oracle_backward, args):
    """The rows of a standalone activation and its backward: relu's rows, the samples calling
    with `args` (the forward's extra arguments) after x; the oracles take the defaults."""
    def sample(d):
        y = fn(d["p"], *args)
        return [y, backward(d["gr"], d["p"], *args)]

    def conc(d, own):
        y = fn(d["x"], *args)
        inplace = own.setdefault(f"{name}_inplace", np.empty_like(d["x"]))
        np.copyto(inplace, d["x"])
        assert fn(inplace, *args, out=inplace) is inplace
        return [y, inplace.copy(), backward(d["x"], d["x"], *args)]

    forward = Op(
        name=name, fn=fn, reference=ref, oracle=oracle_fn,
        abs_bound=None, tolerance=assert_exact,
        outputs=("out",), in_place="x", allocations=_one_unless_out, work_unit="elements",
        example=lambda dtype=np.float64: ((np.zeros(_X, dtype),), {}),
        flags=(),
        twin_errors=(Twin(f"{name}_none", lambda m: getattr(m, name)(None), TypeError),),
        huge=None,
        determinism=(Sample(f"{name}_and_backward", sample, lambda d, r: d["p"].size,
                            also=(f"{name}_backward",)),),
        concurrency=(Sample(f"{name}_ops", conc, lambda d, r: d["x"].size,
                            also=(f"{name}_backward",)),),
    )
    backward_row = Op(
        name=f"{name}_backward", fn=backward, reference=ref_backward,
        oracle=oracle_backward, abs_bound=None,
        tolerance=assert_exact,
        outputs=("out",), in_place="grad_output", allocations=_one_unless_out,
        work_unit="elements",
        example=lambda dtype=np.float64: ((np.zeros(_X, dtype), np.zeros(_X, dtype)), {}),
        flags=(), twin_errors=(), huge=None,
        determinism=(), concurrency=(),  # with its forward's samples
    )
    return forward, backward_row


RELU6, RELU6_BACKWARD = _activation_rows(
    "relu6", fastconv.relu6, fastconv.reference.relu6, oracle.relu6, fastconv.relu6_backward,
    fastconv.reference.relu6_backward, oracle.relu6_backward, ())
LEAKY_RELU, LEAKY_RELU_BACKWARD = _activation_rows(
    "leaky_relu", fastconv.leaky_relu, fastconv.reference.leaky_relu, oracle.leaky_relu,
    fastconv.leaky_relu_backward, fastconv.reference.leaky_relu_backward,
    oracle.leaky_relu_backward, (0.2,))


# ---- linear -------------------------------------------------------------------------------------

def _conc_linear(d, own):
    """linear with bias and ReLU, into a reused out=, and its backward."""
    y = fastconv.linear(d["xl"], d["wl"], d["bl"], activation="relu")
    out = own.setdefault("linear_out", np.empty((64, 120), np.float32))
    out.fill(np.nan)
    assert fastconv.linear(d["xl"], d["wl"], d["bl"], out=out) is out
    return [y, out.copy(), *fastconv.linear_backward(d["gl"], d["xl"], d["wl"])]


def _linear_macs(d, x, w):
    return d[x].size * d[w].shape[0]


LINEAR = Op(
    name="linear", fn=fastconv.linear, reference=fastconv.reference.linear,
    oracle=oracle.linear, abs_bound=oracle.linear_abs_bound, tolerance=assert_reduction_close,
    outputs=("out",), in_place=None, allocations=_one_unless_out, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros((4, 3), dtype), np.zeros((2, 3), dtype)), {}),
    flags=(),
    twin_errors=(
        Twin("linear_features", lambda m: m.linear(_f64(4, 3), _f64(2, 5)), ValueError),
        Twin("linear_bias_dtype", lambda m: m.linear(_f32(4, 3), _f32(2, 3), _f64(2)),
             TypeError),
        Twin("linear_residual_shape", lambda m: m.linear(_f64(4, 3), _f64(2, 3),
                                                         residual=_f64(4, 3)), ValueError),
        Twin("linear_negative_slope", lambda m: m.linear(_f64(4, 3), _f64(2, 3),
                                                         activation="relu6",
                                                         negative_slope=0.1), ValueError),
    ),
    huge=None,
    determinism=(
        # 57 rows and 37 outputs cross every register tile; 300 inputs, past one kc block
        Sample("linear_bias_relu",
               lambda d: [fastconv.linear(d["xl"], d["wl"], d["bl"], activation="relu")],
               lambda d, r: _linear_macs(d, "xl", "wl")),
        Sample("linear_bias_residual_relu6",
               lambda d: [fastconv.linear(d["xl"], d["wl"], d["bl"], residual=d["gl"],
                                          activation="relu6")],
               lambda d, r: _linear_macs(d, "xl", "wl")),
        Sample("linear_leading_dims_and_backward",
               lambda d: [fastconv.linear(d["xl3"], d["wl3"]),
                          *fastconv.linear_backward(d["gl3"], d["xl3"], d["wl3"])],
               lambda d, r: _linear_macs(d, "xl3", "wl3"), also=("linear_backward",)),
    ),
    concurrency=(Sample("linear_ops", _conc_linear, lambda d, r: _linear_macs(d, "xl", "wl"),
                        also=("linear_backward",)),),
)

LINEAR_BACKWARD = Op(
    name="linear_backward", fn=fastconv.linear_backward,
    reference=fastconv.reference.linear_backward, oracle=oracle.linear_backward,
    abs_bound=oracle.linear_backward_abs_bound, tolerance=assert_reduction_close,
    outputs=(), in_place=None, allocations=_masked, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros((4, 2), dtype), np.zeros((4, 3), dtype),
                                       np.zeros((2, 3), dtype)), {}),
    flags=(("output_mask", (_AMBIGUOUS, True, True)),),
    twin_errors=(
        Twin("linear_backward_grad_output",
             lambda m: m.linear_backward(_f64(4, 3), _f64(4, 3), _f64(2, 3)), ValueError),
    ),
    huge=None,
    determinism=(
        Sample("linear_backward", lambda d: list(fastconv.linear_backward(d["gl"], d["xl"],
                                                                          d["wl"])),
               lambda d, r: _linear_macs(d, "xl", "wl")),
    ),
    concurrency=(),  # with its forward: linear's sample
)


# ---- image filtering ------------------------------------------------------------------------

# a 5 x 5 kernel that is not separable (filter2d's "auto" rule would run a rank-1 one
# separably), and the pair sep_filter2d's samples use
_K5 = np.arange(25, dtype=np.float64).reshape(5, 5) % 7 - 3
_KX, _KY = np.array([1.0, -2, 3, 0.5, 1]), np.array([0.25, 1, -1, 2, 1.5, 1, -0.5])


def _conc_filter2d(d, own):
    """filter2d of a float32 (N, H, W, C) batch into a reused out=, and of a uint8 image."""
    x = d["x"].transpose(0, 2, 3, 1)  # (4, 32, 32, 16) at non-contiguous strides
    out = own.setdefault("filter2d_out", np.empty(x.shape, np.float32))
    out.fill(np.nan)
    assert fastconv.filter2d(x, _K5, border="reflect", out=out) is out
    image = (np.abs(d["x"][0, :3]) * 60).astype(np.uint8).transpose(1, 2, 0)
    return [out.copy(), fastconv.filter2d(image, _K5, dtype=np.uint8, border="wrap"),
            fastconv.sep_filter2d(x, _KX, _KY, border="constant", value=0.5)]


FILTER2D = Op(
    name="filter2d", fn=fastconv.filter2d, reference=fastconv.reference.filter2d,
    oracle=oracle.filter2d, abs_bound=oracle.filter2d_abs_bound,
    tolerance=assert_reduction_close, outputs=("out",), in_place=None,
    allocations=_one_unless_out, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros((5, 6, 3), dtype), np.ones((3, 2))), {}),
    flags=(),
    twin_errors=(
        Twin("filter2d_border", lambda m: m.filter2d(_f64(4, 4), _K5, border="mirror"),
             ValueError),
        Twin("filter2d_kernel_1d", lambda m: m.filter2d(_f64(4, 4), np.ones(3)), ValueError),
        Twin("filter2d_complex", lambda m: m.filter2d(np.zeros((4, 4), complex), _K5),
             TypeError),
    ),
    huge=lambda: fastconv.filter2d(huge_view(2**22, 2**22), np.ones((3, 3))),
    determinism=(
        Sample("filter2d_reflect101_5x5",
               lambda d: [fastconv.filter2d(d["p"], _K5),
                          fastconv.filter2d(d["p"][0], _K5, border="constant", value=1)],
               lambda d, r: d["p"].size * 25),
    ),
    concurrency=(Sample("filter2d_images", _conc_filter2d, lambda d, r: d["x"].size * 25,
                        also=("sep_filter2d",)),),
)

SEP_FILTER2D = Op(
    name="sep_filter2d", fn=fastconv.sep_filter2d, reference=fastconv.reference.sep_filter2d,
    oracle=oracle.sep_filter2d, abs_bound=oracle.sep_filter2d_abs_bound,
    tolerance=assert_reduction_close, outputs=("out",), in_place=None,
    allocations=_one_unless_out, work_unit="multiply-adds",
    example=lambda dtype=np.float64: ((np.zeros((5, 6, 3), dtype), _KX, _KY), {}),
    flags=(),
    twin_errors=(
        Twin("sep_filter2d_kx_2d", lambda m: m.sep_filter2d(_f64(4, 4), _K5, _KY), ValueError),
        Twin("sep_filter2d_anchor", lambda m: m.sep_filter2d(_f64(4, 4), _KX, _KY,
                                                             anchor=(7, 0)), ValueError),
    ),
    huge=lambda: fastconv.sep_filter2d(huge_view(2**22, 2**22), _KX, _KY),
    determinism=(
        Sample("sep_filter2d_replicate",
               lambda d: [fastconv.sep_filter2d(d["p"], _KX, _KY, border="replicate")],
               lambda d, r: d["p"].size * 12),
    ),
    concurrency=(),  # with filter2d's sample
)


OPS = (CONV2D, CONV2D_BACKWARD, MAX_POOL2D, MAX_POOL2D_BACKWARD, AVG_POOL2D, AVG_POOL2D_BACKWARD,
       ADAPTIVE_AVG_POOL2D, ADAPTIVE_AVG_POOL2D_BACKWARD, RELU, RELU_BACKWARD, RELU6,
       RELU6_BACKWARD, LEAKY_RELU, LEAKY_RELU_BACKWARD, LINEAR, LINEAR_BACKWARD, FILTER2D,
       SEP_FILTER2D, BATCH_NORM, BATCH_NORM_BACKWARD, ADD, CONV_TRANSPOSE2D,
       CONV_TRANSPOSE2D_BACKWARD)
BY_NAME = {op.name: op for op in OPS}
NAMES = tuple(BY_NAME)
