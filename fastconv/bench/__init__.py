"""`fastconv bench`: fastconv beside its peers, timed in one process.

The cases, the peers and the measuring code live here, in the package, so that the command
works from an installed wheel; bench/ (the pytest-benchmark suite) and fastconv.benchmark (the
old single module, kept for the names it exported) import them from here.

Layout
------
One module per concern; each imports only those below it (no cycles)::

    cli      arguments, run (the tables, the JSON, the plot), main
     |-> report   rows, notes, legends, the extra tables, the plot
     |-> runs     one case's row, the scaling rows, the rows under load
     |-> machine  busy detection (LoadMonitor, BusyProcess), machine_info, PeakKernels
     |-> timing   calibrate, measure (interleaved), summaries, paired ratios, checks
     |-> cases    shapes, workloads, the case list, the NumPy code written by hand
     |-> peers    torch / OpenCV / BLAS: presence, versions, thread counts
     '-> targets  the goal of each rule and a row's verdict

    report  -> cases, peers, targets
    runs    -> machine, timing, peers, targets
    machine -> cases (its random generator), peers, timing
    cases   -> peers, targets
    timing, peers, targets -> none of the others

What is measured
----------------
* conv2d, float32, on the layers of real networks (CONV_SHAPES: a row of each kind of layer of
  LeNet, AlexNet, VGG, ResNet, MobileNet, Inception and U-Net), with a bias, and the same with
  activation="relu" fused (name + "+relu"); a training step on the TRAIN_LAYERS (name +
  "+bwd": conv2d, then conv2d_backward's grad_input, grad_weight and grad_bias); max_pool2d 2x2 stride 2 and 3x3 stride 2 padding 1,
  avg_pool2d 2x2 stride 2, relu out of place and in place (out=x), all on (32, 64, 112, 112);
  the per-call overhead of relu and of a 3x3 conv2d on a (1, 1, 8, 8) input.
* Channels last: max_pool2d and conv2d on NHWC_LAYERS with layout="NHWC" ("nhwc_" + name),
  beside torch on channels_last tensors; each conv2d row also times fastconv's own NCHW call
  of the layer in the same round-robin (BASELINES: the "nchw" column and ratio, NCHW time /
  NHWC time, held to TARGETS["conv_nhwc"]).
* Peers, whichever are installed: PyTorch CPU (torch.nn.functional; conv+relu is conv2d then
  an in-place relu_; the training step is torch.autograd.grad of the conv), ONNX Runtime (a
  graph of one Conv node, and a Relu it fuses, the weights as initializers, every graph
  optimisation on, intra-op threads set to the run's), OpenCV's cv2.filter2D for the single-channel image filter (zero border,
  correlation, the bias as `delta`), and the NumPy code users write by hand (a strided
  sliding_window_view and tensordot, einsum for depthwise; reshape + max/mean for 2x2 pooling,
  sliding windows for 3x3; np.maximum for relu).  A missing peer leaves its column saying so.

How it is measured
------------------
* Each implementation is first called once: that call warms the caches, page-faults the
  output, lets torch build its oneDNN primitive, and gives the result that is compared with
  fastconv's (max |peer - fastconv| / max |fastconv| must stay below CHECK_TOLERANCE, else the
  row says MISMATCH).
* Its inner loop is then scaled (1, 2, 5, 10, 20, ... calls, as timeit.autorange) until one
  timing lasts at least `min_time` (50 ms; 2 ms with --quick), so that the resolution of
  time.perf_counter and the loop's own cost are negligible.
* The repeats interleave the implementations round-robin (fastconv, torch, numpy, fastconv,
  torch, ...; the first one rotates), so that load from other processes falls on all of them
  alike.  The reported time is the median over the repeats of the per-call time; the spread is
  the interquartile range over the median.  The garbage collector is off while timing.  With
  more than one thread, each timing starts after a pause (SETTLE_S; QUICK_SETTLE_S with
  --quick, whose figures are smoke, not measurements) in which the previous
  implementation's spinning thread pool goes idle.
* A ratio is peer time / fastconv time (> 1: fastconv is faster), taken as the median over the
  repeats of the ratio within each repeat: the two timings of one repeat were taken seconds
  apart, so their ratio is steadier than the ratio of two medians.
* GFLOP/s = 2 * N * K * P * Q * (C / groups) * R * S / time (BLIS's convention);
  GB/s = (bytes of the input read + bytes of the output written) / time.
* The machine's peaks are measured in the same run: sgemm GFLOP/s of a float32 matmul
  (2048 x 2048 x 2048) by numpy's BLAS and by torch when installed, the faster of the two
  (numpy's OpenBLAS may run an older ISA's kernel), and the bandwidth of np.copyto of 128 MiB
  counted as read + write bytes, split over the threads in use (numpy releases the GIL while
  it copies).  They are timed once before the cases (the header), and the row's peak kernel
  (sgemm for conv2d, copy otherwise) runs again inside each case's round-robin: the share of
  peak is the median over the repeats of the row's rate over the peak's rate in that repeat,
  so that a busy machine slows both sides of the fraction alike.  The header names the BLAS
  kernels: when OpenBLAS runs an older ISA's kernel than the CPU has (OPENBLAS_CORETYPE=Haswell
  on an AVX-512 CPU runs its AVX2 kernel, about half the AVX-512 one's speed), the command
  prints a note, since the sgemm peak is then low (torch's matmul may be OpenBLAS too).
* Threads: fastconv.set_num_threads, torch.set_num_threads, cv2.setNumThreads and (when
  threadpoolctl is installed) numpy's BLAS all get --threads; all are restored afterwards.

Is the machine busy?
--------------------
Interleaving spreads another job's load over all the implementations, but it does not make a
figure taken on a shared machine that machine's figure: threads that wait for a core turn a
2-thread kernel into many times a 1-thread one, and a ratio of two such timings means nothing.
So the command watches (LoadMonitor):
* before the run, for a moment (PREFLIGHT_S): the CPU other processes use, steal, the
  runnable threads beyond ours, and the reference time of a calibration loop (a fixed
  single-thread pure-Python loop, best of several runs);
* during each row (and the peaks): from /proc/stat, the CPU time spent on the CPUs we may run
  on, minus this process's own (getrusage, all its threads), i.e. what other processes used;
  the steal; and the calibration loop timed again before and after the row.
A row is "busy" when other processes used more than OTHERS_CPU_LIMIT CPUs on average, the
steal exceeded STEAL_CPU_LIMIT (each beyond the tick resolution of the window), or the
calibration loop ran more than CALIBRATION_MARGIN times slower than at the start (before the
run, also when more than LOADAVG_LIMIT threads beyond ours were runnable).  The table
says "busy" in the row's load column and lists what was seen under it; a warning line opens
the output when the machine is busy before the run, and closes it when any row was busy.  A
share of peak above 100% is marked "!" and not judged: it is no share of the peak.

Under load (--load)
-------------------
A second table times the selected cases again while one CPU-bound process of ours (started
and killed by the command, BusyProcess) runs beside them: fastconv and torch each at 1 and at
2 threads (or --threads), the four interleaved.  Under load a median hides the collapse (a
median call of 0.95 ms beside a mean of 4 ms: the calls that wait for a descheduled thread are
the few slow ones), so these times are throughput: the total time of all blocks of
back-to-back calls over all their calls.  Per library, the N-thread / 1-thread time ratio; the
target (LOAD_TARGET) is fastconv's: a second thread must not make a loaded machine slower.
"""
from .targets import (AUTO_TOLERANCE, LARGE_LAYERS, LOAD_TARGET, SCALING_TARGET, TARGETS,
                      evaluate_target)
from .peers import BASELINES, PEERS, Peers
from .cases import (CONV_SHAPES, OVERHEAD_SHAPE, POOL_SHAPE, QUICK_CHANNELS, QUICK_IMAGE_SIDE,
                    QUICK_POOL_SHAPE, QUICK_SIDE, Case, cases, conv_flops, conv_output_size,
                    ConvShape, numpy_avg_pool2d_2x2, numpy_conv2d, numpy_max_pool2d,
                    quick_conv_shape, select, Workload)
from .timing import (CHECK_TOLERANCE, DEFAULT_REPEAT, LOAD_MIN_TIME, MIN_TIME, QUICK_LOAD_MIN_TIME,
                     QUICK_MIN_TIME, QUICK_REPEAT, QUICK_SETTLE_S, SETTLE_S, calibrate,
                     max_relative_error, measure, paired_ratio, summarize, throughput)
from .machine import (CALIBRATION_ITERATIONS, CALIBRATION_MARGIN, COPY_BYTES, LOADAVG_LIMIT,
                      MIN_WINDOW_S, OTHERS_CPU_LIMIT, OWN_CPU_SLACK, OWN_THREADS_WAIT_S,
                      PREFLIGHT_S, PROC_STAT_FIELDS, QUICK_COPY_BYTES, QUICK_PREFLIGHT_S,
                      QUICK_SGEMM_SIZE, SGEMM_SIZE, STEAL_CPU_LIMIT, busy_reasons, BusyProcess,
                      cpu_use, CpuSample, LoadMonitor, machine_info, parse_proc_stat,
                      parse_procs_running, PeakKernels)
from .runs import run_case, run_load, run_scaling
from .report import (COLUMNS, LEGEND, LOAD_LEGEND, busy_notes, format_row, header,
                     peak_share_notes, plot, targets_legend)
from .cli import add_arguments, main, run
