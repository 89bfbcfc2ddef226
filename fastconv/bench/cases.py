"""The cases of `fastconv bench`: the layers' shapes, the workloads (fastconv and each peer on
the same arrays) and the NumPy code users write by hand, which is measured as a peer."""
import dataclasses
import re
from collections import namedtuple

import numpy as np

from ..ops import _ext
from ..ops.filtering import filter2d, gaussian_blur, gaussian_kernel
from ..ops.functional import avg_pool2d, conv2d, conv2d_backward, max_pool2d, relu
from ..ops.functional import conv_transpose2d
from ..ops.plans import explain
from .peers import PEERS
from .targets import conv_rule


# padding: an int, or (pad_h, pad_w) for a kernel that is not square (Inception's 1x7)
ConvShape = namedtuple("ConvShape", "name n c h w k r s stride padding groups dilation",
                       defaults=(1,))

# Convolution layers as (N, C, H, W, K, R, S, stride, padding, groups[, dilation]), from the
# networks users actually run: a row of each kind of layer of LeNet, AlexNet, VGG, ResNet,
# MobileNet, Inception and U-Net.
CONV_SHAPES = [
    ConvShape("lenet_c1", 64, 1, 28, 28, 6, 5, 5, 1, 2, 1),
    ConvShape("lenet_c2", 64, 6, 14, 14, 16, 5, 5, 1, 0, 1),
    ConvShape("alexnet_c1", 1, 3, 227, 227, 96, 11, 11, 4, 0, 1),
    ConvShape("vgg_3x3", 1, 64, 112, 112, 64, 3, 3, 1, 1, 1),
    ConvShape("resnet_3x3_b1", 1, 128, 28, 28, 128, 3, 3, 1, 1, 1),
    ConvShape("resnet_3x3_b32", 32, 128, 28, 28, 128, 3, 3, 1, 1, 1),
    ConvShape("resnet_1x1", 1, 256, 56, 56, 64, 1, 1, 1, 0, 1),
    ConvShape("resnet_7x7s2", 1, 3, 224, 224, 64, 7, 7, 2, 3, 1),
    ConvShape("depthwise", 1, 256, 56, 56, 256, 3, 3, 1, 1, 256),
    ConvShape("image_5x5", 1, 1, 1024, 1024, 1, 5, 5, 1, 2, 1),
    ConvShape("resnet_3x3_b8", 8, 128, 28, 28, 128, 3, 3, 1, 1, 1),
    ConvShape("resnet_3x3_7x7", 1, 512, 7, 7, 512, 3, 3, 1, 1, 1),    # ResNet's last stage
    ConvShape("resnet_3x3s2", 1, 128, 28, 28, 256, 3, 3, 2, 1, 1),    # a stage's downsampling
    ConvShape("conv_3x3s2", 1, 64, 56, 56, 128, 3, 3, 2, 1, 1),
    ConvShape("small_5x5", 8, 32, 17, 17, 64, 5, 5, 1, 2, 1),         # 5x5 on small maps
    ConvShape("grouped", 1, 128, 28, 28, 128, 3, 3, 1, 1, 4),         # ResNeXt-style
    ConvShape("dilated", 1, 64, 56, 56, 64, 3, 3, 1, 2, 1, 2),        # DeepLab-style
    ConvShape("mobilenet_pw", 1, 32, 112, 112, 64, 1, 1, 1, 0, 1),
    ConvShape("mobilenet_dw_s2", 1, 96, 112, 112, 96, 3, 3, 2, 1, 96),  # MobileNetV2 downsampling
    ConvShape("inception_1x7", 1, 128, 17, 17, 128, 1, 7, 1, (0, 3), 1),
    ConvShape("unet_3x3", 1, 256, 64, 64, 128, 3, 3, 1, 1, 1),        # a U-Net decoder block
]
# the layers that also get a forward + backward row (every layer a network trains, not the
# image filter)
TRAIN_LAYERS = ("lenet_c1", "lenet_c2", "vgg_3x3", "resnet_3x3_b1", "resnet_3x3_b8",
                "resnet_1x1", "resnet_7x7s2", "depthwise", "conv_3x3s2", "small_5x5",
                "grouped", "mobilenet_dw_s2", "resnet_3x3_7x7")
# Transposed convolutions (x (N, C_in, H, W), C_out, kernel, stride, padding): U-Net's 2x2
# stride-2 up-conv, and the 4x4 stride-2 padding-1 up-sampling of DCGAN-style decoders.
TransposeShape = namedtuple("TransposeShape", "name n c h w k r s stride padding")
TRANSPOSE_SHAPES = [
    TransposeShape("unet_up_2x2s2", 1, 128, 32, 32, 64, 2, 2, 2, 0),
    TransposeShape("up_4x4s2p1", 1, 64, 56, 56, 32, 4, 4, 2, 1),
]
# the layers that also get a layout="NHWC" row: a 3x3, a 1x1, a strided, a 5x5, a grouped, a
# dilated and a 1x7 layer, and the depthwise ones
NHWC_LAYERS = ("vgg_3x3", "resnet_1x1", "depthwise", "conv_3x3s2", "small_5x5", "grouped",
               "dilated", "mobilenet_dw_s2", "inception_1x7")
POOL_SHAPE = (32, 64, 112, 112)          # a VGG block's output at batch 32
OVERHEAD_SHAPE = (1, 1, 8, 8)            # so small that the call itself is all the time

# --quick: every case on shapes that take well under a millisecond even with scalar kernels,
# for CI smoke runs; the figures then measure overheads and caches, not the kernels.
QUICK_POOL_SHAPE = (2, 8, 16, 16)
QUICK_SIDE = 20          # spatial size of the quick conv layers
QUICK_IMAGE_SIDE = 64    # ... and of the quick single-channel image
QUICK_CHANNELS = 8

# Image filters, border reflect101: a representative subset of kernels 3..15 on
# 512^2..4096^2 images, uint8 -> uint8 and float32, gray and 3-channel, as (side, dtype,
# channels, kernel side); and Gaussian blurs of float32 images as (side, channels, sigma).
# scipy takes seconds on the largest, so the 11x11 row is 2048^2.
FILTER_CASES = [(512, "uint8", 1, 3), (1024, "uint8", 1, 5), (1024, "float32", 1, 7),
                (1024, "uint8", 3, 3), (2048, "float32", 3, 5), (2048, "uint8", 1, 11),
                (1024, "float32", 1, 15), (4096, "float32", 1, 3)]
GAUSSIAN_CASES = [(1024, 1, 1.0), (1024, 3, 2.0), (2048, 1, 5.0)]
# the hand-written NumPy filter (a sum of shifted slices) is timed up to this many
# multiply-adds per call; beyond, it would take seconds
NUMPY_FILTER_MAX_MACS = 2**26


def conv_padding(shape):
    """(pad_h, pad_w) of a ConvShape."""
    return tuple(shape.padding) if isinstance(shape.padding, tuple) else (shape.padding,) * 2


def conv_output_size(shape):
    """(P, Q) of a ConvShape."""
    ph, pw = conv_padding(shape)
    p = (shape.h + 2 * ph - shape.dilation * (shape.r - 1) - 1) // shape.stride + 1
    q = (shape.w + 2 * pw - shape.dilation * (shape.s - 1) - 1) // shape.stride + 1
    return p, q


def conv_flops(shape):
    """2 * multiply-adds of the layer: the figure GFLOP/s is quoted against.

    Example
    -------
    >>> from fastconv.bench import CONV_SHAPES, conv_flops
    >>> conv_flops(CONV_SHAPES[3])      # vgg_3x3: 2 * 64 * 112 * 112 * 64 * 3 * 3
    924844032
    """
    p, q = conv_output_size(shape)
    return 2 * shape.n * shape.k * p * q * (shape.c // shape.groups) * shape.r * shape.s


def quick_conv_shape(shape):
    """The layer shrunk for --quick, keeping its kernel, stride, padding and kind (depthwise
    stays depthwise, the single-channel image stays single-channel)."""
    if shape.c == 1 and shape.k == 1:
        side = min(shape.h, QUICK_IMAGE_SIDE)
        return shape._replace(n=1, h=side, w=side)
    c = min(shape.c, QUICK_CHANNELS)
    depthwise = shape.groups == shape.c and shape.groups > 1
    return shape._replace(n=min(shape.n, 2), c=c, h=min(shape.h, QUICK_SIDE),
                          w=min(shape.w, QUICK_SIDE), k=c if depthwise else
                          min(shape.k, QUICK_CHANNELS), groups=c if depthwise else 1)


def numpy_conv2d(x, weight, bias, stride, padding, groups, relu=False, dilation=1):
    """The convolution users write by hand: pad, a strided sliding-window view, and tensordot
    (numpy copies the windows into an im2col matrix and calls its BLAS sgemm) per group;
    einsum for depthwise.  padding: an int or (pad_h, pad_w)."""
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    k, cg, r, s = weight.shape
    span = (dilation * (r - 1) + 1, dilation * (s - 1) + 1)
    windows = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride, ::dilation, ::dilation]   # (N, C, P, Q, R, S)
    if groups == 1:
        y = np.tensordot(windows, weight, axes=((1, 4, 5), (1, 2, 3))).transpose(0, 3, 1, 2)
    elif groups == x.shape[1] == k:
        y = np.einsum("ncpqrs,crs->ncpq", windows, weight[:, 0])
    else:
        kg = k // groups
        y = np.concatenate([np.tensordot(windows[:, g * cg:(g + 1) * cg],
                                         weight[g * kg:(g + 1) * kg],
                                         axes=((1, 4, 5), (1, 2, 3))).transpose(0, 3, 1, 2)
                            for g in range(groups)], axis=1)
    if bias is not None:
        y += bias[:, None, None]
    if relu:
        np.maximum(y, 0, out=y)
    return y


def numpy_conv_transpose2d(x, weight, bias, stride, padding):
    """The transposed convolution users write by hand (groups 1, dilation 1): per tap, one
    tensordot (BLAS sgemm) of x with the tap's weights, added at that tap's strided offset of
    the uncropped output; then the padding cropped and the bias added."""
    n, _, h, w = x.shape
    _, c_out, r, s = weight.shape
    full = np.zeros((n, c_out, (h - 1) * stride + r, (w - 1) * stride + s), x.dtype)
    for i in range(r):
        for j in range(s):
            full[:, :, i:i + stride * (h - 1) + 1:stride, j:j + stride * (w - 1) + 1:stride] += \
                np.tensordot(x, weight[:, :, i, j], axes=(1, 0)).transpose(0, 3, 1, 2)
    y = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    return y + bias[:, None, None]


def numpy_max_pool2d(x, kernel, stride, padding):
    """2x2 stride 2: a reshape and a max; otherwise sliding windows over an -inf padded copy."""
    n, c, h, w = x.shape
    if kernel == stride == 2 and padding == 0 and h % 2 == 0 and w % 2 == 0:
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return windows[:, :, ::stride, ::stride].max(axis=(-2, -1))


def numpy_avg_pool2d_2x2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


# ---- cases ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Workload:
    """A case's arrays and callables, made only when the case runs.

    impls: label -> zero-argument callable returning the output as an ndarray; "fastconv"
    first.  missing: peer -> why it has no figure.  work: FLOPs (conv) or bytes moved.
    algorithms: conv only, algorithm name -> callable, for --algorithms.
    """
    impls: dict
    missing: dict
    work: float
    unit: str
    auto_algorithm: str = None
    algorithms: dict = dataclasses.field(default_factory=dict)
    skipped_algorithms: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    op: str          # the fastconv function it times
    describe: str    # shape and arguments, for --list and the JSON
    rule: str        # key of TARGETS, or None
    build: object    # build(peers) -> Workload
    layer: str = None  # conv cases: the ConvShape's name


def _rng():
    return np.random.default_rng(0)


def _conv_arrays(shape):
    rng = _rng()
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w), dtype=np.float32)
    w = rng.standard_normal((shape.k, shape.c // shape.groups, shape.r, shape.s),
                            dtype=np.float32)
    b = rng.standard_normal(shape.k, dtype=np.float32)
    return x, w, b


def _conv_workload(shape, fused_relu, peers):
    x, w, b = _conv_arrays(shape)
    activation = "relu" if fused_relu else None
    padding = conv_padding(shape)

    def fastconv_with(algorithm):
        return lambda: conv2d(x, w, b, shape.stride, padding, shape.dilation, shape.groups,
                              activation=activation, algorithm=algorithm)

    impls = {"fastconv": fastconv_with("auto")}
    missing = {}
    if peers.torch is not None:
        torch = peers.torch
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

        def torch_conv():
            y = torch.nn.functional.conv2d(xt, wt, bt, shape.stride, padding, shape.dilation,
                                           shape.groups)
            return (torch.relu_(y) if fused_relu else y).numpy()
        impls["torch"] = torch_conv
    else:
        missing["torch"] = peers.reason["torch"]
    if peers.ort is not None:
        impls["onnxruntime"] = peers.ort_conv(x, w, b, shape.stride, padding, shape.dilation,
                                              shape.groups, fused_relu)
    else:
        missing["onnxruntime"] = peers.reason["onnxruntime"]
    single_image = (shape.n == shape.c == shape.k == shape.groups == shape.stride == 1
                    and shape.dilation == 1 and shape.r % 2 == shape.s % 2 == 1
                    and padding == (shape.r // 2, shape.s // 2))
    if not single_image:
        missing["opencv"] = "not applicable (single-channel image filters only)"
    elif peers.cv2 is not None:
        cv2 = peers.cv2
        image, kernel, delta = x[0, 0], w[0, 0], float(b[0])

        def opencv_filter():
            # filter2D correlates (no kernel flip); BORDER_CONSTANT pads with zeros
            y = cv2.filter2D(image, -1, kernel, delta=delta, borderType=cv2.BORDER_CONSTANT)
            if fused_relu:
                np.maximum(y, 0, out=y)
            return y[None, None]
        impls["opencv"] = opencv_filter
    else:
        missing["opencv"] = peers.reason["opencv"]
    impls["numpy"] = lambda: numpy_conv2d(x, w, b, shape.stride, padding, shape.groups,
                                          fused_relu, shape.dilation)
    workload = Workload(impls, missing, conv_flops(shape), "GFLOP/s")
    # what auto runs: its plan, measured by this first call when the layer is worth it
    impls["fastconv"]()
    workload.auto_algorithm = explain(x.shape, w.shape, shape.stride, padding, shape.dilation,
                                      shape.groups, print_=False)["algorithm"]
    for name in _ext.ALGORITHMS:
        if name == "auto":
            continue
        run = fastconv_with(name)
        try:
            run()
        except ValueError as exc:   # the algorithm does not take this shape
            workload.skipped_algorithms[name] = str(exc)
        else:
            workload.algorithms[name] = run
    return workload


def _flat(*arrays):
    """The results of a forward + backward as one vector, for the check against fastconv's."""
    return np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays])


def _train_workload(shape, peers):
    """One training step of the layer: the forward with bias, then grad_input, grad_weight and
    grad_bias for a given grad_output, against torch.autograd doing the same."""
    x, w, b = _conv_arrays(shape)
    padding = conv_padding(shape)
    args = (shape.stride, padding, shape.dilation, shape.groups)
    g = _rng().standard_normal(conv2d(x, w, b, *args).shape, dtype=np.float32)

    def fastconv_step():
        y = conv2d(x, w, b, *args)
        return _flat(y, *conv2d_backward(g, x, w, *args))

    impls = {"fastconv": fastconv_step}
    missing = {"onnxruntime": "not applicable (inference only)", "opencv": "not applicable",
               "numpy": "not applicable"}
    if peers.torch is not None:
        torch = peers.torch
        xt = torch.from_numpy(x).requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        bt = torch.from_numpy(b).requires_grad_()
        gt = torch.from_numpy(g)

        def torch_step():
            y = torch.nn.functional.conv2d(xt, wt, bt, *args)
            grads = torch.autograd.grad(y, (xt, wt, bt), gt)
            return _flat(y.detach().numpy(), *(t.numpy() for t in grads))
        impls["torch"] = torch_step
    else:
        missing["torch"] = peers.reason["torch"]
    # forward, grad_input and grad_weight: three products of the layer's size
    return Workload(impls, missing, 3 * conv_flops(shape), "GFLOP/s")


def _transpose_workload(shape, peers):
    """conv_transpose2d(x, weight, bias) beside torch's and the NumPy scatter by hand (ONNX
    Runtime's ConvTranspose is not wired up)."""
    rng = _rng()
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w), dtype=np.float32)
    w = rng.standard_normal((shape.c, shape.k, shape.r, shape.s), dtype=np.float32)
    b = rng.standard_normal(shape.k, dtype=np.float32)
    impls = {"fastconv": lambda: conv_transpose2d(x, w, b, shape.stride, shape.padding)}
    missing = {"onnxruntime": "not measured (conv layers only)", "opencv": "not applicable"}
    if peers.torch is not None:
        xt, wt, bt = (peers.torch.from_numpy(a) for a in (x, w, b))
        impls["torch"] = lambda: peers.torch.nn.functional.conv_transpose2d(
            xt, wt, bt, shape.stride, shape.padding).numpy()
    else:
        missing["torch"] = peers.reason["torch"]
    impls["numpy"] = lambda: numpy_conv_transpose2d(x, w, b, shape.stride, shape.padding)
    # every input pixel times every tap of its C_out filters
    return Workload(impls, missing, 2 * x.size * shape.k * shape.r * shape.s, "GFLOP/s")


def _pool_workload(shape, kind, kernel, stride, padding, peers, layout="NCHW"):
    x = _rng().standard_normal(shape, dtype=np.float32)
    n, c, h, w = shape
    p = (h + 2 * padding - kernel) // stride + 1
    q = (w + 2 * padding - kernel) // stride + 1
    moved = x.nbytes + n * c * p * q * x.itemsize
    missing = {}
    nhwc = layout == "NHWC"
    x_in = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if nhwc else x
    # (an NHWC result is compared with the peers' as a view in NCHW axis order: no copy)
    to_nchw = (lambda y: y.transpose(0, 3, 1, 2)) if nhwc else (lambda y: y)  # noqa: E731
    if kind == "max":
        impls = {"fastconv": lambda: to_nchw(max_pool2d(x_in, kernel, stride, padding,
                                                        layout=layout))}
        torch_op = "max_pool2d"
        impls_numpy = lambda: numpy_max_pool2d(x, kernel, stride, padding)  # noqa: E731
    else:
        impls = {"fastconv": lambda: to_nchw(avg_pool2d(x_in, kernel, stride, padding,
                                                        layout=layout))}
        torch_op = "avg_pool2d"
        impls_numpy = lambda: numpy_avg_pool2d_2x2(x)  # noqa: E731
    if peers.torch is not None:
        xt, fn = peers.torch.from_numpy(x), getattr(peers.torch.nn.functional, torch_op)
        if nhwc:   # the same values in torch's channels-last memory format
            xt = xt.contiguous(memory_format=peers.torch.channels_last)
        impls["torch"] = lambda: fn(xt, kernel, stride, padding).numpy()
    else:
        missing["torch"] = peers.reason["torch"]
    missing["opencv"] = "not applicable"
    missing["onnxruntime"] = "not measured (conv layers only)"
    impls["numpy"] = impls_numpy   # (the hand-written code, on the NCHW array)
    return Workload(impls, missing, moved, "GB/s")


def _conv_nhwc_workload(shape, peers):
    """conv2d(layout="NHWC") beside fastconv's NCHW call of the same layer ("nchw", on the
    same values in NCHW order) and torch on channels_last tensors."""
    x, w, b = _conv_arrays(shape)
    padding = conv_padding(shape)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    args = (shape.stride, padding, shape.dilation, shape.groups)
    # the NHWC result compared with the others as a view in NCHW axis order (no copy)
    impls = {"fastconv": lambda: conv2d(x_nhwc, w, b, *args,
                                        layout="NHWC").transpose(0, 3, 1, 2),
             "nchw": lambda: conv2d(x, w, b, *args)}
    missing = {"opencv": "not applicable", "onnxruntime": "not measured (NCHW only)"}
    impls["numpy"] = lambda: numpy_conv2d(x, w, b, shape.stride, padding, shape.groups,
                                          dilation=shape.dilation)
    if peers.torch is not None:
        torch = peers.torch
        xt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        wt, bt = torch.from_numpy(w), torch.from_numpy(b)
        impls["torch"] = lambda: torch.nn.functional.conv2d(xt, wt, bt, *args).numpy()
    else:
        missing["torch"] = peers.reason["torch"]
    workload = Workload(impls, missing, conv_flops(shape), "GFLOP/s")
    # what NHWC runs: its depthwise driver for groups == C == K, else its GEMM
    depthwise = shape.groups == shape.c == shape.k and shape.r * shape.s <= 64
    workload.auto_algorithm = "depthwise" if depthwise else "im2col"
    return workload


def _relu_workload(shape, in_place, peers):
    x = _rng().standard_normal(shape, dtype=np.float32)
    missing = {"opencv": "not applicable", "onnxruntime": "not measured (conv layers only)"}
    if in_place:
        # each implementation owns a buffer it rewrites; after the first call it holds no
        # negatives, which costs a branch-free relu the same
        mine, theirs, by_hand = x.copy(), x.copy(), x.copy()
        impls = {"fastconv": lambda: relu(mine, out=mine)}
        if peers.torch is not None:
            xt = peers.torch.from_numpy(theirs)
            impls["torch"] = lambda: peers.torch.relu_(xt).numpy()
        impls["numpy"] = lambda: np.maximum(by_hand, 0, out=by_hand)
    else:
        impls = {"fastconv": lambda: relu(x)}
        if peers.torch is not None:
            xt = peers.torch.from_numpy(x)
            impls["torch"] = lambda: peers.torch.relu(xt).numpy()
        impls["numpy"] = lambda: np.maximum(x, 0)
    if peers.torch is None:
        missing["torch"] = peers.reason["torch"]
    # keep "fastconv", "torch", "numpy" in PEERS order
    impls = {k: impls[k] for k in ("fastconv",) + PEERS if k in impls}
    return Workload(impls, missing, 2 * x.nbytes, "GB/s")


def numpy_filter2d(image, kernel, out_dtype):
    """filter2d as users write it in NumPy: np.pad's "reflect" (OpenCV's reflect101), then a
    sum of shifted slices in float32, rounded half to even and clipped for uint8 output."""
    kh, kw = kernel.shape
    pads = ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image.astype(np.float32), pads, mode="reflect")
    h, w = image.shape[:2]
    y = np.zeros(image.shape, np.float32)
    for r in range(kh):
        for s in range(kw):
            y += np.float32(kernel[r, s]) * padded[r:r + h, s:s + w]
    if out_dtype == np.uint8:
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return y


def numpy_sep_filter2d(image, kx, ky):
    """sep_filter2d in NumPy: reflect101 padding, a row pass and a column pass of shifted
    slices in float32."""
    def one_axis(a, k, axis):
        n, pad = a.shape[axis], (len(k) // 2, len(k) - 1 - len(k) // 2)
        pads = [(0, 0)] * a.ndim
        pads[axis] = pad
        padded = np.pad(a, pads, mode="reflect")
        y = np.zeros(a.shape, np.float32)
        for t, tap in enumerate(k):
            y += np.float32(tap) * np.take(padded, np.arange(t, t + n), axis=axis)
        return y
    return one_axis(one_axis(image.astype(np.float32), kx, 1), ky, 0)


def _filter_workload(side, dtype, channels, ksize, peers):
    """filter2d(image, kernel, border="reflect101") beside cv2.filter2D, scipy.ndimage's
    correlate (mode "mirror", float32 output, rounded for uint8) and the NumPy filter.  The
    kernel's taps are multiples of 1/64 summing to about 1, so every implementation's sum is
    exact and uint8 results agree to the last bit."""
    rng = np.random.default_rng(0)
    shape = (side, side) if channels == 1 else (side, side, channels)
    image = rng.integers(0, 256, shape).astype(dtype)
    taps = rng.integers(0, 4, (ksize, ksize)).astype(np.float64)
    kernel = taps / 2.0 ** np.ceil(np.log2(max(taps.sum(), 1)))
    out_dtype = image.dtype
    impls = {"fastconv": lambda: filter2d(image, kernel, dtype=out_dtype)}
    missing = {}
    if peers.cv2 is not None:
        k32 = kernel.astype(np.float32)
        impls["opencv"] = lambda: peers.cv2.filter2D(image, -1, k32,
                                                     borderType=peers.cv2.BORDER_REFLECT_101)
    else:
        missing["opencv"] = peers.reason["opencv"]
    if side * side * channels * ksize * ksize <= NUMPY_FILTER_MAX_MACS:
        impls["numpy"] = lambda: numpy_filter2d(image, kernel, out_dtype)
    else:
        missing["numpy"] = "not measured (seconds per call)"
    if peers.ndimage is not None:
        k3 = kernel if channels == 1 else kernel[:, :, None]

        def scipy_filter():
            y = peers.ndimage.correlate(image, k3, output=np.float32, mode="mirror")
            return np.clip(np.rint(y), 0, 255).astype(np.uint8) if out_dtype == np.uint8 else y
        impls["scipy"] = scipy_filter
    else:
        missing["scipy"] = peers.reason["scipy"]
    impls = {k: impls[k] for k in ("fastconv",) + PEERS if k in impls}
    return Workload(impls, missing, 2 * image.nbytes, "GB/s")


def _gaussian_workload(side, channels, sigma, peers):
    """gaussian_blur(image, sigma) of a float32 image beside cv2.GaussianBlur (the same
    kernel, OpenCV's size rule) and scipy.ndimage.gaussian_filter (its own truncation at 4
    sigma, mode "mirror": the same kernel width and border, its own kernel values)."""
    rng = np.random.default_rng(0)
    shape = (side, side) if channels == 1 else (side, side, channels)
    image = rng.random(shape, dtype=np.float32) * 255
    impls = {"fastconv": lambda: gaussian_blur(image, sigma)}
    g = gaussian_kernel(int(np.rint(sigma * 8 + 1)) | 1, sigma, np.float32)
    impls["numpy"] = lambda: numpy_sep_filter2d(image, g, g)
    missing = {}
    if peers.cv2 is not None:
        impls["opencv"] = lambda: peers.cv2.GaussianBlur(image, (0, 0), sigma)
    else:
        missing["opencv"] = peers.reason["opencv"]
    missing["scipy"] = "not compared (other kernel values)"
    impls = {k: impls[k] for k in ("fastconv",) + PEERS if k in impls}
    return Workload(impls, missing, 2 * image.nbytes, "GB/s")


def _overhead_conv_workload(peers):
    shape = ConvShape("overhead_conv2d_8x8", *OVERHEAD_SHAPE, 1, 3, 3, 1, 0, 1)
    workload = _conv_workload(shape, False, peers)
    workload.missing["opencv"] = "not applicable"
    workload.impls.pop("opencv", None)
    return workload


def cases(quick=False):
    """Every case, in table order; `quick` shrinks the shapes (the --quick of the command).

    Example
    -------
    >>> from fastconv.bench import Peers, cases
    >>> case = next(c for c in cases(quick=True) if c.name == "relu")
    >>> case.describe
    'relu x(2,8,16,16)'
    >>> workload = case.build(Peers())
    >>> list(workload.impls)[0], workload.unit, workload.work    # read + written bytes
    ('fastconv', 'GB/s', 32768)
    """
    result = []
    for full in CONV_SHAPES:
        shape = quick_conv_shape(full) if quick else full
        describe = (f"conv2d x({shape.n},{shape.c},{shape.h},{shape.w}) "
                    f"w({shape.k},{shape.c // shape.groups},{shape.r},{shape.s}) "
                    f"stride {shape.stride} padding {shape.padding} groups {shape.groups}"
                    + (f" dilation {shape.dilation}" if shape.dilation != 1 else ""))
        for fused in (False, True):
            result.append(Case(
                full.name + ("+relu" if fused else ""), "conv2d",
                describe + (" activation=relu" if fused else ""), conv_rule(full),
                lambda peers, shape=shape, fused=fused: _conv_workload(shape, fused, peers),
                layer=full.name))
    for full in CONV_SHAPES:
        if full.name not in TRAIN_LAYERS:
            continue
        shape = quick_conv_shape(full) if quick else full
        result.append(Case(
            full.name + "+bwd", "conv2d_backward",
            f"conv2d + conv2d_backward (grad input, weight, bias) of {full.name}", "train",
            lambda peers, shape=shape: _train_workload(shape, peers), layer=full.name))
    for full in TRANSPOSE_SHAPES:
        shape = full._replace(c=min(full.c, QUICK_CHANNELS), k=min(full.k, QUICK_CHANNELS),
                              h=min(full.h, QUICK_SIDE), w=min(full.w, QUICK_SIDE)) \
            if quick else full
        result.append(Case(
            full.name, "conv_transpose2d",
            f"conv_transpose2d x({shape.n},{shape.c},{shape.h},{shape.w}) "
            f"w({shape.c},{shape.k},{shape.r},{shape.s}) stride {shape.stride} "
            f"padding {shape.padding}", "conv_transpose",
            lambda peers, shape=shape: _transpose_workload(shape, peers)))
    pool = QUICK_POOL_SHAPE if quick else POOL_SHAPE
    on = f"x{pool}".replace(" ", "")
    for name, kind, kernel, stride, padding in (("max_pool2d_2x2s2", "max", 2, 2, 0),
                                                ("max_pool2d_3x3s2p1", "max", 3, 2, 1),
                                                ("avg_pool2d_2x2s2", "avg", 2, 2, 0)):
        result.append(Case(
            name, f"{kind}_pool2d", f"{kind}_pool2d {on} kernel {kernel} stride {stride} "
            f"padding {padding}", "max_pool2d" if kind == "max" else None,
            lambda peers, a=(kind, kernel, stride, padding): _pool_workload(pool, *a, peers)))
    # channels last (layout="NHWC"), beside torch on channels_last tensors
    for name, kernel, stride, padding in (("nhwc_maxpool_2x2s2", 2, 2, 0),
                                          ("nhwc_maxpool_3x3s2p1", 3, 2, 1)):
        result.append(Case(
            name, "max_pool2d", f"max_pool2d {on} layout=NHWC kernel {kernel} stride {stride} "
            f"padding {padding}", "max_pool2d_nhwc",
            lambda peers, a=(kernel, stride, padding): _pool_workload(pool, "max", *a, peers,
                                                                      layout="NHWC")))
    for full in CONV_SHAPES:
        if full.name not in NHWC_LAYERS:
            continue
        shape = quick_conv_shape(full) if quick else full
        result.append(Case(
            "nhwc_" + full.name, "conv2d", f"conv2d of {full.name} with layout=NHWC (x and y "
            "channels last), beside its NCHW call", "conv_nhwc",
            lambda peers, shape=shape: _conv_nhwc_workload(shape, peers), layer=full.name))
    result.append(Case("relu", "relu", f"relu {on}", "relu",
                       lambda peers: _relu_workload(pool, False, peers)))
    result.append(Case("relu_inplace", "relu", f"relu {on} out=x", "relu",
                       lambda peers: _relu_workload(pool, True, peers)))
    for side, dtype, channels, ksize in FILTER_CASES:
        side = QUICK_IMAGE_SIDE if quick else side
        kind = {"uint8": "u8", "float32": "f32"}[dtype] + ("rgb" if channels == 3 else "")
        result.append(Case(
            f"f2d_{ksize}x{ksize}_{kind}" + ("" if quick else f"_{side}"), "filter2d",
            f"filter2d {dtype} image ({side}, {side}{', 3' if channels == 3 else ''}) kernel "
            f"{ksize}x{ksize} reflect101" + (" dtype=uint8" if dtype == "uint8" else ""),
            "filter2d", lambda peers, a=(side, dtype, channels, ksize): _filter_workload(
                *a, peers)))
    for side, channels, sigma in GAUSSIAN_CASES:
        side = QUICK_IMAGE_SIDE if quick else side
        result.append(Case(
            f"gauss_s{sigma:g}" + ("_rgb" if channels == 3 else "") +
            ("" if quick else f"_{side}"), "gaussian_blur",
            f"gaussian_blur float32 image ({side}, {side}{', 3' if channels == 3 else ''}) "
            f"sigma {sigma:g}", "gaussian_blur",
            lambda peers, a=(side, channels, sigma): _gaussian_workload(*a, peers)))
    tiny = f"x{OVERHEAD_SHAPE}".replace(" ", "")
    result.append(Case("overhead_relu_8x8", "relu", f"relu {tiny}: per-call overhead",
                       "overhead_relu", lambda peers: _relu_workload(OVERHEAD_SHAPE, False,
                                                                      peers)))
    result.append(Case("overhead_conv2d_8x8", "conv2d",
                       f"conv2d {tiny} w(1,1,3,3) with bias: per-call overhead", "overhead_conv2d",
                       _overhead_conv_workload))
    return result


def select(all_cases, pattern):
    """The cases whose name contains `pattern` or matches it as a regular expression (searched,
    so "^relu" and "b32" both work; "lenet_c1+relu" matches as the substring it is)."""
    if not pattern:
        return list(all_cases)
    try:
        regex = re.compile(pattern)
    except re.error:
        regex = None
    return [c for c in all_cases if pattern in c.name or (regex and regex.search(c.name))]
