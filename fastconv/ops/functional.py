"""fastconv's ops: numpy in, numpy out, with torch.nn.functional's names and arguments.

This layer normalises arguments, validates them with messages that name the op, the argument
and the offending shape or value, allocates the outputs, and makes inputs C-contiguous native
float32/float64 where they are not.  The arithmetic happens in C (fastconv._ext), without the
GIL.  Inputs are never modified; only ``out=`` is written.
"""
import math
import numbers
import operator
import os
import resource

import numpy as np

from .. import _config
from . import _ext, plans

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "conv2d_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "relu_backward", "linear", "linear_backward", "relu6",
           "relu6_backward", "leaky_relu", "leaky_relu_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "filter2d", "sep_filter2d", "batch_norm",
           "batch_norm_backward", "add", "conv_transpose2d", "conv_transpose2d_backward"]

# Every int argument must fit the C side's 64-bit arithmetic with room to add two of them.
_MAX_INT = 2**62
# Largest array we allocate, in bytes: beyond this the C library's 64-bit byte offsets (and
# numpy's) could overflow, whatever the machine.
_MAX_BYTES = 2**62


# Outputs of this size or more come from the C library's block cache (_ext.empty): large
# blocks are where malloc maps and faults in fresh pages on every call; smaller ones it serves
# from its heap, faster than the handler switch costs (~0.3 us).
_CACHED_OUTPUT_BYTES = 64 << 10


def _empty(shape, dtype):
    """The one place outputs are allocated (the tests pre-fill them with NaN through it)."""
    if math.prod(shape) * dtype.itemsize >= _CACHED_OUTPUT_BYTES:
        return _ext.empty(shape, dtype)
    return np.empty(shape, dtype)


# ---- argument normalisation -----------------------------------------------------------------

# the native float dtypes, compared by identity on the fast paths (numpy's builtin dtypes are
# singletons; an equal dtype that is another object just takes the general path)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _array(op, name, value):
    """Any array-like -> an ndarray of float32 or float64 (any layout or byte order)."""
    if type(value) is np.ndarray and (value.dtype is _F32 or value.dtype is _F64):
        return value  # the common case, without the checks below
    if value is None:
        raise TypeError(f"{op}: {name} must be an array of float32 or float64, got None")
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{op}: {name} is not convertible to an array: {exc}") from None
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
        raise TypeError(f"{op}: {name} must be float32 or float64, got dtype {arr.dtype}"
                        f"{_dtype_hint(name, arr.dtype)}")
    return arr


def _dtype_hint(name, dtype):
    """How to get a dtype that works from a common one that does not (images, half floats)."""
    if dtype.kind in "iub" or dtype == np.float16:
        hint = f"; convert it with {name}.astype(np.float32)"
        if dtype == np.uint8:
            hint += (" (for a uint8 image, fastconv.filter2d filters it as it is, with "
                     "OpenCV's conventions)")
        return hint
    return ""


def _dtype_name(arr):
    return "float32" if arr.dtype.itemsize == 4 else "float64"


def _same_dtype(op, x, others, x_name="x"):
    for name, arr in others:
        if arr is not None and arr.dtype.itemsize != x.dtype.itemsize:
            raise TypeError(
                f"{op}: {name} has dtype {_dtype_name(arr)} but {x_name} has "
                f"{_dtype_name(x)}; all arrays must share one dtype")


def _c_array(arr):
    """A C-contiguous, aligned, native-byte-order version of arr (arr itself when it is one)."""
    flags = arr.flags
    if flags.c_contiguous and flags.aligned and arr.dtype.isnative:
        return arr
    return np.require(arr, arr.dtype.newbyteorder("="), ["C_CONTIGUOUS", "ALIGNED"])


def _int(op, name, value, whole):
    if type(value) is int and -_MAX_INT <= value <= _MAX_INT:
        return value  # the common case (bool is not `int` here, it takes the checks below)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {whole!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {whole!r}") from None
    if abs(result) > _MAX_INT:
        raise ValueError(f"{op}: {name} is too large, got {whole!r} (at most 2**62)")
    return result


def _pair(op, name, value):
    if type(value) is int and -_MAX_INT <= value <= _MAX_INT:
        return (value, value)
    if isinstance(value, (tuple, list)):
        # torch's rule (expand_param_if_needed): a one-element sequence stands for both axes
        if len(value) == 1:
            one = _int(op, name, value[0], value)
            return (one, one)
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        return (_int(op, name, value[0], value), _int(op, name, value[1], value))
    one = _int(op, name, value, value)
    return (one, one)


def _flag(op, name, value):
    """A bool argument: anything with a truth value (bools, 0 / 1, a one-element array)."""
    try:
        return bool(value)
    except (TypeError, ValueError):  # e.g. an array of several elements
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}") from None


def _divisor_override(op, value):
    """divisor_override: None (C's 0, no override) or a nonzero int, as torch."""
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: divisor_override must be None or a nonzero int, got {value!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: divisor_override must be None or a nonzero int, "
                        f"got {value!r}") from None
    if result == 0 or abs(result) > _MAX_INT:
        raise ValueError(f"{op}: divisor_override must be a nonzero int of at most 2**62 in "
                         f"magnitude, got {value!r}")
    return result


def _positive_pair(op, name, value):
    pair = _pair(op, name, value)
    if min(pair) <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {value!r}")
    return pair


def _planes(op, x):
    """x as (N, C, H, W), and whether it came unbatched as (C, H, W)."""
    if x.ndim not in (3, 4):
        hint = ("; for an image (H, W) use fastconv.filter2d, or add the batch and channel "
                "axes: x[None, None]" if x.ndim == 2 else "")
        raise ValueError(
            f"{op}: x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x.shape}{hint}")
    unbatched = x.ndim == 3
    x4 = x[None] if unbatched else x
    if 0 in x4.shape[1:]:
        raise ValueError(
            f"{op}: x must have non-zero channels, height and width, got shape {x.shape}")
    return x4, unbatched


_LAYOUTS = ("NCHW", "NHWC")


def _layout(op, layout):
    """layout= of the network ops: "NCHW" (the default) or "NHWC" (channels last)."""
    if layout is None or layout == "NCHW":
        return "NCHW"
    if layout == "NHWC":
        return "NHWC"
    raise ValueError(f"{op}: layout must be 'NCHW' or 'NHWC', got {layout!r}")


def _as_nchw(x, layout):
    """A channels-last x (N, H, W, C) or (H, W, C) as a view in NCHW axis order (no copy):
    the geometry and its checks are the NCHW ones, the data is passed as it is."""
    if layout == "NCHW" or x.ndim not in (3, 4):
        return x
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x.transpose(2, 0, 1)


def _to_nhwc(shape):
    """An NCHW (or CHW) shape in channels-last order."""
    return tuple(shape[:-3]) + (shape[-2], shape[-1], shape[-3])


def _read_limit(path, key=None):
    """A byte count from a cgroup file ("max" = none) or a /proc/meminfo line (in kB)."""
    try:
        with open(path) as f:
            for line in f:
                if key is None:
                    return None if line.strip() == "max" else int(line)
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _memory_limit_bytes():
    """The most memory an array of ours can ever occupy on this machine, in bytes.

    An op writes every element of its output, so an output larger than RAM + swap, the
    process's address-space limit (ulimit -v) or its cgroup's memory limit can never be
    produced: allocating it would fail (or, with Linux's overcommit, get the process killed
    once the pages are touched).  Measured once, on first use.
    """
    global _memory_limit
    if _memory_limit is None:
        limits = [_MAX_BYTES]
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            ram = None
        if ram is not None and ram > 0:
            limits.append(ram + (_read_limit("/proc/meminfo", "SwapTotal") or 0))
        address_space = resource.getrlimit(resource.RLIMIT_AS)[0]
        if address_space != resource.RLIM_INFINITY:
            limits.append(address_space)
        cgroup = _read_limit("/sys/fs/cgroup/memory.max")
        if cgroup is not None:
            limits.append(cgroup + (_read_limit("/sys/fs/cgroup/memory.swap.max") or 0))
        _memory_limit = min(limits)
    return _memory_limit


_memory_limit = None


def _gib(nbytes):
    return f"{nbytes / 2**30:.3g} GiB"


def _check_size(op, shape, bytes_per_element, what="output"):
    """Refuse, before anything is allocated, an array of `shape` that cannot exist here:
    ValueError past 64-bit byte offsets, MemoryError past this machine's memory."""
    count = 1
    for extent in shape:
        count *= extent
    # a zero extent (an empty batch) does not make impossible other extents possible: numpy
    # refuses to create such an array, so it is as invalid as a huge one (counted only when
    # there is a zero, off the common path)
    extents = count or math.prod(max(extent, 1) for extent in shape)
    if extents * bytes_per_element > _MAX_BYTES:
        raise ValueError(f"{op}: {what} of shape {tuple(shape)} is too large "
                         f"({count} elements, past 64-bit byte offsets)")
    nbytes, limit = count * bytes_per_element, _memory_limit_bytes()
    if nbytes > limit:
        raise MemoryError(f"{op}: {what} of shape {tuple(shape)} would need {_gib(nbytes)}, "
                          f"more than this machine can hold ({_gib(limit)} of RAM + swap "
                          f"within the process's limits); nothing was allocated")


def _output(op, out, shape, like, inputs, dtype=None):
    """A new output array, or the validated out= array, of `shape` and like's float dtype (or
    `dtype`), not overlapping any of `inputs` ((name, array) pairs)."""
    dtype = dtype if dtype is not None else _F32 if like.dtype.itemsize == 4 else _F64
    if out is None:
        return _empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{op}: out must have dtype {dtype} (native byte order), "
                        f"got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{op}: out must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous, got strides {out.strides}")
    if not out.flags.aligned:
        raise ValueError(f"{op}: out must be aligned to its {out.dtype.itemsize}-byte dtype, "
                         f"got data at address {out.ctypes.data:#x}")
    if not out.flags.writeable:
        raise ValueError(f"{op}: out must be writable, got a read-only array of shape "
                         f"{out.shape}")
    for name, arr in inputs:
        if isinstance(arr, np.ndarray) and np.may_share_memory(out, arr) \
                and np.shares_memory(out, arr):
            raise ValueError(f"{op}: out overlaps input {name} (shape {arr.shape}); "
                             f"pass a separate array")
    return out


# ---- epilogue (conv2d, linear) -----------------------------------------------------------------

# The activations, from the C library's table (common/epilogue.h); their parameters' defaults
# are torch.nn.functional's.
_ACTIVATION_NAMES = ", ".join(repr(name) for name in _ext.ACTIVATIONS if name is not None)
_NEGATIVE_SLOPE = 0.01


def _epilogue(op, activation, negative_slope, residual, x):
    """The validated epilogue arguments: (activation, its parameter as a float, residual as
    an ndarray or None; its shape is checked against the output's by _residual_rows)."""
    # (only None and strings are looked up: an unhashable value would raise a bare TypeError)
    if not (activation is None or isinstance(activation, str)) or \
            activation not in _ext.ACTIVATIONS:
        raise ValueError(f"{op}: activation must be None or one of {_ACTIVATION_NAMES}, got "
                         f"{activation!r}")
    if type(activation) is not str and activation is not None:
        activation = str(activation)  # a str subclass (np.str_): the C layer takes str only
    alpha = _NEGATIVE_SLOPE if activation == "leaky_relu" else 0.0
    if negative_slope is None and residual is None:  # the common call, as fast as before
        return activation, alpha, None
    if negative_slope is not None:
        if activation != "leaky_relu":
            raise ValueError(f"{op}: negative_slope={negative_slope!r} applies to "
                             f"activation='leaky_relu' only, got activation={activation!r}")
        if isinstance(negative_slope, (bool, np.bool_)) or \
                not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"{op}: negative_slope must be a real number, got "
                            f"{negative_slope!r}")
        alpha = float(negative_slope)
    if residual is not None:
        residual = _array(op, "residual", residual)
        _same_dtype(op, x, [("residual", residual)])
    return activation, alpha, residual


def _residual_rows(op, residual, shape, c_shape, x, weight):
    """residual (of the output's `shape`, for these x and weight) as the C call's C-contiguous
    c_shape.  (The callers skip it without a residual: ~0.1 us of a 4 us call.)"""
    if residual.shape != tuple(shape):
        raise ValueError(f"{op}: residual must have the output's shape {tuple(shape)}, got "
                         f"{residual.shape} (x shape {x.shape}, weight shape {weight.shape})")
    return _c_array(residual).reshape(c_shape)


# ---- conv2d -----------------------------------------------------------------------------------

def _conv_padding(op, padding, in_hw, kernel_hw, stride, dilation):
    """((top, bottom), (left, right)) from any of the accepted padding forms."""
    if type(padding) is int and 0 <= padding <= _MAX_INT:
        return ((padding, padding), (padding, padding))  # the common case
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            # TensorFlow's split, for any stride: the output has ceil(in / stride) positions;
            # the odd pixel of padding goes to the bottom / right.
            result = []
            for size, k, s, d in zip(in_hw, kernel_hw, stride, dilation):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                result.append((total // 2, total - total // 2))
            return tuple(result)
        raise ValueError(f"{op}: padding must be an int, a pair, ((top, bottom), (left, right)),"
                         f" 'valid' or 'same', got {padding!r}")
    # per-axis (before, after) pairs only when both sides are pairs: ([1], [1]) is a pair of
    # non-ints (TypeError), not two one-element sides read as (1, 1) each
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and \
            all(isinstance(side, (tuple, list)) and len(side) == 2 for side in padding):
        pads = tuple(_pair(op, "padding", side) for side in padding)
    else:
        ph, pw = _pair(op, "padding", padding)
        pads = ((ph, ph), (pw, pw))
    if min(min(side) for side in pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return pads


def _workspace_limit(op, value):
    """max_workspace_bytes: None (the default, 16 MiB per thread) or a positive int -> C's 0 or
    the value."""
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: max_workspace_bytes must be a positive int or None, "
                        f"got {value!r}")
    try:
        limit = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: max_workspace_bytes must be a positive int or None, "
                        f"got {value!r}") from None
    if not 0 < limit <= _MAX_INT:
        raise ValueError(f"{op}: max_workspace_bytes must be a positive int (at most 2**62), "
                         f"got {value!r}")
    return limit


def _planes_and_groups(op, x, weight, groups, layout):
    """x as (N, C, H, W), whether it came unbatched, and groups as a positive int, with weight
    checked to be 4-D (conv2d's and conv_transpose2d's first checks; layout: weight's axes)."""
    x4, unbatched = _planes(op, x)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D {layout}, got shape {weight.shape}")
    groups = _int(op, "groups", groups, groups)
    if groups <= 0:
        raise ValueError(f"{op}: groups must be positive, got {groups!r}")
    return x4, unbatched, groups


def _shown(x, layout):
    """x's shape as the caller gave it (x: the NCHW-ordered view of a channels-last x)."""
    return x.shape if layout == "NCHW" else _to_nhwc(x.shape)


def _layout_hint(x, layout, channels):
    """The likely layout mistake behind a channel count that does not match the weight: an
    image array (H, W, C) / (N, H, W, C) passed as NCHW, or NCHW data with layout='NHWC'."""
    shape = _shown(x, layout)
    if layout == "NCHW" and shape[-1] in (1, 3, 4):
        move = "x.transpose(0, 3, 1, 2)" if x.ndim == 4 else "x.transpose(2, 0, 1)"
        return (f"; x looks channels-last (its last axis is {shape[-1]}): pass "
                f"layout='NHWC', or make it (N, C, H, W) with {move}")
    if layout == "NHWC" and shape[-3] == channels:
        move = "x.transpose(0, 2, 3, 1)" if x.ndim == 4 else "x.transpose(1, 2, 0)"
        return (f"; x looks channels-first (axis {x.ndim - 3} has {channels}): drop "
                f"layout='NHWC', or make it channels-last with {move}")
    return ""


def _conv_geometry(op, x, weight, stride, padding, dilation, groups, check_size=True,
                   layout="NCHW"):
    """conv2d's validated geometry, shared by the forward and the backward pass:
    (x4, unbatched, stride, pads, dilation, groups, geometry), geometry being the C library's
    (_ext.Conv2dGeometry, output_shape (N, K, P, Q)).  check_size=False leaves out the
    machine's memory limit (fastconv.dask: an output that is never whole in memory)."""
    x4, unbatched, groups = _planes_and_groups(op, x, weight, groups, "(K, C/groups, R, S)")
    n, c, h, w = x4.shape
    k, c_per_group, r, s = weight.shape
    if c % groups:
        raise ValueError(f"{op}: groups={groups} must divide the channels of x, got x shape "
                         f"{x.shape}")
    if k % groups:
        raise ValueError(f"{op}: groups={groups} must divide the filters of weight, got weight "
                         f"shape {weight.shape}")
    if c_per_group * groups != c:
        raise ValueError(f"{op}: x has {c} channels but weight expects "
                         f"{c_per_group} * groups={groups} = {c_per_group * groups} "
                         f"(x shape {_shown(x, layout)}, weight shape {weight.shape})"
                         f"{_layout_hint(x, layout, c_per_group * groups)}")
    if 0 in (r, s):
        raise ValueError(f"{op}: weight must have a non-zero kernel, got shape {weight.shape}")
    stride = _positive_pair(op, "stride", stride)
    dilation = _positive_pair(op, "dilation", dilation)
    pads = _conv_padding(op, padding, (h, w), (r, s), stride, dilation)
    try:
        geometry = _ext.conv2d_geometry(op, x4.shape, weight.shape, stride, pads, dilation,
                                        groups)
    except ValueError:  # the C library refuses it: say why, with the numbers
        padded = (h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1])
        dilated = ((r - 1) * dilation[0] + 1, (s - 1) * dilation[1] + 1)
        if padded[0] < dilated[0] or padded[1] < dilated[1]:
            what = f"padded input {padded} is smaller than the dilated kernel {dilated}"
        else:
            what = f"padded input {padded} or dilated kernel {dilated} overflows 64 bits"
        raise ValueError(f"{op}: {what} (x shape {x.shape}, weight shape {weight.shape}, "
                         f"padding {pads}, dilation {dilation})") from None
    if check_size:
        _check_size(op, geometry.output_shape, x.dtype.itemsize)
    return x4, unbatched, stride, pads, dilation, groups, geometry


def _layer_operands(op, x, weight, bias, activation, negative_slope, residual):
    """The operands of a layer with an epilogue (conv2d, linear) as arrays of one dtype, and
    its epilogue checked: (x, weight, bias, activation, alpha, residual)."""
    x = _array(op, "x", x)
    weight = _array(op, "weight", weight)
    bias = None if bias is None else _array(op, "bias", bias)
    _same_dtype(op, x, [("weight", weight), ("bias", bias)])
    activation, alpha, residual = _epilogue(op, activation, negative_slope, residual, x)
    return x, weight, bias, activation, alpha, residual


def _conv2d(x, weight, bias, stride, padding, dilation, groups, activation, algorithm, out,
            reference, max_workspace_bytes=None, negative_slope=None, residual=None,
            precision=None, checks_only=False, layout="NCHW", key=None):
    """conv2d; checks_only=True validates the call (x may be a zero-strided stand-in of any
    size) and returns its normalised arguments instead (fastconv.dask's graph construction).
    key: the call's _ext.call_key, under which a call that passed remembers what its checks
    found (conv2d's fast path, _conv2d_cached)."""
    op = "conv2d"
    prepared = weight if isinstance(weight, PreparedWeights) else None
    if prepared is not None:   # its checks, and a stand-in for the weight's shape and dtype
        if reference:
            raise ValueError(f"{op}: the reference takes the weight, not prepared weights")
        weight = prepared._stand_in(op, _array(op, "x", x), algorithm, stride, dilation, groups)
        algorithm = "winograd"
    x_in, w_in, b_in, r_in = x, weight, bias, residual
    x, weight, bias, activation, alpha, residual = _layer_operands(
        op, x, weight, bias, activation, negative_slope, residual)
    if _layout(op, layout) == "NHWC":
        return _conv2d_nhwc(x, weight, bias, stride, padding, dilation, groups, activation,
                            alpha, residual, algorithm, out, max_workspace_bytes,
                            (x_in, w_in, b_in, r_in))
    x4, unbatched, stride, pads, dilation, groups, geometry = _conv_geometry(
        op, x, weight, stride, padding, dilation, groups, check_size=not checks_only)
    shape4 = geometry.output_shape
    n, k = shape4[:2]
    if bias is not None and bias.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},) to match weight shape "
                         f"{weight.shape}, got {bias.shape}")
    if algorithm is not None and (not isinstance(algorithm, str) or
                                  algorithm not in _ext.ALGORITHMS):
        raise ValueError(f"{op}: algorithm must be one of 'auto', 'direct', 'im2col', "
                         f"'pointwise', 'depthwise', 'winograd', got {algorithm!r}")
    if algorithm == "pointwise" and (weight.shape[2:] != (1, 1) or stride != (1, 1) or
                                     pads != ((0, 0), (0, 0))):
        raise ValueError(f"{op}: algorithm='pointwise' needs 1x1 filters, stride 1 and no "
                         f"padding, got weight shape {weight.shape}, stride {stride}, "
                         f"padding {pads}")
    if algorithm == "depthwise" and groups != x4.shape[1]:
        raise ValueError(f"{op}: algorithm='depthwise' needs groups == C (each channel "
                         f"convolved with its own filters), got groups={groups} for x of shape "
                         f"{x.shape} (C={x4.shape[1]})")
    if algorithm == "winograd":
        _check_winograd(op, x, weight, stride, dilation)
    precision = _precision(op, precision)
    workspace = _workspace_limit(op, max_workspace_bytes)
    out_shape = shape4[1:] if unbatched else shape4
    if checks_only:
        return dict(weight=weight, bias=bias, stride=stride, padding=pads, dilation=dilation,
                    groups=groups, shape=out_shape)
    if residual is not None:
        residual = _residual_rows(op, residual, out_shape, shape4, x, weight)
    result = _output(op, out, out_shape, x, [("x", x_in), ("weight", w_in), ("bias", b_in),
                                             ("residual", r_in)])
    if n and k and prepared is not None:
        _ext.conv2d_prepared(op, geometry, _c_array(x4), prepared._u, prepared._mr,
                             prepared._isa, None if bias is None else _c_array(bias),
                             result[None] if unbatched else result, activation, workspace,
                             residual, alpha)
    elif n and k:
        _conv2d_run(geometry, _c_array(x4), _c_array(weight),
                    None if bias is None else _c_array(bias),
                    result[None] if unbatched else result, activation, alpha, residual,
                    algorithm, precision, workspace, reference, (stride, pads, dilation, groups))
    if key is not None and prepared is None and not reference:
        _remember(_conv2d_calls, key, (geometry, unbatched, out_shape, bool(n and k), activation,
                                       alpha, algorithm, workspace, (stride, pads, dilation,
                                                                     groups)))
    return result


def _conv2d_run(geometry, cx, cw, cb, y, activation, alpha, residual, algorithm, precision,
                workspace, reference, layer):
    """The C call of conv2d on checked C-contiguous operands (y: the 4-D output; layer:
    the normalised (stride, pads, dilation, groups)).  "auto" is resolved here, on every
    call: the measured plan of a big layer, else the shape rule at `precision` (at "high" it
    may pick Winograd)."""
    op = "conv2d"
    if algorithm in ("auto", None):
        planned = None
        if not reference and plans.worth_measuring(geometry, cw.shape):
            scratch = []

            def run(name):   # the layer by one algorithm, into a scratch output
                if not scratch:
                    scratch.append(np.empty(geometry.output_shape, cx.dtype))
                _ext.conv2d(op, geometry, cx, cw, cb, scratch[0], activation, name, False,
                            workspace, residual, alpha)
            planned = plans.choose(cx, cw, cb, geometry, *layer, precision, run)
        algorithm = planned or (_ext.AUTO_HIGH if precision == "high" else "auto")
    _ext.conv2d(op, geometry, cx, cw, cb, y, activation, algorithm, reference, workspace,
                residual, alpha)


# ---- per-shape caches: what a call's checks found, under its _ext.call_key ----------------
# A call in the plain form (exact C-contiguous native arrays, arguments of exact ints, bools,
# strs, None and tuples of them) whose key was seen by a call that passed skips the argument
# normalisation and checks, which depend on nothing the key leaves out: the arrays' contents
# are not checked, out= is checked on every call, and what can change between calls (the
# precision setting, the thread count, the plans, FASTCONV_TUNE) is read on every call as
# before.  (conv2d of a 4x4 image: 5.3 -> 2.1 us a call, best of many on a busy machine.)
_CALLS_MAX = 512      # entries per op; a program of ever-new shapes starts again from empty
_conv2d_calls = {}


def _remember(calls, key, entry):
    if len(calls) >= _CALLS_MAX:
        calls.clear()
    calls[key] = entry


def _conv2d_cached(entry, x, weight, bias, residual, out, precision):
    """conv2d whose key found its entry (see _remember's caller): out= checked, the C call."""
    geometry, unbatched, out_shape, run, activation, alpha, algorithm, workspace, layer = entry
    if out is None:
        result = _empty(out_shape, _F32 if x.itemsize == 4 else _F64)
    else:
        result = _output("conv2d", out, out_shape, x, [("x", x), ("weight", weight),
                                                      ("bias", bias), ("residual", residual)])
    if run:
        _conv2d_run(geometry, x[None] if unbatched else x, weight, bias,
                    result[None] if unbatched else result, activation, alpha,
                    None if residual is None else residual.reshape(geometry.output_shape),
                    algorithm, _config.get_precision() if precision is None else precision,
                    workspace, False, layer)
    return result


def _precision(op, precision):
    """A call's precision= (None: fastconv.set_precision's setting), checked."""
    return _config.get_precision() if precision is None else _config._check_precision(op, precision)


def _conv2d_nhwc(x, weight, bias, stride, padding, dilation, groups, activation, alpha,
                 residual, algorithm, out, max_workspace_bytes, inputs):
    """conv2d of channels-last x (N, H, W, C) -> (N, P, Q, K): the NCHW geometry's checks on
    a transposed view, then the NHWC GEMM driver on x as it is (ops/conv2d_nhwc.tmpl.h)."""
    op = "conv2d"
    if x.ndim not in (3, 4):
        _planes(op, x)  # its message, with the 2-D hint
    x4, unbatched, stride, pads, dilation, groups, geometry = _conv_geometry(
        op, _as_nchw(x, "NHWC"), weight, stride, padding, dilation, groups, layout="NHWC")
    shape4 = _to_nhwc(geometry.output_shape)
    k = shape4[3]
    if bias is not None and bias.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},) to match weight shape "
                         f"{weight.shape}, got {bias.shape}")
    if algorithm not in ("auto", None, "im2col"):
        raise ValueError(f"{op}: layout='NHWC' runs one algorithm, the GEMM on channels-last "
                         f"rows ('im2col' or 'auto'), got algorithm={algorithm!r}")
    workspace = _workspace_limit(op, max_workspace_bytes)
    out_shape = shape4[1:] if unbatched else shape4
    if residual is not None:
        residual = _residual_rows(op, residual, out_shape, shape4, x, weight)
    result = _output(op, out, out_shape, x, list(zip(("x", "weight", "bias", "residual"),
                                                     inputs)))
    if shape4[0] and k:
        x_nhwc = x[None] if unbatched else x
        _ext.conv2d_nhwc(op, geometry, _c_array(x_nhwc), _c_array(weight),
                         None if bias is None else _c_array(bias),
                         result[None] if unbatched else result, activation, workspace,
                         residual, alpha)
    return result


def _check_winograd(op, x, weight, stride, dilation):
    """ValueError unless algorithm='winograd' can run: 3x3, stride 1, dilation 1, float32."""
    if weight.shape[2:] != (3, 3) or stride != (1, 1) or dilation != (1, 1):
        raise ValueError(f"{op}: algorithm='winograd' needs 3x3 filters, stride 1 and "
                         f"dilation 1, got weight shape {weight.shape}, stride {stride}, "
                         f"dilation {dilation}")
    if x.dtype != np.float32:
        raise ValueError(f"{op}: algorithm='winograd' runs float32 only (F(4x4, 3x3) would "
                         f"gain little accuracy in float64), got {x.dtype}; use "
                         f"algorithm='im2col' or 'auto'")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, negative_slope=None, residual=None, algorithm="auto", out=None,
           max_workspace_bytes=None, precision=None, layout="NCHW"):
    """2-D convolution (cross-correlation, as in every CNN framework).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    weight : array_like, (K, C / groups, R, S), same dtype; or a :class:`PreparedWeights`
        (:func:`prepare_weights`: Winograd's filters transformed once), which runs
        algorithm="winograd" at any precision
    bias : array_like (K,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), ((top, bottom), (left, right)), "valid" or "same"
        "same" works for any stride: the output has ceil(H / stride) rows, and an odd total
        padding puts the extra row at the bottom (column at the right), as TensorFlow does.
    groups : int, dividing C and K; groups == C is a depthwise convolution
    activation : None, "relu", "relu6" or "leaky_relu" (``fastconv._ext.ACTIVATIONS``)
        Applied in the convolution's epilogue, on each tile as it is finished (no second pass
        over the output): torch.nn.functional's formulas, NaN passing through; "relu" and
        "relu6" give +0 for -0.
    negative_slope : float, optional
        "leaky_relu"'s slope for negative values (default 0.01, as torch); only with it.
    residual : array_like, optional
        Of the output's shape and dtype, added before the activation:
        ``y = act(conv2d(x, weight, bias) + residual)`` (a residual block's skip connection).
        Never modified; it may not overlap ``out``.
    algorithm : "auto", "direct", "im2col", "pointwise", "depthwise" or "winograd"
        "auto" runs the layer's measured plan: on the first call of a layer of 50 MFLOP or
        more it times every algorithm that takes it and remembers the fastest, also on disk
        for later processes (`fastconv.tune` measures ahead, `fastconv.explain` says what
        runs and why; FASTCONV_TUNE=0 keeps to the shape rule); smaller layers run the shape
        rule.  "im2col" packs the input patches into a packed GEMM block by block; "pointwise" runs
        that GEMM straight on the input planes and only applies to 1x1 filters with stride 1
        and no padding (ValueError otherwise); "depthwise" needs groups == C (K a multiple
        of C; ValueError otherwise) and also serves a single-channel filter bank (C =
        groups = 1), e.g. filtering one image.  "winograd" runs F(4x4, 3x3) (3x3 filters,
        stride 1, dilation 1, float32 only: ValueError otherwise, float64 included): 4x fewer
        multiplications, at a larger rounding error than the other algorithms' exact-order
        sums (see the README's "Winograd" section for the bound; a NaN or infinity spreads to
        whole 4x4 tiles); "auto" considers it only at precision "high".  Each algorithm's
        result is bitwise the same for any thread count; two algorithms may differ in the
        last bits.
    out : ndarray, optional
        C-contiguous, of the output's shape and dtype, not overlapping any input.
    max_workspace_bytes : int, optional
        Workspace per thread the "im2col", "pointwise" and "winograd" algorithms may allocate
        (packed or transformed weights and input panels); None means 16 MiB.  They shrink their blocking to fit, and
        raise ValueError, saying the minimum, when the limit is below it.
    precision : None, "highest" or "high"
        What algorithm="auto" may trade for speed, for this call (None: the setting of
        :func:`fastconv.set_precision`, "highest" by default); "high" lets it run Winograd.
    layout : "NCHW" (default) or "NHWC"
        "NHWC": x is channels last, (N, H, W, C) or (H, W, C), and so are the output
        (N, P, Q, K) and residual; the weights stay (K, C / groups, R, S).  It runs one
        algorithm, a GEMM over the pixels' contiguous channels (no transposed copy of x),
        whose sums are those of algorithm="im2col": the NCHW result transposed, bit for bit.

    Returns
    -------
    ndarray (N, K, P, Q), or (K, P, Q) for unbatched x, with
    P = (H + pad_top + pad_bottom - dilation_h * (R - 1) - 1) // stride_h + 1, likewise Q.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> fastconv.conv2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]], dtype=float32)
    >>> fastconv.conv2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2, activation="relu6",
    ...                 residual=np.float32([[[[-20, -15], [0, 0]]]]))
    array([[[[0., 3.],
             [6., 6.]]]], dtype=float32)
    """
    key = _ext.call_key((x, weight, bias, residual),
                        (stride, padding, dilation, groups, activation, negative_slope,
                         algorithm, max_workspace_bytes, precision, layout))
    entry = _conv2d_calls.get(key)
    if entry is not None:
        return _conv2d_cached(entry, x, weight, bias, residual, out, precision)
    return _conv2d(x, weight, bias, stride, padding, dilation, groups, activation, algorithm,
                   out, reference=False, max_workspace_bytes=max_workspace_bytes,
                   negative_slope=negative_slope, residual=residual, precision=precision,
                   layout=layout, key=key)


# ---- Winograd filters transformed once --------------------------------------------------------

class PreparedWeights:
    """conv2d's filters transformed once for Winograd F(4x4, 3x3): made by
    :func:`prepare_weights`, passed to `conv2d` in place of the weight.

    A snapshot: it holds the transformed filters (some 4x the weight's bytes) and the geometry
    they are valid for (``weight_shape``, ``dtype``, ``groups``; stride and dilation are 1),
    not the weight; changing the weight afterwards does not change it (prepare again).  It is
    immutable, and cannot be pickled: its layout follows the GEMM kernel of the ISA path that
    prepared it (``isa``), so pickle the weight instead.
    """
    __slots__ = ("_u", "_mr", "_isa", "_weight_shape", "_groups")

    def __init__(self, *args, **kwargs):
        raise TypeError("PreparedWeights are made by fastconv.prepare_weights")

    weight_shape = property(lambda self: self._weight_shape,
                            doc="the weight's shape (K, C / groups, 3, 3)")
    groups = property(lambda self: self._groups)
    dtype = property(lambda self: _F32, doc="float32: Winograd's only dtype")
    stride = property(lambda self: (1, 1))
    dilation = property(lambda self: (1, 1))
    algorithm = property(lambda self: "winograd")
    isa = property(lambda self: self._isa, doc="the ISA path whose GEMM layout it holds")
    nbytes = property(lambda self: self._u.nbytes, doc="bytes of the transformed filters")

    def __setattr__(self, name, value):
        raise AttributeError(f"PreparedWeights is immutable (cannot set {name!r}); prepare "
                             f"again from the changed weight")

    def __delattr__(self, name):
        raise AttributeError(f"PreparedWeights is immutable (cannot delete {name!r})")

    def __reduce__(self):
        raise TypeError("PreparedWeights cannot be pickled: the transformed filters are laid "
                        "out for this process's GEMM kernel; pickle the weight and call "
                        "fastconv.prepare_weights after loading it")

    def __copy__(self):
        return self   # immutable: a copy is itself

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return (f"PreparedWeights(weight_shape={self._weight_shape}, groups={self._groups}, "
                f"algorithm='winograd', isa={self._isa!r}, nbytes={self.nbytes})")

    def _stand_in(self, op, x, algorithm, stride, dilation, groups):
        """The checks of a conv2d call with this plan; a zero-strided stand-in for the weight
        (the shape and dtype the validation of conv2d reads)."""
        if algorithm not in ("auto", "winograd"):
            raise ValueError(f"{op}: prepared weights run algorithm='winograd', got "
                             f"algorithm={algorithm!r}")
        given = (_pair(op, "stride", stride), _pair(op, "dilation", dilation),
                 _int(op, "groups", groups, groups))
        if given != ((1, 1), (1, 1), self._groups):
            raise ValueError(f"{op}: the weights were prepared for stride 1, dilation 1, "
                             f"groups={self._groups}, got stride {given[0]}, dilation "
                             f"{given[1]}, groups={given[2]}")
        if x.dtype != _F32:
            raise ValueError(f"{op}: the weights were prepared for float32 x, got {x.dtype}")
        return np.broadcast_to(np.zeros((), _F32), self._weight_shape)


def prepare_weights(weight, *, stride=1, dilation=1, groups=1, algorithm="winograd"):
    """Transform conv2d's filters once for Winograd, for layers whose weight does not change
    between calls (inference).

    ``conv2d(x, prepare_weights(w), b, padding=...)`` is bitwise ``conv2d(x, w, b,
    padding=..., algorithm="winograd")`` without transforming the filters at every call
    (512 filters of 512 channels: 2.4 million 3x3 filters, most of a 7x7 layer's time).

    Parameters
    ----------
    weight : array_like, (K, C / groups, 3, 3), float32
    stride, dilation : int or (int, int), must be 1 (Winograd's geometry)
    groups : int, dividing K
    algorithm : "winograd" (the only algorithm with a filter transform)

    Returns
    -------
    PreparedWeights: immutable, a snapshot of the weight (prepare again after changing it),
        valid for any input size and padding with this groups; conv2d raises ValueError for a
        call it does not fit (channels, dtype, stride, dilation, groups, algorithm, or an ISA
        path whose GEMM layout differs).  Not picklable.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> w = np.ones((2, 1, 3, 3), np.float32)
    >>> pw = fastconv.prepare_weights(w)
    >>> x = np.ones((1, 1, 4, 4), np.float32)
    >>> fastconv.conv2d(x, pw, padding=1)[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
    op = "prepare_weights"
    w = _array(op, "weight", weight)
    if algorithm != "winograd":
        raise ValueError(f"{op}: algorithm must be 'winograd', got {algorithm!r}")
    stride, dilation = _positive_pair(op, "stride", stride), _positive_pair(op, "dilation",
                                                                              dilation)
    groups = _int(op, "groups", groups, groups)
    if w.ndim != 4 or w.shape[2:] != (3, 3) or stride != (1, 1) or dilation != (1, 1):
        raise ValueError(f"{op}: algorithm='winograd' needs 3x3 filters, stride 1 and dilation "
                         f"1, got weight shape {w.shape}, stride {stride}, dilation {dilation}")
    if w.dtype != _F32:
        raise ValueError(f"{op}: algorithm='winograd' runs float32 only, got {w.dtype}")
    if groups <= 0 or w.shape[0] % groups:
        raise ValueError(f"{op}: groups={groups} must be positive and divide the filters of "
                         f"weight, got weight shape {w.shape}")
    geometry = _ext.conv2d_geometry(op, (1, w.shape[1] * groups, 3, 3), w.shape, (1, 1),
                                    ((0, 0), (0, 0)), (1, 1), groups)
    u, mr = _ext.winograd_prepare(op, geometry, _c_array(w))
    u.flags.writeable = False
    plan = object.__new__(PreparedWeights)
    for name, value in (("_u", u), ("_mr", mr), ("_isa", _ext.active_isa()),
                        ("_weight_shape", w.shape), ("_groups", groups)):
        object.__setattr__(plan, name, value)
    return plan


# ---- conv_transpose2d -------------------------------------------------------------------------
# The adjoint of conv2d: its forward is conv2d's backward-data pass with x in the role of
# grad_output, on the same C drivers (csrc/ops/conv_transpose2d.c).  The geometry is that of
# the conv2d from y (the transposed conv's output) to x.

def _conv_transpose_geometry(op, x, weight, stride, padding, output_padding, groups, dilation):
    """(x4, unbatched, extra, geometry): geometry the C library's conv2d geometry from y to x,
    its output_shape x4's shape plus `extra` (rows, columns) of zeros (when output_padding >=
    stride, torch's output_padding < dilation case, the conv from y has more outputs than x)."""
    x4, unbatched, groups = _planes_and_groups(op, x, weight, groups,
                                               "(C_in, C_out/groups, kH, kW)")
    n, c_in, h, w = x4.shape
    if weight.shape[0] != c_in:
        raise ValueError(f"{op}: x has {c_in} channels but weight expects {weight.shape[0]} "
                         f"(weight is (C_in, C_out/groups, kH, kW); x shape {x.shape}, weight "
                         f"shape {weight.shape})")
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the channels of x, got x shape "
                         f"{x.shape}")
    c_out = weight.shape[1] * groups
    kernel = weight.shape[2:]
    if 0 in kernel or c_out == 0:
        raise ValueError(f"{op}: weight must have non-zero output channels and kernel, got "
                         f"shape {weight.shape}")
    stride = _positive_pair(op, "stride", stride)
    dilation = _positive_pair(op, "dilation", dilation)
    pad = _pair(op, "padding", padding)
    out_pad = _pair(op, "output_padding", output_padding)
    if min(pad) < 0 or min(out_pad) < 0:
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got "
                         f"padding={padding!r}, output_padding={output_padding!r}")
    for o, s_, d in zip(out_pad, stride, dilation):
        if o >= s_ and o >= d:   # torch's rule
            raise ValueError(f"{op}: output_padding must be smaller than either stride or "
                             f"dilation, got output_padding={out_pad}, stride={stride}, "
                             f"dilation={dilation}")
    size = tuple((i - 1) * s_ - 2 * p_ + d * (k - 1) + o + 1
                 for i, s_, p_, d, k, o in zip((h, w), stride, pad, dilation, kernel, out_pad))
    if min(size) <= 0:
        raise ValueError(f"{op}: output size {size} is not positive (input size {(h, w)}, "
                         f"weight shape {weight.shape}, stride {stride}, padding {pad}, "
                         f"output_padding {out_pad}, dilation {dilation})")
    # the conv from y: its bottom / right padding shortened by whole strides so that it has
    # exactly h (w) outputs; where that would be negative, x gets `extra` zero rows instead
    pads, extra = [], []
    for p_, o, s_ in zip(pad, out_pad, stride):
        short = p_ - s_ * (o // s_)
        more = -(-max(-short, 0) // s_)
        pads.append((p_, short + more * s_))
        extra.append(more)
    y_shape = (n, c_out, *size)
    _check_size(op, y_shape, x.dtype.itemsize)
    geometry = _ext.conv2d_geometry(op, y_shape, (c_in, c_out // groups, *kernel), stride,
                                    tuple(pads), dilation, groups)
    return x4, unbatched, tuple(extra), geometry


def _zero_extended(x4, extra):
    """x4 with extra (rows, columns) of zeros at the bottom and right (the rare geometry)."""
    if extra == (0, 0):
        return _c_array(x4)
    # (np.pad keeps a Fortran-ordered input's order)
    return _c_array(np.pad(x4, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1]))))


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation,
                      activation, negative_slope, out, reference):
    op = "conv_transpose2d"
    x_in, w_in, b_in = x, weight, bias
    x, weight, bias, activation, alpha, _ = _layer_operands(
        op, x, weight, bias, activation, negative_slope, None)
    x4, unbatched, extra, geometry = _conv_transpose_geometry(
        op, x, weight, stride, padding, output_padding, groups, dilation)
    shape4 = geometry.x_shape
    if bias is not None and bias.shape != (shape4[1],):
        raise ValueError(f"{op}: bias must have shape ({shape4[1]},) to match weight shape "
                         f"{weight.shape} and groups, got {bias.shape}")
    out_shape = shape4[1:] if unbatched else shape4
    result = _output(op, out, out_shape, x, [("x", x_in), ("weight", w_in), ("bias", b_in)])
    if shape4[0]:
        _ext.conv_transpose2d(op, geometry, _zero_extended(x4, extra), _c_array(weight),
                              None if bias is None else _c_array(bias),
                              result[None] if unbatched else result, activation, alpha,
                              reference)
    return result


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, activation=None, negative_slope=None, out=None):
    """2-D transposed convolution ("deconvolution"), as torch.nn.functional.conv_transpose2d.

    The adjoint of `conv2d`: each input pixel scatters its weighted kernel into the output,
    ``y[n, g*Cog + o, i*s - p + r*d, j*s - p + t*d] += x[n, c, i, j] * weight[c, o, r, t]``
    for the input channels c of group g.  At dilation 1 GEMMs store each output element once
    with the bias and the activation: kernel == stride one GEMM on x, a larger kernel one per
    stride phase (a stride-1 convolution of x with a sub-kernel) for fewer than 4 images x
    groups of 8+ output channels; elsewhere conv2d's backward-data GEMM, then the bias and the
    activation in one pass over the output.

    Parameters
    ----------
    x : array_like, (N, C_in, H, W) or (C_in, H, W), float32 or float64
    weight : array_like, (C_in, C_out / groups, kH, kW), same dtype
    bias : array_like (C_out,), optional
    stride, padding, output_padding, dilation : int or (int, int)
        output_padding adds rows / columns at the bottom / right of the output; each must be
        smaller than the stride or the dilation (torch's rule).
    groups : int, dividing C_in (C_out is weight.shape[1] * groups)
    activation : None, "relu", "relu6" or "leaky_relu", as for `conv2d`
    negative_slope : float, optional; "leaky_relu"'s slope (default 0.01)
    out : ndarray, optional; C-contiguous, of the output's shape and dtype, not overlapping
        an input

    Returns
    -------
    ndarray (N, C_out, H_out, W_out) (unbatched: (C_out, H_out, W_out)), with
    H_out = (H - 1) * stride_h - 2 * padding_h + dilation_h * (kH - 1) + output_padding_h + 1,
    likewise W_out.  Bitwise the same for any thread count.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.float32([[[[1, 2], [3, 4]]]])
    >>> fastconv.conv_transpose2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)
    """
    return _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
                             dilation, activation, negative_slope, out, reference=False)


# ---- pooling ----------------------------------------------------------------------------------

def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validated (x4, unbatched, kernel, stride, padding, dilation, geometry), geometry being
    the C library's (_ext.Pool2dGeometry, output_shape (N, C, P, Q))."""
    x4, unbatched = _planes(op, x)
    kernel = _positive_pair(op, "kernel_size", kernel_size)
    # torch's pools read an empty stride, () or [], as "the kernel size", like None
    default_stride = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    stride = kernel if default_stride else _positive_pair(op, "stride", stride)
    dilation = _positive_pair(op, "dilation", dilation)
    pads = _pair(op, "padding", padding)
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {pads} must be at most half of kernel_size {kernel}")
    ceil_mode = _flag(op, "ceil_mode", ceil_mode)
    try:
        geometry = _ext.pool2d_geometry(op, x4.shape, kernel, stride, pads, dilation, ceil_mode)
    except ValueError:
        raise ValueError(f"{op}: x of shape {x.shape} is too small for kernel_size {kernel} "
                         f"with padding {pads} and dilation {dilation}") from None
    return x4, unbatched, kernel, stride, pads, dilation, geometry


def _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                reference, checks_only=False, layout="NCHW", key=None):
    """max_pool2d; key as _conv2d's (max_pool2d's fast path)."""
    op = "max_pool2d"
    x = _array(op, "x", x)
    nhwc = _layout(op, layout) == "NHWC"
    x4, unbatched, kernel, stride, pads, dilation, geometry = _pool_geometry(
        op, _as_nchw(x, layout), kernel_size, stride, padding, dilation, ceil_mode)
    shape4 = _to_nhwc(geometry.output_shape) if nhwc else geometry.output_shape
    return_indices = _flag(op, "return_indices", return_indices)
    out_shape = shape4[1:] if unbatched else shape4
    if nhwc and not checks_only:
        _check_size(op, shape4, x.dtype.itemsize + (8 if return_indices else 0))
        y = _empty(out_shape, _F32 if x.dtype.itemsize == 4 else _F64)
        indices = _empty(out_shape, _I64) if return_indices else None
        if shape4[0]:
            _ext.max_pool2d_nhwc(op, geometry, _c_array(x[None] if unbatched else x),
                                 y[None] if unbatched else y,
                                 None if indices is None else
                                 indices[None] if unbatched else indices)
        return (y, indices) if return_indices else y
    if checks_only:  # as _conv2d's
        return dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation,
                    return_indices=return_indices, shape=out_shape)
    _check_size(op, shape4, x.dtype.itemsize + (8 if return_indices else 0))
    if key is not None and not reference:
        _remember(_max_pool2d_calls, key, (geometry, unbatched, out_shape, return_indices))
    return _max_pool2d_run(geometry, _c_array(x4), unbatched, out_shape, return_indices,
                           reference)


def _max_pool2d_run(geometry, x4, unbatched, out_shape, return_indices, reference):
    """The outputs' allocation and C call of NCHW max_pool2d on a checked C-contiguous x4."""
    shape4 = geometry.output_shape
    y = _empty(out_shape, _F32 if x4.itemsize == 4 else _F64)
    indices = _empty(out_shape, _I64) if return_indices else None
    if shape4[0]:
        _ext.max_pool2d("max_pool2d", geometry, x4, y.reshape(shape4) if unbatched else y,
                        indices.reshape(shape4) if unbatched and indices is not None
                        else indices, reference)
    return (y, indices) if return_indices else y


_max_pool2d_calls = {}


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW"):
    """2-D max pooling.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    kernel_size, stride, dilation : int or (int, int); stride defaults to kernel_size
    padding : int or (int, int), at most half of kernel_size; padding never wins the max
    ceil_mode : bool, round the output size up (PyTorch's rule)
    return_indices : bool, also return the argmax as int64 flat indices h * W + w into each
        H x W input plane (-1 for a window that lies entirely in the padding, which dilation
        makes possible; its value is -inf)

    layout : "NCHW" (default) or "NHWC": x (N, H, W, C) or (H, W, C), and the output and
        indices channels last too; the indices are still h * W + w into each channel's plane
        (torch's for channels_last tensors), so max_pool2d_backward takes them as they are.
        The channels of each window are pooled as vectors, no transposed copy.

    A window holding NaN gives NaN (the index of its first NaN); ties go to the first element
    in row-major window order.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> fastconv.max_pool2d(x, 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """
    key = _ext.call_key((x,), (kernel_size, stride, padding, dilation, ceil_mode,
                               return_indices, layout))
    entry = _max_pool2d_calls.get(key)
    if entry is not None:
        geometry, unbatched, out_shape, return_indices = entry
        return _max_pool2d_run(geometry, x[None] if unbatched else x, unbatched, out_shape,
                               return_indices, False)
    return _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                       reference=False, layout=layout, key=key)


def _avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                reference, checks_only=False, layout="NCHW"):
    op = "avg_pool2d"
    x = _array(op, "x", x)
    nhwc = _layout(op, layout) == "NHWC"
    x4, unbatched, kernel, stride, pads, _, geometry = _pool_geometry(
        op, _as_nchw(x, layout), kernel_size, stride, padding, 1, ceil_mode)
    shape4 = _to_nhwc(geometry.output_shape) if nhwc else geometry.output_shape
    count_include_pad = _flag(op, "count_include_pad", count_include_pad)
    divisor_override = _divisor_override(op, divisor_override)
    if nhwc and not checks_only:
        _check_size(op, shape4, x.dtype.itemsize)
        y = _empty(shape4[1:] if unbatched else shape4, _F32 if x.dtype.itemsize == 4 else _F64)
        if shape4[0]:
            _ext.avg_pool2d_nhwc(op, geometry, _c_array(x[None] if unbatched else x),
                                 y[None] if unbatched else y, count_include_pad,
                                 divisor_override)
        return y
    if checks_only:  # as _conv2d's
        return dict(kernel=kernel, stride=stride, padding=pads, dilation=(1, 1),
                    shape=shape4[1:] if unbatched else shape4)
    _check_size(op, shape4, x.dtype.itemsize)
    y = _empty(shape4[1:] if unbatched else shape4, _F32 if x.dtype.itemsize == 4 else _F64)
    if shape4[0]:
        _ext.avg_pool2d(op, geometry, _c_array(x4), y.reshape(shape4) if unbatched else y,
                        count_include_pad, divisor_override, reference)
    return y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, layout="NCHW"):
    """2-D average pooling.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    kernel_size, stride : int or (int, int); stride defaults to kernel_size
    padding : int or (int, int), at most half of kernel_size
    ceil_mode : bool, round the output size up (PyTorch's rule)
    count_include_pad : bool, divide by the window clipped to the padded input (True) or to
        the input (False), as PyTorch does
    divisor_override : None or a nonzero int; when given, every window's sum is divided by it
        instead of by its count (PyTorch's divisor_override; count_include_pad is then unused)
    layout : "NCHW" (default) or "NHWC": x (N, H, W, C) or (H, W, C) and the output channels
        last; each window's channels are averaged as vectors, no transposed copy.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> fastconv.avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    """
    return _avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, reference=False, layout=layout)


# ---- relu -------------------------------------------------------------------------------------

def _same_memory(a, b):
    """Whether a and b are views of exactly the same elements (an in-place alias)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


def _adaptive_size(op, output_size, hw):
    """output_size (an int, a pair or a one-element sequence, entries None keeping the input's
    size, as torch) as a pair of positive ints, for an input of spatial size hw."""
    if output_size is None or isinstance(output_size, (tuple, list)) and \
            len(output_size) in (1, 2):
        entries = (output_size, output_size) if output_size is None else (
            tuple(output_size) * 2 if len(output_size) == 1 else tuple(output_size))
        size = tuple(keep if v is None else _int(op, "output_size", v, output_size)
                     for v, keep in zip(entries, hw))
    else:
        size = _pair(op, "output_size", output_size)
    if min(size) <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return size


def _adaptive_avg_pool2d(x, output_size, reference):
    op = "adaptive_avg_pool2d"
    x = _array(op, "x", x)
    x4, unbatched = _planes(op, x)
    size = _adaptive_size(op, output_size, x4.shape[2:])
    shape4 = x4.shape[:2] + size
    _check_size(op, shape4, x.dtype.itemsize)
    y = _empty(shape4[1:] if unbatched else shape4, _F32 if x.dtype.itemsize == 4 else _F64)
    if shape4[0]:
        _ext.adaptive_avg_pool2d(op, _c_array(x4), y.reshape(shape4), False, reference)
    return y


def adaptive_avg_pool2d(x, output_size):
    """2-D adaptive average pooling, as torch.nn.functional.adaptive_avg_pool2d.

    Output (i, j) is the mean of input rows [floor(i * H / P), ceil((i + 1) * H / P)) and
    columns [floor(j * W / Q), ceil((j + 1) * W / Q)): windows of varying size that may overlap
    and cover the input; ``output_size=1`` is global average pooling.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    output_size : int or (int or None, int or None): (P, Q), None keeping that input size

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    >>> fastconv.adaptive_avg_pool2d(x, (1, 2))
    array([[[[2., 3.]]]], dtype=float32)
    """
    return _adaptive_avg_pool2d(x, output_size, reference=False)


# ---- batch_norm --------------------------------------------------------------------------------

def _real(op, name, value, nonnegative=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or (nonnegative and value < 0):
        kind = "a non-negative finite number" if nonnegative else "a finite real number"
        raise (ValueError if isinstance(value, numbers.Real) and
               not isinstance(value, (bool, np.bool_)) else TypeError)(
            f"{op}: {name} must be {kind}, got {value!r}")
    return float(value)


def _channels(op, x):
    """x (N, C, *) as (N, C, HW), torch's shapes for batch norm: 2-D and more, C > 0."""
    if x.ndim < 2 or x.shape[1] == 0:
        raise ValueError(f"{op}: x must be (N, C, ...) with C > 0, e.g. (N, C, H, W), got "
                         f"shape {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], -1) if x.size else None


def _channel_vector(op, name, value, x, writable=False):
    """A (C,) operand of x's dtype as the C call takes it; the running statistics, updated in
    place (writable), must be that very array: C-contiguous, aligned, writable."""
    c = x.shape[1]
    if value is None:
        return None
    if writable and not isinstance(value, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array (it is updated in place), got "
                        f"{type(value).__name__}")
    arr = _array(op, name, value)
    _same_dtype(op, x, [(name, arr)])
    if arr.shape != (c,):
        raise ValueError(f"{op}: {name} must have shape ({c},) for x of shape {x.shape}, got "
                         f"{arr.shape}")
    if not writable:
        return _c_array(arr)
    flags = arr.flags
    if not (flags.c_contiguous and flags.aligned and arr.dtype.isnative and flags.writeable):
        raise ValueError(f"{op}: {name} is updated in place in training, so it must be a "
                         f"writable, C-contiguous, aligned native array")
    return arr


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                return_stats, reference):
    op = "batch_norm"
    x = _array(op, "x", x)
    x3 = _channels(op, x)
    training = _flag(op, "training", training)
    return_stats = _flag(op, "return_stats", return_stats)
    momentum = _real(op, "momentum", momentum)
    eps = _real(op, "eps", eps, nonnegative=True)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var go together: both arrays or "
                         f"both None")
    if running_mean is None and not training:
        raise ValueError(f"{op}: eval (training=False) normalises by running_mean and "
                         f"running_var, got None")
    rm = _channel_vector(op, "running_mean", running_mean, x, writable=training)
    rv = _channel_vector(op, "running_var", running_var, x, writable=training)
    w = _channel_vector(op, "weight", weight, x)
    b = _channel_vector(op, "bias", bias, x)
    if training and x.size == 0 and return_stats:
        raise ValueError(f"{op}: training has no batch statistics to return for an empty x "
                         f"of shape {x.shape} (torch's native_batch_norm refuses it too)")
    if training and 0 < x.size // x.shape[1] < 2:
        # (an empty batch normalises nothing and leaves the running statistics as they are,
        # as torch does)
        raise ValueError(f"{op}: training needs more than 1 value per channel, got x of "
                         f"shape {x.shape}")
    if training and rm is not None and (np.shares_memory(rm, x) or np.shares_memory(rv, x)
                                        or np.shares_memory(rm, rv)):
        raise ValueError(f"{op}: running_mean and running_var are updated in place and may "
                         f"not share memory with x or with each other")
    _check_size(op, x.shape, x.dtype.itemsize)
    dtype = np.dtype(_dtype_name(x))
    y = _empty(x.shape, dtype)
    stats = (_empty((x.shape[1],), dtype), _empty((x.shape[1],), dtype)) if return_stats \
        else (None, None)
    if x3 is not None:
        _ext.batch_norm(op, _c_array(x3), w, b, rm, rv, y.reshape(x3.shape), *stats, training,
                        momentum, eps, reference)
    elif return_stats:   # an empty batch (eval only): the statistics it would have used
        stats[0][...] = rm
        stats[1][...] = 1 / np.sqrt(rv.astype(np.float64) + eps)
    return (y,) + stats if return_stats else y


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, return_stats=False):
    """Batch normalisation per channel, as torch.nn.functional.batch_norm.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel (axis 1).  training:
    mean and the biased variance are the batch's (over every axis but 1), and running_mean /
    running_var, when given, are **updated in place** to ``(1 - momentum) * running +
    momentum * batch`` (the unbiased variance): the one documented exception to "inputs are
    never modified", as in torch.  Eval (training=False): running_mean and running_var
    normalise and are only read.

    Parameters
    ----------
    x : array_like (N, C, ...), e.g. (N, C, H, W), float32 or float64
    running_mean, running_var : ndarray (C,) of x's dtype, or None (training only); in
        training they must be writable C-contiguous numpy arrays
    weight, bias : array_like (C,), optional (1 and 0)
    training : bool
    momentum, eps : real numbers (eps >= 0, as torch)
    return_stats : bool, keyword only
        Also return (save_mean, save_invstd), the mean and 1 / sqrt(var + eps) used: the
        inputs of batch_norm_backward (torch's native_batch_norm's extra outputs).

    Notes
    -----
    The per-channel sums run in double in a fixed order, so the result is bitwise identical
    for any thread count; the channels are split among the threads.  Training needs more than
    one value per channel, except an empty batch, which (as torch) normalises nothing and
    leaves the running statistics unchanged (it has no statistics for ``return_stats``).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2)
    >>> rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    >>> fastconv.batch_norm(x, rm, rv, training=True)[:, 0].ravel().round(3)
    array([-1.213, -0.728,  0.728,  1.213], dtype=float32)
    >>> rm, rv                   # channel 0 is 0 1 4 5: mean 2.5, unbiased var 17/3
    (array([0.25, 0.45], dtype=float32), array([1.4666667, 1.4666667], dtype=float32))
    """
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                       return_stats, reference=False)


def _elementwise(op, x, out, run):
    """The frame of the elementwise ops (relu, relu6, leaky_relu): x checked, the result (out,
    which may be x itself: in place, or a new array), and run(source, result), the C call, on
    a non-empty x."""
    x_in = x
    x = _array(op, "x", x)
    in_place = isinstance(out, np.ndarray) and isinstance(x_in, np.ndarray) and (
        out is x_in or _same_memory(out, x_in))
    if in_place:
        result = _output(op, out, x.shape, x, [])
        source = result
    else:
        result = _output(op, out, x.shape, x, [("x", x_in)])
        source = _c_array(x)
    if x.size:
        run(source, result)
    return result


def _relu(x, out, reference):
    return _elementwise("relu", x, out, lambda source, result: _ext.activation(
        "relu", "relu", 0.0, source, result, reference))


def _negative_slope(op, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: negative_slope must be a real number, got {value!r}")
    return float(value)


def _relu6(x, out, reference):
    return _elementwise("relu6", x, out, lambda source, result: _ext.activation(
        "relu6", "relu6", 0.0, source, result, reference))


def _leaky_relu(x, negative_slope, out, reference):
    alpha = _negative_slope("leaky_relu", negative_slope)
    return _elementwise("leaky_relu", x, out, lambda source, result: _ext.activation(
        "leaky_relu", "leaky_relu", alpha, source, result, reference))


def relu6(x, *, out=None):
    """min(max(x, 0), 6) elementwise, as torch.nn.functional.relu6: NaN stays NaN; -0 gives
    +0, as fastconv's relu (torch returns -0.0, which compares equal); the formula of
    conv2d's fused activation="relu6".

    Parameters
    ----------
    x : array_like of any shape, float32 or float64
    out : ndarray, optional; ``out=x`` works in place (x must then be C-contiguous)

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.relu6(np.array([-1.0, 0.5, 7.0]))
    array([0. , 0.5, 6. ])
    """
    return _relu6(x, out, reference=False)


def leaky_relu(x, negative_slope=0.01, *, out=None):
    """x where x > 0, else x * negative_slope, elementwise, as torch.nn.functional.leaky_relu:
    NaN stays NaN, -0 gives -0 * negative_slope; the formula of conv2d's fused
    activation="leaky_relu".

    Parameters
    ----------
    x : array_like of any shape, float32 or float64
    negative_slope : real number, rounded to x's dtype
    out : ndarray, optional; ``out=x`` works in place (x must then be C-contiguous)

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.leaky_relu(np.array([-1.0, 0.5]), 0.1)
    array([-0.1,  0.5])
    """
    return _leaky_relu(x, negative_slope, out, reference=False)


def relu(x, *, out=None, layout="NCHW"):
    """Rectified linear unit, max(x, 0) elementwise; NaN stays NaN.

    Parameters
    ----------
    x : array_like of any shape, float32 or float64
    out : ndarray, optional; ``out=x`` works in place (x must then be C-contiguous)
    layout : "NCHW" (default) or "NHWC", accepted as by the other network ops (checked, then
        moot: an elementwise op is the same in any layout)

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.relu(np.array([-1.0, 0.5, 2.0]))
    array([0. , 0.5, 2. ])
    """
    if out is None and layout == "NCHW" and _ext.call_key((x,), ()) is not None:
        # a C-contiguous native float array, the common call: nothing to check or copy
        result = _empty(x.shape, _F32 if x.itemsize == 4 else _F64)
        if x.size:
            _ext.activation("relu", "relu", 0.0, x, result, False)
        return result
    _layout("relu", layout)
    return _relu(x, out, reference=False)


def _add(a, b, activation, negative_slope, out, reference):
    op = "add"
    a_in, b_in = a, b
    a, b = _array(op, "a", a), _array(op, "b", b)
    _same_dtype(op, a, [("b", b)], x_name="a")
    if a.shape != b.shape:
        raise ValueError(f"{op}: a and b must have the same shape (no broadcasting), got "
                         f"{a.shape} and {b.shape}")
    activation, alpha, _ = _epilogue(op, activation, negative_slope, None, a)
    if out is None:
        _check_size(op, a.shape, a.dtype.itemsize)
    inputs, sources = [], []
    for name, given, arr in (("a", a_in, a), ("b", b_in, b)):
        # out may be a or b itself (in place); any other overlap is refused by _output
        same = isinstance(out, np.ndarray) and isinstance(given, np.ndarray) and (
            out is given or _same_memory(out, given))
        if not same:
            inputs.append((name, given))
        sources.append(None if same else arr)
    result = _output(op, out, a.shape, a, inputs)
    if a.size:
        _ext.add(op, activation, alpha,
                 *(result if src is None else _c_array(src) for src in sources), result,
                 reference)
    return result


def add(a, b, *, activation=None, negative_slope=None, out=None):
    """a + b elementwise, then an optional activation, in one pass: a residual block's join.

    Parameters
    ----------
    a, b : array_like of one shape (no broadcasting), float32 or float64
    activation : None or one of the epilogue's activations (as conv2d's), applied to a + b
    negative_slope : real, for activation="leaky_relu" only (default 0.01)
    out : ndarray, optional; may be a or b itself (in place), no other overlap

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.add(np.array([1.0, -3.0]), np.array([2.0, 1.0]), activation="relu")
    array([3., 0.])
    """
    return _add(a, b, activation, negative_slope, out, reference=False)


# ---- backward passes --------------------------------------------------------------------------
# Each takes the gradient of a loss with respect to the op's output and returns the gradients
# with respect to its inputs, as torch.autograd would.

def _grad_output(op, grad_output, expected_shape, what):
    """grad_output as an array of the forward's output shape; what() says of which forward
    (a function: the message is formatted only when it is raised)."""
    g = _array(op, "grad_output", grad_output)
    if g.shape != tuple(expected_shape):
        raise ValueError(f"{op}: grad_output must have the forward's output shape "
                         f"{tuple(expected_shape)} ({what()}), got {g.shape}")
    return g


def _output_mask(op, output_mask):
    try:
        mask = tuple(bool(m) for m in output_mask)
    except (TypeError, ValueError):  # (ValueError: an element that is an array of several)
        raise TypeError(f"{op}: output_mask must be a sequence of 3 bools, got "
                        f"{output_mask!r}") from None
    if len(mask) != 3:
        raise ValueError(f"{op}: output_mask must be a sequence of 3 bools (grad_input, "
                         f"grad_weight, grad_bias), got {output_mask!r}")
    return mask


def _backward_operands(op, grad_output, x, weight, output_mask):
    """(grad_output, x, weight) as arrays of one dtype, and the mask as three bools."""
    x = _array(op, "x", x)
    weight = _array(op, "weight", weight)
    g = _array(op, "grad_output", grad_output)
    _same_dtype(op, x, [("weight", weight), ("grad_output", g)])
    return g, x, weight, _output_mask(op, output_mask)


def _conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups, output_mask,
                     reference, max_workspace_bytes=None, algorithm="auto", precision=None,
                     key=None, layout="NCHW"):
    """conv2d_backward; key as _conv2d's (conv2d_backward's fast path, NCHW only)."""
    op = "conv2d_backward"
    nhwc = _layout(op, layout) == "NHWC"
    workspace = _workspace_limit(op, max_workspace_bytes)
    x = _array(op, "x", x)
    weight = _array(op, "weight", weight)
    g = _array(op, "grad_output", grad_output)
    _same_dtype(op, x, [("weight", weight), ("grad_output", g)])
    mask = _output_mask(op, output_mask)
    x4, unbatched, stride, pads, dilation, groups, geometry = _conv_geometry(
        op, _as_nchw(x, layout), weight, stride, padding, dilation, groups,
        layout="NHWC" if nhwc else "NCHW")
    shape4 = geometry.output_shape
    if nhwc:   # channels last: the NCHW geometry's shapes reordered, x passed as it is
        shape4, x4 = _to_nhwc(shape4), x[None] if unbatched else x
    g = _grad_output(op, g, shape4[1:] if unbatched else shape4,
                     lambda: f"x shape {x.shape}, weight shape {weight.shape}, stride {stride}, "
                             f"padding {pads}, dilation {dilation}, groups {groups}"
                             + (", layout 'NHWC'" if nhwc else ""))
    if nhwc and algorithm not in ("auto", "im2col"):
        raise ValueError(f"{op}: layout='NHWC' runs one algorithm for grad_input, the GEMM "
                         f"('im2col' or 'auto'), got algorithm={algorithm!r}")
    requested = algorithm
    algorithm = _backward_input_algorithm(op, algorithm, precision, x, weight, stride, dilation)
    if key is not None and not reference:
        _remember(_conv2d_backward_calls, key, (geometry, unbatched, mask, requested, workspace))
    return _conv2d_backward_run(geometry, _c_array(g.reshape(shape4)), _c_array(x4),
                                _c_array(weight), x.shape, mask, reference, workspace, algorithm,
                                nhwc)


def _conv2d_backward_run(geometry, g4, x4, weight, x_shape, mask, reference, workspace,
                         algorithm, nhwc=False):
    """The gradients' allocation and C call on checked C-contiguous 4-D operands (x4 and g4
    channels last where nhwc)."""
    dtype = _F32 if x4.itemsize == 4 else _F64
    grad_input = _empty(x_shape, dtype) if mask[0] else None
    grad_weight = _empty(weight.shape, dtype) if mask[1] else None
    grad_bias = _empty((weight.shape[0],), dtype) if mask[2] else None
    if any(mask):
        _ext.conv2d_backward("conv2d_backward", geometry, g4, x4, weight,
                             None if grad_input is None else grad_input.reshape(x4.shape),
                             grad_weight, grad_bias, reference, workspace, algorithm, nhwc)
    return grad_input, grad_weight, grad_bias


_conv2d_backward_calls = {}


def _conv2d_backward_cached(entry, g, x, weight, precision):
    """conv2d_backward whose key found its entry (see _remember): the C call.  "auto" is
    resolved at the precision in force, as _backward_input_algorithm does."""
    geometry, unbatched, mask, algorithm, workspace = entry
    if algorithm == "auto" and (_config.get_precision() if precision is None
                                else precision) == "high":
        algorithm = _ext.AUTO_HIGH
    return _conv2d_backward_run(geometry, g.reshape(geometry.output_shape),
                                x[None] if unbatched else x, weight, x.shape, mask, False,
                                workspace, algorithm)


def _backward_input_algorithm(op, algorithm, precision, x, weight, stride, dilation):
    """conv2d_backward's algorithm= for grad_input, as the C call takes it: "auto" (the
    GEMM at precision "highest", Winograd where the forward's rule prefers it at "high"),
    "im2col" (the GEMM) or "winograd"."""
    if not isinstance(algorithm, str) or algorithm not in ("auto", "im2col", "winograd"):
        raise ValueError(f"{op}: algorithm must be one of 'auto', 'im2col', 'winograd' "
                         f"(grad_input's; grad_weight and grad_bias always run the GEMM), got "
                         f"{algorithm!r}")
    if algorithm == "winograd":
        _check_winograd(op, x, weight, stride, dilation)
    high = _precision(op, precision) == "high"
    return _ext.AUTO_HIGH if algorithm == "auto" and high else algorithm


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    output_mask=(True, True, True), max_workspace_bytes=None, algorithm="auto",
                    precision=None, layout="NCHW"):
    """Gradients of conv2d with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, the shape of ``conv2d(x, weight, ...)``'s output
    x, weight, stride, padding, dilation, groups : as for `conv2d` (same dtype for all)
    output_mask : three bools, which of (grad_input, grad_weight, grad_bias) to compute
    max_workspace_bytes : int, optional
        Workspace per thread the gradients' GEMMs may allocate, as for `conv2d`; None means
        16 MiB.  A smaller limit may be slower and never changes a result; below the minimum
        it raises ValueError saying the minimum.
    algorithm : "auto", "im2col" or "winograd"
        How grad_input is computed (grad_weight and grad_bias always run the GEMM): "im2col"
        the GEMM (col2im, exact-order sums); "winograd" F(4x4, 3x3) on grad_output with the
        filters turned by 180 degrees (3x3, stride 1, dilation 1, float32 only; the rounding
        and error bound of conv2d's "winograd"); "auto" the GEMM at precision "highest", and
        at "high" Winograd where conv2d's rule prefers it for that convolution.
    precision : None, "highest" or "high"
        As for `conv2d`: what algorithm="auto" may trade for speed (None: the setting of
        :func:`fastconv.set_precision`).
    layout : "NCHW" (default) or "NHWC"
        "NHWC": x and grad_input are channels last, (N, H, W, C) or (H, W, C), and so is
        grad_output (N, P, Q, K); the weights stay (K, C / groups, R, S).  It runs the GEMM on
        the pixels' contiguous channels (no transposed copy), grad_input by "im2col" only;
        its sums run in another order than NCHW's, so the two agree to rounding.

    Returns
    -------
    (grad_input, grad_weight, grad_bias) : arrays of the shapes of x, weight and (K,); each
        None where output_mask is False.  The sums over the batch are bitwise identical for
        any thread count.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> w = np.ones((1, 1, 2, 2), np.float32)
    >>> gx, gw, gb = fastconv.conv2d_backward(np.ones((1, 1, 2, 2), np.float32), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]], dtype=float32), array([4.], dtype=float32))
    """
    if _layout("conv2d_backward", layout) == "NHWC":  # the per-shape cache is NCHW's
        return _conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups,
                                output_mask, reference=False,
                                max_workspace_bytes=max_workspace_bytes, algorithm=algorithm,
                                precision=precision, layout=layout)
    key = _ext.call_key((grad_output, x, weight),
                        (stride, padding, dilation, groups, output_mask, max_workspace_bytes,
                         algorithm, precision))
    entry = _conv2d_backward_calls.get(key)
    if entry is not None:
        return _conv2d_backward_cached(entry, grad_output, x, weight, precision)
    return _conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups,
                            output_mask, reference=False, max_workspace_bytes=max_workspace_bytes,
                            algorithm=algorithm, precision=precision, key=key)


def _conv_transpose2d_backward(grad_output, x, weight, stride, padding, output_padding, groups,
                               dilation, output_mask, reference):
    op = "conv_transpose2d_backward"
    g, x, weight, mask = _backward_operands(op, grad_output, x, weight, output_mask)
    x4, unbatched, extra, geometry = _conv_transpose_geometry(
        op, x, weight, stride, padding, output_padding, groups, dilation)
    shape4 = geometry.x_shape
    g = _grad_output(op, g, shape4[1:] if unbatched else shape4,
                     lambda: f"x shape {x.shape}, weight shape {weight.shape}, stride {stride}, "
                             f"padding {padding}, output_padding {output_padding}, "
                             f"groups {groups}, dilation {dilation}")
    dtype = np.dtype(_dtype_name(x))
    grad_input = _empty(x.shape, dtype) if mask[0] else None
    grad_weight = _empty(weight.shape, dtype) if mask[1] else None
    grad_bias = _empty((shape4[1],), dtype) if mask[2] else None
    if any(mask):
        gi = None
        if grad_input is not None:   # x's shape, or the conv's larger output to crop
            gi = (grad_input.reshape(x4.shape) if extra == (0, 0)
                  else np.empty(geometry.output_shape, dtype))
        _ext.conv_transpose2d_backward(op, geometry, _c_array(g.reshape(shape4)),
                                       _zero_extended(x4, extra), _c_array(weight), gi,
                                       grad_weight, grad_bias, reference)
        if grad_input is not None and extra != (0, 0):
            grad_input.reshape(x4.shape)[...] = gi[:, :, :x4.shape[2], :x4.shape[3]]
    return grad_input, grad_weight, grad_bias


def conv_transpose2d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, output_mask=(True, True, True)):
    """Gradients of `conv_transpose2d` with respect to its input, weight and bias.

    grad_input is conv2d(grad_output, weight) with the forward's stride, padding, dilation and
    groups; grad_weight is conv2d's weight gradient with x and grad_output in swapped roles;
    grad_bias sums grad_output over the batch and the pixels.

    Parameters
    ----------
    grad_output : array_like, the shape of ``conv_transpose2d(x, weight, ...)``'s output
    x, weight, stride, padding, output_padding, groups, dilation : as for `conv_transpose2d`
    output_mask : three bools, which of (grad_input, grad_weight, grad_bias) to compute

    Returns
    -------
    (grad_input, grad_weight, grad_bias) : arrays of the shapes of x, weight and (C_out,);
        each None where output_mask is False.  Bitwise the same for any thread count.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.float32([[[[1, 2], [3, 4]]]])
    >>> gx, gw, gb = fastconv.conv_transpose2d_backward(
    ...     np.ones((1, 1, 4, 4), np.float32), x, np.ones((1, 1, 2, 2), np.float32), stride=2)
    >>> gx[0, 0], gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]], dtype=float32), array([[10., 10.],
           [10., 10.]], dtype=float32), array([16.], dtype=float32))
    """
    return _conv_transpose2d_backward(grad_output, x, weight, stride, padding, output_padding,
                                      groups, dilation, output_mask, reference=False)


def _input_shape(op, input_shape, itemsize):
    """input_shape as a tuple (N, C, H, W) or (C, H, W) of ints, C, H, W positive, for a
    gradient of that shape with `itemsize`-byte elements that can exist."""
    try:
        shape = tuple(operator.index(v) for v in input_shape)
    except TypeError:
        raise TypeError(f"{op}: input_shape must be a tuple of ints (N, C, H, W) or (C, H, W), "
                        f"got {input_shape!r}") from None
    if len(shape) not in (3, 4) or min(shape) < 0 or min(shape[-3:]) == 0 or \
            max(shape) > _MAX_INT:
        raise ValueError(f"{op}: input_shape must be (N, C, H, W) or (C, H, W) with positive "
                         f"C, H, W, got {input_shape!r}")
    # before anything of this shape exists (avg_pool2d_backward broadcasts a stand-in to it)
    _check_size(op, shape, itemsize, "grad_input")
    return shape


def _max_pool2d_backward(grad_output, indices, input_shape, reference, layout="NCHW"):
    op = "max_pool2d_backward"
    g = _array(op, "grad_output", grad_output)
    shape = _input_shape(op, input_shape, g.dtype.itemsize)
    nhwc = _layout(op, layout) == "NHWC"
    # in NHWC the sizes' places: P, Q (and H, W) before the channels
    spatial = slice(-3, -1) if nhwc else slice(-2, None)
    batch = shape[:-3] + (shape[-1],) if nhwc else shape[:-2]
    if g.ndim != len(shape) or (g.shape[:-3] + (g.shape[-1],) if nhwc else g.shape[:-2]) \
            != batch or 0 in g.shape[spatial]:
        want = shape[:-3] + ("P", "Q", shape[-1]) if nhwc else shape[:-2] + ("P", "Q")
        raise ValueError(f"{op}: grad_output must have shape {want} "
                         f"(P, Q > 0) to match input_shape {shape}, got {g.shape}")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer array (max_pool2d's "
                        f"return_indices), got dtype {idx.dtype}")
    if idx.shape != g.shape:
        raise ValueError(f"{op}: indices must have the shape of grad_output {g.shape}, got "
                         f"{idx.shape}")
    plane = shape[spatial][0] * shape[spatial][1]
    given = idx
    if idx.dtype != np.int64 or not idx.flags.c_contiguous or not idx.flags.aligned or \
            not idx.dtype.isnative:
        if idx.dtype.kind == "u" and idx.size and idx.max() > plane:
            idx = np.full(idx.shape, plane, np.int64)  # out of range (reported from `given`)
        else:
            idx = np.require(idx, np.int64, ["C_CONTIGUOUS", "ALIGNED"])
    shape4 = shape if len(shape) == 4 else (1,) + shape
    grad_input = _empty(shape, np.dtype(_dtype_name(g)))
    g4 = g.reshape((shape4[0],) + g.shape[-3:])
    if shape4[0] and not _ext.max_pool2d_backward(
            op, _c_array(g4), idx.reshape(g4.shape), grad_input.reshape(shape4), reference,
            nhwc):
        bad = tuple(int(i) for i in np.argwhere((given < -1) | (given >= plane))[0])
        raise ValueError(f"{op}: indices must lie in [-1, H * W = {plane}) for input_shape "
                         f"{shape}, got {int(given[bad])} at {bad}")
    return grad_input


def max_pool2d_backward(grad_output, indices, input_shape, *, layout="NCHW"):
    """Gradient of max_pool2d with respect to its input.

    Parameters
    ----------
    grad_output : array_like, (N, C, P, Q) or (C, P, Q), float32 or float64
    indices : integer array of grad_output's shape, from ``max_pool2d(..., return_indices=True)``:
        flat indices h * W + w into each input plane, -1 for a window wholly in the padding
    input_shape : the shape of max_pool2d's input, (N, C, H, W) or (C, H, W)
    layout : "NCHW" (default) or "NHWC": grad_output and indices (N, P, Q, C), input_shape
        and the result (N, H, W, C); the indices still flat into each channel's plane, as
        ``max_pool2d(..., layout="NHWC")`` returns them

    Returns
    -------
    ndarray of input_shape: each gradient added at its index (overlapping windows accumulate;
    -1 contributes nothing).  An index outside [-1, H * W) raises ValueError.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[1., 5.], [3., 2.]]], np.float32)
    >>> y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    >>> fastconv.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    array([[[0., 1.],
            [0., 0.]]], dtype=float32)
    """
    return _max_pool2d_backward(grad_output, indices, input_shape, reference=False,
                                layout=layout)


def _avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, reference, layout="NCHW"):
    op = "avg_pool2d_backward"
    g = _array(op, "grad_output", grad_output)
    shape = _input_shape(op, input_shape, g.dtype.itemsize)
    nhwc = _layout(op, layout) == "NHWC"
    # the forward's geometry, on a stand-in of input_shape that owns no memory
    like = np.broadcast_to(np.zeros((), g.dtype), shape)
    _, _, kernel, stride, pads, _, geometry = _pool_geometry(
        op, _as_nchw(like, layout), kernel_size, stride, padding, 1, ceil_mode)
    shape4 = _to_nhwc(geometry.output_shape) if nhwc else geometry.output_shape
    count_include_pad = _flag(op, "count_include_pad", count_include_pad)
    divisor_override = _divisor_override(op, divisor_override)
    g = _grad_output(op, g, shape4[1:] if len(shape) == 3 else shape4,
                     lambda: f"input_shape {shape}, kernel_size {kernel}, stride {stride}, "
                             f"padding {pads}, ceil_mode {bool(ceil_mode)}")
    grad_input = _empty(shape, np.dtype(_dtype_name(g)))
    if shape4[0]:
        run = _ext.avg_pool2d_backward_nhwc if nhwc else _ext.avg_pool2d_backward
        run(op, geometry, _c_array(g.reshape(shape4)),
            grad_input.reshape((shape4[0],) + shape[-3:]), count_include_pad, divisor_override,
            *(() if nhwc else (reference,)))
    return grad_input


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None, *,
                        layout="NCHW"):
    """Gradient of avg_pool2d with respect to its input.

    Parameters
    ----------
    grad_output : array_like, the shape of ``avg_pool2d``'s output, float32 or float64
    input_shape : the shape of avg_pool2d's input, (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override : as for
        `avg_pool2d`
    layout : "NCHW" (default) or "NHWC": grad_output, input_shape and the result channels
        last

    Returns
    -------
    ndarray of input_shape: each window element receives grad_output / the forward's divisor
    (overlapping windows accumulate).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool2d_backward(np.array([[[4.0]]]), (1, 2, 2), 2)
    array([[[1., 1.],
            [1., 1.]]])
    """
    return _avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding,
                                ceil_mode, count_include_pad, divisor_override, reference=False,
                                layout=layout)


def _elementwise_backward(op, grad_output, name, value, out, run):
    """The frame of the elementwise backward ops: grad_output and the forward's array `name`
    checked, the result (out, which may be grad_output: in place, or a new array), and
    run(source, value, result), the C call, on a non-empty grad_output."""
    g_in = grad_output
    g = _array(op, "grad_output", grad_output)
    y = _array(op, name, value)
    _same_dtype(op, g, [(name, y)], x_name="grad_output")
    if y.shape != g.shape:
        raise ValueError(f"{op}: {name} must have the shape of grad_output {g.shape}, got "
                         f"{y.shape}")
    in_place = isinstance(out, np.ndarray) and isinstance(g_in, np.ndarray) and (
        out is g_in or _same_memory(out, g_in))
    if in_place:
        result = _output(op, out, g.shape, g, [(name, value)])
        source = result
    else:
        result = _output(op, out, g.shape, g, [("grad_output", g_in), (name, value)])
        source = _c_array(g)
    if g.size:
        run(source, _c_array(y), result)
    return result


def _adaptive_avg_pool2d_backward(grad_output, input_shape, reference):
    op = "adaptive_avg_pool2d_backward"
    g = _array(op, "grad_output", grad_output)
    shape = _input_shape(op, input_shape, g.dtype.itemsize)
    if g.ndim != len(shape) or g.shape[:-2] != shape[:-2] or 0 in g.shape[-2:]:
        raise ValueError(f"{op}: grad_output must have shape {shape[:-2] + ('P', 'Q')} "
                         f"(P, Q > 0) to match input_shape {shape}, got {g.shape}")
    grad_input = _empty(shape, np.dtype(_dtype_name(g)))
    g4 = g if g.ndim == 4 else g[None]
    if g4.shape[0]:
        _ext.adaptive_avg_pool2d(op, _c_array(g4), grad_input.reshape((g4.shape[0],) + shape[-3:]),
                                 True, reference)
    return grad_input


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """Gradient of adaptive_avg_pool2d with respect to its input.

    Parameters
    ----------
    grad_output : array_like (N, C, P, Q) or (C, P, Q), float32 or float64: the forward's
        output shape, which gives the output size
    input_shape : the shape of adaptive_avg_pool2d's input, (N, C, H, W) or (C, H, W)

    Returns
    -------
    ndarray of input_shape: each window element receives grad_output / the window's size
    (overlapping windows accumulate).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d_backward(np.array([[[6.0]]]), (1, 2, 3))
    array([[[1., 1., 1.],
            [1., 1., 1.]]])
    """
    return _adaptive_avg_pool2d_backward(grad_output, input_shape, reference=False)


def _batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                         output_mask, reference):
    op = "batch_norm_backward"
    x = _array(op, "x", x)
    g = _array(op, "grad_output", grad_output)
    _same_dtype(op, x, [("grad_output", g)])
    x3 = _channels(op, x)
    if g.shape != x.shape:
        raise ValueError(f"{op}: grad_output must have x's shape {x.shape}, got {g.shape}")
    training = _flag(op, "training", training)
    mask = _output_mask(op, output_mask)
    w = _channel_vector(op, "weight", weight, x)
    mean = _channel_vector(op, "save_mean", save_mean, x)
    invstd = _channel_vector(op, "save_invstd", save_invstd, x)
    if mean is None or invstd is None:
        raise TypeError(f"{op}: save_mean and save_invstd must be arrays of shape "
                        f"({x.shape[1]},), got None")
    _check_size(op, x.shape, x.dtype.itemsize, "grad_input")
    dtype = np.dtype(_dtype_name(x))
    grads = [_empty(shape, dtype) if m else None
             for m, shape in zip(mask, (x.shape, (x.shape[1],), (x.shape[1],)))]
    if x3 is not None:
        if any(mask):
            _ext.batch_norm_backward(
                op, _c_array(g.reshape(x3.shape)), _c_array(x3), w, mean, invstd,
                None if grads[0] is None else grads[0].reshape(x3.shape), grads[1], grads[2],
                training, reference)
    else:                 # an empty batch: the sums are 0
        for grad in grads[1:]:
            if grad is not None:
                grad[...] = 0
    return tuple(grads)


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training=True, *,
                        output_mask=(True, True, True)):
    """Gradients of batch_norm with respect to x, weight and bias.

    Parameters
    ----------
    grad_output : array_like of x's shape
    x, weight : batch_norm's input and weight (None: 1)
    save_mean, save_invstd : (C,): the mean and 1 / sqrt(var + eps) the forward used, as
        ``batch_norm(..., return_stats=True)`` returns them (eval: the running mean and
        1 / sqrt(running_var + eps))
    training : bool, the forward's mode: in training the batch statistics depend on x,
        which adds their terms to grad_input
    output_mask : three bools, which of (grad_input, grad_weight, grad_bias) to compute

    Returns
    -------
    (grad_input, grad_weight, grad_bias): grad_weight = sum(g * (x - mean) * invstd),
        grad_bias = sum(g) over every axis but 1; grad_input = weight * invstd * (g -
        mean(g) - (x - mean) * invstd**2 * mean(g * (x - mean))) in training, weight *
        invstd * g in eval; None where output_mask is False.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.array([[1.0], [2.0], [6.0]])
    >>> y, mean, invstd = fastconv.batch_norm(x, None, None, training=True, return_stats=True)
    >>> mean, invstd.round(4)
    (array([3.]), array([0.4629]))
    >>> g = np.array([[1.0], [0.0], [0.0]])
    >>> gx, gw, gb = fastconv.batch_norm_backward(g, x, None, mean, invstd)
    >>> gx.round(4), gw.round(4), gb
    (array([[ 0.1763],
           [-0.2204],
           [ 0.0441]]), array([-0.9258]), array([1.]))
    """
    return _batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                                output_mask, reference=False)


def _relu_backward(grad_output, output, out, reference):
    return _elementwise_backward(
        "relu_backward", grad_output, "output", output, out,
        lambda g, y, result: _ext.activation_backward("relu_backward", "relu", 0.0, g, y, result,
                                                      reference))


def _relu6_backward(grad_output, x, out, reference):
    op = "relu6_backward"
    return _elementwise_backward(op, grad_output, "x", x, out, lambda g, v, result:
                                 _ext.activation_backward(op, "relu6", 0.0, g, v, result,
                                                          reference))


def _leaky_relu_backward(grad_output, x, negative_slope, out, reference):
    op = "leaky_relu_backward"
    alpha = _negative_slope(op, negative_slope)
    return _elementwise_backward(op, grad_output, "x", x, out, lambda g, v, result:
                                 _ext.activation_backward(op, "leaky_relu", alpha, g, v, result,
                                                          reference))


def relu6_backward(grad_output, x, *, out=None):
    """Gradient of relu6: grad_output where 0 < x < 6, else 0.

    As torch's ``hardtanh_backward(grad_output, x, 0, 6)``: a NaN x gives 0 (unlike
    relu_backward, where torch passes it), and so do -0, +0 and 6.

    Parameters
    ----------
    grad_output : array_like of any shape, float32 or float64
    x : array_like of the same shape and dtype: relu6's input (its output gives the same mask)
    out : ndarray, optional; ``out=grad_output`` works in place

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.relu6_backward(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 3.0, 6.0]))
    array([0., 2., 0.])
    """
    return _relu6_backward(grad_output, x, out, reference=False)


def leaky_relu_backward(grad_output, x, negative_slope=0.01, *, out=None):
    """Gradient of leaky_relu: grad_output where x > 0, else grad_output * negative_slope.

    As torch's ``leaky_relu_backward``: a NaN or a zero x takes the negative side.

    Parameters
    ----------
    grad_output : array_like of any shape, float32 or float64
    x : array_like of the same shape and dtype: leaky_relu's input (its output gives the same
        mask when negative_slope > 0)
    negative_slope : real number, as for the forward
    out : ndarray, optional; ``out=grad_output`` works in place

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.leaky_relu_backward(np.array([1.0, 2.0]), np.array([-1.0, 3.0]), 0.5)
    array([0.5, 2. ])
    """
    return _leaky_relu_backward(grad_output, x, negative_slope, out, reference=False)


def relu_backward(grad_output, output, *, out=None):
    """Gradient of relu: 0 where output <= 0, else grad_output.

    As torch's ``threshold_backward(grad_output, output, 0)``: the gradient passes where output
    is NaN (relu propagates NaN, and NaN <= 0 is false); -0 and +0 give 0, +inf passes.

    Parameters
    ----------
    grad_output : array_like of any shape, float32 or float64
    output : array_like of the same shape and dtype: relu's output, or its input x (the mask
        ``output <= 0`` is the same)
    out : ndarray, optional; ``out=grad_output`` works in place

    Example
    -------
    >>> import numpy as np, fastconv
    >>> fastconv.relu_backward(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 0.5]))
    array([0., 0., 3.])
    """
    return _relu_backward(grad_output, output, out, reference=False)


# ---- linear -----------------------------------------------------------------------------------

def _linear_geometry(op, x, weight):
    """linear's validated sizes: (rows, in_features, out_features, output shape), the rows
    being x's leading dimensions flattened."""
    if x.ndim < 1:
        raise ValueError(f"{op}: x must have at least 1 dimension (..., in_features), got "
                         f"shape {x.shape}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (out_features, in_features), got shape "
                         f"{weight.shape}")
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise ValueError(f"{op}: x has {x.shape[-1]} features in its last axis but weight "
                         f"expects in_features={in_features} (x shape {x.shape}, weight shape "
                         f"{weight.shape})")
    out_shape = x.shape[:-1] + (out_features,)
    _check_size(op, out_shape, x.dtype.itemsize)
    rows = x.shape[0] if x.ndim == 2 else math.prod(x.shape[:-1])
    return rows, in_features, out_features, out_shape


def _rows(arr, rows, cols):
    """arr (C-contiguous) as a (rows, cols) matrix: itself when it already is one."""
    return arr if arr.ndim == 2 else arr.reshape(rows, cols)


def _linear(x, weight, bias, activation, out, reference, negative_slope=None, residual=None,
            key=None):
    """linear; key as _conv2d's (linear's fast path)."""
    op = "linear"
    x_in, w_in, b_in, r_in = x, weight, bias, residual
    x, weight, bias, activation, alpha, residual = _layer_operands(
        op, x, weight, bias, activation, negative_slope, residual)
    rows, in_features, out_features, out_shape = _linear_geometry(op, x, weight)
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"{op}: bias must have shape ({out_features},) to match weight shape "
                         f"{weight.shape}, got {bias.shape}")
    if residual is not None:
        residual = _residual_rows(op, residual, out_shape, (rows, out_features), x, weight)
    result = _output(op, out, out_shape, x, [("x", x_in), ("weight", w_in), ("bias", b_in),
                                             ("residual", r_in)])
    if key is not None and not reference:
        _remember(_linear_calls, key, (rows, in_features, out_features, out_shape, activation,
                                       alpha))
    if rows and out_features:
        _ext.linear(op, _rows(_c_array(x), rows, in_features), _c_array(weight),
                    None if bias is None else _c_array(bias),
                    _rows(result, rows, out_features), activation, reference, residual, alpha)
    return result


_linear_calls = {}


def _linear_cached(entry, x, weight, bias, residual, out):
    """linear whose key found its entry (see _remember): out= checked, the C call."""
    rows, in_features, out_features, out_shape, activation, alpha = entry
    if out is None:
        result = _empty(out_shape, _F32 if x.itemsize == 4 else _F64)
    else:
        result = _output("linear", out, out_shape, x, [("x", x), ("weight", weight),
                                                      ("bias", bias), ("residual", residual)])
    if rows and out_features:
        _ext.linear("linear", _rows(x, rows, in_features), weight, bias,
                    _rows(result, rows, out_features), activation, False,
                    None if residual is None else _rows(residual, rows, out_features), alpha)
    return result


def linear(x, weight, bias=None, *, activation=None, negative_slope=None, residual=None,
           out=None):
    """Fully connected layer, y = x @ weight.T + bias, as torch.nn.functional.linear.

    Runs on fastconv's own packed GEMM and thread pool (no BLAS).

    Parameters
    ----------
    x : array_like, (..., in_features), float32 or float64: one sample (in_features,), a
        batch (N, in_features), or any leading dimensions (flattened into rows)
    weight : array_like, (out_features, in_features), same dtype
    bias : array_like (out_features,), optional
    activation : None, "relu", "relu6" or "leaky_relu" (``fastconv._ext.ACTIVATIONS``)
        ReLU fused into the GEMM's store, the others applied to each finished block of the
        output: torch.nn.functional's formulas, NaN passing through; "relu" and "relu6" give
        +0 for -0.
    negative_slope : float, optional
        "leaky_relu"'s slope for negative values (default 0.01, as torch); only with it.
    residual : array_like, optional
        Of the output's shape and dtype, added before the activation:
        ``y = act(x @ weight.T + bias + residual)``.  Never modified; it may not overlap
        ``out``.
    out : ndarray, optional
        C-contiguous, of the output's shape and dtype, not overlapping any input.

    Returns
    -------
    ndarray (..., out_features): each element bias[o] + sum over k = 0, 1, ... of
    x[..., k] * weight[o, k], in that order whatever the thread count (bitwise reproducible).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    >>> w = np.array([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]], np.float32)
    >>> fastconv.linear(x, w, np.array([0.0, 0.0, 1.0], np.float32))
    array([[ 1. , -1. ,  2.5],
           [ 3. , -1. ,  4.5]], dtype=float32)
    >>> fastconv.linear(x, w, activation="relu")[0]
    array([1. , 0. , 1.5], dtype=float32)
    >>> fastconv.linear(x, w, activation="leaky_relu", negative_slope=0.5)[0]
    array([ 1. , -0.5,  1.5], dtype=float32)
    """
    key = _ext.call_key((x, weight, bias, residual), (activation, negative_slope))
    entry = _linear_calls.get(key)
    if entry is not None:
        return _linear_cached(entry, x, weight, bias, residual, out)
    return _linear(x, weight, bias, activation, out, reference=False,
                   negative_slope=negative_slope, residual=residual, key=key)


def _linear_backward(grad_output, x, weight, output_mask, reference):
    op = "linear_backward"
    g, x, weight, mask = _backward_operands(op, grad_output, x, weight, output_mask)
    rows, in_features, out_features, out_shape = _linear_geometry(op, x, weight)
    g = _grad_output(op, g, out_shape,
                     lambda: f"x shape {x.shape}, weight shape {weight.shape}")
    dtype = _F32 if x.dtype.itemsize == 4 else _F64
    grad_input = _empty(x.shape, dtype) if mask[0] else None
    grad_weight = _empty(weight.shape, dtype) if mask[1] else None
    grad_bias = _empty((out_features,), dtype) if mask[2] else None
    if any(mask):
        _ext.linear_backward(op, _rows(_c_array(g), rows, out_features),
                             _rows(_c_array(x), rows, in_features), _c_array(weight),
                             None if grad_input is None else
                             _rows(grad_input, rows, in_features),
                             grad_weight, grad_bias, reference)
    return grad_input, grad_weight, grad_bias


def linear_backward(grad_output, x, weight, *, output_mask=(True, True, True)):
    """Gradients of linear with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, the shape of ``linear(x, weight)``'s output (..., out_features)
    x, weight : as for `linear` (same dtype for all)
    output_mask : three bools, which of (grad_input, grad_weight, grad_bias) to compute

    Returns
    -------
    (grad_input, grad_weight, grad_bias) : arrays of the shapes of x, weight and
        (out_features,); each None where output_mask is False.  grad_input = grad_output @
        weight; grad_weight = grad_output^T @ x and grad_bias = grad_output summed over the
        rows, each element one sum over the rows in order: bitwise identical for any thread
        count.  (For a fused ReLU, pass ``relu_backward(grad, y)`` as grad_output.)

    Example
    -------
    >>> import numpy as np, fastconv
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> w = np.array([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
    >>> gx, gw, gb = fastconv.linear_backward(np.ones((2, 3)), x, w)
    >>> gx
    array([[ 2.5, -0.5],
           [ 2.5, -0.5]])
    >>> gw, gb
    (array([[4., 6.],
           [4., 6.],
           [4., 6.]]), array([2., 2., 2.]))
    """
    return _linear_backward(grad_output, x, weight, output_mask, reference=False)


# the image filters live in filtering.py (which uses this module's helpers, hence the late
# import); they are ops like the others
from .filtering import filter2d, sep_filter2d  # noqa: E402
