"""Timing: calls per timing, the interleaved repeats, medians and spreads, paired ratios,
throughput, and the check of a peer's result against fastconv's."""
import gc
import math
import statistics
import time

import numpy as np


CHECK_TOLERANCE = 1e-4   # max |peer - fastconv| / max |fastconv|; float32 sums of <= 1152 terms
MIN_TIME = 0.05          # seconds per timing (per repeat and implementation)
QUICK_MIN_TIME = 0.002
DEFAULT_REPEAT = 7
QUICK_REPEAT = 3


LOAD_MIN_TIME, QUICK_LOAD_MIN_TIME = 0.25, 0.01   # seconds per throughput block under load


def _loop(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def calibrate(fn, min_time):
    """Calls per timing: the first of 1, 2, 5, 10, 20, 50, ... whose loop lasts >= min_time."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            if _loop(fn, number * factor) >= min_time:
                return number * factor
        number *= 10


# Pause before each timing when several threads run: the thread pools of the peers (OpenBLAS
# under numpy and torch, torch's OpenMP, ours) keep spinning after a call, OpenBLAS for ~2**28
# cycles (~0.1 s), and a spinning pool takes a core from whichever implementation runs next.
# Measured on the 2-core machine: resnet_3x3_b1 at 2 threads took 1.52 ms in the round-robin
# right after numpy's sgemm against 0.62 ms alone.
SETTLE_S = 0.2
# --quick is a smoke run (its figures are not measurements): its pauses are short, or the pauses
# alone would last minutes (27 cases x 7 repeats x 4 timings x 0.2 s).
QUICK_SETTLE_S = 0.01


def measure(impls, repeat, min_time, prepare=None, settle=0.0):
    """Per-call times of each implementation: {label: [seconds, ...] (one per repeat)}.

    The implementations are interleaved within each repeat, the first one rotating; prepare,
    when given, maps a label to a function run (untimed) before each of its timings; settle
    seconds pass (untimed) before each timing, so that the previous implementation's thread
    pool has gone idle.
    """
    prepare = prepare or {}
    labels = list(impls)
    numbers = {}
    for label in labels:
        prepare.get(label, lambda: None)()
        # twice, keeping the larger count: one slice lost to another process during the
        # first calibration would otherwise leave a fast call timed once per repeat
        numbers[label] = max(calibrate(impls[label], min_time),
                             calibrate(impls[label], min_time))
    samples = {label: [] for label in labels}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeat):
            shift = r % len(labels)
            for label in labels[shift:] + labels[:shift]:
                prepare.get(label, lambda: None)()
                if settle:
                    time.sleep(settle)
                samples[label].append(_loop(impls[label], numbers[label]) / numbers[label])
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples, numbers


def summarize(samples):
    """Median, quartiles and relative spread (IQR / median) of per-call times."""
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return {"median_s": float(median), "q1_s": float(q1), "q3_s": float(q3),
            "min_s": float(min(samples)), "spread": float((q3 - q1) / median) if median else 0.0,
            "samples_s": [float(t) for t in samples]}


def paired_ratio(peer, mine):
    """Median over the repeats of peer time / fastconv time within the same repeat."""
    return float(statistics.median(p / m for p, m in zip(peer, mine)))


def max_relative_error(result, expected):
    """max |result - expected| / max |expected| (the check of every peer against fastconv)."""
    result, expected = np.asarray(result, np.float64), np.asarray(expected, np.float64)
    if result.shape != expected.shape:
        return math.inf
    if expected.size == 0:
        return 0.0
    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(result - expected))) / scale


def throughput(samples, number):
    """Time per call as throughput: the total time of all blocks over all their calls (each
    block is `number` back-to-back calls), with the calls and the block times.  Not a median:
    under load a few calls that wait for a descheduled thread can cost more than all the
    others, and a median of calls or of blocks would not show them."""
    return {"time_s": statistics.fmean(samples), "calls": number * len(samples),
            "blocks_s": [t * number for t in samples]}
