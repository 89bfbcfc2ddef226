"""Threads under load: does fastconv use its threads well on a machine it shares?

    PYTHONPATH=. python bench/threads_under_load.py [--quick] [--json FILE]

Prints the machine (cores, CPU model, ISA), then one row per measurement, its target and a
pass / FAIL mark:

* the README's LeNet-5 training loop (its Usage block: models.lenet5, optim.Adam,
  nn.CrossEntropyLoss, batch 64 of random (1, 28, 28) images, zero_grad / forward / loss /
  backward / step) at 2 threads in the default environment, against
  - the same loop with OPENBLAS_NUM_THREADS=1 (>= 0.95x: the default must not lose to it),
  - `fastconv train`'s own training steps (train.fit on random data of MNIST's shape, at the
    trainer's default thread count; >= 0.9x),
  - PyTorch's loop (models.torch_lenet5, torch.optim.Adam, CrossEntropyLoss, batch 64, the same
    2 threads; >= 2.5x);
  each loop in its own subprocess (so that environment variables act before numpy loads),
  interleaved A/B/A/B; the ratio is the median over the rounds of the ratio within a round;
* 2-thread time / 1-thread time with one CPU-bound process beside it (started and killed by
  this script) for conv2d resnet_3x3_b1 (1,128,28,28)*(128,128,3,3) pad 1, vgg_3x3
  (1,64,112,112)*(64,64,3,3) pad 1, max_pool2d (32,64,112,112) k2 s2 and relu
  (32,64,112,112); fastconv and, beside it, PyTorch (each in its own subprocess); the time per
  call is throughput: the total time of blocks of back-to-back calls over all the calls of all
  the rounds, never a median of calls, which would hide the calls that wait for a
  descheduled thread (<= 1.15x);
* two processes each running conv2d resnet_3x3_b1 at 2 threads over the same wall-clock
  window: their total calls/s against one process alone (>= 0.9x); and, reported, two
  processes at 1 thread each (one per core, as Dask's or multiprocessing's workers);
* on the machine without our busy process: the 2-thread speed-up (1-thread time / 2-thread
  time, throughput) on vgg_3x3 and resnet_3x3_b32 (32,128,28,28)*(128,128,3,3) pad 1
  (>= 1.85x), and the per-call time of relu on (1,1,8,8) and of conv2d (1,1,8,8)*(1,1,3,3)
  with a bias, at 2 threads, in microseconds (reported).

The machine is watched as `fastconv bench` watches it (fastconv.bench.LoadMonitor): a
warning opens the output when other processes use the CPU, and each row measured while they
did says "busy" (our own subprocesses and busy process do not count).  Figures taken on a
busy machine are not the machine's.  "Default environment" means this process's environment
without the variables that set thread counts or spinning (THREAD_VARIABLES); the script says
which it removed.  It times the fastconv that `import fastconv` finds (PYTHONPATH or
installed); `--quick` runs fewer and shorter rounds, a smoke test of under a minute.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# Set by users or CI to steer thread pools; the "default environment" has none of them.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_DYNAMIC",
                    "OMP_PROC_BIND", "OMP_PLACES")

TARGETS = {"openblas": (">=", 0.95), "trainer": (">=", 0.9), "torch": (">=", 2.5),
           "under_load": ("<=", 1.15), "two_processes": (">=", 0.9), "speedup": (">=", 1.85)}

BATCH = 64
# (full, quick): rounds of interleaved subprocesses, training steps timed per loop run (after
# warm-up steps), throughput blocks per thread count and their minimum length, the window of
# the two-process test, and the pause before each block (spinning pools go idle).  A loop
# run stops after `steps` steps or `loop_s` seconds, whichever comes first (a loop that
# collapses on a busy machine must not stretch the run to minutes): steps/s either way.
SETTINGS = {
    False: dict(loop_rounds=5, steps=300, warmup=15, loop_s=3.0, load_rounds=2, blocks=4,
                block_s=0.3, window_s=2.0, window_rounds=3, quiet_blocks=5, settle_s=0.2),
    True: dict(loop_rounds=2, steps=60, warmup=5, loop_s=0.5, load_rounds=1, blocks=2,
               block_s=0.05, window_s=0.5, window_rounds=1, quiet_blocks=2, settle_s=0.05),
}
MIN_STEPS = 5      # a loop run times at least this many steps, however slow they are

LOAD_OPS = ("conv2d resnet_3x3_b1", "conv2d vgg_3x3", "max_pool2d", "relu")
SPEEDUP_OPS = ("conv2d vgg_3x3", "conv2d resnet_3x3_b32")


# ---- the work, in the worker subprocesses ---------------------------------------------------

def _arrays(name):
    """Inputs of an op by name: (x, weight or None)."""
    rng = np.random.default_rng(0)
    shapes = {"conv2d resnet_3x3_b1": ((1, 128, 28, 28), (128, 128, 3, 3)),
              "conv2d vgg_3x3": ((1, 64, 112, 112), (64, 64, 3, 3)),
              "conv2d resnet_3x3_b32": ((32, 128, 28, 28), (128, 128, 3, 3)),
              "conv2d 8x8": ((1, 1, 8, 8), (1, 1, 3, 3)),
              "max_pool2d": ((32, 64, 112, 112), None), "relu": ((32, 64, 112, 112), None),
              "relu 8x8": ((1, 1, 8, 8), None)}
    x_shape, w_shape = shapes[name]
    x = rng.standard_normal(x_shape, dtype=np.float32)
    return x, None if w_shape is None else rng.standard_normal(w_shape, dtype=np.float32)


def _fastconv_op(name):
    """(zero-argument call, set_threads) for fastconv."""
    import fastconv
    x, w = _arrays(name)
    bias = np.zeros(1, np.float32)
    calls = {"conv2d 8x8": lambda: fastconv.conv2d(x, w, bias),
             "max_pool2d": lambda: fastconv.max_pool2d(x, 2, 2),
             "relu": lambda: fastconv.relu(x), "relu 8x8": lambda: fastconv.relu(x)}
    call = calls.get(name) or (lambda: fastconv.conv2d(x, w, None, 1, 1))
    return call, fastconv.set_num_threads


def _torch_op(name):
    import torch
    x, w = (None if a is None else torch.from_numpy(a) for a in _arrays(name))
    f = torch.nn.functional
    calls = {"max_pool2d": lambda: f.max_pool2d(x, 2, 2), "relu": lambda: torch.relu(x)}
    call = calls.get(name) or (lambda: f.conv2d(x, w, None, 1, 1))
    return call, torch.set_num_threads


def _loop(call, number):
    start = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - start


def _calls_per_block(call, seconds):
    """The first of 1, 2, 5, 10, ... back-to-back calls that last at least `seconds`."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            if _loop(call, number * factor) >= seconds:
                return number * factor
        number *= 10


def _thread_blocks(call, set_threads, counts, blocks, block_s, settle_s):
    """Blocks of back-to-back calls at each thread count, interleaved (the first count
    rotating); per count the total seconds and calls."""
    set_threads(counts[0])
    call()
    number = _calls_per_block(call, block_s)
    totals = {n: [0.0, 0] for n in counts}
    for block in range(blocks):
        order = counts[block % len(counts):] + counts[:block % len(counts)]
        for n in order:
            set_threads(n)
            time.sleep(settle_s)
            totals[n][0] += _loop(call, number)
            totals[n][1] += number
    return {str(n): {"seconds": s, "calls": c} for n, (s, c) in totals.items()}


def worker_threads(p):
    """Each op of p["ops"] at 1 and 2 threads, throughput blocks (fastconv or torch)."""
    make = _torch_op if p["library"] == "torch" else _fastconv_op
    result = {}
    for name in p["ops"]:
        call, set_threads = make(name)
        result[name] = _thread_blocks(call, set_threads, [1, 2], p["blocks"], p["block_s"],
                                      p["settle_s"])
        del call
    return result


def worker_overhead(p):
    """Per-call time (median over blocks of back-to-back calls) of the tiny ops at p threads."""
    import fastconv
    fastconv.set_num_threads(p["threads"])
    result = {}
    for name in ("relu 8x8", "conv2d 8x8"):
        call, _ = _fastconv_op(name)
        call()
        number = _calls_per_block(call, p["block_s"])
        result[name] = statistics.median(_loop(call, number) / number
                                         for _ in range(p["blocks"]))
    return result


def _timed_steps(step, steps, warmup, seconds):
    """steps/s of `step(i)` after `warmup` steps: up to `steps` steps, stopping once `seconds`
    have passed (after at least MIN_STEPS)."""
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    done = 0
    while done < steps and (done < MIN_STEPS or time.perf_counter() - start < seconds):
        step(done)
        done += 1
    return done / (time.perf_counter() - start)


def _readme_loop(threads, steps, warmup, seconds):
    """steps/s of the README's training loop (its Usage block), on random MNIST-shaped data."""
    import fastconv
    from fastconv import models, nn, optim
    fastconv.set_num_threads(threads)
    model = models.lenet5(seed=0)
    opt, loss_fn = optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    batches = [(np.random.rand(BATCH, 1, 28, 28).astype(np.float32), np.arange(BATCH) % 10)
               for _ in range(8)]

    def step(i):
        images, labels = batches[i % len(batches)]
        opt.zero_grad()
        loss = loss_fn(model(images), labels)
        model.backward(loss_fn.backward())
        opt.step()
        return loss

    return _timed_steps(step, steps, warmup, seconds)


def _trainer_threads():
    """The thread count `fastconv train` runs at when not told (its --threads default)."""
    from fastconv import train
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser.parse_args([]).threads


def _trainer_loop(steps, warmup, seconds):
    """steps/s of `fastconv train`'s own loop: train.fit (its batching, its step, its context
    around the loop) on random data of MNIST's shape, with the model, optimizer and schedule
    train.run builds, at the trainer's default thread count.  fit runs whole epochs: the
    timed epoch has as many steps as the warm-up's pace fits in `seconds` (at most `steps`)."""
    import fastconv
    from fastconv import models, optim, train
    threads = _trainer_threads()
    if threads is not None:
        fastconv.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(((warmup + steps) * BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, len(x)).astype(np.intp)
    model = models.lenet5(num_classes=10, seed=0, pool_first=True)
    lr = train.RECIPES["adam"]["lr"]
    make = getattr(train, "make_optimizer", None)
    opt = make("adam", model.parameters(), lr) if make else optim.Adam(model.parameters(), lr)
    warm = train.fit(model, x[:warmup * BATCH], y[:warmup * BATCH], epochs=1,
                     batch_size=BATCH, optimizer=opt, quiet=True)
    pace = warmup / warm.epoch_seconds[0]
    steps = max(MIN_STEPS, min(steps, int(pace * seconds)))
    x, y = x[warmup * BATCH:(warmup + steps) * BATCH], y[warmup * BATCH:(warmup + steps) * BATCH]
    schedule = optim.OneCycleLR(opt, lr, max(steps, 2))
    history = train.fit(model, x, y, epochs=1, batch_size=BATCH, optimizer=opt,
                        scheduler=schedule, quiet=True)
    return math.ceil(len(x) / BATCH) / history.epoch_seconds[0]


def _torch_loop(threads, steps, warmup, seconds):
    """steps/s of PyTorch's loop on the same LeNet-5, Adam, cross-entropy, batch 64."""
    import torch
    from fastconv import models
    torch.set_num_threads(threads)
    model = models.torch_lenet5()
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    batches = [(torch.rand(BATCH, 1, 28, 28), torch.arange(BATCH) % 10) for _ in range(8)]

    def step(i):
        images, labels = batches[i % len(batches)]
        opt.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        opt.step()

    return _timed_steps(step, steps, warmup, seconds)


def worker_loop(p):
    if p["loop"] == "trainer":
        return _trainer_loop(p["steps"], p["warmup"], p["seconds"])
    if p["loop"] == "torch":
        return _torch_loop(2, p["steps"], p["warmup"], p["seconds"])
    return _readme_loop(2, p["steps"], p["warmup"], p["seconds"])


def worker_window(p):
    """conv2d resnet_3x3_b1 at p["threads"] threads (2 unless given), back to back, over the
    wall-clock window the parent sends on stdin (a time.monotonic() start; the clock is the
    machine's, so shared with the other process); calls/s."""
    call, set_threads = _fastconv_op("conv2d resnet_3x3_b1")
    set_threads(p.get("threads", 2))
    for _ in range(3):
        call()
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    end = start + p["window_s"]
    while time.monotonic() < start:
        time.sleep(0.001)
    calls, begin = 0, time.perf_counter()
    while time.monotonic() < end:
        call()
        calls += 1
    return calls / (time.perf_counter() - begin)


WORKERS = {"threads": worker_threads, "overhead": worker_overhead, "loop": worker_loop,
           "window": worker_window}


# ---- the parent: subprocesses, rounds, the table --------------------------------------------

def base_environment():
    """(environment for the workers, names of the thread variables removed): the fastconv this
    process imports first on PYTHONPATH."""
    import fastconv
    env = dict(os.environ)
    removed = [name for name in THREAD_VARIABLES if env.pop(name, None) is not None]
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH")) if p)
    return env, removed


def run_worker(kind, params, env, timeout=600):
    """Run one worker subprocess to its end; its JSON result."""
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", kind,
                          json.dumps(params)], env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"worker {kind} {params} failed:\n{res.stderr}")
    return json.loads(res.stdout.splitlines()[-1])


def run_window(count, window_s, env, threads=2):
    """`count` window workers at `threads` threads each over the same window; their calls/s."""
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", "window",
                               json.dumps({"window_s": window_s, "threads": threads})],
                              env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(count)]
    try:
        for proc in procs:
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"window worker failed: {line}{proc.stderr.read()}")
        start = time.monotonic() + 0.05
        outputs = []
        for proc in procs:
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = proc.communicate(timeout=window_s + 120)
            if proc.returncode != 0:
                raise RuntimeError(f"window worker failed:\n{err}")
            outputs.append(json.loads(out.splitlines()[-1]))
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def progress(text):
    print(f"  ... {text}", file=sys.stderr, flush=True)


def verdict(kind, value):
    op, bound = TARGETS[kind]
    ok = value >= bound if op == ">=" else value <= bound
    return {"op": op, "bound": bound, "pass": ok}


def measure_loops(cfg, env, openblas_env):
    """Rows 1-3: the README loop (A) against each other loop, interleaved in rounds."""
    variants = {"readme": (env, {"loop": "readme"}),
                "readme OPENBLAS_NUM_THREADS=1": (openblas_env, {"loop": "readme"}),
                "trainer": (env, {"loop": "trainer"}), "torch": (env, {"loop": "torch"})}
    rates = {name: [] for name in variants}
    names = list(variants)
    for r in range(cfg["loop_rounds"]):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            progress(f"training loops, round {r + 1}/{cfg['loop_rounds']}: {name}")
            variant_env, params = variants[name]
            try:
                rates[name].append(run_worker("loop", dict(params, steps=cfg["steps"],
                                                           warmup=cfg["warmup"],
                                                           seconds=cfg["loop_s"]),
                                              variant_env))
            except RuntimeError as exc:
                if name != "torch":
                    raise
                rates[name].append(None)       # torch not installed: no PyTorch row
                progress(f"PyTorch's loop could not run: {str(exc).splitlines()[-1]}")
    rows = []
    readme = rates["readme"]
    threads = _trainer_threads()
    for kind, name, text in (
            ("openblas", "readme OPENBLAS_NUM_THREADS=1",
             "README LeNet-5 loop, 2 threads: default environment / OPENBLAS_NUM_THREADS=1"),
            ("trainer", "trainer",
             "README loop / `fastconv train`'s own steps (" +
             ("all cores" if threads is None else
              f"{threads} thread{'s' if threads != 1 else ''}") + ", its default)"),
            ("torch", "torch", "README loop / PyTorch's loop (same LeNet-5, Adam, batch 64, "
             "2 threads)")):
        if None in rates[name]:
            rows.append({"kind": kind, "measurement": text, "value": None,
                         "shown": "no PyTorch", "target": None})
            continue
        ratio = statistics.median(a / b for a, b in zip(readme, rates[name]))
        rows.append({"kind": kind, "measurement": text, "value": ratio,
                     "shown": f"{ratio:.2f}x ({statistics.median(readme):.0f} vs "
                              f"{statistics.median(rates[name]):.0f} steps/s)",
                     "target": verdict(kind, ratio),
                     "details": {"readme_steps_per_s": readme, "other_steps_per_s": rates[name]}})
    return rows


def measure_under_load(cfg, env, busy_process):
    """Row 4: fastconv and torch at 1 and 2 threads beside one busy process, throughput."""
    params = dict(ops=list(LOAD_OPS), blocks=cfg["blocks"], block_s=cfg["block_s"],
                  settle_s=cfg["settle_s"])
    totals = {lib: {op: {"1": [0.0, 0], "2": [0.0, 0]} for op in LOAD_OPS}
              for lib in ("fastconv", "torch")}
    missing_torch = None
    with busy_process():
        time.sleep(0.1)
        for r in range(cfg["load_rounds"]):
            for library in ("fastconv", "torch") if r % 2 == 0 else ("torch", "fastconv"):
                if library == "torch" and missing_torch:
                    continue
                progress(f"beside a busy process, round {r + 1}/{cfg['load_rounds']}: "
                         f"{library} at 1 and 2 threads")
                try:
                    result = run_worker("threads", dict(params, library=library), env)
                except RuntimeError as exc:
                    if library == "fastconv":
                        raise
                    missing_torch = str(exc).splitlines()[-1]
                    continue
                for op, counts in result.items():
                    for n, figures in counts.items():
                        totals[library][op][n][0] += figures["seconds"]
                        totals[library][op][n][1] += figures["calls"]
    rows = []
    for op in LOAD_OPS:
        ratios = {}
        for library in ("fastconv", "torch"):
            (s1, c1), (s2, c2) = totals[library][op]["1"], totals[library][op]["2"]
            ratios[library] = (s2 / c2) / (s1 / c1) if c1 and c2 else None
        mine = ratios["fastconv"]
        theirs = ("torch " + (f"{ratios['torch']:.2f}x" if ratios["torch"] else "absent"))
        per_call = {lib: {n: (s / c if c else None) for n, (s, c) in totals[lib][op].items()}
                    for lib in totals}
        rows.append({"kind": "under_load", "measurement": f"2t/1t beside a busy process: {op}",
                     "value": mine, "shown": f"{mine:.2f}x ({theirs})",
                     "target": verdict("under_load", mine),
                     "details": {"per_call_s": per_call, "torch_ratio": ratios["torch"],
                                 "torch_missing": missing_torch}})
    return rows


def measure_two_processes(cfg, env):
    """Row 5: two processes of resnet_3x3_b1 at 2 threads against one alone; and, reported,
    two processes at 1 thread each (one per core, as Dask's or multiprocessing's workers)."""
    kinds = {"alone": (1, 2), "pair": (2, 2), "pair of 1-thread": (2, 1)}
    rates = {kind: [] for kind in kinds}
    for r in range(cfg["window_rounds"]):
        progress(f"two processes, round {r + 1}/{cfg['window_rounds']}")
        order = list(kinds)[r % len(kinds):] + list(kinds)[:r % len(kinds)]
        for kind in order:
            count, threads = kinds[kind]
            rates[kind].append(sum(run_window(count, cfg["window_s"], env, threads)))
    ratio = statistics.median(p / a for p, a in zip(rates["pair"], rates["alone"]))
    single = statistics.median(p / a for p, a in zip(rates["pair of 1-thread"], rates["alone"]))
    alone = statistics.median(rates["alone"])
    return [{"kind": "two_processes",
             "measurement": "two processes of conv2d resnet_3x3_b1 at 2 threads: total / one "
                            "alone",
             "value": ratio, "shown": f"{ratio:.2f}x ({alone:.0f} calls/s alone)",
             "target": verdict("two_processes", ratio),
             "details": {kind: rates[kind] for kind in kinds}},
            {"kind": "processes_of_one_thread",
             "measurement": "two processes of conv2d resnet_3x3_b1 at 1 thread each: total / "
                            "one process at 2 threads",
             "value": single, "shown": f"{single:.2f}x", "target": None}]


def measure_quiet(cfg, env):
    """Row 6: 2-thread speed-ups and the per-call times of the tiny ops."""
    progress("2-thread speed-ups")
    result = run_worker("threads", dict(ops=list(SPEEDUP_OPS), library="fastconv",
                                        blocks=cfg["quiet_blocks"], block_s=cfg["block_s"],
                                        settle_s=cfg["settle_s"]), env)
    rows = []
    for op in SPEEDUP_OPS:
        one, two = result[op]["1"], result[op]["2"]
        speedup = (one["seconds"] / one["calls"]) / (two["seconds"] / two["calls"])
        rows.append({"kind": "speedup", "measurement": f"2-thread speed-up: {op}",
                     "value": speedup, "shown": f"{speedup:.2f}x", "target":
                     verdict("speedup", speedup), "details": result[op]})
    progress("per-call times")
    overhead = run_worker("overhead", {"threads": 2, "blocks": cfg["quiet_blocks"],
                                       "block_s": cfg["block_s"]}, env)
    for op, text in (("relu 8x8", "per-call time: relu (1,1,8,8), 2 threads"),
                     ("conv2d 8x8", "per-call time: conv2d (1,1,8,8)*(1,1,3,3) + bias, "
                                    "2 threads")):
        rows.append({"kind": "overhead", "measurement": text, "value": overhead[op] * 1e6,
                     "shown": f"{overhead[op] * 1e6:.2f} us", "target": None})
    return rows


def machine():
    import fastconv
    from fastconv import benchmark
    info = benchmark.machine_info()
    config = fastconv.show_config(print_=False)
    info.update(isa=config.get("isa"), cpu_isa=config.get("cpu_isa"),
                fastconv=fastconv.__version__, fastconv_path=os.path.dirname(fastconv.__file__),
                numpy=np.__version__)
    return info


def format_table(rows):
    head = ("measurement", "measured", "target", "result", "load")
    cells = []
    for row in rows:
        target = row["target"]
        cells.append((row["measurement"], row["shown"],
                      "report" if target is None else f"{target['op']} {target['bound']}x",
                      "" if target is None else ("pass" if target["pass"] else "FAIL"),
                      "busy" if row["load"] and row["load"]["busy"] else ""))
    widths = [max(len(c[i]) for c in cells + [head]) for i in range(len(head))]

    def line(values):
        return "| " + " | ".join(f"{v:<{w}}" for v, w in zip(values, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(c) for c in cells])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter rounds: a smoke test of under a minute")
    parser.add_argument("--json", metavar="FILE", help="write the rows and the machine here")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PARAMS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, params = args.worker
        print(json.dumps(WORKERS[kind](json.loads(params))), flush=True)
        return 0

    from fastconv import benchmark
    cfg = SETTINGS[args.quick]
    info = machine()
    print(f"machine: {info['cores']} cores, {info['cpu']}, {info['machine']}; CPU ISA "
          f"{info['cpu_isa']}, fastconv runs {info['isa']} ({info['platform']})")
    print(f"fastconv {info['fastconv']} from {info['fastconv_path']}; numpy {info['numpy']}")
    env, removed = base_environment()
    if removed:
        print(f"default environment: without {', '.join(removed)} (set in this shell)")
    openblas_env = dict(env, OPENBLAS_NUM_THREADS="1")
    if info["cores"] < 2:
        print("note: fewer than 2 cores: the 2-thread rows oversubscribe the CPU")
    # the workers are children of this process, waited for before each window ends: their
    # CPU time (and the busy process's) is ours, not "other processes"'
    monitor = benchmark.LoadMonitor(cfg["settle_s"], children=True)
    preflight = monitor.preflight(benchmark.QUICK_PREFLIGHT_S if args.quick
                                  else benchmark.PREFLIGHT_S)
    if preflight["busy"]:
        print(f"WARNING: the machine is busy ({'; '.join(preflight['reasons'])}): these "
              f"figures will not be this machine's; rows measured while it stays busy say so")
    print(flush=True)

    rows = []
    for section in (lambda: measure_loops(cfg, env, openblas_env),
                    lambda: measure_under_load(cfg, env, benchmark.BusyProcess),
                    lambda: measure_two_processes(cfg, env),
                    lambda: measure_quiet(cfg, env)):
        token = monitor.begin()
        section_rows = section()
        load = monitor.end(token)
        for row in section_rows:
            row["load"] = load
        rows += section_rows

    print(format_table(rows))
    busy = [row for row in rows if row["load"]["busy"]]
    seen = sorted({reason for row in busy for reason in row["load"]["reasons"]})
    if busy:
        print(f"\nbusy: {len(busy)} of {len(rows)} rows were measured while the machine was "
              f"busy ({'; '.join(seen)}): their figures are not this machine's")
    print("\n2t/1t: 2-thread time / 1-thread time per call (throughput), beside one CPU-bound "
          "process of ours; the loop ratios are steps/s over steps/s, medians of "
          "interleaved rounds" + (" (--quick: few and short rounds, a smoke test)"
                                  if args.quick else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "quick": args.quick, "settings": cfg,
                       "removed_variables": removed, "targets": TARGETS,
                       "busy": {"preflight": preflight}, "rows": rows}, f, indent=1)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
