"""The calls the leak checks repeat: every computing op on its valid paths and on its error paths.

One table, CASES, shared by tests/test_leaks.py (1000 calls each under RSS, heap and refcount
checks) and tests/valgrind_smoke.py (a few calls each under valgrind memcheck).  Adding a case
is one line: ``ok(op, name, build)`` or ``err(op, name, exception, build, match)``, where
``build()`` makes the case's arrays once and returns ``call(fn, *args, **kwargs)``.

Imports only numpy, fastconv and the op table (tests/ops.py: numpy, fastconv and the oracle; no
pytest): valgrind_smoke.py runs it under valgrind, where every import costs seconds.  Each
case's op must be a row of the table; test_leaks.py checks that every row has cases.
"""
import itertools
from collections import namedtuple

import numpy as np

import fastconv
import fastconv.reference as ref
from fastconv.ops import _ext
from ops import BY_NAME

Case = namedtuple("Case", "op name build raises match")


def _row(op):
    """The op's name, checked against the op table (tests/ops.py): every case is of a row."""
    if op not in BY_NAME:
        raise KeyError(f"leak_cases: {op!r} is not a row of tests/ops.py")
    return op


def ok(op, name, build):
    """A call that must succeed."""
    return Case(_row(op), name, build, None, None)


def err(op, name, raises, build, match=""):
    """A call that must raise `raises` with a message starting "<op>: " and holding `match`."""
    return Case(_row(op), name, build, raises, match)


class Call:
    """fn(*args, **kwargs), and the arrays it is given (their refcounts must not change)."""

    def __init__(self, fn, *args, **kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.arrays = {}
        for key, value in itertools.chain(enumerate(args), kwargs.items()):
            for i, item in enumerate(value if isinstance(value, (tuple, list)) else [value]):
                if isinstance(item, np.ndarray):
                    self.arrays[f"{key}[{i}]" if isinstance(value, (tuple, list)) else
                                str(key)] = item

    def __call__(self):
        return self.fn(*self.args, **self.kwargs)


call = Call

_rng = np.random.default_rng(2026)


def f32(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return _rng.standard_normal(shape)


def unaligned(a):
    """A copy of `a` whose data starts one byte past its dtype's alignment."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    out = buf[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def read_only(a):
    a.flags.writeable = False
    return a


# Mid-size shapes: one call is some tens of microseconds on one core (the whole table runs 1000
# times per case within seconds); big enough that every driver allocates its real workspace
# (packed weights, per-thread panels, padded rows).
X = (1, 16, 20, 20)        # conv2d input
W = (16, 16, 3, 3)         # its filters
W1 = (32, 16, 1, 1)        # pointwise filters
WD = (32, 1, 3, 3)         # depthwise filters (groups = 16, two filters per channel)
G = (1, 16, 20, 20)        # conv2d output for X, W, padding 1
XP = (2, 16, 32, 32)       # pooling input
XF, WF = (1, 8, 12, 12), (8, 8, 3, 3)  # float64 convolution is not SIMD-tuned: smaller
XS = (1, 4, 8, 8)          # the plain C references are slow: small shapes
WS = (4, 4, 3, 3)
XL, WL = (64, 400), (120, 400)  # linear: LeNet-5's fc1 at batch 64 (shares B on two threads)
XS2, WS2 = (8, 30), (10, 30)    # linear's reference


def _conv_out(unbatched=False):
    return np.empty(G[1:] if unbatched else G, np.float32)


def _relu_in_place(x):
    return call(fastconv.relu, x, out=x)


def _relu_backward_in_place(g, y):
    return call(fastconv.relu_backward, g, y, out=g)


def _pool_indices(x, *args, **kwargs):
    y, idx = fastconv.max_pool2d(x, *args, return_indices=True, **kwargs)
    return np.ones_like(y), idx


def _max_pool_backward(x, *args, module=fastconv, idx_dtype=np.int64, **kwargs):
    g, idx = _pool_indices(x, *args, **kwargs)
    return call(module.max_pool2d_backward, g, idx.astype(idx_dtype), x.shape)


def _bad_indices(value, dtype=np.int64, module=fastconv):
    idx = np.zeros((1, 2, 2, 2), dtype)
    idx[0, 1, 1, 0] = value
    return call(module.max_pool2d_backward, np.ones((1, 2, 2, 2)), idx, (1, 2, 4, 4))


def _overlapping_out(op_fn, n_in, in_shape, out_shape, *others):
    buf = f64(n_in + int(np.prod(out_shape)) + 1)
    return call(op_fn, buf[:n_in].reshape(in_shape), *others,
                out=buf[1:1 + int(np.prod(out_shape))].reshape(out_shape))


MASKS = list(itertools.product((True, False), repeat=3))

VALID = [
    # conv2d: every algorithm, with and without bias, fused ReLU, out=, both dtypes, unbatched
    ok("conv2d", "auto", lambda: call(fastconv.conv2d, f32(*X), f32(*W), padding=1)),
    ok("conv2d", "auto-bias", lambda: call(fastconv.conv2d, f32(*X), f32(*W), f32(16), padding=1)),
    ok("conv2d", "direct", lambda: call(fastconv.conv2d, f32(*X), f32(*W), padding=1,
                                        algorithm="direct")),
    ok("conv2d", "direct-bias-relu", lambda: call(fastconv.conv2d, f32(*X), f32(*W), f32(16),
                                                  padding=1, algorithm="direct",
                                                  activation="relu")),
    ok("conv2d", "im2col", lambda: call(fastconv.conv2d, f32(*X), f32(*W), padding=1,
                                        algorithm="im2col")),
    ok("conv2d", "im2col-bias-stride2", lambda: call(fastconv.conv2d, f32(*X), f32(*W), f32(16),
                                                     stride=2, padding="same",
                                                     algorithm="im2col")),
    ok("conv2d", "im2col-valid", lambda: call(fastconv.conv2d, f32(*X), f32(*W),
                                              algorithm="im2col")),
    ok("conv2d", "im2col-dilated-grouped", lambda: call(fastconv.conv2d, f32(*X),
                                                        f32(16, 4, 3, 3), padding=2, dilation=2,
                                                        groups=4, algorithm="im2col")),
    ok("conv2d", "im2col-small-workspace", lambda: call(fastconv.conv2d, f32(*X), f32(*W),
                                                        padding=1, algorithm="im2col",
                                                        max_workspace_bytes=64 * 1024)),
    ok("conv2d", "pointwise", lambda: call(fastconv.conv2d, f32(*X), f32(*W1),
                                           algorithm="pointwise")),
    ok("conv2d", "pointwise-bias", lambda: call(fastconv.conv2d, f32(*X), f32(*W1), f32(32),
                                                algorithm="pointwise")),
    ok("conv2d", "depthwise", lambda: call(fastconv.conv2d, f32(*X), f32(*WD), padding=1,
                                           groups=16, algorithm="depthwise")),
    ok("conv2d", "depthwise-bias-relu", lambda: call(fastconv.conv2d, f32(*X), f32(*WD), f32(32),
                                                     padding=1, groups=16,
                                                     algorithm="depthwise",
                                                     activation="relu")),
    # padded rows of 2**62 columns: the direct and depthwise drivers hand over to the reference
    ok("conv2d", "direct-huge-padding", lambda: call(fastconv.conv2d, f64(1, 1, 3, 3),
                                                     f64(1, 1, 3, 3), padding=((0, 0), (2**62, 0)),
                                                     dilation=(1, 2**61), algorithm="direct")),
    ok("conv2d", "out", lambda: call(fastconv.conv2d, f32(*X), f32(*W), f32(16), padding=1,
                                     out=_conv_out())),
    ok("conv2d", "out-unbatched", lambda: call(fastconv.conv2d, f32(*X[1:]), f32(*W), padding=1,
                                               out=_conv_out(unbatched=True))),
    ok("conv2d", "f64-auto-bias", lambda: call(fastconv.conv2d, f64(*XF), f64(*WF), f64(8),
                                               padding=1)),
    ok("conv2d", "f64-direct-out", lambda: call(fastconv.conv2d, f64(*XF), f64(*WF), padding=1,
                                                algorithm="direct", out=np.empty(XF))),
    ok("conv2d", "non-contiguous-x", lambda: call(fastconv.conv2d, f32(1, 16, 20, 40)[..., ::2],
                                                  f32(*W), padding=1)),
    ok("conv2d", "unaligned-x", lambda: call(fastconv.conv2d, unaligned(f32(*X)), f32(*W),
                                             padding=1)),
    ok("conv2d", "big-endian-weight", lambda: call(fastconv.conv2d, f64(*XF),
                                                   f64(*WF).astype(">f8"))),
    ok("conv2d", "list-x", lambda: call(fastconv.conv2d, f32(*XS).tolist(), f64(*WS))),
    ok("conv2d", "reference", lambda: call(ref.conv2d, f32(*XS), f32(*WS), f32(4), padding=1)),
    ok("conv2d", "reference-out", lambda: call(ref.conv2d, f64(*XS), f64(*WS), padding=1,
                                               out=np.empty(XS))),
    # conv2d_backward: every output_mask, both dtypes, groups, the reference
    *[ok("conv2d_backward", "mask-" + "".join("1" if m else "0" for m in mask),
         lambda mask=mask: call(fastconv.conv2d_backward, f32(*G), f32(*X), f32(*W), padding=1,
                                output_mask=mask))
      for mask in MASKS],
    # a non-finite weight: grad_input cannot use the shared virtual grid
    ok("conv2d_backward", "mask-100-inf-weight",
       lambda: call(fastconv.conv2d_backward, f32(*G), f32(*X),
                    np.where(np.arange(16 * 16 * 9).reshape(W) == 5, np.inf, 1.0).astype(
                        np.float32), padding=1, output_mask=(True, False, False))),
    ok("conv2d_backward", "f64", lambda: call(fastconv.conv2d_backward, f64(*XF), f64(*XF),
                                              f64(*WF), padding=1)),
    ok("conv2d_backward", "depthwise-strided", lambda: call(fastconv.conv2d_backward,
                                                            f32(1, 32, 10, 10), f32(*X),
                                                            f32(*WD), stride=2, padding=1,
                                                            groups=16)),
    ok("conv2d_backward", "reference", lambda: call(ref.conv2d_backward, f32(1, 4, 8, 8),
                                                    f32(*XS), f32(*WS), padding=1)),
    # max_pool2d: with and without indices, padding/dilation/ceil_mode, unbatched, f64
    ok("max_pool2d", "plain", lambda: call(fastconv.max_pool2d, f32(*XP), 2)),
    ok("max_pool2d", "indices", lambda: call(fastconv.max_pool2d, f32(*XP), 2,
                                             return_indices=True)),
    ok("max_pool2d", "indices-3x3-pad-ceil", lambda: call(fastconv.max_pool2d, f32(*XP), 3,
                                                          stride=2, padding=1, ceil_mode=True,
                                                          return_indices=True)),
    ok("max_pool2d", "dilated-unbatched", lambda: call(fastconv.max_pool2d, f32(*XP[1:]), 3,
                                                       dilation=2, return_indices=True)),
    # windows taller than 16 rows take a scratch buffer of row pointers
    ok("max_pool2d", "tall-window", lambda: call(fastconv.max_pool2d, f32(*XP), (17, 3), stride=1,
                                                 return_indices=True)),
    ok("max_pool2d", "f64", lambda: call(fastconv.max_pool2d, f64(*XP), 2, return_indices=True)),
    ok("max_pool2d", "reference", lambda: call(ref.max_pool2d, f32(*XS), 2)),
    ok("max_pool2d", "reference-indices", lambda: call(ref.max_pool2d, f32(*XS), 2,
                                                       return_indices=True)),
    # avg_pool2d
    ok("avg_pool2d", "plain", lambda: call(fastconv.avg_pool2d, f32(*XP), 2)),
    ok("avg_pool2d", "3x3-pad-exclude-ceil", lambda: call(fastconv.avg_pool2d, f32(*XP), 3,
                                                          stride=2, padding=1, ceil_mode=True,
                                                          count_include_pad=False)),
    ok("avg_pool2d", "tall-window", lambda: call(fastconv.avg_pool2d, f64(*XP), (18, 2), stride=1,
                                                 padding=(9, 1), count_include_pad=False)),
    ok("avg_pool2d", "f64-unbatched", lambda: call(fastconv.avg_pool2d, f64(*XP[1:]), 2)),
    ok("avg_pool2d", "reference", lambda: call(ref.avg_pool2d, f32(*XS), 2)),
    # relu: new output, out=, in place, f64, non-contiguous input, the reference
    ok("relu", "plain", lambda: call(fastconv.relu, f32(*XP))),
    ok("relu", "out", lambda: call(fastconv.relu, f32(*XP), out=np.empty(XP, np.float32))),
    ok("relu", "in-place", lambda: _relu_in_place(f32(*XP))),
    ok("relu", "f64", lambda: call(fastconv.relu, f64(*XP))),
    ok("relu", "non-contiguous", lambda: call(fastconv.relu, f32(2, 16, 32, 64)[..., ::2])),
    ok("relu", "unaligned-big-endian", lambda: call(fastconv.relu,
                                                    unaligned(f64(*XP).astype(">f8")))),
    ok("relu", "reference", lambda: call(ref.relu, f32(*XS))),
    ok("relu", "reference-in-place", lambda: _relu_in_place(f64(*XS))),
    # max_pool2d_backward: int64 indices, converted int32 ones, f64, unbatched, the reference
    ok("max_pool2d_backward", "int64", lambda: _max_pool_backward(f32(*XP), 2)),
    ok("max_pool2d_backward", "int32-overlapping",
       lambda: _max_pool_backward(f32(*XP), 3, stride=2, padding=1, idx_dtype=np.int32)),
    ok("max_pool2d_backward", "f64-unbatched", lambda: _max_pool_backward(f64(*XP[1:]), 2)),
    ok("max_pool2d_backward", "reference", lambda: _max_pool_backward(f32(*XS), 2,
                                                                      module=ref)),
    # avg_pool2d_backward
    ok("avg_pool2d_backward", "plain", lambda: call(fastconv.avg_pool2d_backward,
                                                    f32(2, 16, 16, 16), XP, 2)),
    ok("avg_pool2d_backward", "3x3-pad-exclude-ceil",
       lambda: call(fastconv.avg_pool2d_backward, f64(2, 16, 17, 17), XP, 3, stride=2,
                    padding=1, ceil_mode=True, count_include_pad=False)),
    ok("avg_pool2d_backward", "reference", lambda: call(ref.avg_pool2d_backward,
                                                        f32(1, 4, 4, 4), XS, 2)),
    # relu_backward
    ok("relu_backward", "plain", lambda: call(fastconv.relu_backward, f32(*XP), f32(*XP))),
    ok("relu_backward", "out", lambda: call(fastconv.relu_backward, f64(*XP), f64(*XP),
                                            out=np.empty(XP))),
    ok("relu_backward", "in-place", lambda: _relu_backward_in_place(f32(*XP), f32(*XP))),
    ok("relu_backward", "reference", lambda: call(ref.relu_backward, f32(*XS), f32(*XS))),
    # adaptive_avg_pool2d: global, uneven windows, unbatched, f64, the reference
    ok("adaptive_avg_pool2d", "global", lambda: call(fastconv.adaptive_avg_pool2d, f32(*XP), 1)),
    ok("adaptive_avg_pool2d", "uneven", lambda: call(fastconv.adaptive_avg_pool2d, f64(*XP),
                                                     (7, None))),
    ok("adaptive_avg_pool2d", "unbatched", lambda: call(fastconv.adaptive_avg_pool2d,
                                                        f32(3, 9, 10), 4)),
    ok("adaptive_avg_pool2d", "reference", lambda: call(ref.adaptive_avg_pool2d, f32(*XS), 3)),
    ok("adaptive_avg_pool2d_backward", "plain", lambda: call(
        fastconv.adaptive_avg_pool2d_backward, f32(XP[0], XP[1], 5, 3), XP)),
    ok("adaptive_avg_pool2d_backward", "reference", lambda: call(
        ref.adaptive_avg_pool2d_backward, f64(XS[0], XS[1], 2, 2), XS)),
    # conv_transpose2d and its backward: U-Net's up-conv with bias and ReLU, out=, groups and
    # the zero-extended geometry in f64, the references
    ok("conv_transpose2d", "bias-relu", lambda: call(fastconv.conv_transpose2d, f32(1, 16, 16, 16),
                                                     f32(16, 8, 2, 2), f32(8), 2,
                                                     activation="relu")),
    ok("conv_transpose2d", "out", lambda: call(fastconv.conv_transpose2d, f32(2, 8, 9, 9),
                                               f32(8, 4, 4, 4), None, 2, 1,
                                               out=np.empty((2, 4, 18, 18), np.float32))),
    ok("conv_transpose2d", "f64-groups-extended", lambda: call(
        fastconv.conv_transpose2d, f64(1, 4, 6, 6), f64(4, 3, 3, 3), f64(6), 1, 0, 1, 2, 2)),
    ok("conv_transpose2d", "reference", lambda: call(ref.conv_transpose2d, f32(1, 4, 5, 5),
                                                     f32(4, 2, 3, 3), None, 2, 1, 1)),
    *[ok("conv_transpose2d_backward", "mask-" + "".join("1" if m else "0" for m in mask),
         lambda mask=mask: call(fastconv.conv_transpose2d_backward, f32(2, 4, 18, 18),
                                f32(2, 8, 9, 9), f32(8, 4, 4, 4), 2, 1, output_mask=mask))
      for mask in [(True, True, True), (True, False, False), (False, True, False),
                   (False, False, True)]],
    ok("conv_transpose2d_backward", "f64-extended", lambda: call(
        fastconv.conv_transpose2d_backward, f64(1, 6, 11, 11), f64(1, 4, 6, 6), f64(4, 3, 3, 3),
        1, 0, 1, 2, 2)),
    ok("conv_transpose2d_backward", "reference", lambda: call(
        ref.conv_transpose2d_backward, f64(1, 2, 10, 10), f64(1, 4, 5, 5), f64(4, 2, 3, 3), 2,
        1, 1)),
    # relu6, leaky_relu and their backward: new output, in place, f64, the reference
    # batch_norm (training updates the fresh statistics, eval, the reference) and backward
    ok("batch_norm", "training", lambda: call(fastconv.batch_norm, f32(*XP), f32(16), f32(16) + 1,
                                              f32(16), f32(16), training=True,
                                              return_stats=True)),
    ok("batch_norm", "eval-f64", lambda: call(fastconv.batch_norm, f64(*XP), f64(16),
                                              f64(16) + 1)),
    ok("batch_norm", "reference", lambda: call(ref.batch_norm, f32(*XS), None, None,
                                               training=True)),
    ok("batch_norm_backward", "plain", lambda: call(fastconv.batch_norm_backward, f32(*XP),
                                                    f32(*XP), f32(16), f32(16), f32(16))),
    ok("batch_norm_backward", "reference", lambda: call(ref.batch_norm_backward, f64(*XS),
                                                        f64(*XS), None, f64(4), f64(4),
                                                        training=False)),
    # add: new output, in place (a is out), the reference
    ok("add", "relu", lambda: call(fastconv.add, f32(*XP), f32(*XP), activation="relu")),
    ok("add", "in-place", lambda: (lambda a: call(fastconv.add, a, f32(*XP), out=a))(f32(*XP))),
    ok("add", "reference", lambda: call(ref.add, f64(*XS), f64(*XS), activation="leaky_relu")),
    ok("relu6", "plain", lambda: call(fastconv.relu6, f32(*XP))),
    ok("relu6", "in-place", lambda: (lambda x: call(fastconv.relu6, x, out=x))(f32(*XP))),
    ok("relu6", "reference", lambda: call(ref.relu6, f64(*XS))),
    ok("leaky_relu", "plain", lambda: call(fastconv.leaky_relu, f32(*XP), 0.2)),
    ok("leaky_relu", "out", lambda: call(fastconv.leaky_relu, f64(*XP), out=np.empty(XP))),
    ok("leaky_relu", "reference", lambda: call(ref.leaky_relu, f32(*XS))),
    ok("relu6_backward", "plain", lambda: call(fastconv.relu6_backward, f32(*XP), f32(*XP))),
    ok("relu6_backward", "in-place", lambda: (lambda g: call(fastconv.relu6_backward, g,
                                                             f32(*XP), out=g))(f32(*XP))),
    ok("relu6_backward", "reference", lambda: call(ref.relu6_backward, f64(*XS), f64(*XS))),
    ok("leaky_relu_backward", "plain", lambda: call(fastconv.leaky_relu_backward, f64(*XP),
                                                    f64(*XP), 0.3)),
    ok("leaky_relu_backward", "reference", lambda: call(ref.leaky_relu_backward, f32(*XS),
                                                        f32(*XS))),
    # linear: bias and fused ReLU, out=, one sample, leading dims, layouts, f64, the reference
    ok("linear", "plain", lambda: call(fastconv.linear, f32(*XL), f32(*WL))),
    ok("linear", "bias-relu", lambda: call(fastconv.linear, f32(*XL), f32(*WL), f32(WL[0]),
                                           activation="relu")),
    ok("linear", "out", lambda: call(fastconv.linear, f32(*XL), f32(*WL), f32(WL[0]),
                                     out=np.empty((XL[0], WL[0]), np.float32))),
    ok("linear", "one-sample", lambda: call(fastconv.linear, f32(XL[1]), f32(*WL))),
    ok("linear", "leading-dims", lambda: call(fastconv.linear, f32(4, 16, XL[1]), f32(*WL))),
    ok("linear", "fortran-big-endian", lambda: call(fastconv.linear,
                                                    np.asfortranarray(f64(*XL)),
                                                    f64(*WL).astype(">f8"))),
    ok("linear", "no-features", lambda: call(fastconv.linear, f32(XL[0], 0), f32(WL[0], 0),
                                             f32(WL[0]))),
    ok("linear", "f64-bias", lambda: call(fastconv.linear, f64(*XL), f64(*WL), f64(WL[0]))),
    ok("linear", "reference", lambda: call(ref.linear, f32(*XS2), f32(*WS2), f32(WS2[0]))),
    # linear_backward: every output_mask, f64, leading dims, the reference
    *[ok("linear_backward", "mask-" + "".join("1" if m else "0" for m in mask),
         lambda mask=mask: call(fastconv.linear_backward, f32(XL[0], WL[0]), f32(*XL),
                                f32(*WL), output_mask=mask))
      for mask in MASKS],
    ok("linear_backward", "f64", lambda: call(fastconv.linear_backward, f64(XL[0], WL[0]),
                                              f64(*XL), f64(*WL))),
    ok("linear_backward", "leading-dims", lambda: call(fastconv.linear_backward,
                                                       f32(4, 16, WL[0]), f32(4, 16, XL[1]),
                                                       f32(*WL))),
    ok("linear_backward", "reference", lambda: call(ref.linear_backward, f32(XS2[0], WS2[0]),
                                                    f32(*XS2), f32(*WS2))),
    # ---- filter2d, sep_filter2d: every dtype, layout, separable rule, out=, reference
    ok("filter2d", "uint8-to-uint8", lambda: call(fastconv.filter2d,
                                                  np.zeros((64, 80, 3), np.uint8), np.ones((5, 5)),
                                                  dtype=np.uint8)),
    ok("filter2d", "f32-strided-out", lambda: call(fastconv.filter2d, f32(2, 40, 50, 3)[:, ::-1],
                                                   np.ones((3, 4)), border="wrap",
                                                   out=np.empty((2, 40, 50, 3), np.float32))),
    ok("filter2d", "separable-f64", lambda: call(fastconv.filter2d, f64(30, 30),
                                                 np.outer(np.ones(5), np.arange(5.0)))),
    ok("filter2d", "big-endian-int16", lambda: call(fastconv.filter2d,
                                                    np.zeros((9, 9), ">i2"), np.ones((9, 9)))),
    ok("filter2d", "reference", lambda: call(ref.filter2d, np.zeros((6, 7, 2), np.uint16),
                                             np.ones((3, 3)), border="constant", value=2)),
    ok("sep_filter2d", "uint8", lambda: call(fastconv.sep_filter2d, np.zeros((40, 40), np.uint8),
                                             np.ones(5), np.ones(3), dtype=np.uint8)),
    ok("sep_filter2d", "reference", lambda: call(ref.sep_filter2d, f32(8, 9, 3), np.ones(2),
                                                 np.ones(4))),
]

x5, w3 = (1, 3, 5, 5), (2, 3, 3, 3)   # the small geometry of the error cases
_ws = dict(padding=1, max_workspace_bytes=1)

ERRORS = [
    # ---- conv2d: raised in C and turned into exceptions by fastconv/ops/_ext.pyx
    err("conv2d", "workspace-im2col", ValueError,
        lambda: call(fastconv.conv2d, f32(*X), f32(*W), algorithm="im2col", **_ws),
        "bytes per thread"),
    err("conv2d", "workspace-im2col-f64-bias", ValueError,
        lambda: call(fastconv.conv2d, f64(*X), f64(*W), f64(16), algorithm="im2col", **_ws),
        "bytes per thread"),
    err("conv2d", "workspace-pointwise", ValueError,
        lambda: call(fastconv.conv2d, f32(*X), f32(*W1), algorithm="pointwise",
                     max_workspace_bytes=1), "bytes per thread"),
    err("conv2d", "workspace-auto", ValueError,
        lambda: call(fastconv.conv2d, f32(*X), f32(*W1), max_workspace_bytes=1),
        "bytes per thread"),
    err("conv2d", "workspace-out", ValueError,
        lambda: call(fastconv.conv2d, f32(*X), f32(*W), algorithm="im2col", out=_conv_out(),
                     **_ws), "bytes per thread"),
    err("conv2d", "geometry-overflows-int64", ValueError,
        lambda: call(fastconv.conv2d, f64(1, 1, 3, 3), f64(1, 1, 3, 3), padding=2**62,
                     dilation=2**62), "overflows"),
    # ---- conv2d: refused by fastconv/ops/functional.py
    err("conv2d", "x-int32", TypeError, lambda: call(fastconv.conv2d, np.zeros(x5, np.int32),
                                                     f64(*w3)), "x"),
    err("conv2d", "weight-complex", TypeError,
        lambda: call(fastconv.conv2d, f64(*x5), np.zeros(w3, np.complex64)), "weight"),
    err("conv2d", "bias-bool", TypeError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), np.zeros(2, bool)), "bias"),
    err("conv2d", "x-none", TypeError, lambda: call(fastconv.conv2d, None, f64(*w3)), "x"),
    err("conv2d", "x-ragged-list", TypeError,
        lambda: call(fastconv.conv2d, [[[1.0, 2.0], [3.0]]], f64(*w3)), "x"),
    err("conv2d", "mixed-dtypes", TypeError, lambda: call(fastconv.conv2d, f32(*x5), f64(*w3)),
        "weight"),
    err("conv2d", "bias-dtype", TypeError, lambda: call(fastconv.conv2d, f32(*x5), f32(*w3),
                                                        f64(2)), "bias"),
    err("conv2d", "x-2d", ValueError, lambda: call(fastconv.conv2d, f64(5, 5), f64(*w3)), "x"),
    err("conv2d", "weight-3d", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(3, 3, 3)),
        "weight"),
    err("conv2d", "x-zero-width", ValueError,
        lambda: call(fastconv.conv2d, f64(1, 3, 5, 0), f64(*w3)), "x"),
    err("conv2d", "empty-kernel", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(2, 3, 0, 3)), "weight"),
    err("conv2d", "channel-mismatch", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(2, 2, 3, 3)), "channels"),
    err("conv2d", "groups-zero", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                          groups=0), "groups"),
    err("conv2d", "groups-not-dividing-c", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(2, 1, 3, 3), groups=2), "groups"),
    err("conv2d", "groups-not-dividing-k", ValueError,
        lambda: call(fastconv.conv2d, f64(1, 4, 5, 5), f64(3, 2, 3, 3), groups=2), "groups"),
    err("conv2d", "groups-float", TypeError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                          groups=1.5), "groups"),
    err("conv2d", "stride-zero", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                          stride=(1, 0)), "stride"),
    err("conv2d", "stride-bool", TypeError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                         stride=True), "stride"),
    err("conv2d", "stride-3-long", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                            stride=(1, 2, 3)), "stride"),
    err("conv2d", "stride-2**64", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                           stride=2**64), "stride"),
    err("conv2d", "dilation-zero", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), dilation=(0, 2)), "dilation"),
    err("conv2d", "padding-negative", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), padding=((0, 0), (-1, 0))),
        "padding"),
    err("conv2d", "padding-none", TypeError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                          padding=(None, 1)), "padding"),
    err("conv2d", "padding-2**63", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), padding=2**63), "padding"),
    err("conv2d", "padding-full", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                           padding="full"), "padding"),
    err("conv2d", "output-too-large", ValueError,
        lambda: call(fastconv.conv2d, f64(1, 1, 3, 3), f64(1, 1, 1, 1), padding=2**40),
        "too large"),
    err("conv2d", "output-beyond-memory", MemoryError,
        lambda: call(fastconv.conv2d, f64(1, 1, 3, 3), f64(1, 1, 1, 1), padding=(2**40, 0)),
        "nothing was allocated"),
    err("conv2d", "input-smaller-than-kernel", ValueError,
        lambda: call(fastconv.conv2d, f64(1, 1, 5, 5), f64(1, 1, 3, 3), dilation=3), "smaller"),
    err("conv2d", "bias-shape", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                         f64(2, 1)), "bias"),
    err("conv2d", "algorithm-fft", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), algorithm="fft"), "algorithm"),
    err("conv2d", "activation-sigmoid", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), activation="sigmoid"), "activation"),
    err("conv2d", "pointwise-3x3", ValueError,
        lambda: call(fastconv.conv2d, f32(*x5), f32(*w3), algorithm="pointwise"), "pointwise"),
    err("conv2d", "depthwise-groups-1", ValueError,
        lambda: call(fastconv.conv2d, f32(*x5), f32(*w3), algorithm="depthwise"), "depthwise"),
    err("conv2d", "workspace-zero", ValueError,
        lambda: call(fastconv.conv2d, f32(*x5), f32(*w3), max_workspace_bytes=0),
        "max_workspace_bytes"),
    err("conv2d", "workspace-float", TypeError,
        lambda: call(fastconv.conv2d, f32(*x5), f32(*w3), max_workspace_bytes=1.5),
        "max_workspace_bytes"),
    err("conv2d", "out-read-only", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), out=read_only(np.empty((1, 2, 3, 3)))),
        "out"),
    err("conv2d", "out-shape", ValueError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                        out=np.empty((1, 2, 3, 4))), "out"),
    err("conv2d", "out-dtype", TypeError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), out=np.empty((1, 2, 3, 3), ">f8")),
        "out"),
    err("conv2d", "out-list", TypeError, lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                                                      out=[0.0] * 18), "out"),
    err("conv2d", "out-fortran", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3),
                     out=np.empty((1, 2, 3, 3), order="F")), "out"),
    err("conv2d", "out-unaligned", ValueError,
        lambda: call(fastconv.conv2d, f64(*x5), f64(*w3), out=unaligned(f64(1, 2, 3, 3))),
        "aligned"),
    err("conv2d", "out-overlaps-x", ValueError,
        lambda: _overlapping_out(fastconv.conv2d, 32, (1, 2, 4, 4), (1, 2, 4, 4),
                                 f64(2, 2, 1, 1)), "overlaps"),
    err("conv2d", "reference-channel-mismatch", ValueError,
        lambda: call(ref.conv2d, f64(*x5), f64(2, 2, 3, 3)), "channels"),
    err("conv2d", "reference-out-shape", ValueError,
        lambda: call(ref.conv2d, f64(*x5), f64(*w3), out=np.empty((1, 2, 3, 4))), "out"),
    # ---- conv2d_backward
    err("conv2d_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.conv2d_backward, f64(1, 2, 5, 5), f64(*x5), f64(*w3)),
        "grad_output"),
    err("conv2d_backward", "grad-output-dtype", TypeError,
        lambda: call(fastconv.conv2d_backward, f32(1, 2, 3, 3), f64(*x5), f64(*w3)),
        "grad_output"),
    err("conv2d_backward", "grad-output-int", TypeError,
        lambda: call(fastconv.conv2d_backward, np.ones((1, 2, 3, 3), np.int64), f64(*x5),
                     f64(*w3)), "grad_output"),
    err("conv2d_backward", "channel-mismatch", ValueError,
        lambda: call(fastconv.conv2d_backward, f64(1, 2, 3, 3), f64(*x5), f64(2, 1, 3, 3)),
        "channels"),
    err("conv2d_backward", "mask-length", ValueError,
        lambda: call(fastconv.conv2d_backward, f64(1, 2, 3, 3), f64(*x5), f64(*w3),
                     output_mask=(True, False)), "output_mask"),
    err("conv2d_backward", "mask-bool", TypeError,
        lambda: call(fastconv.conv2d_backward, f64(1, 2, 3, 3), f64(*x5), f64(*w3),
                     output_mask=True), "output_mask"),
    err("conv2d_backward", "stride-zero", ValueError,
        lambda: call(fastconv.conv2d_backward, f64(1, 2, 3, 3), f64(*x5), f64(*w3), stride=0),
        "stride"),
    err("conv2d_backward", "geometry-overflows-int64", ValueError,
        lambda: call(fastconv.conv2d_backward, f64(1, 1, 3, 3), f64(1, 1, 3, 3),
                     f64(1, 1, 3, 3), padding=2**62, dilation=2**62), "overflows"),
    err("conv2d_backward", "reference-grad-output-shape", ValueError,
        lambda: call(ref.conv2d_backward, f64(1, 2, 5, 5), f64(*x5), f64(*w3)), "grad_output"),
    # ---- max_pool2d
    err("max_pool2d", "x-int32", TypeError,
        lambda: call(fastconv.max_pool2d, np.zeros((1, 2, 4, 4), np.int32), 2), "x"),
    err("max_pool2d", "x-none", TypeError, lambda: call(fastconv.max_pool2d, None, 2), "x"),
    err("max_pool2d", "x-2d", ValueError, lambda: call(fastconv.max_pool2d, f64(5, 5), 2), "x"),
    err("max_pool2d", "x-zero-channels", ValueError,
        lambda: call(fastconv.max_pool2d, f64(1, 0, 5, 5), 1), "x"),
    err("max_pool2d", "kernel-zero", ValueError, lambda: call(fastconv.max_pool2d, f64(*x5), 0),
        "kernel_size"),
    err("max_pool2d", "kernel-float", TypeError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 1.5), "kernel_size"),
    err("max_pool2d", "kernel-2**63", ValueError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 2**63), "kernel_size"),
    err("max_pool2d", "stride-negative", ValueError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 2, stride=(1, -2)), "stride"),
    err("max_pool2d", "dilation-zero", ValueError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 2, dilation=0), "dilation"),
    err("max_pool2d", "padding-over-half", ValueError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 3, padding=2), "padding"),
    err("max_pool2d", "padding-string", TypeError,
        lambda: call(fastconv.max_pool2d, f64(*x5), 2, padding="same"), "padding"),
    err("max_pool2d", "input-too-small", ValueError,
        lambda: call(fastconv.max_pool2d, f64(1, 1, 4, 4), 3, padding=1, dilation=3), "small"),
    err("max_pool2d", "reference-input-too-small", ValueError,
        lambda: call(ref.max_pool2d, f64(1, 1, 2, 2), 3), "small"),
    # ---- avg_pool2d
    err("avg_pool2d", "x-float16", TypeError,
        lambda: call(fastconv.avg_pool2d, np.zeros((1, 2, 4, 4), np.float16), 2), "x"),
    err("avg_pool2d", "x-5d", ValueError, lambda: call(fastconv.avg_pool2d, f64(1, 1, 1, 5, 5), 2),
        "x"),
    err("avg_pool2d", "kernel-negative", ValueError,
        lambda: call(fastconv.avg_pool2d, f64(*x5), (2, -1)), "kernel_size"),
    err("avg_pool2d", "stride-2**64", ValueError,
        lambda: call(fastconv.avg_pool2d, f64(*x5), 2, stride=2**64), "stride"),
    err("avg_pool2d", "padding-over-half", ValueError,
        lambda: call(fastconv.avg_pool2d, f64(*x5), (4, 2), padding=(2, 2)), "padding"),
    err("avg_pool2d", "input-too-small", ValueError,
        lambda: call(fastconv.avg_pool2d, f64(1, 1, 2, 2), 3), "small"),
    err("avg_pool2d", "reference-x-int", TypeError,
        lambda: call(ref.avg_pool2d, np.zeros((1, 2, 4, 4), np.int64), 2), "x"),
    # ---- relu
    err("relu", "x-int", TypeError, lambda: call(fastconv.relu, np.arange(6)), "x"),
    err("relu", "x-none", TypeError, lambda: call(fastconv.relu, None), "x"),
    err("relu", "out-read-only", ValueError,
        lambda: call(fastconv.relu, f64(2, 3), out=read_only(np.empty((2, 3)))), "out"),
    err("relu", "out-shape", ValueError, lambda: call(fastconv.relu, f64(2, 3),
                                                      out=np.empty((3, 2))), "out"),
    err("relu", "out-dtype", TypeError, lambda: call(fastconv.relu, f64(2, 3),
                                                     out=np.empty((2, 3), np.float32)), "out"),
    err("relu", "out-fortran", ValueError,
        lambda: call(fastconv.relu, f64(2, 3), out=np.empty((2, 3), order="F")), "out"),
    err("relu", "in-place-unaligned", ValueError,
        lambda: (lambda x: call(fastconv.relu, x, out=x))(unaligned(f64(6))), "aligned"),
    err("relu", "out-overlaps-x", ValueError,
        lambda: _overlapping_out(fastconv.relu, 10, (10,), (10,)), "overlaps"),
    err("relu", "reference-out-shape", ValueError,
        lambda: call(ref.relu, f64(2, 3), out=np.empty((3, 2))), "out"),
    # ---- adaptive_avg_pool2d and its backward
    err("adaptive_avg_pool2d", "size-zero", ValueError,
        lambda: call(fastconv.adaptive_avg_pool2d, f64(1, 2, 4, 4), 0), "output_size"),
    err("adaptive_avg_pool2d", "x-2d", ValueError,
        lambda: call(fastconv.adaptive_avg_pool2d, f64(4, 4), 2), "x"),
    err("adaptive_avg_pool2d_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.adaptive_avg_pool2d_backward, f64(2, 2, 2), (1, 2, 4, 4)),
        "grad_output"),
    err("adaptive_avg_pool2d_backward", "input-shape-float", TypeError,
        lambda: call(fastconv.adaptive_avg_pool2d_backward, f64(1, 2, 2, 2), (1, 2, 4, 4.0)),
        "input_shape"),
    # ---- batch_norm, its backward and add
    err("batch_norm", "eval-no-stats", ValueError,
        lambda: call(fastconv.batch_norm, f64(1, 2, 4, 4), None, None), "running_mean"),
    err("batch_norm", "weight-shape", ValueError,
        lambda: call(fastconv.batch_norm, f64(1, 2, 4, 4), f64(2), f64(2), f64(3)), "weight"),
    err("batch_norm_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.batch_norm_backward, f64(1, 2, 4), f64(1, 2, 4, 4), None,
                     f64(2), f64(2)), "grad_output"),
    err("add", "shapes", ValueError, lambda: call(fastconv.add, f64(2, 3), f64(3, 2)), "shape"),
    # ---- conv_transpose2d and its backward
    err("conv_transpose2d", "output-padding", ValueError,
        lambda: call(fastconv.conv_transpose2d, f64(1, 3, 4, 4), f64(3, 2, 3, 3), None, 2, 0, 2),
        "output_padding"),
    err("conv_transpose2d", "channels", ValueError,
        lambda: call(fastconv.conv_transpose2d, f32(1, 3, 4, 4), f32(2, 2, 3, 3)), "weight"),
    err("conv_transpose2d_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.conv_transpose2d_backward, f64(1, 2, 5, 5), f64(1, 3, 4, 4),
                     f64(3, 2, 3, 3)), "grad_output"),
    # ---- relu6, leaky_relu and their backward
    err("relu6", "x-int", TypeError, lambda: call(fastconv.relu6, np.arange(6)), "x"),
    err("relu6", "out-shape", ValueError, lambda: call(fastconv.relu6, f64(2, 3),
                                                       out=np.empty((3, 2))), "out"),
    err("leaky_relu", "slope-str", TypeError,
        lambda: call(fastconv.leaky_relu, f64(2, 3), "0.1"), "negative_slope"),
    err("leaky_relu", "out-dtype", TypeError, lambda: call(fastconv.leaky_relu, f64(2, 3),
                                                           out=np.empty((2, 3), np.float32)),
        "out"),
    err("relu6_backward", "x-shape", ValueError,
        lambda: call(fastconv.relu6_backward, f64(2, 3), f64(3, 2)), "x"),
    err("relu6_backward", "x-dtype", TypeError,
        lambda: call(fastconv.relu6_backward, f64(2, 3), f32(2, 3)), "x"),
    err("leaky_relu_backward", "slope-none", TypeError,
        lambda: call(fastconv.leaky_relu_backward, f64(2, 3), f64(2, 3), None),
        "negative_slope"),
    err("leaky_relu_backward", "out-read-only", ValueError,
        lambda: call(fastconv.leaky_relu_backward, f64(2, 3), f64(2, 3),
                     out=read_only(np.empty((2, 3)))), "out"),
    # ---- max_pool2d_backward: an index out of range is found in C (the drivers' check)
    *[err("max_pool2d_backward", f"{module.__name__}-index-{value}", ValueError,
          lambda value=value, module=module: _bad_indices(value, module=module), "must lie in")
      for module in (fastconv, ref) for value in (16, -2, 2**40)],
    err("max_pool2d_backward", "int32-index-16", ValueError,
        lambda: _bad_indices(16, np.int32), "must lie in"),
    err("max_pool2d_backward", "uint64-index-2**63-1", ValueError,
        lambda: _bad_indices(2**63 - 1, np.uint64), "must lie in"),
    err("max_pool2d_backward", "grad-input-beyond-memory", MemoryError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 1, 1, 1), np.zeros((1, 1, 1, 1),
                     np.int64), (1, 1, 2**21, 2**21)), "nothing was allocated"),
    err("max_pool2d_backward", "indices-shape", ValueError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 2, 2, 2),
                     np.zeros((2, 2, 2), np.int64), (1, 2, 4, 4)), "indices"),
    err("max_pool2d_backward", "indices-float", TypeError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 2, 2, 2), f64(1, 2, 2, 2),
                     (1, 2, 4, 4)), "indices"),
    err("max_pool2d_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 2, 2, 2),
                     np.zeros((1, 2, 2, 2), np.int64), (1, 3, 4, 4)), "grad_output"),
    err("max_pool2d_backward", "grad-output-int", TypeError,
        lambda: call(fastconv.max_pool2d_backward, np.ones((1, 2, 2, 2), np.int64),
                     np.zeros((1, 2, 2, 2), np.int64), (1, 2, 4, 4)), "grad_output"),
    err("max_pool2d_backward", "input-shape-zero", ValueError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 2, 2, 2),
                     np.zeros((1, 2, 2, 2), np.int64), (2, 4, 4, 0)), "input_shape"),
    err("max_pool2d_backward", "input-shape-float", TypeError,
        lambda: call(fastconv.max_pool2d_backward, f64(1, 2, 2, 2),
                     np.zeros((1, 2, 2, 2), np.int64), (1, 2, 4.0, 4)), "input_shape"),
    # ---- avg_pool2d_backward
    err("avg_pool2d_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.avg_pool2d_backward, f64(1, 2, 2, 2), (1, 2, 6, 6), 2),
        "grad_output"),
    err("avg_pool2d_backward", "grad-input-beyond-memory", MemoryError,
        lambda: call(fastconv.avg_pool2d_backward, f64(1, 1, 1, 1), (1, 1, 2**21, 2**21),
                     2**21), "nothing was allocated"),
    err("avg_pool2d_backward", "padding-over-half", ValueError,
        lambda: call(fastconv.avg_pool2d_backward, f64(1, 2, 3, 3), (1, 2, 6, 6), 2,
                     padding=2), "padding"),
    err("avg_pool2d_backward", "input-shape-2d", ValueError,
        lambda: call(fastconv.avg_pool2d_backward, f64(1, 2, 3, 3), (6, 6), 2), "input_shape"),
    err("avg_pool2d_backward", "grad-output-none", TypeError,
        lambda: call(fastconv.avg_pool2d_backward, None, (1, 2, 6, 6), 2), "grad_output"),
    err("avg_pool2d_backward", "reference-grad-output-shape", ValueError,
        lambda: call(ref.avg_pool2d_backward, f64(1, 2, 2, 2), (1, 2, 6, 6), 2), "grad_output"),
    # ---- relu_backward
    err("relu_backward", "output-shape", ValueError,
        lambda: call(fastconv.relu_backward, f64(3), f64(4)), "output"),
    err("relu_backward", "output-dtype", TypeError,
        lambda: call(fastconv.relu_backward, f64(3), f32(3)), "output"),
    err("relu_backward", "out-is-output", ValueError,
        lambda: (lambda y: call(fastconv.relu_backward, f64(3), y, out=y))(f64(3)), "overlaps"),
    err("relu_backward", "out-shape", ValueError,
        lambda: call(fastconv.relu_backward, f64(3), f64(3), out=np.empty(4)), "out"),
    err("relu_backward", "reference-output-shape", ValueError,
        lambda: call(ref.relu_backward, f64(3), f64(4)), "output"),
    # ---- linear
    err("linear", "in-features", ValueError, lambda: call(fastconv.linear, f64(4, 3), f64(2, 5)),
        "in_features"),
    err("linear", "x-scalar", ValueError, lambda: call(fastconv.linear, 3.0, f64(2, 3)), "x"),
    err("linear", "weight-1d", ValueError, lambda: call(fastconv.linear, f64(4, 3), f64(3)),
        "weight"),
    err("linear", "bias-shape", ValueError,
        lambda: call(fastconv.linear, f64(4, 3), f64(2, 3), f64(3)), "bias"),
    err("linear", "mixed-dtypes", TypeError, lambda: call(fastconv.linear, f32(4, 3), f64(2, 3)),
        "weight"),
    err("linear", "x-int", TypeError,
        lambda: call(fastconv.linear, np.zeros((4, 3), np.int64), f64(2, 3)), "x"),
    err("linear", "activation", ValueError,
        lambda: call(fastconv.linear, f64(4, 3), f64(2, 3), activation="tanh"), "activation"),
    err("linear", "out-shape", ValueError,
        lambda: call(fastconv.linear, f64(4, 3), f64(2, 3), out=np.empty((4, 3))), "out"),
    err("linear", "out-overlaps-x", ValueError,
        lambda: _overlapping_out(fastconv.linear, 12, (4, 3), (4, 2), f64(2, 3)), "overlaps"),
    err("linear", "reference-in-features", ValueError,
        lambda: call(ref.linear, f64(4, 3), f64(2, 5)), "in_features"),
    # ---- linear_backward
    err("linear_backward", "grad-output-shape", ValueError,
        lambda: call(fastconv.linear_backward, f64(4, 3), f64(4, 3), f64(2, 3)), "grad_output"),
    err("linear_backward", "grad-output-dtype", TypeError,
        lambda: call(fastconv.linear_backward, f32(4, 2), f64(4, 3), f64(2, 3)), "grad_output"),
    err("linear_backward", "mask-length", ValueError,
        lambda: call(fastconv.linear_backward, f64(4, 2), f64(4, 3), f64(2, 3),
                     output_mask=(True,)), "output_mask"),
    err("linear_backward", "mask-bool", TypeError,
        lambda: call(fastconv.linear_backward, f64(4, 2), f64(4, 3), f64(2, 3),
                     output_mask=None), "output_mask"),
    err("linear_backward", "in-features", ValueError,
        lambda: call(fastconv.linear_backward, f64(4, 2), f64(4, 3), f64(2, 5)), "in_features"),
    err("linear_backward", "reference-grad-output-shape", ValueError,
        lambda: call(ref.linear_backward, f64(4, 3), f64(4, 3), f64(2, 3)), "grad_output"),
    # ---- filter2d, sep_filter2d
    err("filter2d", "border", ValueError, lambda: call(fastconv.filter2d, f32(4, 4),
                                                       np.ones((3, 3)), border="mirror"), "border"),
    err("filter2d", "kernel-1d", ValueError, lambda: call(fastconv.filter2d, f32(4, 4),
                                                          np.ones(3)), "kernel"),
    err("filter2d", "complex", TypeError, lambda: call(fastconv.filter2d,
                                                       np.zeros((4, 4), complex),
                                                       np.ones((3, 3))), "image"),
    err("filter2d", "out-dtype", TypeError, lambda: call(fastconv.filter2d, f32(4, 4),
                                                         np.ones((3, 3)),
                                                         out=np.empty((4, 4))), "out"),
    err("sep_filter2d", "kx-2d", ValueError, lambda: call(fastconv.sep_filter2d, f32(4, 4),
                                                          np.ones((2, 2)), np.ones(3)), "kx"),
]


# ---- the Cython bridge's own checks (fastconv/ops/_ext.pyx): what a wrong internal call raises.
# functional.py never makes these calls; they guard the C code, and their exceptions are raised
# after arrays are unpacked and shape tuples built, where a reference could leak.
def _conv_geometry(x, w, stride=(1, 1)):
    return _ext.conv2d_geometry("conv2d", x.shape, w.shape, stride, ((0, 0), (0, 0)), (1, 1), 1)


def _ext_conv(x, w, b, y, algorithm="auto"):
    return call(_ext.conv2d, "conv2d", _conv_geometry(x, w), x, w, b, y, None, algorithm, False,
                0)


def _pool_geometry(op, x):
    return _ext.pool2d_geometry(op, x.shape, (2, 2), (2, 2), (0, 0), (1, 1), False)


def _ext_pool(x, y, indices):
    return call(_ext.max_pool2d, "max_pool2d", _pool_geometry("max_pool2d", x), x, y, indices,
                False)


BRIDGE = [
    err("conv2d", "ext-x-int32", TypeError,
        lambda: _ext_conv(np.zeros(x5, np.int32), f32(*w3), None, f32(1, 2, 3, 3)), "dtype"),
    err("conv2d", "ext-bias-dtype", TypeError,
        lambda: _ext_conv(f32(*x5), f32(*w3), f64(2), f32(1, 2, 3, 3)), "bias"),
    err("conv2d", "ext-y-shape", ValueError,
        lambda: _ext_conv(f32(*x5), f32(*w3), None, f32(1, 2, 3, 4)), "y"),
    err("conv2d", "ext-y-read-only", ValueError,
        lambda: _ext_conv(f32(*x5), f32(*w3), None, read_only(f32(1, 2, 3, 3))), "read-only"),
    err("conv2d", "ext-x-non-contiguous", ValueError,
        lambda: _ext_conv(f32(1, 3, 5, 10)[..., ::2], f32(*w3), None, f32(1, 2, 3, 3)),
        "contiguous"),
    err("conv2d", "ext-stride-zero", ValueError,
        lambda: call(_ext.conv2d_geometry, "conv2d", x5, w3, (0, 1), ((0, 0), (0, 0)), (1, 1), 1),
        "invalid argument"),
    err("conv2d", "ext-pointwise-3x3", ValueError,
        lambda: _ext_conv(f32(*x5), f32(*w3), None, f32(1, 2, 3, 3), algorithm="pointwise"),
        "invalid argument"),
    err("max_pool2d", "ext-indices-int32", TypeError,
        lambda: _ext_pool(f32(1, 2, 4, 4), f32(1, 2, 2, 2), np.zeros((1, 2, 2, 2), np.int32)),
        "indices"),
    err("max_pool2d", "ext-y-shape", ValueError,
        lambda: _ext_pool(f32(1, 2, 4, 4), f32(1, 2, 2, 3), None), "y"),
    err("relu", "ext-y-dtype", TypeError,
        lambda: call(_ext.activation, "relu", "relu", 0.0, f32(6), f64(6), False), "y"),
    err("conv2d_backward", "ext-grad-output-shape", ValueError,
        lambda: call(_ext.conv2d_backward, "conv2d_backward", _conv_geometry(f64(*x5), f64(*w3)),
                     f64(1, 2, 3, 4), f64(*x5), f64(*w3), f64(*x5), None, None, False),
        "grad_output"),
    err("max_pool2d_backward", "ext-indices-shape", ValueError,
        lambda: call(_ext.max_pool2d_backward, "max_pool2d_backward", f64(1, 2, 2, 2),
                     np.zeros((1, 2, 2, 1), np.int64), f64(1, 2, 4, 4), False), "indices"),
    err("avg_pool2d_backward", "ext-grad-input-read-only", ValueError,
        lambda: call(_ext.avg_pool2d_backward, "avg_pool2d_backward",
                     _pool_geometry("avg_pool2d_backward", f64(1, 2, 4, 4)), f64(1, 2, 2, 2),
                     read_only(f64(1, 2, 4, 4)), True, 0, False), "read-only"),
    err("relu_backward", "ext-output-shape", ValueError,
        lambda: call(_ext.activation_backward, "relu_backward", "relu", 0.0, f64(6), f64(5),
                     f64(6), False), "x"),
    err("linear", "ext-y-shape", ValueError,
        lambda: call(_ext.linear, "linear", f64(4, 3), f64(2, 3), None, f64(4, 3), None, False),
        "y"),
    err("linear", "ext-bias-dtype", TypeError,
        lambda: call(_ext.linear, "linear", f32(4, 3), f32(2, 3), f64(2), f32(4, 2), None,
                     False), "bias"),
    err("linear_backward", "ext-grad-weight-read-only", ValueError,
        lambda: call(_ext.linear_backward, "linear_backward", f64(4, 2), f64(4, 3), f64(2, 3),
                     None, read_only(f64(2, 3)), None, False), "read-only"),
]

CASES = VALID + ERRORS + BRIDGE


def run(case, calls, built=None):
    """Build the case (unless given) and make `calls` calls; each must succeed, or raise
    case.raises with the case's message.  Returns the Call."""
    c = built if built is not None else case.build()
    if case.raises is None:
        for _ in range(calls):
            c()
        return c
    for _ in range(calls):
        try:
            c()
        except case.raises as exc:
            text = str(exc)
            if not text.startswith(case.op + ": ") or case.match not in text:
                raise AssertionError(f"{case.op}/{case.name}: unexpected message {text!r}")
        else:
            raise AssertionError(f"{case.op}/{case.name}: no {case.raises.__name__} raised")
    return c
