"""Does fastconv release the GIL?  2 x k calls one after the other in one Python thread
("serial") against k calls made by each of two Python threads at once ("parallel"), every op
on one OpenMP thread (fastconv.set_num_threads(1)); k (`calls`) makes a round last ~0.1 s, so
that the threads' wake-up and placement on the cores do not dominate.  With the GIL released
around the C code, parallel / serial tends to 0.5 on 2 free cores; holding it would give 1.0.
Memory-bound ops (max_pool2d, relu) share the memory bandwidth, so expect less.  torch (if
importable, with torch.set_num_threads(1)) runs the same experiment for comparison, and a
control row, hashlib.sha256 (which releases the GIL), shows the ratio the machine allows.

Serial and parallel alternate within each repeat, and the table gives medians, so that the
load of a shared machine hits both alike.  Every call allocates its output, as a user's would.
Two more columns explain the ratio on a busy machine: the CPUs the calling threads got on
average, serially (cpus_s) and in parallel (cpus_p; the sum over both threads).  On two free
cores cpus_p is near 2 and the ratio near cpus_s / cpus_p = 0.5; where other processes leave
this one a single CPU's share (or less), cpus_p is no more than cpus_s and no ratio below about
1 can show, GIL or not (tests/test_concurrency.py proves the release by events instead).

    PYTHONPATH=. python bench/gil_release.py [--quick] [--repeats N] [--no-torch]
"""
import argparse
import functools
import hashlib
import statistics
import threading
import time

import numpy as np

import fastconv


def cases(quick):
    """(op, input shape, fastconv call, torch call factory) of each row."""
    if quick:
        conv_x, conv_w, pool_x = (1, 8, 16, 16), (8, 8, 3, 3), (1, 8, 32, 32)
    else:
        # ~40 ms a call on one AVX-512 core (3.7 G multiply-adds); a VGG layer at batch 8
        conv_x, conv_w, pool_x = (8, 128, 56, 56), (128, 128, 3, 3), (16, 64, 112, 112)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(conv_x).astype(np.float32)
    w = rng.standard_normal(conv_w).astype(np.float32)
    p = rng.standard_normal(pool_x).astype(np.float32)
    rows = [
        ("conv2d", conv_x, lambda: fastconv.conv2d(x, w, padding=1),
         lambda torch, tx, tw, tp: lambda: torch.nn.functional.conv2d(tx, tw, padding=1)),
        ("max_pool2d", pool_x, lambda: fastconv.max_pool2d(p, 3, 2, 1),
         lambda torch, tx, tw, tp: lambda: torch.nn.functional.max_pool2d(tp, 3, 2, 1)),
        ("relu", pool_x, lambda: fastconv.relu(p),
         lambda torch, tx, tw, tp: lambda: torch.nn.functional.relu(tp)),
    ]
    return rows, (x, w, p)


class Pair:
    """Two persistent worker threads that each make one call when released together; each
    also notes the CPU time its thread got."""

    def __init__(self):
        self.fn = None
        self.start = threading.Barrier(3)
        self.done = threading.Barrier(3)
        self.errors = []
        self.cpu = [0.0, 0.0]
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True)
                        for i in range(2)]
        for t in self.threads:
            t.start()

    def _work(self, i):
        while True:
            self.start.wait()
            if self.fn is None:
                return
            try:
                cpu = time.thread_time()
                self.fn()
                self.cpu[i] = time.thread_time() - cpu
            except BaseException as exc:  # noqa: BLE001 - reported by run()
                self.errors.append(exc)
            self.done.wait()

    def run(self, fn):
        """(wall seconds, CPUs the two threads used on average) of one parallel round."""
        self.fn = fn
        t0 = time.perf_counter()
        self.start.wait()
        self.done.wait()
        elapsed = time.perf_counter() - t0
        if self.errors:
            raise self.errors[0]
        return elapsed, sum(self.cpu) / elapsed

    def close(self):
        self.fn = None
        self.start.wait()
        for t in self.threads:
            t.join()


def repeat_call(fn, calls):
    """fn() `calls` times, each result dropped before the next call, as a user's loop would:
    keeping a round's results alive made each thread hold calls x 51 MB of relu outputs, and
    the parallel rounds twice that, which timed the kernel's page zeroing, not the GIL."""
    for _ in range(calls):
        fn()


def serial_time(fn):
    """(wall seconds, CPUs used on average) of fn twice, one after the other."""
    cpu, t0 = time.thread_time(), time.perf_counter()
    fn()
    fn()
    elapsed = time.perf_counter() - t0
    return elapsed, (time.thread_time() - cpu) / elapsed


def measure(rows, pair, repeats, round_seconds):
    """Medians of each row's serial seconds and CPUs, parallel seconds and CPUs; the rows take
    turns within each repeat, so that a change in the machine's load hits every row alike.

    A thread makes row["calls"] calls per round, enough for ~round_seconds: a round of one
    short call mostly times the wake-up of the threads and their placement on the cores."""
    for row in rows:  # warm-up: page in the inputs, size the workspaces
        fn = row["fn"]
        fn()
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        row["calls"] = calls = max(1, min(1000, round(round_seconds / max(once, 1e-6))))
        row["batch"] = functools.partial(repeat_call, fn, calls)
        pair.run(row["batch"])
        row["serial"], row["parallel"] = [], []
    for r in range(repeats):
        for row in rows:
            if r % 2:  # alternate which goes first
                row["serial"].append(serial_time(row["batch"]))
                row["parallel"].append(pair.run(row["batch"]))
            else:
                row["parallel"].append(pair.run(row["batch"]))
                row["serial"].append(serial_time(row["batch"]))
    return [tuple(statistics.median(column) for column in (*zip(*row["serial"]),
                                                             *zip(*row["parallel"])))
            for row in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="serial/parallel pairs per row (default 15, 3 with --quick)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch rows")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)

    fastconv.set_num_threads(1)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(1)
        except ImportError:
            torch = None
    rows, (x, w, p) = cases(args.quick)
    table = [dict(impl="fastconv", op=op, shape=shape, fn=fn) for op, shape, fn, _ in rows]
    if torch is not None:
        tx, tw, tp = (torch.from_numpy(a) for a in (x, w, p))
        table += [dict(impl="torch", op=op, shape=shape, fn=make(torch, tx, tw, tp))
                  for op, shape, _, make in rows]
    # The ceiling the machine allows: hashlib releases the GIL while it hashes more than 2 KiB,
    # so its ratio is what two truly parallel threads get now (2 vCPUs may share a physical
    # core, other processes may hold one).
    data = bytes(64 << 10) if args.quick else bytes(32 << 20)
    table.append(dict(impl="control", op="sha256", shape=(len(data),),
                      fn=lambda: hashlib.sha256(data).digest()))

    print(f"GIL release: 2 x `calls` calls serially in one thread vs `calls` calls in each of 2 "
          f"threads at once; 1 OpenMP thread per call; median of {repeats}")
    print(f"{'impl':<9} {'op':<11} {'input':<18} {'calls':>5} {'cpus_s':>6} {'cpus_p':>6} {'serial_ms':>10} "
          f"{'parallel_ms':>12} {'ratio':>6}")
    pair = Pair()
    try:
        results = measure(table, pair, repeats, 0.002 if args.quick else 0.1)
    finally:
        pair.close()
    for row, (serial, cpus_s, parallel, cpus_p) in zip(table, results):
        shape_text = "x".join(map(str, row["shape"]))
        print(f"{row['impl']:<9} {row['op']:<11} {shape_text:<18} {row['calls']:5d} {cpus_s:6.2f} {cpus_p:6.2f} "
              f"{serial * 1e3:10.4f} {parallel * 1e3:12.4f} {parallel / serial:6.3f}")


if __name__ == "__main__":
    main()
