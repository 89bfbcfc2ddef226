"""The benchmark's former single module, kept for the names it exported.

`fastconv bench` lives in the package fastconv.bench now, one module per concern (cases,
peers, timing, machine, runs, report, targets, cli; its docstring draws the imports).  This
module re-exports every name the old one defined, from there, so that
`from fastconv.benchmark import cases, Peers, LoadMonitor` and `benchmark.main([...])` keep
working.
"""
from .bench.targets import (AUTO_TOLERANCE, LARGE_LAYERS, LOAD_TARGET, SCALING_TARGET, TARGETS,
                            conv_rule, evaluate_target)
from .bench.peers import PEERS, Peers
from .bench.cases import (CONV_SHAPES, OVERHEAD_SHAPE, POOL_SHAPE, QUICK_CHANNELS,
                          QUICK_IMAGE_SIDE, QUICK_POOL_SHAPE, QUICK_SIDE, Case, cases, conv_flops,
                          conv_output_size, _conv_workload, ConvShape, numpy_avg_pool2d_2x2,
                          numpy_conv2d, numpy_max_pool2d, _overhead_conv_workload, _pool_workload,
                          quick_conv_shape, _relu_workload, _rng, select, Workload)


def _conv_rule(layer):
    """The old name-based form of conv_rule: the rule of the CONV_SHAPES layer named `layer`."""
    return conv_rule(next(shape for shape in CONV_SHAPES if shape.name == layer))


from .bench.timing import (CHECK_TOLERANCE, DEFAULT_REPEAT, LOAD_MIN_TIME, MIN_TIME,
                           QUICK_LOAD_MIN_TIME, QUICK_MIN_TIME, QUICK_REPEAT, QUICK_SETTLE_S,
                           SETTLE_S, calibrate, _loop, max_relative_error, measure, paired_ratio,
                           summarize, throughput)
from .bench.machine import (CALIBRATION_ITERATIONS, CALIBRATION_MARGIN, COPY_BYTES, LOADAVG_LIMIT,
                            MIN_WINDOW_S, OTHERS_CPU_LIMIT, OWN_CPU_SLACK, OWN_THREADS_WAIT_S,
                            PREFLIGHT_S, PROC_STAT_FIELDS, QUICK_COPY_BYTES, QUICK_PREFLIGHT_S,
                            QUICK_SGEMM_SIZE, SGEMM_SIZE, STEAL_CPU_LIMIT, busy_reasons,
                            BusyProcess, _calibration_loop, _cores, cpu_use, CpuSample,
                            LoadMonitor, machine_info, _own_cpu_s, parse_proc_stat,
                            parse_procs_running, PeakKernels, _process_cpu_s)
from .bench.runs import run_case, run_load, run_scaling
from .bench.report import (COLUMNS, _CRITERION_TEXT, LEGEND, LOAD_LEGEND, _algorithm_table,
                           busy_notes, _duration, format_row, header, _line, _load_flag,
                           _load_table, peak_share_notes, plot, _scaling_table, targets_legend)
from .bench.cli import add_arguments, main, run
