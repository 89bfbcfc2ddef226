"""The project's targets for `fastconv bench`: the goal of each rule and the verdict on a row."""

# The project's targets: per rule, the minimum ratio to a peer, the minimum share of the
# machine's peak, or the maximum time per call.  The legend under the table spells them out
# (targets_legend), so that a reader sees what each row is held to.  The conv rules are those of
# the issue "Speed II": every layer ahead of PyTorch (oneDNN) by 10% and level with ONNX Runtime
# (MLAS); 3x3 stride-1 layers with C, K >= 64 (Winograd's) 1.5x PyTorch; a training step
# (forward + both gradients) 1.2x torch.autograd.
LARGE_LAYERS = ("alexnet_c1", "vgg_3x3", "resnet_3x3_b1", "resnet_3x3_b32", "resnet_1x1",
                "resnet_7x7s2")
TARGETS = {
    "conv": {"torch": 1.1, "onnxruntime": 1.0},
    "conv_large": {"torch": 1.1, "onnxruntime": 1.0, "peak": 0.70},
    "conv_3x3s1": {"torch": 1.5, "onnxruntime": 1.0},
    "lenet": {"torch": 1.5, "onnxruntime": 1.0},
    "depthwise": {"torch": 2.0, "onnxruntime": 1.0},
    "image": {"torch": 10.0, "opencv": 0.5},
    "train": {"torch": 1.2},
    # transposed convolutions (U-Net's up-convs): ahead of PyTorch, as the conv layers
    "conv_transpose": {"torch": 1.1},
    "max_pool2d": {"torch": 5.0, "peak": 0.70},
    "max_pool2d_nhwc": {"torch": 2.0},   # layout="NHWC", against torch on channels_last tensors
    # conv2d(layout="NHWC") at least 0.9x as fast as fastconv's NCHW call of the same layer:
    # channels last costs users at most some 10%
    "conv_nhwc": {"nchw": 0.9},
    "relu": {"peak": 0.80},
    "overhead_relu": {"max_us": 3.0},
    "overhead_conv2d": {"max_us": 5.0},
    # the image filters: level with OpenCV, 10x scipy.ndimage
    "filter2d": {"opencv": 1.0, "scipy": 10.0},
    "gaussian_blur": {"opencv": 1.0},
}
GEOMEAN_TARGET = 1.6     # geometric mean over the conv layers (not +relu) of the torch ratio
SCALING_TARGET = 1.8     # speed-up of 2 threads over 1 on the large layers
AUTO_TOLERANCE = 1.10    # auto's pick may be at most 10% slower than the best algorithm
# --load: with one busy process beside the benchmark, N threads may take at most 15% longer
# per call than 1 thread (more threads must not make a loaded machine slower)
LOAD_TARGET = 1.15


def conv_rule(shape):
    """The TARGETS rule of a conv layer (a cases.ConvShape), from what kind of layer it is."""
    if shape.name.startswith("lenet"):
        return "lenet"
    if shape.c == shape.k == 1:
        return "image"
    if shape.groups == shape.c > 1:
        return "depthwise"
    if ((shape.r, shape.s, shape.stride, shape.dilation) == (3, 3, 1, 1)
            and shape.c // shape.groups * shape.groups >= 64 and shape.k >= 64):
        return "conv_3x3s1"
    return "conv_large" if shape.name in LARGE_LAYERS else "conv"


def evaluate_target(rule, row):
    """pass / FAIL / n/a of a row against TARGETS[rule], with each criterion's figure (a
    share of peak above 100% cannot be judged: n/a)."""
    if rule is None:
        return {"status": "-", "criteria": []}
    criteria = []
    for key, bound in TARGETS[rule].items():
        if key == "max_us":
            value = row["impls"]["fastconv"]["median_s"] * 1e6
            ok = value <= bound
        else:
            value = row["peak_share"] if key == "peak" else row["ratios"].get(key)
            ok = None if value is None else value >= bound
        criterion = {"criterion": key, "bound": bound, "value": value, "ok": ok}
        if key == "peak" and value is not None and value > 1.0:
            # more than the machine's peak is no measurement of the row against it
            criterion.update(ok=None, note="share of peak above 100%: unreliable")
        criteria.append(criterion)
    failed = [c["criterion"] for c in criteria if c["ok"] is False]
    if failed:
        status = "FAIL"
    elif any(c["ok"] is None for c in criteria):
        status = "n/a"
    else:
        status = "pass"
    return {"status": status, "failed": failed, "criteria": criteria}
