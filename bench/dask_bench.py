"""fastconv.dask on a real distributed.LocalCluster: filtering, scaling, threads, inference.

    PYTHONPATH=. python bench/dask_bench.py [--size 8192] [--chunk 1024] [--repeat 5]
                                            [--warmup 1] [--images 60000]
                                            [--predict-chunk 6000] [--skip-peer] [--json FILE]

Three clusters side by side (2 workers x 1 thread, 1 x 1, 1 x 2).  First --warmup untimed
rounds of every measurement below (each worker's imports, its first calls to fastconv and
scipy, the first touch of its memory and fastconv's block cache, the client's first graphs),
then --repeat (at least 5) timed rounds, each running every measurement once in the same
order, so that a load that comes and goes on a shared machine lands on all of them alike.
Each figure is the median over the rounds, with the min and max beside it.  The input is
persisted on the workers first and each output persisted, not gathered (the time is the
cluster's work, not the transfer to this process; building the graph is timed); after each
run the bench waits until the scheduler has released the output, so that no run pays for the
last one's clean-up.  Each run filters with another kernel, so no run finds the last one's
result still held.  Beside each fastconv.dask filter figure: the CPU a run took in the
workers (summed) and in this process (the client and the LocalCluster's scheduler), medians.

* an (size x size) float32 image, 5x5 and 15x15 filters (single-channel conv2d with zero padding,
  or fastconv.filter2d where this build has it), 2 workers x 1 thread: fastconv.dask against
  dask_image.ndfilters.correlate (scipy.ndimage, mode "constant") on the same cluster and
  chunks (target >= 5x);
* the same fastconv.dask filter on 2 workers x 1 thread against 1 worker x 1 thread
  (target >= 1.7x);
* how processes and threads share the 2 cores, 5x5: 1 process x 2 Dask threads, 2 processes x
  1 thread (each worker's fastconv threads from share_cores), and oversubscribed: 2 processes x
  1 thread with fastconv at 2 threads each (share_cores(cores=4)), 4 threads on 2 cores;
* LeNet-5 inference over --images MNIST images (the cached training set, else random images),
  persisted on the workers first: fastconv.dask.predict(batch_size=1000) on 2 workers x 1
  thread (the call, its model copy and scatter included), with chunks of 1000 images (a task
  per model call) and of --predict-chunk images (a task runs its chunk in calls of 1000),
  against one in-process loop of model(batch) over batches of 1000 at 2 threads (target
  >= 0.8x of its throughput); the same rounds, warm-up and statistics.
"""
import argparse
import json
import os
import time

import numpy as np

import dask.array as da
from distributed import Client, LocalCluster, wait

import fastconv
import fastconv.dask as fd
from fastconv import models


def settle(client, baseline, timeout=10.0):
    """Wait until the scheduler holds no more than `baseline` tasks: the last run's output
    released on the workers before the next run starts."""
    deadline = time.perf_counter() + timeout
    while (client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) > baseline
           and time.perf_counter() < deadline):
        time.sleep(0.01)


def persist_run(client, make):
    """One run: make() computed into worker memory (and dropped).  Returns the wall time and
    the CPU time it took in the workers (summed) and in this process (client and scheduler)."""
    baseline = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    workers_before, here_before = client.run(time.process_time), time.process_time()
    start = time.perf_counter()
    y = client.persist(make())
    wait(y)
    wall = time.perf_counter() - start
    here, workers_after = time.process_time() - here_before, client.run(time.process_time)
    del y
    settle(client, baseline)
    return wall, sum(workers_after[w] - workers_before[w] for w in workers_before), here


def stats(values):
    """(median, min, max)"""
    return float(np.median(values)), float(min(values)), float(max(values))


def spread(values):
    median, low, high = stats(values)
    return f"median of {len(values)}, min {low:.3f}, max {high:.3f}"


def cluster(workers, threads):
    c = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                     dashboard_address=None, memory_limit=0)
    return c, Client(c)


def filter_fastconv(image, k, seed=0):
    """A k x k filter of the (H, W) dask image: fastconv.filter2d where there is one, else the
    single-channel conv2d with zero padding (the same correlation), algorithm "auto"."""
    kernel = np.random.default_rng([k, seed]).standard_normal((k, k)).astype(np.float32)
    if hasattr(fastconv, "filter2d"):
        return fd.filter2d(image, kernel, border="constant")
    return fd.conv2d(image[None, None], kernel[None, None], padding=k // 2)[0, 0]


def filter_dask_image(image, k, seed=0):
    from dask_image import ndfilters
    kernel = np.random.default_rng([k, seed]).standard_normal((k, k)).astype(np.float32)
    return ndfilters.correlate(image, kernel, mode="constant")


def images_for_inference(n):
    path = os.path.join(os.path.expanduser("~"), ".cache", "fastconv", "mnist",
                        "train_images.npy")
    if os.path.exists(path):
        raw = np.load(path)[:n]
        source = "MNIST training images"
    else:
        raw = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
        source = "random images (MNIST not cached)"
    x = ((raw.astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
    return np.ascontiguousarray(x), source


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (at least 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--predict-chunk", type=int, default=6000,
                        help="images per chunk (task) of the second predict run")
    parser.add_argument("--skip-peer", action="store_true", help="no dask-image runs")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.repeat < 5 or args.warmup < 1:
        parser.error("--repeat must be at least 5 and --warmup at least 1: a median of fewer "
                     "rounds, or a first run timed, is one unlucky run away from another figure")
    results = {"size": args.size, "chunk": args.chunk, "cores": fd._cores(),
               "repeat": args.repeat, "warmup": args.warmup,
               "load average before": os.getloadavg()}

    def report(name, values, extra=""):
        median, low, high = stats(values)
        results[name] = {"median": median, "min": low, "max": high, "runs": list(values)}
        print(f"{name:<58} {median:7.3f} s ({spread(values)}) {extra}", flush=True)

    def cpu_note(key):
        return (f"[CPU a run: workers {np.median(cpu[key][0]) * 1e3:.0f} ms, client+scheduler "
                f"{np.median(cpu[key][1]) * 1e3:.0f} ms]")

    # the clusters live side by side, and their runs alternate round by round
    clusters = {shape: cluster(*shape) for shape in ((2, 1), (1, 1), (1, 2))}
    try:
        images_on = {}
        for (workers, threads), (_, client) in clusters.items():
            # fastconv at one thread per Dask thread: 1 x 1 is one core
            fd.share_cores(client, cores=min(fd._cores(), workers * threads))
            x = da.random.default_rng(0).standard_normal((args.size, args.size),
                                                         dtype=np.float32, chunks=args.chunk)
            images_on[workers, threads] = client.persist(x)
            wait(images_on[workers, threads])
        client = clusters[2, 1][1]
        seeds = iter(range(1 << 30))  # another kernel each run

        times, cpu = {}, {}

        def run(key, shape, k, timed, peer=False):
            make = filter_dask_image if peer else filter_fastconv
            seed = next(seeds)
            wall, workers_cpu, here_cpu = persist_run(
                clusters[shape][1], lambda: make(images_on[shape], k, seed))
            if timed:
                times.setdefault(key, []).append(wall)
                cpu.setdefault(key, ([], []))
                cpu[key][0].append(workers_cpu)
                cpu[key][1].append(here_cpu)

        for r in range(-args.warmup, args.repeat):
            timed = r >= 0
            for k in (5, 15):
                run(("fc", k), (2, 1), k, timed)
                if not args.skip_peer:  # dask-image right after, on the same kernel
                    run(("di", k), (2, 1), k, timed, peer=True)
            fd.share_cores(client, cores=2 * fd._cores())  # fastconv at 2x: 4 threads, 2 cores
            run("over", (2, 1), 5, timed)
            fd.share_cores(client)
            for k in (5, 15):
                run(("1x1", k), (1, 1), k, timed)
            run("1x2", (1, 2), 5, timed)
        median = {key: stats(v)[0] for key, v in times.items()}
        for k in (5, 15):
            report(f"filter {k}x{k} fastconv.dask 2 workers x 1 thread", times["fc", k],
                   cpu_note(("fc", k)))
            if not args.skip_peer:
                report(f"filter {k}x{k} dask_image 2 workers x 1 thread", times["di", k],
                       f"(each run right after a fastconv.dask run: "
                       f"{median['di', k] / median['fc', k]:.1f}x slower; target >= 5x)")
        for k in (5, 15):
            ratios = [one / two for one, two in zip(times["1x1", k], times["fc", k])]
            report(f"filter {k}x{k} fastconv.dask 1 worker x 1 thread", times["1x1", k],
                   f"(2 workers: {median['1x1', k] / median['fc', k]:.2f}x faster, ratio of "
                   f"medians; round by round {min(ratios):.2f}-{max(ratios):.2f}x; "
                   f"target >= 1.7x) {cpu_note(('1x1', k))}")
        report("filter 5x5 fastconv.dask 1 worker x 2 threads", times["1x2"], cpu_note("1x2"))
        report("filter 5x5 2 workers x 1 thread, fastconv 2 threads each", times["over"],
               f"(oversubscribed: 4 threads on 2 cores) {cpu_note('over')}")

        for shape in ((1, 1), (1, 2)):  # done with: the inference runs on the 2-worker cluster
            c, other = clusters.pop(shape)
            other.close()
            c.close()
        images, source = images_for_inference(args.images)
        net = models.lenet5(seed=0).eval()

        def on_workers(chunk):
            """The images as a Dask array persisted on the workers (as the filters' input), in
            chunks of `chunk` images: scattered, so that no run pays their transfer."""
            parts = client.scatter([images[i:i + chunk] for i in range(0, len(images), chunk)])
            x = da.concatenate([da.from_delayed(p, (len(images[i * chunk:(i + 1) * chunk]), 1,
                                                    28, 28), np.float32)
                                for i, p in enumerate(parts)])
            x = client.persist(x)
            wait(x)
            return x
        # one model call of 1000 images per task, and chunks of --predict-chunk images run in
        # calls of 1000 inside their task: fewer tasks, the same calls as the loop's
        chunkings = sorted({1000, args.predict_chunk})
        dimages = {chunk: on_workers(chunk) for chunk in chunkings}

        def loop():
            fastconv.set_num_threads(fd._cores())
            start = time.perf_counter()
            for j in range(0, len(images), 1000):
                net(images[j:j + 1000])
            return time.perf_counter() - start
        t_dask, t_loop = {}, []
        for r in range(-args.warmup, args.repeat):
            for chunk in chunkings:
                with client.as_current():
                    wall = persist_run(
                        client, lambda: fd.predict(net, dimages[chunk], batch_size=1000))[0]
                if r >= 0:
                    t_dask.setdefault(chunk, []).append(wall)
            wall = loop()
            if r >= 0:
                t_loop.append(wall)
        loop_median = stats(t_loop)[0]
        for chunk in chunkings:
            t = stats(t_dask[chunk])[0]
            report(f"LeNet-5 predict {args.images} {source}, 2 workers, chunks of {chunk}",
                   t_dask[chunk],
                   f"({args.images / t:,.0f} images/s; cluster / in-process throughput "
                   f"{loop_median / t:.2f}x, of medians; target >= 0.8x)")
        report(f"LeNet-5 in-process loop, batches of 1000, {fd._cores()} threads", t_loop,
               f"({args.images / loop_median:,.0f} images/s)")
    finally:
        for c, client in clusters.values():
            client.close()
            c.close()
    results["load average after"] = os.getloadavg()
    print(f"load average before {results['load average before']}, after "
          f"{results['load average after']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
