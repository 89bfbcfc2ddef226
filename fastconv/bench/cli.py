"""The command `fastconv bench`: its arguments, the run that prints the tables and writes
the JSON and the plot, and main()."""
import argparse
import json
import os
import sys

from .._config import (__version__, get_num_threads, get_precision, set_num_threads,
                       set_precision, show_config)
from .cases import cases, select
from .machine import (CALIBRATION_MARGIN, LOADAVG_LIMIT, OTHERS_CPU_LIMIT, PREFLIGHT_S,
                      QUICK_PREFLIGHT_S, STEAL_CPU_LIMIT, LoadMonitor, PeakKernels, _cores,
                      machine_info)
from .peers import Peers
from .report import (LEGEND, LOAD_LEGEND, _algorithm_table, _load_table, _scaling_table,
                     busy_notes, format_row, geomean_notes, geomeans, header, peak_share_notes, plot, targets_legend)
from .runs import run_case, run_load, run_scaling
from .targets import LOAD_TARGET, TARGETS
from .timing import (CHECK_TOLERANCE, DEFAULT_REPEAT, LOAD_MIN_TIME, MIN_TIME,
                     QUICK_LOAD_MIN_TIME, QUICK_MIN_TIME, QUICK_REPEAT, QUICK_SETTLE_S,
                     SETTLE_S)


# ---- command line ---------------------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastconv and every peer (default: all cores)")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed repeats per case; medians over them (default "
                             f"{DEFAULT_REPEAT}, {QUICK_REPEAT} with --quick)")
    parser.add_argument("--filter", default=None, metavar="PATTERN",
                        help="run the cases whose name matches this regex (or substring)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="write every result, machine info, versions and peaks here")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="bar chart of the speed ratios to the peers (needs matplotlib)")
    parser.add_argument("--quick", action="store_true",
                        help="small shapes, 3 repeats, short pauses: a smoke run for CI "
                             "(its figures are not measurements)")
    parser.add_argument("--precision", choices=("highest", "high"), default=None,
                        help="fastconv.set_precision for the run (default: the current "
                             "setting, 'highest' unless changed): 'high' lets conv2d's auto "
                             "run Winograd on the 3x3 layers where it measured faster")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--algorithms", action="store_true",
                        help="also time every conv2d algorithm fastconv accepts per conv case")
    parser.add_argument("--scaling", action="store_true",
                        help="also time the large layers on 1 vs 2 threads")
    parser.add_argument("--load", action="store_true",
                        help="also time the cases again beside a CPU-bound process, at 1 and "
                             "at 2 (or --threads) threads, fastconv and torch: is the second "
                             "thread a loss on a loaded machine?")
    return parser


def run(args, out=None):
    """`fastconv bench` with parsed arguments; prints to `out` (default: sys.stdout) and
    returns the exit status."""
    def say(text=""):
        print(text, file=out or sys.stdout, flush=True)

    chosen = select(cases(args.quick), args.filter)
    if args.list:
        for case in chosen:
            say(f"{case.name:<22}{case.describe}")
        return 0
    if not chosen:
        say(f"no case matches --filter {args.filter!r}; --list shows them")
        return 2
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick
                                                         else DEFAULT_REPEAT)
    if repeat < 1 or (args.threads is not None and args.threads < 1):
        say("--repeat and --threads must be at least 1")
        return 2
    threads = args.threads or _cores()
    min_time = QUICK_MIN_TIME if args.quick else MIN_TIME
    pause = QUICK_SETTLE_S if args.quick else SETTLE_S     # before timings that switch threads
    settle = pause if threads > 1 else 0.0
    previous_threads, previous_precision = get_num_threads(), get_precision()
    set_num_threads(threads)
    if args.precision:
        set_precision(args.precision)
    peers = Peers(threads)
    monitor = LoadMonitor(settle)
    try:
        config = show_config(print_=False)
        say(f"fastconv {__version__}: isa {config['isa']}, {threads} threads, "
            f"{repeat} repeats, {'quick shapes' if args.quick else 'full shapes'}, precision "
            f"{get_precision()!r}")
        versions = peers.versions()
        say("peers: " + ", ".join(f"{p} {versions[p] or 'absent'}"
                                  for p in ("torch", "onnxruntime", "opencv", "numpy", "scipy")))
        preflight = monitor.preflight(QUICK_PREFLIGHT_S if args.quick else PREFLIGHT_S)
        if preflight["busy"]:
            say(f"WARNING: the machine is busy ({'; '.join(preflight['reasons'])}): every "
                f"timing below may be slowed, ratios and shares of peak distorted; rows timed "
                f"while it stays busy say so in the load column")
        elif not monitor.has_proc_stat:
            say("note: /proc/stat is unreadable here: only the calibration loop watches "
                "whether other processes take the CPU")
        peak_kernels = PeakKernels(threads, args.quick, peers.torch)
        token = monitor.begin()
        peaks = peak_kernels.measure(repeat, min_time, settle)
        peaks["load"] = monitor.end(token)
        others = "".join(f", {name} {peaks[name + '_sgemm_gflops']:.1f}"
                         for name in ("numpy", "torch")
                         if name != peaks["sgemm_source"] and peaks[name + "_sgemm_gflops"])
        say(f"machine peaks: sgemm {peaks['sgemm_gflops']:.1f} GFLOP/s ({peaks['sgemm_source']} "
            f"matmul n={peaks['sgemm_n']}{others}), copy {peaks['copy_gbs']:.1f} GB/s (np.copyto "
            f"{peaks['copy_bytes'] >> 20} MiB, {peaks['copy_source']}, read + write); "
            f"BLAS: {peaks['blas']}")
        if peaks["load"]["busy"]:
            say(f"  ! measured while the machine was busy ({'; '.join(peaks['load']['reasons'])}):"
                f" the peaks may be far too low, and the shares of peak too high")
        if config["cpu_isa"] == "avx512" and "Haswell" in peaks["blas"]:
            forced = os.environ.get("OPENBLAS_CORETYPE")
            say("note: OpenBLAS runs its AVX2 (Haswell) sgemm on this AVX-512 CPU"
                + (f" (OPENBLAS_CORETYPE={forced} is set)" if forced else "")
                + ", so the sgemm peak is low; OPENBLAS_CORETYPE=SkylakeX measures its AVX-512 one")
        say()
        say(header())
        rows = []
        for case in chosen:
            row = run_case(case, peers, peaks, repeat, min_time, args.algorithms,
                           args.quick, peak_kernels, monitor, settle)
            rows.append(row)
            say(format_row(row))
        notes = geomean_notes(rows, args.quick) + busy_notes(rows) + peak_share_notes(rows)
        if notes:
            say()
            say("\n".join(notes))
        say()
        say(LEGEND)
        say(targets_legend())
        if args.algorithms:
            say()
            say(_algorithm_table(rows))
        scaling = None
        if args.scaling:
            scaling = run_scaling(chosen, peers, repeat, min_time, args.quick, monitor,
                                  pause)
            say()
            say(_scaling_table(scaling))
            notes = busy_notes(scaling)
            if notes:
                say("\n".join(notes))
        load_rows = None
        if args.load:
            high = max(2, threads)
            say()
            say(f"running the cases again beside a CPU-bound process, at 1 and {high} threads")
            load_rows, neighbour_pid = run_load(chosen, peers, repeat,
                                 QUICK_LOAD_MIN_TIME if args.quick else LOAD_MIN_TIME, high,
                                 args.quick, monitor, pause)
            say(_load_table(load_rows, high))
            notes = busy_notes(load_rows)
            if notes:
                say("\n".join(notes))
            say(LOAD_LEGEND.format(threads=high))
        busy_rows = {table: [r["name"] for r in table_rows or [] if r.get("load")
                             and r["load"]["busy"]]
                     for table, table_rows in (("rows", rows), ("scaling_rows", scaling),
                                               ("load_rows", load_rows))}
        flagged = sum(len(names) for names in busy_rows.values())
        say()
        if flagged or preflight["busy"] or peaks["load"]["busy"]:
            say(f"WARNING: the machine was busy during this run ({flagged} rows "
                f"flagged{', and the peaks' if peaks['load']['busy'] else ''}): these figures "
                f"are not this machine's; run again when it is quiet")
        else:
            say("the machine looked quiet throughout (no other process took over a quarter "
                "of a CPU, no steal, the calibration loop kept its speed)")
    finally:
        peers.restore()
        set_num_threads(previous_threads)
        set_precision(previous_precision)
    if args.json:
        document = {"settings": {"threads": threads, "repeat": repeat,
                                 "precision": args.precision or previous_precision,
                                 "quick": args.quick, "filter": args.filter,
                                 "min_time_s": min_time, "settle_s": settle,
                                 "blas_threads": peers.blas_threads,
                                 "check_tolerance": CHECK_TOLERANCE},
                    "busy": dict(busy_rows, preflight=preflight,
                                 limits={"others_cpus": OTHERS_CPU_LIMIT,
                                         "steal_cpus": STEAL_CPU_LIMIT,
                                         "calibration_slowdown": CALIBRATION_MARGIN,
                                         "load_beyond_us": LOADAVG_LIMIT},
                                 calibration_reference_s=monitor.reference_s,
                                 calibration_loops_dropped=monitor.calibration_interfered),
                    "machine": machine_info(), "config": config, "versions": versions,
                    "peaks": peaks, "targets": TARGETS, "cases": rows,
                    "geomeans": {peer: {"ratio": mean, "layers": count}
                                 for peer, (mean, count) in geomeans(rows).items()}, "scaling": scaling,
                    "load": None if load_rows is None else {
                        "threads": [1, max(2, threads)], "target": LOAD_TARGET,
                        "neighbour": "one CPU-bound process of ours (a Python loop)",
                        "neighbour_pid": neighbour_pid,
                        "rows": load_rows}}
        with open(args.json, "w") as f:
            json.dump(document, f, indent=1)
        say(f"\nresults written to {args.json}")
    if args.plot:
        message = plot(rows, args.plot)
        say("\n" + (message or f"plot written to {args.plot}"))
    return 0


def main(argv=None):
    """`fastconv bench` with the arguments of a command line (see --help).

    Example
    -------
    >>> from fastconv import bench
    >>> bench.main(["--list", "--filter", "^resnet_1x1$"])
    resnet_1x1            conv2d x(1,256,56,56) w(64,256,1,1) stride 1 padding 0 groups 1
    0
    """
    parser = add_arguments(argparse.ArgumentParser(
        prog="fastconv bench", description="fastconv beside its peers, timed in one process"))
    return run(parser.parse_args(argv))
