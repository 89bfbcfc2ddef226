"""Bad input gives a clear exception, never a crash.

Every message starts with "<op>: ", names the argument as in the signature, and shows the
offending shape as str(tuple(shape)) or the offending value's repr.

Checks that hold for a family of ops (the pools, the ops with out=, the flags, the reference
twins) take the ops from the op table, tests/ops.py.
"""

import inspect
import re

import numpy as np
import pytest

import fastconv
import fastconv.reference
from ops import BY_NAME, OPS


def msg(op, names=(), texts=()):
    """A regex: starts with "op: " and contains each name (as a word) and each literal text."""
    parts = [f"(?=.*\\b{re.escape(n)}\\b)" for n in names]
    parts += [f"(?=.*{re.escape(t)})" for t in texts]
    return "(?s)^" + re.escape(f"{op}: ") + "".join(parts)


def f32(*shape):
    return np.zeros(shape, dtype=np.float32)


def f64(*shape):
    return np.zeros(shape, dtype=np.float64)


X = f64(1, 3, 5, 5)
W = f64(2, 3, 3, 3)



def _parameters(op):
    return list(inspect.signature(BY_NAME[op].fn).parameters)


def _required(op):
    """The parameters without a default value."""
    return [name for name, p in inspect.signature(BY_NAME[op].fn).parameters.items()
            if p.default is p.empty]


# from the op table: the pools, and the ops whose only array is x (the pools and ReLU)
POOLS = [op.name for op in OPS if _required(op.name) == ["x", "kernel_size"]]
X_ONLY = [op.name for op in OPS if _required(op.name) in (["x"], ["x", "kernel_size"])]


def pool(op, x, *args, **kwargs):
    return BY_NAME[op].fn(x, *args, **kwargs)


def call_x(op, x):
    """The op on x alone (a pool with kernel_size 2)."""
    return pool(op, x, 2) if "kernel_size" in _parameters(op) else BY_NAME[op].fn(x)


def test_msg_helper_checks_what_it_claims():
    # guards the helper: the regex demands the prefix, every name as a word, every text
    pattern = msg("conv2d", ["x"], ["(1, 3)"])
    assert re.search(pattern, "conv2d: x has shape (1, 3)")
    assert not re.search(pattern, "conv2d: max has shape (1, 3)")
    assert not re.search(pattern, "conv2d: x has shape (1, 4)")
    assert not re.search(pattern, "pool: conv2d: x has shape (1, 3)")


# --- ndim, zero sizes, channels, groups -----------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 5), (3,), (1, 1, 1, 5, 5)], ids=str)
def test_conv2d_x_of_wrong_ndim_is_a_value_error_with_its_shape(shape):
    with pytest.raises(ValueError, match=msg("conv2d", ["x"], [str(shape)])):
        fastconv.conv2d(f64(*shape), W)


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 3, 3, 3, 1), (9,)], ids=str)
def test_conv2d_weight_of_wrong_ndim_is_a_value_error_with_its_shape(shape):
    with pytest.raises(ValueError, match=msg("conv2d", ["weight"], [str(shape)])):
        fastconv.conv2d(X, f64(*shape))


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape", [(5, 5), (1, 1, 1, 5, 5)], ids=str)
def test_pool_x_of_wrong_ndim_is_a_value_error_with_its_shape(op, shape):
    with pytest.raises(ValueError, match=msg(op, ["x"], [str(shape)])):
        pool(op, f64(*shape), 2)


@pytest.mark.parametrize("shape", [(0, 5, 5), (1, 0, 5, 5), (1, 3, 0, 5), (2, 3, 5, 0)], ids=str)
def test_conv2d_zero_size_channels_height_or_width_is_a_value_error(shape):
    w = f64(2, max(shape[-3], 1), 1, 1)
    with pytest.raises(ValueError, match=msg("conv2d", ["x"], [str(shape)])):
        fastconv.conv2d(f64(*shape), w)


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape", [(0, 5, 5), (1, 0, 5, 5), (1, 3, 0, 5), (2, 3, 5, 0)], ids=str)
def test_pool_zero_size_channels_height_or_width_is_a_value_error(op, shape):
    with pytest.raises(ValueError, match=msg(op, ["x"], [str(shape)])):
        pool(op, f64(*shape), 1)


@pytest.mark.parametrize("wshape", [(2, 3, 0, 3), (2, 3, 3, 0)], ids=str)
def test_conv2d_weight_with_an_empty_kernel_is_a_value_error(wshape):
    with pytest.raises(ValueError, match=msg("conv2d", ["weight"], [str(wshape)])):
        fastconv.conv2d(X, f64(*wshape))


@pytest.mark.parametrize("xshape,wshape,groups", [
    ((1, 3, 5, 5), (2, 2, 3, 3), 1),
    ((1, 4, 5, 5), (2, 3, 3, 3), 2),
    ((1, 4, 5, 5), (4, 1, 3, 3), 2),
    ((4, 5, 5), (2, 3, 1, 1), 1),
], ids=str)
def test_conv2d_channel_mismatch_is_a_value_error_with_both_shapes(xshape, wshape, groups):
    with pytest.raises(ValueError, match=msg("conv2d", ["x", "weight"],
                                             [str(xshape), str(wshape)])):
        fastconv.conv2d(f64(*xshape), f64(*wshape), groups=groups)


@pytest.mark.parametrize("groups", [0, -1, -4])
def test_conv2d_non_positive_groups_is_a_value_error_with_the_value(groups):
    with pytest.raises(ValueError, match=msg("conv2d", ["groups"], [repr(groups)])):
        fastconv.conv2d(X, W, groups=groups)


def test_conv2d_groups_not_dividing_channels_is_a_value_error():
    x = f64(1, 3, 5, 5)
    with pytest.raises(ValueError, match=msg("conv2d", ["groups"], [str(x.shape)])):
        fastconv.conv2d(x, f64(2, 1, 3, 3), groups=2)


def test_conv2d_groups_not_dividing_filters_is_a_value_error():
    w = f64(3, 2, 3, 3)
    with pytest.raises(ValueError, match=msg("conv2d", ["groups"], [str(w.shape)])):
        fastconv.conv2d(f64(1, 4, 5, 5), w, groups=2)


# --- stride / padding / dilation / kernel_size values ----------------------------------------

@pytest.mark.parametrize("name,value", [
    ("stride", 0), ("stride", -2), ("stride", (1, 0)), ("stride", (-1, 1)),
    ("dilation", 0), ("dilation", (0, 2)), ("dilation", -3),
    ("padding", -1), ("padding", (0, -3)), ("padding", ((0, 0), (-1, 0))),
    ("padding", ((-2, 0), (0, 0))),
], ids=str)
def test_conv2d_out_of_range_value_is_a_value_error_with_the_value(name, value):
    with pytest.raises(ValueError, match=msg("conv2d", [name], [repr(value)])):
        fastconv.conv2d(X, W, **{name: value})


POOL_OUT_OF_RANGE = [
    ("kernel_size", 0), ("kernel_size", (2, -1)), ("kernel_size", -3),
    ("stride", 0), ("stride", (1, -2)),
    ("padding", -1), ("padding", (0, -1)),
    ("dilation", 0), ("dilation", (1, -1)),
]


@pytest.mark.parametrize("op,name,value", [
    (op, name, value) for op in POOLS for name, value in POOL_OUT_OF_RANGE
    if name in _parameters(op)  # avg_pool2d has no dilation
], ids=str)
def test_pool_out_of_range_value_is_a_value_error_with_the_value(op, name, value):
    kwargs = {"kernel_size": 2, name: value}
    with pytest.raises(ValueError, match=msg(op, [name], [repr(value)])):
        pool(op, X, **kwargs)


SCALAR_NON_INTEGERS = [1.5, "2", True, False, None, np.float64(2.0), np.bool_(True)]
PAIR_NON_INTEGERS = [(1, 1.5), (True, 1), (1, "1"), (None, 1)]


@pytest.mark.parametrize("name,value", [
    (name, value) for name in ("stride", "dilation", "padding", "groups")
    for value in SCALAR_NON_INTEGERS + (PAIR_NON_INTEGERS if name != "groups" else [(1, 1)])
    # a padding string is an unknown padding mode (a ValueError, tested below)
    if not (name == "padding" and isinstance(value, str))
], ids=repr)
def test_conv2d_non_integer_argument_is_a_type_error_naming_it(name, value):
    with pytest.raises(TypeError, match=msg("conv2d", [name])):
        fastconv.conv2d(X, W, **{name: value})


@pytest.mark.parametrize("name,value", [("stride", (1, 2, 3)), ("dilation", [1, 1, 1]),
                                        ("padding", (1, 1, 1)), ("padding", ())], ids=str)
def test_conv2d_sequence_of_wrong_length_is_an_error_with_its_repr(name, value):
    # a length problem may be reported as a TypeError or a ValueError, but clearly
    with pytest.raises((TypeError, ValueError), match=msg("conv2d", [name], [repr(value)])):
        fastconv.conv2d(X, W, **{name: value})


@pytest.mark.parametrize("op,name,value", [
    (op, name, value) for op in POOLS
    for name in ("kernel_size", "stride", "padding", "dilation")
    for value in [1.5, "2", True, (1, 1.5), (False, 1), None]
    if name in _parameters(op)  # avg_pool2d has no dilation
    and not (name == "stride" and value is None)  # stride=None means stride = kernel_size
], ids=repr)
def test_pool_non_integer_argument_is_a_type_error_naming_it(op, name, value):
    kwargs = {"kernel_size": 2, name: value}
    with pytest.raises(TypeError, match=msg(op, [name])):
        pool(op, X, **kwargs)


@pytest.mark.parametrize("name,value", [("stride", np.int64(2)), ("padding", np.int32(1)),
                                        ("dilation", (np.int16(1), 2)),
                                        ("groups", np.uint8(1))], ids=str)
def test_conv2d_numpy_integers_are_accepted_like_ints(name, value):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 6, 6))
    as_int = int(value) if np.ndim(value) == 0 else tuple(int(v) for v in value)
    y = fastconv.conv2d(x, W, **{name: value})
    np.testing.assert_array_equal(y, fastconv.conv2d(x, W, **{name: as_int}))


@pytest.mark.parametrize("op", POOLS)
def test_pool_padding_over_half_the_kernel_is_a_value_error(op):
    with pytest.raises(ValueError, match=msg(op, ["padding", "kernel_size"])):
        pool(op, X, 3, padding=2)
    with pytest.raises(ValueError, match=msg(op, ["padding", "kernel_size"])):
        pool(op, X, (4, 2), padding=(2, 2))


# --- sizes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("xshape,wshape,kwargs", [
    ((1, 1, 3, 3), (1, 1, 5, 5), {}),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": 3}),
    ((1, 1, 5, 2), (1, 1, 1, 4), {"padding": (0, 0)}),
    ((1, 1, 2, 2), (1, 1, 3, 3), {"padding": ((0, 0), (1, 0)), "dilation": 1}),
], ids=str)
def test_conv2d_input_smaller_than_dilated_kernel_is_a_value_error_with_both_shapes(
        xshape, wshape, kwargs):
    with pytest.raises(ValueError, match=msg("conv2d", [], [str(xshape), str(wshape)])):
        fastconv.conv2d(f64(*xshape), f64(*wshape), **kwargs)


@pytest.mark.parametrize("op", POOLS)
def test_pool_input_smaller_than_kernel_is_a_value_error_with_the_shape(op):
    with pytest.raises(ValueError, match=msg(op, [], ["(1, 1, 2, 2)"])):
        pool(op, f64(1, 1, 2, 2), 3)
    if "dilation" in _parameters(op):
        with pytest.raises(ValueError, match=msg(op, [], ["(1, 1, 4, 4)"])):
            pool(op, f64(1, 1, 4, 4), 3, padding=1, dilation=3)


@pytest.mark.parametrize("padding", [2**40, (2**31, 2**31), ((0, 2**40), (2**40, 0))],
                         ids=str)
def test_conv2d_output_whose_element_count_overflows_is_a_value_error(padding):
    # P * Q >= 2**63: the element count does not fit in 64 bits
    with pytest.raises(ValueError, match=msg("conv2d", [], ["too large"])):
        fastconv.conv2d(f64(1, 1, 3, 3), f64(1, 1, 1, 1), padding=padding)


@pytest.mark.parametrize("shape", [(0, 1, 15, 15), (1, 1, 15, 15)], ids=str)
@pytest.mark.parametrize("weight_shape", [(0, 1, 1, 1), (1, 1, 1, 1)], ids=str)
def test_conv2d_empty_output_of_impossible_extents_is_a_value_error(shape, weight_shape):
    # found by tests/test_fuzz.py: with N = 0 or K = 0 the output has no elements, but a
    # padding of 2**31 makes it (0, K, 2**32 + 15, 2**32 + 15), which numpy refuses to create
    # ("array is too big", a ValueError that did not name the op)
    with pytest.raises(ValueError, match=msg("conv2d", [], ["too large"])):
        fastconv.conv2d(f32(*shape), f32(*weight_shape), padding=2**31)


@pytest.mark.parametrize("name,value", [("padding", 2**63), ("padding", (0, 2**70)),
                                        ("padding", 2**62 + 1), ("stride", 2**64),
                                        ("dilation", 2**63)], ids=str)
def test_conv2d_huge_integers_are_a_value_error_not_an_overflow(name, value):
    with pytest.raises(ValueError, match=msg("conv2d", [name])):
        fastconv.conv2d(f64(1, 1, 3, 3), f64(1, 1, 1, 1), **{name: value})


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("name,value", [("kernel_size", 2**63), ("stride", 2**64)], ids=str)
def test_pool_huge_integers_are_a_value_error_not_an_overflow(op, name, value):
    kwargs = {"kernel_size": 2, name: value}
    with pytest.raises(ValueError, match=msg(op, [name])):
        pool(op, f64(1, 1, 3, 3), **kwargs)


def test_conv2d_huge_but_representable_geometry_computes_the_right_values():
    # paddings, strides and dilations near 2**62 whose sums still fit in 64 bits
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    for algorithm in ("direct", "im2col", "depthwise"):
        # only the kernel's last row (r=2, offset 2 * 2**61 = 2**62) lands on the input
        y = fastconv.conv2d(x, w, padding=((2**62, 0), (0, 0)), dilation=(2**61, 1),
                            algorithm=algorithm)
        np.testing.assert_array_equal(y, (x[0, 0] @ w[0, 0, 2]).reshape(1, 1, 3, 1))
        # rows 0 and 2 of the output see only padding, row 1 the whole input
        y = fastconv.conv2d(x, w, padding=(2**61, 0), stride=(2**61, 1), algorithm=algorithm)
        np.testing.assert_array_equal(y.ravel(), [0.0, (x * w).sum(), 0.0])
        y = fastconv.conv2d(x, w, padding=1, stride=2**62, algorithm=algorithm)
        np.testing.assert_array_equal(y.ravel(), [(x[0, 0, :2, :2] * w[0, 0, 1:, 1:]).sum()])
        # the same along the width: the padded-row buffers would be 2**62 columns long
        y = fastconv.conv2d(x, w, padding=((0, 0), (2**62, 0)), dilation=(1, 2**61),
                            algorithm=algorithm)
        np.testing.assert_array_equal(y, (x[0, 0].T @ w[0, 0, :, 2]).reshape(1, 1, 1, 3))


def test_conv2d_geometry_whose_sums_overflow_64_bits_is_a_value_error():
    # H + top + bottom = 2**63 + 3 does not fit in int64, though every argument is <= 2**62
    with pytest.raises(ValueError, match=msg("conv2d")):
        fastconv.conv2d(f64(1, 1, 3, 3), f64(1, 1, 3, 3), padding=2**62, dilation=2**62)


# --- bias -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bshape", [(3,), (1,), (1, 2), (), (2, 1)], ids=str)
def test_conv2d_bias_of_wrong_shape_is_a_value_error_with_its_shape(bshape):
    with pytest.raises(ValueError, match=msg("conv2d", ["bias"], [str(bshape)])):
        fastconv.conv2d(X, W, f64(*bshape))


# --- dtypes and non-arrays --------------------------------------------------------------------

BAD_DTYPES = [np.int32, np.int64, np.bool_, np.complex64, object, np.float16]


def _bad(shape, dtype):
    return np.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("role", ["x", "weight", "bias"])
def test_conv2d_non_float_dtype_is_a_type_error_naming_it(role, dtype):
    args = {"x": X, "weight": W, "bias": f64(2)}
    args[role] = _bad(args[role].shape, dtype)
    with pytest.raises(TypeError, match=msg("conv2d", [role], [np.dtype(dtype).name])):
        fastconv.conv2d(args["x"], args["weight"], args["bias"])


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", X_ONLY)
def test_pool_and_relu_non_float_dtype_is_a_type_error_naming_it(op, dtype):
    x = _bad((1, 2, 4, 4), dtype)
    with pytest.raises(TypeError, match=msg(op, ["x"], [np.dtype(dtype).name])):
        call_x(op, x)


@pytest.mark.parametrize("xd,wd,bd,bad", [
    (np.float32, np.float64, None, "weight"),
    (np.float64, np.float32, None, "weight"),
    (np.float32, np.float32, np.float64, "bias"),
    (np.float64, np.float64, np.float32, "bias"),
], ids=str)
def test_conv2d_mixed_dtypes_are_a_type_error_naming_both(xd, wd, bd, bad):
    b = None if bd is None else np.zeros(2, dtype=bd)
    with pytest.raises(TypeError, match=msg("conv2d", [bad], ["float32", "float64"])):
        fastconv.conv2d(np.zeros((1, 3, 5, 5), xd), np.zeros((2, 3, 3, 3), wd), b)


@pytest.mark.parametrize("role", ["x", "weight"])
def test_conv2d_none_in_place_of_an_array_is_a_type_error(role):
    args = {"x": X, "weight": W}
    args[role] = None
    with pytest.raises(TypeError, match=msg("conv2d", [role])):
        fastconv.conv2d(args["x"], args["weight"])


@pytest.mark.parametrize("op", X_ONLY)
def test_pool_and_relu_none_in_place_of_x_is_a_type_error(op):
    with pytest.raises(TypeError, match=msg(op, ["x"])):
        call_x(op, None)


@pytest.mark.parametrize("value", [3.0, np.float64(3.0)])
def test_conv2d_python_scalar_x_is_a_value_error_with_shape_of_a_scalar(value):
    with pytest.raises(ValueError, match=msg("conv2d", ["x"], ["()"])):
        fastconv.conv2d(value, W)


@pytest.mark.parametrize("op", POOLS)
def test_pool_python_scalar_x_is_a_value_error_with_shape_of_a_scalar(op):
    with pytest.raises(ValueError, match=msg(op, ["x"], ["()"])):
        pool(op, 3.0, 1)


def test_relu_of_an_integer_scalar_is_a_type_error_naming_the_dtype():
    with pytest.raises(TypeError, match=msg("relu", ["x"], [np.asarray(7).dtype.name])):
        fastconv.relu(7)


def test_ragged_nested_list_is_an_error_not_a_crash():
    with pytest.raises((TypeError, ValueError), match=msg("conv2d", ["x"])):
        fastconv.conv2d([[[1.0, 2.0], [3.0]]], W)


# --- out= ----------------------------------------------------------------------------------

def _conv_out_case():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    w = np.ones((3, 2, 1, 1))
    return x, w, (1, 3, 4, 4)


def test_conv2d_read_only_out_is_a_value_error():
    x, w, shape = _conv_out_case()
    out = f64(*shape)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(x, w, out=out)


@pytest.mark.parametrize("bad_shape", [(1, 3, 4, 5), (3, 4, 4), (1, 1, 3, 4, 4), (2, 3, 4, 4)],
                         ids=str)
def test_conv2d_out_of_wrong_shape_is_a_value_error_with_both_shapes(bad_shape):
    x, w, shape = _conv_out_case()
    with pytest.raises(ValueError, match=msg("conv2d", ["out"], [str(bad_shape), str(shape)])):
        fastconv.conv2d(x, w, out=f64(*bad_shape))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.dtype(">f8")], ids=str)
def test_conv2d_out_of_wrong_dtype_is_a_type_error(dtype):
    x, w, shape = _conv_out_case()
    with pytest.raises(TypeError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(x, w, out=np.zeros(shape, dtype=dtype))


def test_conv2d_out_not_an_array_is_a_type_error():
    x, w, shape = _conv_out_case()
    with pytest.raises(TypeError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(x, w, out=np.zeros(shape).tolist())


@pytest.mark.parametrize("layout", ["fortran", "strided", "negative"])
def test_conv2d_out_not_c_contiguous_is_a_value_error(layout):
    x, w, shape = _conv_out_case()
    if layout == "fortran":
        out = np.zeros(shape, order="F")
    elif layout == "strided":
        out = np.zeros(shape[:3] + (8,))[..., ::2]
    else:
        out = np.zeros(shape)[..., ::-1]
    assert not out.flags.c_contiguous
    with pytest.raises(ValueError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(x, w, out=out)


def _unaligned(shape):
    """A C-contiguous float64 array whose data starts one byte past an 8-byte boundary."""
    buf = np.zeros(int(np.prod(shape)) * 8 + 1, np.uint8)
    out = buf[1:].view(np.float64).reshape(shape)
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def test_unaligned_out_is_a_value_error_naming_out():
    # the C code needs aligned elements; the bridge's check named its own "y", not the "out="
    # of the signature.  Every op of the table with an out= (and in place, where out may be
    # an input).
    with_out = [op for op in OPS if "out" in op.outputs]
    assert {op.name for op in with_out} >= {"conv2d", "relu", "relu_backward", "linear"}
    x, w, shape = _conv_out_case()
    with pytest.raises(ValueError, match=msg("conv2d", ["out", "aligned"])):
        fastconv.conv2d(x, w, out=_unaligned(shape))
    for op in with_out:
        args, kwargs = op.example()
        shape = op.fn(*args, **kwargs).shape
        with pytest.raises(ValueError, match=msg(op.name, ["out", "aligned"])):
            op.fn(*args, out=_unaligned(shape), **kwargs)
        if op.in_place is not None:
            at = _parameters(op.name).index(op.in_place)
            in_place = _unaligned(args[at].shape)
            with pytest.raises(ValueError, match=msg(op.name, ["out", "aligned"])):
                op.fn(*args[:at], in_place, *args[at + 1:], out=in_place, **kwargs)


def test_conv2d_out_that_is_x_itself_is_a_value_error():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    w = np.ones((2, 2, 1, 1))
    saved = x.copy()
    with pytest.raises(ValueError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(x, w, out=x)
    np.testing.assert_array_equal(x, saved)


@pytest.mark.parametrize("role", ["x", "weight", "bias"])
def test_conv2d_out_partially_overlapping_an_input_is_a_value_error(role):
    # one buffer holds both an input and the (C-contiguous) out, shifted by a few elements
    shapes = {"x": (1, 2, 4, 4), "weight": (2, 2, 1, 1), "bias": (2,)}
    out_shape = (1, 2, 4, 4)
    n_in = int(np.prod(shapes[role]))
    buf = np.random.default_rng(1).standard_normal(n_in + 32 + 1)
    args = {k: np.ones(s) for k, s in shapes.items()}
    args[role] = buf[:n_in].reshape(shapes[role])
    out = buf[1:1 + 32].reshape(out_shape)
    assert np.shares_memory(out, args[role]) and out.flags.c_contiguous
    saved = buf.copy()
    with pytest.raises(ValueError, match=msg("conv2d", ["out"])):
        fastconv.conv2d(args["x"], args["weight"], args["bias"], out=out)
    np.testing.assert_array_equal(buf, saved)


def test_relu_out_partially_overlapping_x_is_a_value_error():
    buf = np.arange(-5.0, 6.0)
    saved = buf.copy()
    with pytest.raises(ValueError, match=msg("relu", ["out"])):
        fastconv.relu(buf[1:], out=buf[:-1])
    np.testing.assert_array_equal(buf, saved)


def test_relu_bad_out_arguments():
    x = np.arange(-3.0, 3.0).reshape(2, 3)
    ro = np.zeros((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=msg("relu", ["out"])):
        fastconv.relu(x, out=ro)
    with pytest.raises(ValueError, match=msg("relu", ["out"], ["(3, 2)", "(2, 3)"])):
        fastconv.relu(x, out=np.zeros((3, 2)))
    with pytest.raises(TypeError, match=msg("relu", ["out"])):
        fastconv.relu(x, out=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=msg("relu", ["out"])):
        fastconv.relu(x, out=np.zeros((2, 3), order="F"))


# --- unknown strings ----------------------------------------------------------------------

@pytest.mark.parametrize("name,value", [
    ("algorithm", "fft"), ("algorithm", "Direct"), ("algorithm", ""),
    ("activation", "sigmoid"), ("activation", "RELU"), ("activation", "none"),
    ("padding", "full"), ("padding", "2"), ("padding", "SAME"),
], ids=str)
def test_conv2d_unknown_string_option_is_a_value_error_with_its_repr(name, value):
    with pytest.raises(ValueError, match=msg("conv2d", [name], [repr(value)])):
        fastconv.conv2d(X, W, **{name: value})


@pytest.mark.parametrize("name,value", [
    ("algorithm", ["auto"]), ("algorithm", {"im2col": 1}), ("algorithm", np.array("auto")),
    ("activation", ["relu"]), ("activation", {}), ("activation", np.array(["relu"])),
], ids=str)
def test_conv2d_unhashable_option_is_a_value_error_naming_it(name, value):
    # found by tests/test_fuzz.py: activation=["relu"] (or algorithm=["auto"]) was looked up
    # in a dict and raised a bare "TypeError: unhashable type: 'list'"
    with pytest.raises(ValueError, match=msg("conv2d", [name])):
        fastconv.conv2d(X, W, **{name: value})


# every boolean argument of the op table (``flags``), with a value that has no truth value
@pytest.mark.parametrize("op,name,value", [(op.name, name, value) for op in OPS
                                           for name, value in op.flags],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_flag_without_a_truth_value_is_a_type_error_naming_it(op, name, value):
    # found by tests/test_fuzz.py: a flag given as an array of two bools raised numpy's bare
    # "The truth value of an array with more than one element is ambiguous" ValueError
    args, kwargs = BY_NAME[op].example()
    with pytest.raises(TypeError, match=msg(op, [name])):
        BY_NAME[op].fn(*args, **kwargs, **{name: value})


@pytest.mark.parametrize("xs,ws,groups", [((1, 3, 5, 5), (2, 3, 3, 3), 1),
                                         ((1, 4, 5, 5), (4, 2, 3, 3), 2),
                                         ((2, 6, 4, 4), (6, 3, 1, 1), 2)])
def test_conv2d_depthwise_algorithm_needs_groups_equal_to_channels(xs, ws, groups):
    with pytest.raises(ValueError, match=msg("conv2d", ["depthwise", "groups"],
                                             [f"groups={groups}", f"C={xs[1]}"])):
        fastconv.conv2d(f32(*xs), f32(*ws), groups=groups, algorithm="depthwise")


@pytest.mark.parametrize("op", POOLS)
def test_pool_padding_string_is_a_type_error(op):
    with pytest.raises(TypeError, match=msg(op, ["padding"])):
        pool(op, X, 2, padding="same")


@pytest.mark.parametrize("padding", [([1], [1]), ((1,), (1,)), ([2], (1, 1)), ((1, [1]), (0, 0))])
def test_conv2d_per_axis_padding_needs_two_int_sides(padding):
    # ((top, bottom), (left, right)) only when both sides are pairs; anything else is read as a
    # pair of ints, whose non-int entries are a TypeError (found by the fuzz drawer)
    with pytest.raises(TypeError, match=msg("conv2d", ["padding"])):
        fastconv.conv2d(f32(1, 1, 5, 5), f32(1, 1, 3, 3), padding=padding)


# --- zero batch -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_batch_returns_empty_arrays_of_the_right_shape_for_every_op(dtype):
    x = np.zeros((0, 4, 9, 8), dtype=dtype)
    for algorithm in ("auto", "direct", "im2col"):
        y = fastconv.conv2d(x, np.zeros((6, 2, 3, 3), dtype), np.zeros(6, dtype), stride=2,
                            padding="same", groups=2, activation="relu", algorithm=algorithm)
        assert y.shape == (0, 6, 5, 4) and y.dtype == dtype
    y, idx = fastconv.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                 return_indices=True)
    assert y.shape == (0, 4, 5, 5) and y.dtype == dtype
    assert idx.shape == (0, 4, 5, 5) and idx.dtype == np.int64
    assert fastconv.max_pool2d(x, 2).shape == (0, 4, 4, 4)
    y = fastconv.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    assert y.shape == (0, 4, 10, 9) and y.dtype == dtype
    y = fastconv.reference.conv2d(x, np.zeros((6, 4, 1, 1), dtype))
    assert y.shape == (0, 6, 9, 8)
    for module in (fastconv, fastconv.reference):
        y = module.linear(np.zeros((0, 8), dtype), np.zeros((5, 8), dtype), np.zeros(5, dtype),
                          activation="relu")
        assert y.shape == (0, 5) and y.dtype == dtype
        gx, gw, gb = module.linear_backward(np.zeros((0, 5), dtype), np.zeros((0, 8), dtype),
                                            np.ones((5, 8), dtype))
        assert gx.shape == (0, 8) and gx.dtype == dtype
        assert (gw == 0).all() and gw.shape == (5, 8) and (gb == 0).all() and gb.shape == (5,)


# --- the reference twins validate the same way ----------------------------------------------

# the op table's twin errors: invalid calls that fastconv and its reference twin refuse alike
@pytest.mark.parametrize("call,exc", [pytest.param(twin.call, twin.raises, id=twin.name)
                                      for op in OPS for twin in op.twin_errors])
def test_reference_twins_raise_the_same_errors(call, exc):
    with pytest.raises(exc) as fast:
        call(fastconv)
    with pytest.raises(exc) as ref:
        call(fastconv.reference)
    assert str(ref.value) == str(fast.value)


@pytest.mark.parametrize("kwargs", [dict(stride=0), dict(padding=2**63), dict(groups=2),
                                    dict(algorithm="fft"), dict(padding=2**62, dilation=2**62)],
                         ids=str)
def test_conv2d_error_leaves_out_untouched(kwargs):
    x = np.ones((1, 2, 3, 3))
    w = np.ones((2, 2, 3, 3))
    out = np.full((1, 2, 1, 1), 7.0)
    with pytest.raises((TypeError, ValueError), match=msg("conv2d")):
        fastconv.conv2d(x, w, out=out, **kwargs)
    np.testing.assert_array_equal(out, np.full((1, 2, 1, 1), 7.0))
