# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin bridge to the C library: arrays -> pointers, one C call without the GIL, status ->
exception.

Arguments arrive normalised by fastconv.functional (C-contiguous, aligned, native float32 or
float64).  The shapes of conv2d and pooling come from the C library's geometry
(csrc/common/geometry.c): functional.py asks conv2d_geometry / pool2d_geometry once per call
and hands the result to the op.  This layer still re-checks every array against those shapes,
so that a wrong call from Python can raise but never make the C code read or write out of
bounds.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

from .libfastconv cimport *

import numpy as np

cnp.import_array()

cdef dict _ISA_BY_NAME = {}


def _arch_isa_names():
    """The build architecture's ISA paths, lowest first (x86-64: scalar, avx2, avx512;
    aarch64: scalar, neon; any other: scalar); filled once at import."""
    cdef const fc_isa *isas = NULL
    cdef int count = fc_arch_isas(&isas)
    for i in range(count):
        _ISA_BY_NAME[fc_isa_name(isas[i]).decode()] = isas[i]
    return tuple(_ISA_BY_NAME)


ISA_NAMES = _arch_isa_names()
ALGORITHMS = {"auto": FC_CONV_AUTO, "direct": FC_CONV_DIRECT, "im2col": FC_CONV_IM2COL,
              "pointwise": FC_CONV_POINTWISE, "depthwise": FC_CONV_DEPTHWISE,
              "winograd": FC_CONV_WINOGRAD}
# not an algorithm a caller names: "auto" at precision "high" (functional.conv2d passes it)
AUTO_HIGH = "auto:high"


def _activations():
    """The C library's activation table (common/epilogue.h): torch's name -> fc_activation,
    None for FC_ACTIVATION_NONE."""
    table = {}
    cdef int i = 0
    cdef const char *name = fc_activation_name(<fc_activation>0)
    while name != NULL:
        table[None if i == FC_ACTIVATION_NONE else name.decode()] = i
        i += 1
        name = fc_activation_name(<fc_activation>i)
    return table


ACTIVATIONS = _activations()


cdef fc_dtype _dtype_of(str op, cnp.ndarray a) except *:
    cdef int typenum = cnp.PyArray_TYPE(a)
    if typenum == cnp.NPY_FLOAT32:
        return FC_FLOAT32
    if typenum == cnp.NPY_FLOAT64:
        return FC_FLOAT64
    raise TypeError(f"{op}: internal call with dtype {a.dtype}; expected float32 or float64")


cdef bint _shape_is(cnp.ndarray a, tuple shape) except -1:
    """a.shape == shape, without building a.shape (this runs for every array of every call)."""
    cdef int i, ndim = cnp.PyArray_NDIM(a)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    if ndim != len(shape):
        return False
    for i in range(ndim):
        if dims[i] != <cnp.npy_intp>shape[i]:
            return False
    return True


cdef void *_buffer(str op, str name, cnp.ndarray a, int typenum, tuple shape,
                   bint writable) except NULL:
    """The data pointer of `a` after checking everything the C code relies on."""
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"{op}: internal call: {name} has dtype {a.dtype}")
    if not _shape_is(a, shape):
        raise ValueError(f"{op}: internal call: {name} has shape {(<object>a).shape}, expected {shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISALIGNED(a):
        raise ValueError(f"{op}: internal call: {name} is not C-contiguous and aligned")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{op}: internal call: {name} is read-only")
    return cnp.PyArray_DATA(a)


cdef void *_gradient(str op, str name, object a, int typenum, tuple shape) except? NULL:
    """A requested gradient's data pointer (checked as _buffer's, writable), NULL for None."""
    if a is None:
        return NULL
    return _buffer(op, name, a, typenum, shape, True)


cdef int _check(str op, fc_status status) except -1:
    if status == FC_OK:
        return 0
    message = f"{op}: {fc_status_string(status).decode()}"
    if status == FC_ERR_OUT_OF_MEMORY:
        raise MemoryError(message)
    raise ValueError(message)


cdef int _fill_epilogue(fc_epilogue *e, str op, object bias, tuple bias_shape, object residual,
                        tuple y_shape, object activation, double alpha, int typenum) except -1:
    """e <- bias, residual (each None or an array checked like every operand), activation."""
    e.bias = NULL
    e.residual = NULL
    if bias is not None:
        e.bias = _buffer(op, "bias", bias, typenum, bias_shape, False)
    if residual is not None:
        e.residual = _buffer(op, "residual", residual, typenum, y_shape, False)
    e.activation = <fc_activation><int>ACTIVATIONS[activation]
    e.alpha = alpha
    return 0


cdef void _fill_conv_params(fc_conv2d_params *p, int64_t n, int64_t c, int64_t h, int64_t w,
                            int64_t k, int64_t r, int64_t s, tuple stride, tuple padding,
                            tuple dilation, int64_t groups, int64_t max_workspace_bytes):
    p.n, p.c, p.h, p.w = n, c, h, w
    p.k, p.r, p.s = k, r, s
    p.stride_h, p.stride_w = stride
    p.dilation_h, p.dilation_w = dilation
    (p.pad_top, p.pad_bottom), (p.pad_left, p.pad_right) = padding
    p.groups = groups
    p.max_workspace_bytes = max_workspace_bytes


cdef class Conv2dGeometry:
    """conv2d's geometry as the C library computed it (made by conv2d_geometry only): the
    bridge checks every array against these shapes, so a wrong one raises before any C call."""
    cdef fc_conv2d_params p
    cdef readonly tuple x_shape, weight_shape, output_shape


def conv2d_geometry(str op, tuple x_shape, tuple weight_shape, tuple stride, tuple padding,
                    tuple dilation, int64_t groups):
    """conv2d of x (N, C, H, W) with weight (K, C/groups, R, S): its Conv2dGeometry, whose
    output_shape (N, K, P, Q) is fc_conv2d_output_size's; ValueError with the C library's
    reason where it refuses the geometry (a kernel larger than the padded input, a sum past
    int64)."""
    cdef Conv2dGeometry g = Conv2dGeometry.__new__(Conv2dGeometry)
    cdef int64_t out_h, out_w
    n, c, h, w = x_shape
    k, c_per_group, r, s = weight_shape
    _fill_conv_params(&g.p, n, c, h, w, k, r, s, stride, padding, dilation, groups, 0)
    _check(op, fc_conv2d_output_size(&g.p, &out_h, &out_w))
    if c_per_group != g.p.c // groups:
        raise ValueError(f"{op}: internal call with x {x_shape}, weight {weight_shape}")
    g.x_shape = (g.p.n, g.p.c, g.p.h, g.p.w)
    g.weight_shape = (g.p.k, c_per_group, g.p.r, g.p.s)
    g.output_shape = (g.p.n, g.p.k, out_h, out_w)
    return g


def conv2d(str op, Conv2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray weight,
           object bias, cnp.ndarray y, object activation, object algorithm, bint reference,
           int64_t max_workspace_bytes=0, object residual=None, double alpha=0.0):
    """y <- act(conv2d(x, weight, bias) + residual) of the shapes in geometry."""
    cdef fc_conv2d_params p = geometry.p
    p.max_workspace_bytes = max_workspace_bytes
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef fc_conv_algorithm algo = (FC_CONV_AUTO if algorithm is None else
                                   FC_CONV_AUTO_HIGH if algorithm == AUTO_HIGH else
                                   ALGORITHMS[algorithm])
    cdef const void *xp = _buffer(op, "x", x, typenum, geometry.x_shape, False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, geometry.weight_shape, False)
    cdef fc_epilogue epi
    _fill_epilogue(&epi, op, bias, (p.k,), residual, geometry.output_shape, activation, alpha,
                   typenum)
    cdef void *yp = _buffer(op, "y", y, typenum, geometry.output_shape, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_conv2d_forward(&p, dtype, xp, wp, &epi, yp)
        else:
            status = fc_conv2d_forward(&p, dtype, xp, wp, &epi, yp, algo)
    cdef int64_t least = 0
    if status == FC_ERR_WORKSPACE_TOO_SMALL:
        fc_conv2d_min_workspace(&p, dtype, algo, &least)
        _workspace_error(op, max_workspace_bytes, least, (<object>x).shape, geometry.weight_shape)
    _check(op, status)


cdef int _workspace_error(str op, int64_t limit, int64_t least, tuple x_shape,
                          tuple weight_shape) except -1:
    raise ValueError(f"{op}: max_workspace_bytes={limit} is below the {least} bytes per thread "
                     f"this convolution needs (x shape {x_shape}, weight shape {weight_shape})")


def winograd_prepare(str op, Conv2dGeometry geometry not None, cnp.ndarray weight):
    """(u, mr): weight (K, C/groups, 3, 3) float32 transformed by the Winograd filter transform
    for the installed GEMM (its MR), u a 1-D float32 array (fastconv.prepare_weights)."""
    cdef fc_conv2d_params p = geometry.p
    cdef int64_t floats = 0, mr = 0
    _check(op, fc_conv2d_winograd_prepared_size(&p, &floats, &mr))
    cdef const float *wp = <const float *>_buffer(op, "weight", weight, cnp.NPY_FLOAT32,
                                                  geometry.weight_shape, False)
    u = np.empty(floats, np.float32)
    cdef float *up = <float *>cnp.PyArray_DATA(u)
    cdef fc_status status
    with nogil:
        status = fc_conv2d_winograd_prepare(&p, wp, up, floats)
    _check(op, status)
    return u, mr


def conv2d_prepared(str op, Conv2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray u,
                    int64_t mr, str prepared_isa, object bias, cnp.ndarray y, object activation,
                    int64_t max_workspace_bytes=0, object residual=None, double alpha=0.0):
    """y <- act(conv2d(x, the filters prepared in u) + bias + residual), float32."""
    cdef fc_conv2d_params p = geometry.p
    p.max_workspace_bytes = max_workspace_bytes
    cdef const float *xp = <const float *>_buffer(op, "x", x, cnp.NPY_FLOAT32, geometry.x_shape,
                                                  False)
    cdef const float *up = <const float *>_buffer(op, "prepared", u, cnp.NPY_FLOAT32,
                                                  (<object>u).shape, False)
    cdef int64_t floats = cnp.PyArray_SIZE(u), need = 0, mr_now = 0
    _check(op, fc_conv2d_winograd_prepared_size(&p, &need, &mr_now))
    if mr_now != mr:
        raise ValueError(f"{op}: the prepared weights are laid out for a GEMM of {mr} rows "
                         f"(prepare_weights ran on the {prepared_isa} path), the "
                         f"{active_isa()} path now active has {mr_now}: prepare them again")
    cdef fc_epilogue epi
    _fill_epilogue(&epi, op, bias, (p.k,), residual, geometry.output_shape, activation, alpha,
                   cnp.NPY_FLOAT32)
    cdef float *yp = <float *>_buffer(op, "y", y, cnp.NPY_FLOAT32, geometry.output_shape, True)
    cdef fc_status status
    with nogil:
        status = fc_conv2d_forward_prepared(&p, xp, up, floats, mr, &epi, yp)
    cdef int64_t least = 0
    if status == FC_ERR_WORKSPACE_TOO_SMALL:
        fc_conv2d_prepared_min_workspace(&p, floats, mr, &least)
        _workspace_error(op, max_workspace_bytes, least, (<object>x).shape, geometry.weight_shape)
    _check(op, status)


cdef tuple _nhwc(tuple shape):
    """(N, C, H, W) -> the channels-last (N, H, W, C)."""
    return (shape[0], shape[2], shape[3], shape[1])


def conv2d_nhwc(str op, Conv2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray weight,
                object bias, cnp.ndarray y, object activation, int64_t max_workspace_bytes=0,
                object residual=None, double alpha=0.0):
    """y (N, P, Q, K) <- act(conv2d(x (N, H, W, C), weight, bias) + residual), the NCHW
    geometry's shapes in channels-last order."""
    cdef fc_conv2d_params p = geometry.p
    p.max_workspace_bytes = max_workspace_bytes
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef tuple y_shape = _nhwc(geometry.output_shape)
    cdef const void *xp = _buffer(op, "x", x, typenum, _nhwc(geometry.x_shape), False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, geometry.weight_shape, False)
    cdef fc_epilogue epi
    _fill_epilogue(&epi, op, bias, (p.k,), residual, y_shape, activation, alpha, typenum)
    cdef void *yp = _buffer(op, "y", y, typenum, y_shape, True)
    cdef fc_status status
    with nogil:
        status = fc_conv2d_forward_nhwc(&p, dtype, xp, wp, &epi, yp)
    cdef int64_t least = 0
    if status == FC_ERR_WORKSPACE_TOO_SMALL:
        fc_conv2d_nhwc_min_workspace(&p, dtype, &least)
        raise ValueError(f"{op}: max_workspace_bytes={max_workspace_bytes} is below the "
                         f"{least} bytes per thread this convolution needs (x shape "
                         f"{(<object>x).shape}, weight shape {(<object>weight).shape})")
    _check(op, status)


def conv2d_min_workspace(tuple x_shape, tuple w_shape, tuple stride, tuple padding,
                         tuple dilation, int64_t groups, str dtype, str algorithm):
    """The least max_workspace_bytes (per thread) conv2d accepts with this algorithm at the
    current thread count; 0 for an algorithm without a bounded workspace."""
    cdef fc_conv2d_params p
    n, c, h, w = x_shape
    _fill_conv_params(&p, n, c, h, w, w_shape[0], w_shape[2], w_shape[3], stride, padding,
                      dilation, groups, 0)
    cdef int64_t least = 0
    _check("conv2d", fc_conv2d_min_workspace(&p, FC_FLOAT64 if dtype == "float64" else FC_FLOAT32,
                                             ALGORITHMS[algorithm], &least))
    return least


def conv2d_auto_algorithm(tuple x_shape, tuple w_shape, tuple stride, tuple padding,
                          tuple dilation, int64_t groups, dtype="float32", str precision="highest"):
    """The ALGORITHMS name algorithm="auto" runs for this geometry, dtype (a name or numpy
    dtype) and precision ("highest" or "high") by the C library's rule, without a plan."""
    cdef fc_conv2d_params p
    n, c, h, w = x_shape
    _fill_conv_params(&p, n, c, h, w, w_shape[0], w_shape[2], w_shape[3], stride, padding,
                      dilation, groups, 0)
    cdef fc_dtype fdtype = FC_FLOAT64 if str(dtype) == "float64" else FC_FLOAT32
    cdef fc_conv_algorithm mode = FC_CONV_AUTO_HIGH if precision == "high" else FC_CONV_AUTO
    cdef int code = <int>fc_conv2d_auto_algorithm(&p, fdtype, mode)
    return next(name for name, value in ALGORITHMS.items() if value == code)


cdef void _fill_pool_params(fc_pool2d_params *p, int64_t n, int64_t c, int64_t h, int64_t w,
                            tuple kernel_size, tuple stride, tuple padding, tuple dilation,
                            bint ceil_mode, bint count_include_pad):
    p.n, p.c, p.h, p.w = n, c, h, w
    p.kernel_h, p.kernel_w = kernel_size
    p.stride_h, p.stride_w = stride
    p.pad_h, p.pad_w = padding
    p.dilation_h, p.dilation_w = dilation
    p.ceil_mode = ceil_mode
    p.count_include_pad = count_include_pad
    p.divisor_override = 0


cdef class Pool2dGeometry:
    """Pooling's geometry as the C library computed it (made by pool2d_geometry only): the
    bridge checks every array against these shapes."""
    cdef fc_pool2d_params p
    cdef readonly tuple x_shape, output_shape


def pool2d_geometry(str op, tuple x_shape, tuple kernel_size, tuple stride, tuple padding,
                    tuple dilation, bint ceil_mode):
    """Pooling of x (N, C, H, W): its Pool2dGeometry, whose output_shape (N, C, P, Q) is
    fc_pool2d_output_size's; ValueError with the C library's reason where it refuses the
    geometry (a window larger than the padded input, padding over half the kernel)."""
    cdef Pool2dGeometry g = Pool2dGeometry.__new__(Pool2dGeometry)
    cdef int64_t out_h, out_w
    n, c, h, w = x_shape
    _fill_pool_params(&g.p, n, c, h, w, kernel_size, stride, padding, dilation, ceil_mode,
                      False)
    _check(op, fc_pool2d_output_size(&g.p, &out_h, &out_w))
    g.x_shape = (g.p.n, g.p.c, g.p.h, g.p.w)
    g.output_shape = (g.p.n, g.p.c, out_h, out_w)
    return g


def pool2d_output_size(int64_t h, int64_t w, tuple kernel_size, tuple stride, tuple padding,
                       tuple dilation, bint ceil_mode):
    """(P, Q) for an input plane h x w, or None where the C library refuses the geometry."""
    try:
        g = pool2d_geometry("pool2d_output_size", (1, 1, h, w), kernel_size, stride, padding,
                            dilation, ceil_mode)
    except ValueError:
        return None
    return g.output_shape[2:]


def max_pool2d(str op, Pool2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray y,
               object indices, bint reference):
    """y, indices <- max_pool2d(x) of the shapes in geometry; indices may be None."""
    cdef const fc_pool2d_params *p = &geometry.p
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void *xp = _buffer(op, "x", x, typenum, geometry.x_shape, False)
    cdef void *yp = _buffer(op, "y", y, typenum, geometry.output_shape, True)
    cdef int64_t *ip = NULL
    if indices is not None:
        ip = <int64_t *>_buffer(op, "indices", indices, cnp.NPY_INT64, geometry.output_shape,
                                True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_max_pool2d_forward(p, dtype, xp, yp, ip)
        else:
            status = fc_max_pool2d_forward(p, dtype, xp, yp, ip)
    _check(op, status)


def avg_pool2d(str op, Pool2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray y,
               bint count_include_pad, int64_t divisor_override, bint reference):
    """y <- avg_pool2d(x) of the shapes in geometry."""
    cdef fc_pool2d_params p = geometry.p
    p.count_include_pad = count_include_pad
    p.divisor_override = divisor_override
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void *xp = _buffer(op, "x", x, typenum, geometry.x_shape, False)
    cdef void *yp = _buffer(op, "y", y, typenum, geometry.output_shape, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_avg_pool2d_forward(&p, dtype, xp, yp)
        else:
            status = fc_avg_pool2d_forward(&p, dtype, xp, yp)
    _check(op, status)


def max_pool2d_nhwc(str op, Pool2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray y,
                    object indices):
    """y, indices (N, P, Q, C) <- max_pool2d(x (N, H, W, C)), geometry's shapes channels last;
    indices may be None."""
    cdef const fc_pool2d_params *p = &geometry.p
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef tuple y_shape = _nhwc(geometry.output_shape)
    cdef const void *xp = _buffer(op, "x", x, typenum, _nhwc(geometry.x_shape), False)
    cdef void *yp = _buffer(op, "y", y, typenum, y_shape, True)
    cdef int64_t *ip = NULL
    if indices is not None:
        ip = <int64_t *>_buffer(op, "indices", indices, cnp.NPY_INT64, y_shape, True)
    cdef fc_status status
    with nogil:
        status = fc_max_pool2d_forward_nhwc(p, dtype, xp, yp, ip)
    _check(op, status)


def avg_pool2d_nhwc(str op, Pool2dGeometry geometry not None, cnp.ndarray x, cnp.ndarray y,
                    bint count_include_pad, int64_t divisor_override):
    """y (N, P, Q, C) <- avg_pool2d(x (N, H, W, C)), geometry's shapes channels last."""
    cdef fc_pool2d_params p = geometry.p
    p.count_include_pad = count_include_pad
    p.divisor_override = divisor_override
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void *xp = _buffer(op, "x", x, typenum, _nhwc(geometry.x_shape), False)
    cdef void *yp = _buffer(op, "y", y, typenum, _nhwc(geometry.output_shape), True)
    cdef fc_status status
    with nogil:
        status = fc_avg_pool2d_forward_nhwc(&p, dtype, xp, yp)
    _check(op, status)


# ---- image filtering ------------------------------------------------------------------------

BORDERS = {"constant": FC_BORDER_CONSTANT, "replicate": FC_BORDER_REPLICATE,
           "reflect": FC_BORDER_REFLECT, "reflect101": FC_BORDER_REFLECT101,
           "wrap": FC_BORDER_WRAP}
cdef dict _PIXEL_TYPES = {np.dtype(np.uint8): FC_PIXEL_U8, np.dtype(np.uint16): FC_PIXEL_U16,
                          np.dtype(np.int16): FC_PIXEL_I16, np.dtype(np.float32): FC_PIXEL_F32,
                          np.dtype(np.float64): FC_PIXEL_F64}


cdef const double *_taps(str op, str name, cnp.ndarray k, int64_t count) except NULL:
    if cnp.PyArray_TYPE(k) != cnp.NPY_FLOAT64 or not cnp.PyArray_ISNOTSWAPPED(k) \
            or not cnp.PyArray_IS_C_CONTIGUOUS(k) or cnp.PyArray_SIZE(k) != count:
        raise ValueError(f"{op}: internal call: {name} must be {count} contiguous float64")
    return <const double *>cnp.PyArray_DATA(k)


def filter2d(str op, cnp.ndarray x, object kernel, object kx, object ky, cnp.ndarray y,
             str border, double value, double delta, tuple anchor, tuple ksize, bint reference):
    """y (N, H, W, C), C-contiguous <- x (N, H, W, C) at any strides, correlated with the
    2-D kernel (float64, ksize) or, when kernel is None, with the outer product ky x kx."""
    cdef fc_filter2d_params p
    if x.ndim != 4 or y.ndim != 4 or (<object>x).shape != (<object>y).shape:
        raise ValueError(f"{op}: internal call: x {(<object>x).shape}, y {(<object>y).shape}")
    if not cnp.PyArray_ISALIGNED(x) or not cnp.PyArray_ISNOTSWAPPED(x):
        raise ValueError(f"{op}: internal call: x is not aligned and native")
    if not cnp.PyArray_IS_C_CONTIGUOUS(y) or not cnp.PyArray_ISALIGNED(y) \
            or not cnp.PyArray_ISNOTSWAPPED(y) or not cnp.PyArray_ISWRITEABLE(y):
        raise ValueError(f"{op}: internal call: y is not C-contiguous, aligned and writable")
    p.x_type = _PIXEL_TYPES[x.dtype]
    p.y_type = _PIXEL_TYPES[y.dtype]
    p.n, p.h, p.w, p.c = (<object>x).shape
    cdef int i
    for i in range(4):
        p.x_strides[i] = cnp.PyArray_STRIDE(x, i) // x.dtype.itemsize
    p.kh, p.kw = ksize
    p.anchor_y, p.anchor_x = anchor
    p.border = BORDERS[border]
    p.value = value
    p.delta = delta
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef const double *kp = NULL
    cdef const double *kxp = NULL
    cdef const double *kyp = NULL
    if kernel is not None:
        kp = _taps(op, "kernel", kernel, p.kh * p.kw)
    else:
        kxp = _taps(op, "kx", kx, p.kw)
        kyp = _taps(op, "ky", ky, p.kh)
    cdef fc_status status
    with nogil:
        if kp != NULL:
            status = fc_ref_filter2d(&p, xp, kp, yp) if reference else fc_filter2d(&p, xp, kp, yp)
        elif reference:
            status = fc_ref_sep_filter2d(&p, xp, kxp, kyp, yp)
        else:
            status = fc_sep_filter2d(&p, xp, kxp, kyp, yp)
    _check(op, status)


# ---- backward passes ----------------------------------------------------------------------

def conv2d_backward(str op, Conv2dGeometry geometry not None, cnp.ndarray grad_output,
                    cnp.ndarray x, cnp.ndarray weight, object grad_input, object grad_weight,
                    object grad_bias, bint reference, int64_t max_workspace_bytes=0,
                    object algorithm=None, bint nhwc=False):
    """grad_input, grad_weight, grad_bias (each may be None) <- conv2d's backward pass of the
    shapes in geometry, within max_workspace_bytes per thread (0: the default); algorithm:
    grad_input's, as conv2d's (None, "auto", "im2col", "winograd" or AUTO_HIGH); nhwc:
    grad_output, x and grad_input channels last (the NCHW geometry's shapes reordered; the
    GEMM, algorithm unread)."""
    cdef fc_conv2d_params params = geometry.p
    params.max_workspace_bytes = max_workspace_bytes
    cdef const fc_conv2d_params *p = &params
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef fc_conv_algorithm algo = (FC_CONV_AUTO if algorithm is None else
                                   FC_CONV_AUTO_HIGH if algorithm == AUTO_HIGH else
                                   ALGORITHMS[algorithm])
    cdef tuple x_shape = _nhwc(geometry.x_shape) if nhwc else geometry.x_shape
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum,
                                  _nhwc(geometry.output_shape) if nhwc else geometry.output_shape,
                                  False)
    cdef const void *xp = _buffer(op, "x", x, typenum, x_shape, False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, geometry.weight_shape, False)
    cdef void *gxp = _gradient(op, "grad_input", grad_input, typenum, x_shape)
    cdef void *gwp = _gradient(op, "grad_weight", grad_weight, typenum, geometry.weight_shape)
    cdef void *gbp = _gradient(op, "grad_bias", grad_bias, typenum, (p.k,))
    cdef fc_status status
    with nogil:
        if nhwc and reference:
            status = fc_ref_conv2d_backward_nhwc(p, dtype, gp, xp, wp, gxp, gwp, gbp)
        elif nhwc:
            status = fc_conv2d_backward_nhwc(p, dtype, gp, xp, wp, gxp, gwp, gbp)
        elif reference:
            status = fc_ref_conv2d_backward(p, dtype, gp, xp, wp, gxp, gwp, gbp)
        else:
            status = fc_conv2d_backward(p, dtype, gp, xp, wp, gxp, gwp, gbp, algo)
    cdef int64_t least = 0
    if status == FC_ERR_WORKSPACE_TOO_SMALL:
        if nhwc:
            fc_conv2d_backward_nhwc_min_workspace(p, dtype, gxp != NULL, gwp != NULL,
                                                  gbp != NULL, &least)
        else:
            fc_conv2d_backward_min_workspace(p, dtype, gxp != NULL, gwp != NULL, gbp != NULL,
                                             algo, &least)
        raise ValueError(f"{op}: max_workspace_bytes={max_workspace_bytes} is below the "
                         f"{least} bytes per thread this backward pass needs (x shape "
                         f"{(<object>x).shape}, weight shape {(<object>weight).shape})")
    _check(op, status)


def conv_transpose2d(str op, Conv2dGeometry geometry not None, cnp.ndarray x,
                     cnp.ndarray weight, object bias, cnp.ndarray y, object activation,
                     double alpha, bint reference):
    """y <- act(conv_transpose2d(x, weight) + bias): the adjoint of the conv2d in geometry,
    whose output x has the shape and whose input y has the shape (fc_conv_transpose2d_forward)."""
    cdef fc_conv2d_params p = geometry.p
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void *xp = _buffer(op, "x", x, typenum, geometry.output_shape, False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, geometry.weight_shape, False)
    cdef fc_epilogue epi
    _fill_epilogue(&epi, op, bias, (p.c,), None, geometry.x_shape, activation, alpha, typenum)
    cdef void *yp = _buffer(op, "y", y, typenum, geometry.x_shape, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_conv_transpose2d_forward(&p, dtype, xp, wp, &epi, yp)
        else:
            status = fc_conv_transpose2d_forward(&p, dtype, xp, wp, &epi, yp)
    _check(op, status)


def conv_transpose2d_backward(str op, Conv2dGeometry geometry not None,
                              cnp.ndarray grad_output, cnp.ndarray x, cnp.ndarray weight,
                              object grad_input, object grad_weight, object grad_bias,
                              bint reference):
    """grad_input, grad_weight, grad_bias (each may be None) <- conv_transpose2d's backward
    pass; geometry as for conv_transpose2d (grad_output has its x_shape, x its output_shape)."""
    cdef fc_conv2d_params p = geometry.p
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum, geometry.x_shape,
                                  False)
    cdef const void *xp = _buffer(op, "x", x, typenum, geometry.output_shape, False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, geometry.weight_shape, False)
    cdef void *gxp = _gradient(op, "grad_input", grad_input, typenum, geometry.output_shape)
    cdef void *gwp = _gradient(op, "grad_weight", grad_weight, typenum, geometry.weight_shape)
    cdef void *gbp = _gradient(op, "grad_bias", grad_bias, typenum, (p.c,))
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_conv_transpose2d_backward(&p, dtype, gp, xp, wp, gxp, gwp, gbp)
        else:
            status = fc_conv_transpose2d_backward(&p, dtype, gp, xp, wp, gxp, gwp, gbp)
    _check(op, status)


def max_pool2d_backward(str op, cnp.ndarray grad_output, cnp.ndarray indices,
                        cnp.ndarray grad_input, bint reference, bint nhwc=False):
    """grad_input (N, C, H, W) <- scatter of grad_output (N, C, P, Q) at indices; with nhwc,
    all three channels last (N, H, W, C), the indices still flat into each channel's plane.

    Returns False (grad_input untouched) when an index lies outside [-1, H * W)."""
    cdef fc_dtype dtype = _dtype_of(op, grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    if grad_output.ndim != 4 or grad_input.ndim != 4:
        raise ValueError(f"{op}: internal call with grad_output {(<object>grad_output).shape}, grad_input {(<object>grad_input).shape}")
    cdef int64_t n = grad_input.shape[0], c = grad_input.shape[3 if nhwc else 1]
    cdef int64_t h = grad_input.shape[1 if nhwc else 2], w = grad_input.shape[2 if nhwc else 3]
    cdef int64_t out_h = grad_output.shape[1 if nhwc else 2]
    cdef int64_t out_w = grad_output.shape[2 if nhwc else 3]
    cdef tuple g_shape = (n, out_h, out_w, c) if nhwc else (n, c, out_h, out_w)
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum, g_shape, False)
    cdef const int64_t *ip = <const int64_t *>_buffer(op, "indices", indices, cnp.NPY_INT64,
                                                      g_shape, False)
    cdef void *gxp = _buffer(op, "grad_input", grad_input, typenum,
                             (n, h, w, c) if nhwc else (n, c, h, w), True)
    cdef fc_status status
    with nogil:
        if nhwc:
            status = fc_max_pool2d_backward_nhwc(n, c, h, w, out_h, out_w, dtype, gp, ip, gxp)
        elif reference:
            status = fc_ref_max_pool2d_backward(n, c, h, w, out_h, out_w, dtype, gp, ip, gxp)
        else:
            status = fc_max_pool2d_backward(n, c, h, w, out_h, out_w, dtype, gp, ip, gxp)
    if status == FC_ERR_INVALID_ARGUMENT and n > 0 and out_h > 0 and out_w > 0 and h > 0 and w > 0:
        return False
    _check(op, status)
    return True


def avg_pool2d_backward_nhwc(str op, Pool2dGeometry geometry not None, cnp.ndarray grad_output,
                             cnp.ndarray grad_input, bint count_include_pad,
                             int64_t divisor_override):
    """grad_input (N, H, W, C) <- avg_pool2d's backward pass of grad_output (N, P, Q, C), the
    geometry's shapes channels last."""
    cdef fc_pool2d_params p = geometry.p
    p.count_include_pad = count_include_pad
    p.divisor_override = divisor_override
    cdef fc_dtype dtype = _dtype_of(op, grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum,
                                  _nhwc(geometry.output_shape), False)
    cdef void *gxp = _buffer(op, "grad_input", grad_input, typenum, _nhwc(geometry.x_shape),
                             True)
    cdef fc_status status
    with nogil:
        status = fc_avg_pool2d_backward_nhwc(&p, dtype, gp, gxp)
    _check(op, status)


def avg_pool2d_backward(str op, Pool2dGeometry geometry not None, cnp.ndarray grad_output,
                        cnp.ndarray grad_input, bint count_include_pad,
                        int64_t divisor_override, bint reference):
    """grad_input (N, C, H, W) <- avg_pool2d's backward pass of grad_output, of the shapes in
    geometry."""
    cdef fc_pool2d_params p = geometry.p
    p.count_include_pad = count_include_pad
    p.divisor_override = divisor_override
    cdef fc_dtype dtype = _dtype_of(op, grad_output)
    cdef int typenum = cnp.PyArray_TYPE(grad_output)
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum,
                                  geometry.output_shape, False)
    cdef void *gxp = _buffer(op, "grad_input", grad_input, typenum, geometry.x_shape, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_avg_pool2d_backward(&p, dtype, gp, gxp)
        else:
            status = fc_avg_pool2d_backward(&p, dtype, gp, gxp)
    _check(op, status)


def activation(str op, str name, double alpha, cnp.ndarray x, cnp.ndarray y, bint reference):
    """y <- the activation `name` of the epilogue's table (alpha: its parameter) of x,
    elementwise over arrays of one shape; y may be x."""
    cdef fc_activation act = <fc_activation><int>ACTIVATIONS[name]
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef const void *xp = _buffer(op, "x", x, cnp.PyArray_TYPE(x), (<object>x).shape, False)
    cdef void *yp = _buffer(op, "y", y, cnp.PyArray_TYPE(x), (<object>x).shape, True)
    cdef int64_t count = cnp.PyArray_SIZE(x)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_activation_forward(count, dtype, act, alpha, xp, yp)
        else:
            status = fc_activation_forward(count, dtype, act, alpha, xp, yp)
    _check(op, status)


cdef int _binary_elementwise(str op, tuple names, str name, double alpha, cnp.ndarray a,
                             cnp.ndarray b, cnp.ndarray y, bint reference, bint is_add) except -1:
    """y <- (a, b) elementwise over arrays of one shape, `names` theirs in messages: the
    activation `name`'s gradient (a: grad_output, b: x) or act(a + b) (is_add)."""
    cdef fc_activation act = <fc_activation><int>ACTIVATIONS[name]
    cdef fc_dtype dtype = _dtype_of(op, a)
    cdef int typenum = cnp.PyArray_TYPE(a)
    cdef tuple shape = (<object>a).shape
    cdef const void *ap = _buffer(op, names[0], a, typenum, shape, False)
    cdef const void *bp = _buffer(op, names[1], b, typenum, shape, False)
    cdef void *yp = _buffer(op, names[2], y, typenum, shape, True)
    cdef int64_t count = cnp.PyArray_SIZE(a)
    cdef fc_status status
    with nogil:
        if is_add:
            if reference:
                status = fc_ref_add_forward(count, dtype, act, alpha, ap, bp, yp)
            else:
                status = fc_add_forward(count, dtype, act, alpha, ap, bp, yp)
        elif reference:
            status = fc_ref_activation_backward(count, dtype, act, alpha, ap, bp, yp)
        else:
            status = fc_activation_backward(count, dtype, act, alpha, ap, bp, yp)
    return _check(op, status)


def activation_backward(str op, str name, double alpha, cnp.ndarray grad_output,
                        cnp.ndarray x, cnp.ndarray grad_input, bint reference):
    """grad_input <- the gradient of the activation `name` at x; grad_input may be
    grad_output."""
    _binary_elementwise(op, ("grad_output", "x", "grad_input"), name, alpha, grad_output, x,
                        grad_input, reference, False)


def add(str op, str name, double alpha, cnp.ndarray a, cnp.ndarray b, cnp.ndarray y,
        bint reference):
    """y <- act(a + b) elementwise (act the epilogue table's `name`, None for none), arrays of
    one shape; y may be a or b."""
    _binary_elementwise(op, ("a", "b", "out"), name, alpha, a, b, y, reference, True)


cdef void *_channel_vector(str op, str name, object a, int typenum, int64_t c,
                           bint writable) except? NULL:
    """NULL for None, else the data of the (C,) vector `name`, checked as every operand."""
    if a is None:
        return NULL
    return _buffer(op, name, a, typenum, (c,), writable)


cdef fc_batch_norm_params _batch_norm_params(str op, tuple shape, bint training,
                                             double momentum, double eps) except *:
    """The C call's parameters for x of shape (N, C, HW), as batch_norm and its backward take it."""
    if len(shape) != 3:
        raise ValueError(f"{op}: internal call with x of shape {shape}")
    cdef fc_batch_norm_params p
    p.n, p.c, p.hw = shape
    p.training, p.momentum, p.eps = training, momentum, eps
    return p


def batch_norm(str op, cnp.ndarray x, object weight, object bias, object running_mean,
               object running_var, cnp.ndarray y, object save_mean, object save_invstd,
               bint training, double momentum, double eps, bint reference):
    """y (N, C, HW) <- batch_norm(x (N, C, HW)); the (C,) vectors may be None (as the C call's
    NULL); running_mean and running_var are updated in place in training."""
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef tuple shape = (<object>x).shape
    cdef fc_batch_norm_params p = _batch_norm_params(op, shape, training, momentum, eps)
    cdef const void *xp = _buffer(op, "x", x, typenum, shape, False)
    cdef void *yp = _buffer(op, "y", y, typenum, shape, True)
    cdef const void *wp = _channel_vector(op, "weight", weight, typenum, p.c, False)
    cdef const void *bp = _channel_vector(op, "bias", bias, typenum, p.c, False)
    cdef void *rmp = _channel_vector(op, "running_mean", running_mean, typenum, p.c, True)
    cdef void *rvp = _channel_vector(op, "running_var", running_var, typenum, p.c, True)
    cdef void *smp = _channel_vector(op, "save_mean", save_mean, typenum, p.c, True)
    cdef void *sip = _channel_vector(op, "save_invstd", save_invstd, typenum, p.c, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_batch_norm_forward(&p, dtype, xp, wp, bp, rmp, rvp, yp, smp, sip)
        else:
            status = fc_batch_norm_forward(&p, dtype, xp, wp, bp, rmp, rvp, yp, smp, sip)
    _check(op, status)


def batch_norm_backward(str op, cnp.ndarray grad_output, cnp.ndarray x, object weight,
                        cnp.ndarray mean, cnp.ndarray invstd, object grad_input,
                        object grad_weight, object grad_bias, bint training, bint reference):
    """The gradients of batch_norm (N, C, HW), each output None (not computed) or an array."""
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef tuple shape = (<object>x).shape
    # the backward reads neither momentum nor eps (its invstd is the forward's)
    cdef fc_batch_norm_params p = _batch_norm_params(op, shape, training, 0.0, 1.0)
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum, shape, False)
    cdef const void *xp = _buffer(op, "x", x, typenum, shape, False)
    cdef const void *wp = _channel_vector(op, "weight", weight, typenum, p.c, False)
    cdef const void *mp = _channel_vector(op, "save_mean", mean, typenum, p.c, False)
    cdef const void *sp = _channel_vector(op, "save_invstd", invstd, typenum, p.c, False)
    cdef void *gxp = NULL
    if grad_input is not None:
        gxp = _buffer(op, "grad_input", grad_input, typenum, shape, True)
    cdef void *gwp = _channel_vector(op, "grad_weight", grad_weight, typenum, p.c, True)
    cdef void *gbp = _channel_vector(op, "grad_bias", grad_bias, typenum, p.c, True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_batch_norm_backward(&p, dtype, gp, xp, wp, mp, sp, gxp, gwp, gbp)
        else:
            status = fc_batch_norm_backward(&p, dtype, gp, xp, wp, mp, sp, gxp, gwp, gbp)
    _check(op, status)


def adaptive_avg_pool2d(str op, cnp.ndarray x, cnp.ndarray y, bint backward, bint reference):
    """Forward: y (N, C, P, Q) <- adaptive_avg_pool2d(x (N, C, H, W)); backward: y (N, C, H, W)
    <- the gradient of grad_output x (N, C, P, Q)."""
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef tuple small = (<object>y).shape if not backward else (<object>x).shape
    cdef tuple big = (<object>x).shape if not backward else (<object>y).shape
    cdef const void *xp = _buffer(op, "grad_output" if backward else "x", x, typenum,
                                  (<object>x).shape, False)
    cdef void *yp = _buffer(op, "grad_input" if backward else "y", y, typenum,
                            (<object>y).shape, True)
    cdef int64_t n = big[0], c = big[1], h = big[2], w = big[3], p = small[2], q = small[3]
    if small[0] != n or small[1] != c:
        raise ValueError(f"{op}: the arrays' N and C differ: {big} and {small}")
    cdef fc_status status
    with nogil:
        if backward:
            if reference:
                status = fc_ref_adaptive_avg_pool2d_backward(n, c, h, w, p, q, dtype, xp, yp)
            else:
                status = fc_adaptive_avg_pool2d_backward(n, c, h, w, p, q, dtype, xp, yp)
        elif reference:
            status = fc_ref_adaptive_avg_pool2d_forward(n, c, h, w, p, q, dtype, xp, yp)
        else:
            status = fc_adaptive_avg_pool2d_forward(n, c, h, w, p, q, dtype, xp, yp)
    _check(op, status)


# ---- linear (both passes) -----------------------------------------------------------------

def linear(str op, cnp.ndarray x, cnp.ndarray weight, object bias, cnp.ndarray y,
           object activation, bint reference, object residual=None, double alpha=0.0):
    """y (N, out) <- act(linear(x (N, in), weight (out, in), bias (out,) or None)
    + residual (N, out) or None)."""
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"{op}: internal call with x {(<object>x).shape}, weight {(<object>weight).shape}")
    cdef int64_t n = x.shape[0], in_features = x.shape[1], out_features = weight.shape[0]
    cdef const void *xp = _buffer(op, "x", x, typenum, (n, in_features), False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, (out_features, in_features),
                                  False)
    cdef fc_epilogue epi
    _fill_epilogue(&epi, op, bias, (out_features,), residual, (n, out_features), activation,
                   alpha, typenum)
    cdef void *yp = _buffer(op, "y", y, typenum, (n, out_features), True)
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_linear_forward(n, in_features, out_features, dtype, xp, wp, &epi,
                                           yp)
        else:
            status = fc_linear_forward(n, in_features, out_features, dtype, xp, wp, &epi, yp)
    _check(op, status)


def linear_backward(str op, cnp.ndarray grad_output, cnp.ndarray x, cnp.ndarray weight,
                    object grad_input, object grad_weight, object grad_bias, bint reference):
    """grad_input (N, in), grad_weight (out, in), grad_bias (out,) (each may be None) <-
    linear's backward pass of grad_output (N, out)."""
    cdef fc_dtype dtype = _dtype_of(op, x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"{op}: internal call with x {(<object>x).shape}, weight {(<object>weight).shape}")
    cdef int64_t n = x.shape[0], in_features = x.shape[1], out_features = weight.shape[0]
    cdef const void *gp = _buffer(op, "grad_output", grad_output, typenum, (n, out_features),
                                  False)
    cdef const void *xp = _buffer(op, "x", x, typenum, (n, in_features), False)
    cdef const void *wp = _buffer(op, "weight", weight, typenum, (out_features, in_features),
                                  False)
    cdef void *gxp = _gradient(op, "grad_input", grad_input, typenum, (n, in_features))
    cdef void *gwp = _gradient(op, "grad_weight", grad_weight, typenum,
                               (out_features, in_features))
    cdef void *gbp = _gradient(op, "grad_bias", grad_bias, typenum, (out_features,))
    cdef fc_status status
    with nogil:
        if reference:
            status = fc_ref_linear_backward(n, in_features, out_features, dtype, gp, xp, wp, gxp,
                                            gwp, gbp)
        else:
            status = fc_linear_backward(n, in_features, out_features, dtype, gp, xp, wp, gxp,
                                        gwp, gbp)
    _check(op, status)


def set_num_threads(int n):
    _check("set_num_threads", fc_set_num_threads(n))


def get_num_threads():
    return fc_get_num_threads()


def probe_team_size(int64_t work):
    """Threads an op's parallel region over `work` units actually runs (for the tests)."""
    cdef int team
    with nogil:
        team = fc_probe_team_size(work)
    return team


def has_openmp():
    return bool(fc_has_openmp())


def cpu_isa():
    """The best ISA path of ISA_NAMES this CPU supports."""
    return fc_isa_name(fc_cpu_isa()).decode()


def active_isa():
    return fc_isa_name(fc_active_isa()).decode()


def select_isa(str name):
    """Use the best ISA path the CPU supports that is not above `name`.

    Only while no op runs in any thread: the kernel table is process-wide, and a driver reads
    its tile sizes more than once per call (for the tests and FASTCONV_ISA at import)."""
    if name not in _ISA_BY_NAME:
        raise ValueError(f"select_isa: {name!r} is not one of this architecture's ISA paths "
                         f"{ISA_NAMES}")
    fc_select_isa(<fc_isa>_ISA_BY_NAME[name])


def kernel_families():
    """The microkernel families, in the order of csrc/kernels/members.h."""
    return tuple(fc_family_name(<fc_family>f).decode() for f in range(<int>FC_FAMILY_COUNT))


def kernel_members(str family):
    """The member table of a microkernel family (csrc/kernels/<family>/members.c) on this
    build's architecture: one dict per member with family, dtype ('f32', 'f64', 'i64'), isa,
    name (what config prints), symbol (its C function), the tile sizes mr, nr, kc, nc, lanes,
    item_rows (0 where the family has none; csrc/kernels/members.h), available (the CPU has
    its ISA) and active (it is the member installed now for its dtype).  A member runs through
    the ops after select_isa(member["isa"]): dispatch installs one member per ISA path."""
    families = kernel_families()
    if family not in families:
        raise ValueError(f"kernel_members: {family!r} is not one of {families}")
    cdef int index = families.index(family)
    cdef fc_family f = <fc_family>index
    cdef const fc_member *members = NULL
    cdef size_t count = fc_family_members(f, &members)
    cdef int cpu = fc_isa_rank(fc_cpu_isa())
    cdef const fc_member *m
    result = []
    for i in range(count):
        m = &members[i]
        rank = fc_isa_rank(m.isa)
        result.append({
            "family": family, "dtype": m.dtype.decode(), "isa": fc_isa_name(m.isa).decode(),
            "name": m.name.decode(), "symbol": m.symbol.decode(), "mr": m.mr, "nr": m.nr,
            "kc": m.kc, "nc": m.nc, "lanes": m.lanes, "item_rows": m.item_rows,
            "available": 0 <= rank <= cpu, "active": fc_active_member(f, m.dtype) == m})
    return result


def kernel_name(str op, str dtype):
    cdef bytes op_bytes = op.encode()
    cdef const char *name = fc_kernel_name(op_bytes, FC_FLOAT64 if dtype == "float64"
                                           else FC_FLOAT32)
    return None if name == NULL else name.decode()


# ---- the C library's size arithmetic, exposed for its unit tests (tests/test_sizes.py) -------

def size_checked_product(factors):
    """fc_checked_product: the product of non-negative int64 factors, ValueError past int64."""
    cdef int64_t values[8]
    cdef int64_t product = 0
    if len(factors) > 8:
        raise ValueError("size_checked_product: at most 8 factors")
    for i, factor in enumerate(factors):
        values[i] = factor
    _check("size_checked_product", fc_checked_product(values, len(factors), &product))
    return product


def size_mul_saturating(int64_t a, int64_t b):
    return fc_mul_saturating(a, b)


def size_ceil_div(int64_t a, int64_t b):
    return fc_ceil_div(a, b)


def size_floor_div(int64_t a, int64_t b):
    return fc_floor_div(a, b)


def size_task_range(int64_t total, int64_t count, int64_t i):
    """fc_task_range: the [begin, end) task i of `count` takes of `total` units."""
    cdef int64_t begin, end
    fc_task_range(total, count, i, &begin, &end)
    return begin, end


def size_task_count(int64_t units, int64_t unit_cost, int64_t min_task):
    """fc_task_count: how many tasks `units` of work are cut into."""
    return fc_task_count(units, unit_cost, min_task)


POOL_DESCRIPTION = ("fastconv's own (csrc/common/parallel.c): tasks claimed dynamically, a late "
                    "worker never holds up an op; idle workers spin ~50 us, then sleep")

SCHEDULE_SHUFFLE = FC_SCHEDULE_SHUFFLE
SCHEDULE_DELAY = FC_SCHEDULE_DELAY


def set_schedule_test(int mode, uint64_t seed=0):
    """Test hook (csrc/common/parallel.h): an adversarial schedule for every op's parallel
    region -- SCHEDULE_SHUFFLE runs each phase's tasks in a pseudo-random order drawn from
    `seed`, SCHEDULE_DELAY starts the last thread of each team late and pauses threads at
    random.  0 restores the normal schedule.  Not for use while ops run in other threads."""
    fc_set_schedule_test(mode, seed)


def schedule_test_mode():
    return fc_schedule_test_mode()


def probe_schedule(int threads, tasks_per_phase):
    """Runs empty tasks through the ops' runtime (phases of the given task counts) on at most
    `threads` threads; returns (phase, task, started, thread) arrays over all tasks, started
    being the order in which each task began."""
    tasks = np.ascontiguousarray(tasks_per_phase, dtype=np.int64)
    if tasks.ndim != 1 or tasks.size == 0 or (tasks < 0).any():
        raise ValueError("probe_schedule: tasks_per_phase must be a non-empty list of counts >= 0")
    total = int(tasks.sum())
    first = np.zeros(tasks.size, np.int64)
    started = np.full(total, -1, np.int64)
    thread = np.full(total, -1, np.int64)
    cdef int64_t[::1] tasks_v = tasks, first_v = first
    cdef int64_t[::1] started_v = started, thread_v = thread
    cdef int64_t *started_p = &started_v[0] if total else NULL
    cdef int64_t *thread_p = &thread_v[0] if total else NULL
    with nogil:
        fc_probe_schedule(threads, tasks_v.shape[0], &tasks_v[0], &first_v[0], started_p,
                          thread_p)
    phase = np.repeat(np.arange(tasks.size), tasks)
    task = np.arange(total) - first[phase]
    return phase, task, started, thread


_OUTPUT_HANDLER = fc_output_handler_capsule()


def empty(shape, dtype):
    """np.empty(shape, dtype) whose data comes from the C library's block cache
    (csrc/common/memory.c) and returns there when the array is freed: the outputs of
    back-to-back calls reuse memory instead of faulting in fresh pages.  Only fastconv's own
    allocations use it: numpy's handler is restored at once."""
    previous = PyDataMem_SetHandler(_OUTPUT_HANDLER)
    try:
        return np.empty(shape, dtype)
    finally:
        PyDataMem_SetHandler(previous)


def cache_info():
    """(bytes held, limit) of the block cache."""
    return fc_cache_bytes(), fc_cache_limit()


def cache_set_limit(int64_t nbytes):
    fc_cache_set_limit(nbytes)


def cache_empty():
    return fc_cache_empty()


def size_aligned_alloc_succeeds(int64_t nbytes):
    """Whether fc_aligned_alloc(nbytes) gives memory (freed at once); False where it refuses."""
    cdef void *p = fc_aligned_alloc(nbytes)
    fc_aligned_free(p)
    return p != NULL


def conv2d_output_size(int64_t h, int64_t w, int64_t r, int64_t s, tuple stride, tuple padding,
                       tuple dilation):
    """fc_conv2d_output_size's (P, Q) for one h x w plane and an r x s kernel; None where the C
    library refuses the geometry (too small), ValueError where a sum passes int64."""
    cdef fc_conv2d_params p
    cdef int64_t out_h, out_w
    _fill_conv_params(&p, 1, 1, h, w, 1, r, s, stride, padding, dilation, 1, 0)
    status = fc_conv2d_output_size(&p, &out_h, &out_w)
    if status == FC_ERR_INVALID_ARGUMENT:
        return None
    _check("conv2d_output_size", status)
    return out_h, out_w


# ---- the C library's window geometry (csrc/common/geometry.h), for tests/test_geometry.py ----

def geometry_window_count(int64_t size, int64_t pad_before, int64_t pad_after, int64_t kernel,
                          int64_t stride, int64_t dilation, bint ceil_mode):
    """fc_window_count: outputs along one axis; None where no window fits, ValueError where a
    sum passes int64."""
    cdef int64_t out = 0
    status = fc_window_count(size, pad_before, pad_after, kernel, stride, dilation, ceil_mode,
                             &out)
    if status == FC_ERR_INVALID_ARGUMENT:
        return None
    _check("geometry_window_count", status)
    return out


def geometry_valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count):
    """fc_valid_range: (lo, hi), the outputs o in [0, count) with o * stride + offset in
    [0, size)."""
    cdef int64_t lo, hi
    fc_valid_range(offset, stride, size, count, &lo, &hi)
    return lo, hi


def geometry_window_interior(int64_t size, int64_t pad_before, int64_t kernel, int64_t stride,
                             int64_t dilation, int64_t count):
    """fc_window_interior: (lo, hi), the outputs whose whole window lies inside the input."""
    cdef int64_t lo, hi
    fc_window_interior(size, pad_before, kernel, stride, dilation, count, &lo, &hi)
    return lo, hi


def geometry_avg_pool_divisor(int64_t oh, int64_t ow, int64_t h, int64_t w, tuple kernel_size,
                              tuple stride, tuple padding, bint count_include_pad,
                              int64_t divisor_override=0):
    """fc_avg_pool_window along both axes and fc_avg_pool_divisor: the divisor of output
    (oh, ow)."""
    cdef int64_t h0, h1, padded_h, w0, w1, padded_w
    fc_avg_pool_window(oh, stride[0], padding[0], kernel_size[0], h, &h0, &h1, &padded_h)
    fc_avg_pool_window(ow, stride[1], padding[1], kernel_size[1], w, &w0, &w1, &padded_w)
    cdef fc_avg_pool_rule rule
    rule.count_include_pad, rule.divisor_override = count_include_pad, divisor_override
    return fc_avg_pool_divisor(rule, h1 - h0, w1 - w0, padded_h, padded_w)


# ---- the key of a call, for functional.py's per-shape caches ------------------------------

# A bool's own token in a key: True == 1 and hash(True) == hash(1), so a key holding the bool
# itself would let stride=True find the entry of stride=1 (which must raise TypeError).
cdef object _TRUE_KEY = object()
cdef object _FALSE_KEY = object()
cdef object _NOT_PLAIN = object()


cdef object _key_of(object v):
    """v as it goes into a key: None, an exact int or str as it is, a bool as its token, a
    tuple element by element; _NOT_PLAIN for anything else (a float, np.int64, a list...)."""
    cdef type t = type(v)
    if v is None or t is int or t is str:
        return v
    if t is bool:
        return _TRUE_KEY if v else _FALSE_KEY
    if t is not tuple:
        return _NOT_PLAIN
    items = [_key_of(e) for e in <tuple>v]
    for e in items:
        if e is _NOT_PLAIN:
            return _NOT_PLAIN
    return tuple(items)


def call_key(tuple arrays, tuple args):
    """The key under which functional.py caches what a call's checks found, or None when the
    call is not in the plain form the caches take: one array at least, each None or an exact
    ndarray, C-contiguous, aligned, native float32 or float64, all of one dtype; every
    argument None, an exact int, bool or str, or a tuple of them.  The key holds the dtype, the arrays' shapes
    and the arguments; two keys are equal only when every check of the call has the same
    outcome (the arrays' contents and out= aside, which the callers check on every call)."""
    cdef int typenum = -1, t
    cdef cnp.ndarray arr
    key = []
    for a in arrays:
        if a is None:
            key.append(None)
            continue
        if type(a) is not cnp.ndarray:
            return None
        arr = <cnp.ndarray>a
        t = cnp.PyArray_TYPE(arr)
        if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or (typenum >= 0 and t != typenum) \
                or not cnp.PyArray_ISNOTSWAPPED(arr) or not cnp.PyArray_IS_C_CONTIGUOUS(arr) \
                or not cnp.PyArray_ISALIGNED(arr):
            return None
        typenum = t
        key.append((<object>arr).shape)
    if typenum < 0:     # no array at all (relu(None)): the general path says what is wrong
        return None
    key.append(typenum)
    for v in args:
        v = _key_of(v)
        if v is _NOT_PLAIN:
            return None
        key.append(v)
    return tuple(key)
