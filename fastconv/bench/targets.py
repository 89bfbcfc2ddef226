"""The project's targets for `fastconv bench`: the goal of each rule and the verdict on a row."""

# The project's targets: per rule, the minimum ratio to a peer, the minimum share of the
# machine's peak, or the maximum time per call.  The legend under the table spells them out
# (targets_legend), so that a reader sees what each row is held to.
LARGE_LAYERS = ("alexnet_c1", "vgg_3x3", "resnet_3x3_b1", "resnet_3x3_b32", "resnet_1x1",
                "resnet_7x7s2")
TARGETS = {
    "large_layer": {"torch": 0.9, "peak": 0.70},
    "lenet": {"torch": 1.5},
    "depthwise": {"torch": 2.0},
    "image": {"torch": 10.0, "opencv": 0.5},
    "max_pool2d": {"torch": 5.0, "peak": 0.70},
    "relu": {"peak": 0.80},
    "overhead_relu": {"max_us": 3.0},
    "overhead_conv2d": {"max_us": 5.0},
}
SCALING_TARGET = 1.8     # speed-up of 2 threads over 1 on the large layers
AUTO_TOLERANCE = 1.10    # auto's pick may be at most 10% slower than the best algorithm
# --load: with one busy process beside the benchmark, N threads may take at most 15% longer
# per call than 1 thread (more threads must not make a loaded machine slower)
LOAD_TARGET = 1.15


def _conv_rule(layer):
    if layer in LARGE_LAYERS:
        return "large_layer"
    if layer.startswith("lenet"):
        return "lenet"
    return {"depthwise": "depthwise", "image_5x5": "image"}.get(layer)


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
