"""Benchmark shapes, shared by the pytest-benchmark suite and (later) `fastconv bench`.

Convolution layers as (N, C, H, W, K, R, S, stride, padding, groups), from the networks users
actually run.
"""
from collections import namedtuple

ConvShape = namedtuple("ConvShape", "name n c h w k r s stride padding groups")

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
]

# Small enough that the scalar kernels time them in well under a second.
QUICK_CONV_SHAPES = [s for s in CONV_SHAPES if s.name in
                     ("lenet_c1", "lenet_c2", "resnet_3x3_b1", "depthwise", "image_5x5")]


def conv_flops(shape):
    """2 * multiply-adds of the layer: the figure GFLOP/s is quoted against."""
    p = (shape.h + 2 * shape.padding - shape.r) // shape.stride + 1
    q = (shape.w + 2 * shape.padding - shape.s) // shape.stride + 1
    return 2 * shape.n * shape.k * p * q * (shape.c // shape.groups) * shape.r * shape.s
