"""Running the cases: one case's row (build, check, time beside its peers and the peak, judge),
the 1- vs 2-thread scaling rows and the rows under load."""
import functools
import statistics
import time

import numpy as np

from .._config import get_num_threads, set_num_threads
from .machine import BusyProcess
from .peers import BASELINES, PEERS
from .targets import (AUTO_TOLERANCE, LARGE_LAYERS, LOAD_TARGET, SCALING_TARGET,
                      evaluate_target)
from .timing import (CHECK_TOLERANCE, SETTLE_S, max_relative_error, measure, paired_ratio,
                     summarize, throughput)


def run_case(case, peers, peaks, repeat, min_time, algorithms=False, quick=False,
             peak_kernels=None, monitor=None, settle=SETTLE_S):
    """Build, check and time one case; its row of results (a JSON-ready dict).

    With peak_kernels, the row's peak kernel joins the round-robin and the share of peak is
    the median over the repeats of (work / fastconv time) / (peak work / peak time); the
    overhead rows, whose share means nothing, use `peaks` (timed before the cases).  With a
    LoadMonitor, row["load"] is its verdict on the timed window (row["load"]["busy"]: the
    figures were taken while the machine was busy).  `settle`: the pause before each timing
    when several threads run.
    """
    row = {"name": case.name, "op": case.op, "describe": case.describe, "layer": case.layer}
    try:
        workload = case.build(peers)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    impls = dict(workload.impls)
    if algorithms:
        impls.update({f"fastconv:{name}": fn for name, fn in workload.algorithms.items()})
    missing = dict(workload.missing)
    for peer in PEERS:  # a peer the workload does not mention does not do its op
        if peer not in impls:
            missing.setdefault(peer, "not applicable")
    try:
        reference = np.array(impls["fastconv"]())   # a copy: in-place cases rewrite it
    except Exception as exc:
        row["error"] = f"fastconv: {type(exc).__name__}: {exc}"
        return row
    checks = {}
    for label in list(impls)[1:]:
        try:
            checks[label] = max_relative_error(impls[label](), reference)
        except Exception as exc:  # a peer that fails never fails the benchmark
            missing[label] = f"error: {type(exc).__name__}: {exc}"
            del impls[label]
    peak_label = None
    if peak_kernels is not None and not case.name.startswith("overhead"):
        peak_label, impls[peak_label], peak_work = peak_kernels.for_unit(workload.unit)
    if get_num_threads() == 1 or len(impls) == 1:
        settle = 0.0
    token = monitor.begin() if monitor else None
    samples, numbers = measure(impls, repeat, min_time, settle=settle)
    row["load"] = monitor.end(token) if monitor else None
    mine = samples["fastconv"]
    row.update(unit=workload.unit, work=workload.work, auto_algorithm=workload.auto_algorithm,
               missing=missing, skipped_algorithms=workload.skipped_algorithms)
    row["impls"] = {label: dict(summarize(s), number=numbers[label])
                    for label, s in samples.items()}
    rate = workload.work / row["impls"]["fastconv"]["median_s"] / 1e9
    row["rate"] = rate
    if peak_label:
        row["peak_share"] = (paired_ratio(samples[peak_label], mine) * workload.work
                             / peak_work)
        row["peak_rate"] = peak_work / row["impls"][peak_label]["median_s"] / 1e9
    else:
        peak = peaks.get("sgemm_gflops" if workload.unit == "GFLOP/s" else "copy_gbs")
        row["peak_share"] = rate / peak if peak else None
        row["peak_rate"] = peak
    # above 100%: the row's data sat in a cache the peak's did not fit, its traffic is lighter
    # on writes than a copy's, or the two timings saw different load; no share of a peak
    row["peak_share_reliable"] = row["peak_share"] is None or row["peak_share"] <= 1.0
    row["ratios"] = {label: paired_ratio(samples[label], mine) for label in impls
                     if label in PEERS + BASELINES}
    row["checks"] = {label: {"max_relative_error": err, "ok": err <= CHECK_TOLERANCE}
                     for label, err in checks.items()}
    if algorithms and workload.algorithms:
        times = {name: row["impls"][f"fastconv:{name}"]["median_s"]
                 for name in workload.algorithms}
        # auto's own row when its pick is unknown; pick time / each algorithm's time, paired
        # within each repeat as the ratios are; the best is the one auto's pick loses most to
        pick = (f"fastconv:{workload.auto_algorithm}" if workload.auto_algorithm in times
                else "fastconv")
        versus = {name: paired_ratio(samples[pick], samples[f"fastconv:{name}"])
                  for name in times}
        best = max(versus, key=versus.get)      # the pick itself (ratio 1) if nothing beats it
        slowdown = max(versus[best], 1.0)
        row["algorithms"] = {"times_s": times, "best": best, "auto": workload.auto_algorithm,
                             "auto_slowdown": slowdown, "ok": slowdown <= AUTO_TOLERANCE}
    if quick:
        row["target"] = {"status": "n/a", "failed": [], "criteria": [],
                         "note": "targets apply to the full shapes, not --quick"}
    else:
        row["target"] = evaluate_target(case.rule, row)
    row["target"]["busy"] = bool(row["load"] and row["load"]["busy"])
    return row


def run_scaling(all_cases, peers, repeat, min_time, quick=False, monitor=None, settle=0.0):
    """fastconv alone on each large layer at 1 and at 2 threads, interleaved; the speed-up,
    with the LoadMonitor's verdict on each row when one is given."""
    rows = []
    for case in all_cases:
        if case.layer not in LARGE_LAYERS or case.name != case.layer:
            continue
        workload = case.build(peers)
        fn = workload.impls["fastconv"]
        token = monitor.begin() if monitor else None
        samples, _ = measure({"1 thread": fn, "2 threads": fn}, repeat, min_time,
                             prepare={"1 thread": lambda: set_num_threads(1),
                                      "2 threads": lambda: set_num_threads(2)}, settle=settle)
        load = monitor.end(token) if monitor else None
        speedup = paired_ratio(samples["1 thread"], samples["2 threads"])
        rows.append({"name": case.name, "load": load,
                     "one_thread_s": statistics.median(samples["1 thread"]),
                     "two_threads_s": statistics.median(samples["2 threads"]),
                     "speedup": speedup,
                     "target": "n/a" if quick else
                     ("pass" if speedup >= SCALING_TARGET else "FAIL")})
    return rows


def run_load(all_cases, peers, repeat, min_time, threads, quick=False, monitor=None,
             settle=SETTLE_S):
    """Each case's fastconv and torch at 1 and at `threads` threads while one CPU-bound process
    of ours runs beside them: the time per call as throughput (blocks of back-to-back calls,
    the four interleaved round-robin), and per library the ratio N-thread time / 1-thread time
    (above 1: more threads are slower on the loaded machine).  fastconv's and torch's thread
    counts are restored afterwards.  Returns (rows, the busy process's pid)."""
    torch = peers.torch
    before = (get_num_threads(), torch.get_num_threads() if torch is not None else None)
    counts = (1, threads)
    rows = []
    with BusyProcess() as neighbour:
        if monitor is not None:
            monitor.exclude_pids.add(neighbour.pid)
        try:
            time.sleep(0.1)    # let the neighbour start spinning
            for case in all_cases:
                row = {"name": case.name, "describe": case.describe}
                rows.append(row)
                try:
                    workload = case.build(peers)
                except Exception as exc:
                    row["error"] = f"{type(exc).__name__}: {exc}"
                    continue
                impls, prepare = {}, {}
                for n in counts:
                    impls[f"fastconv@{n}"] = workload.impls["fastconv"]
                    prepare[f"fastconv@{n}"] = functools.partial(set_num_threads, n)
                    if "torch" in workload.impls:
                        impls[f"torch@{n}"] = workload.impls["torch"]
                        prepare[f"torch@{n}"] = functools.partial(torch.set_num_threads, n)
                token = monitor.begin() if monitor else None
                samples, numbers = measure(impls, repeat, min_time, prepare, settle)
                row["load"] = monitor.end(token) if monitor else None
                for library in ("fastconv", "torch"):
                    if f"{library}@1" not in impls:
                        row[library] = {"missing": workload.missing.get(library, "no figure")}
                        continue
                    by_count = {str(n): throughput(samples[f"{library}@{n}"],
                                                   numbers[f"{library}@{n}"]) for n in counts}
                    ratio = by_count[str(threads)]["time_s"] / by_count["1"]["time_s"]
                    row[library] = dict(by_count, ratio=ratio)
                ratio = row["fastconv"]["ratio"]
                row["target"] = {"bound": LOAD_TARGET, "value": ratio,
                                 "status": "n/a" if quick else
                                 ("pass" if ratio <= LOAD_TARGET else "FAIL")}
        finally:
            if monitor is not None:
                monitor.exclude_pids.discard(neighbour.pid)
            set_num_threads(before[0])
            if torch is not None:
                torch.set_num_threads(before[1])
    return rows, neighbour.pid
