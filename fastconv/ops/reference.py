"""The plain C reference implementations (csrc/ref), behind the same validation as the fast ops.

The ground truth the optimised kernels are tested against: one loop nest per op, one output
element at a time, no blocking, no SIMD, no threads.  Slow; use fastconv.conv2d and friends.
"""
from . import filtering as _filtering
from . import functional as _f

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "conv2d_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "relu_backward", "linear", "linear_backward", "relu6",
           "relu6_backward", "leaky_relu", "leaky_relu_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "filter2d", "sep_filter2d", "batch_norm",
           "batch_norm_backward", "add", "conv_transpose2d", "conv_transpose2d_backward"]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, negative_slope=None, residual=None, out=None):
    """Reference twin of fastconv.conv2d (no ``algorithm``: there is one loop nest)."""
    return _f._conv2d(x, weight, bias, stride, padding, dilation, groups, activation, None, out,
                      reference=True, negative_slope=negative_slope, residual=residual)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Reference twin of fastconv.max_pool2d."""
    return _f._max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                          reference=True)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Reference twin of fastconv.avg_pool2d."""
    return _f._avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override, reference=True)


def relu(x, *, out=None):
    """Reference twin of fastconv.relu."""
    return _f._relu(x, out, reference=True)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    output_mask=(True, True, True), layout="NCHW"):
    """Reference twin of fastconv.conv2d_backward."""
    return _f._conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups,
                               output_mask, reference=True, layout=layout)


def max_pool2d_backward(grad_output, indices, input_shape):
    """Reference twin of fastconv.max_pool2d_backward."""
    return _f._max_pool2d_backward(grad_output, indices, input_shape, reference=True)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Reference twin of fastconv.avg_pool2d_backward."""
    return _f._avg_pool2d_backward(grad_output, input_shape, kernel_size, stride, padding,
                                   ceil_mode, count_include_pad, divisor_override,
                                   reference=True)


def relu_backward(grad_output, output, *, out=None):
    """Reference twin of fastconv.relu_backward."""
    return _f._relu_backward(grad_output, output, out, reference=True)


def linear(x, weight, bias=None, *, activation=None, negative_slope=None, residual=None,
           out=None):
    """Reference twin of fastconv.linear."""
    return _f._linear(x, weight, bias, activation, out, reference=True,
                      negative_slope=negative_slope, residual=residual)


def linear_backward(grad_output, x, weight, *, output_mask=(True, True, True)):
    """Reference twin of fastconv.linear_backward."""
    return _f._linear_backward(grad_output, x, weight, output_mask, reference=True)


def filter2d(image, kernel, *, border="reflect101", value=0.0, dtype=None, out=None, anchor=None,
             delta=0.0):
    """Reference twin of fastconv.filter2d (always the 2-D sum: no ``separable``)."""
    return _filtering._reference("filter2d", image, kernel, None, None, border, value, dtype,
                                 out, anchor, delta)


def sep_filter2d(image, kx, ky, *, border="reflect101", value=0.0, dtype=None, out=None,
                 anchor=None, delta=0.0):
    """Reference twin of fastconv.sep_filter2d."""
    return _filtering._reference("sep_filter2d", image, None, kx, ky, border, value, dtype, out,
                                 anchor, delta)


def relu6(x, *, out=None):
    """Reference twin of fastconv.relu6."""
    return _f._relu6(x, out, reference=True)


def leaky_relu(x, negative_slope=0.01, *, out=None):
    """Reference twin of fastconv.leaky_relu."""
    return _f._leaky_relu(x, negative_slope, out, reference=True)


def relu6_backward(grad_output, x, *, out=None):
    """Reference twin of fastconv.relu6_backward."""
    return _f._relu6_backward(grad_output, x, out, reference=True)


def leaky_relu_backward(grad_output, x, negative_slope=0.01, *, out=None):
    """Reference twin of fastconv.leaky_relu_backward."""
    return _f._leaky_relu_backward(grad_output, x, negative_slope, out, reference=True)


def adaptive_avg_pool2d(x, output_size):
    """Reference twin of fastconv.adaptive_avg_pool2d."""
    return _f._adaptive_avg_pool2d(x, output_size, reference=True)


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """Reference twin of fastconv.adaptive_avg_pool2d_backward."""
    return _f._adaptive_avg_pool2d_backward(grad_output, input_shape, reference=True)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, return_stats=False):
    """Reference twin of fastconv.batch_norm (running statistics updated in place too)."""
    return _f._batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                          return_stats, reference=True)


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training=True, *,
                        output_mask=(True, True, True)):
    """Reference twin of fastconv.batch_norm_backward."""
    return _f._batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training,
                                   output_mask, reference=True)


def add(a, b, *, activation=None, negative_slope=None, out=None):
    """Reference twin of fastconv.add."""
    return _f._add(a, b, activation, negative_slope, out, reference=True)
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, activation=None, negative_slope=None, out=None):
    """Reference twin of fastconv.conv_transpose2d."""
    return _f._conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
                                dilation, activation, negative_slope, out, reference=True)


def conv_transpose2d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, output_mask=(True, True, True)):
    """Reference twin of fastconv.conv_transpose2d_backward."""
    return _f._conv_transpose2d_backward(grad_output, x, weight, stride, padding,
                                         output_padding, groups, dilation, output_mask,
                                         reference=True)
