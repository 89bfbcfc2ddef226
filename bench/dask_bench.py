"""fastconv.dask on a real distributed.LocalCluster: filtering, scaling, threads, inference.

    PYTHONPATH=. python bench/dask_bench.py [--size 8192] [--chunk 1024] [--repeat 3]
                                            [--images 60000] [--predict-chunk 6000]
                                            [--skip-peer] [--json FILE]

Three clusters side by side (2 workers x 1 thread, 1 x 1, 1 x 2), their runs alternating round
by round (medians of --repeat rounds; each timed run after a warm-up), the input persisted on
the workers first and the output persisted, not gathered (the time is the cluster's work, not
the transfer to this process):

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
  thread, with chunks of 1000 images (a task per model call) and of --predict-chunk images (a
  task runs its chunk in calls of 1000), against one in-process loop of model(batch) over
  batches of 1000 at 2 threads (target >= 0.8x of its throughput).
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


def best_of(repeat, run):
    """run(i) for i = 0 (a warm-up: imports on the workers, first-touch of their memory), 1, ...
    repeat; the best time of the timed ones."""
    run(0)
    times = []
    for i in range(1, repeat + 1):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return min(times)


def persist_time(client, make, repeat):
    """Best wall time to compute make(i) into worker memory (and drop it).  Each run's graph is
    another (make(i) differs by i), so that no run finds the last one's result still held."""
    def run(i):
        y = client.persist(make(i))
        wait(y)
        del y
    return best_of(repeat, run)


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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--predict-chunk", type=int, default=6000,
                        help="images per chunk (task) of the second predict run")
    parser.add_argument("--skip-peer", action="store_true", help="no dask-image runs")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {"size": args.size, "chunk": args.chunk, "cores": fd._cores()}

    def report(name, seconds, extra=""):
        results[name] = seconds
        print(f"{name:<56} {seconds:8.3f} s {extra}", flush=True)

    # the clusters live side by side, and their runs alternate round by round: a load that
    # comes and goes on a shared machine then lands on all of them alike
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
        x = images_on[2, 1]

        def run(shape, k, seed, peer=False):
            c = clusters[shape][1]
            make = filter_dask_image if peer else filter_fastconv
            return persist_time(c, lambda i: make(images_on[shape], k, seed * 10 + i), 1)

        times = {}
        for r in range(args.repeat):
            for k in (5, 15):
                times.setdefault(("fc", k), []).append(run((2, 1), k, r))
                if not args.skip_peer:  # dask-image right after, on the same kernel
                    times.setdefault(("di", k), []).append(run((2, 1), k, r, peer=True))
            fd.share_cores(client, cores=2 * fd._cores())  # fastconv at 2x: 4 threads, 2 cores
            times.setdefault("over", []).append(run((2, 1), 5, r))
            fd.share_cores(client)
            for k in (5, 15):
                times.setdefault(("1x1", k), []).append(run((1, 1), k, r))
            times.setdefault("1x2", []).append(run((1, 2), 5, r))
        median = {key: float(np.median(v)) for key, v in times.items()}
        for k in (5, 15):
            report(f"filter {k}x{k} fastconv.dask 2 workers x 1 thread", median["fc", k],
                   f"(median of {args.repeat}; runs {', '.join(f'{t:.2f}' for t in times['fc', k])})")
            if not args.skip_peer:
                report(f"filter {k}x{k} dask_image 2 workers x 1 thread", median["di", k],
                       f"(median of {args.repeat}, each run right after a fastconv.dask run: "
                       f"{median['di', k] / median['fc', k]:.1f}x slower; target >= 5x)")
        for k in (5, 15):
            report(f"filter {k}x{k} fastconv.dask 1 worker x 1 thread", median["1x1", k],
                   f"(2 workers: {median['1x1', k] / median['fc', k]:.2f}x faster; "
                   f"target >= 1.7x)")
        report("filter 5x5 fastconv.dask 1 worker x 2 threads", median["1x2"])
        report("filter 5x5 2 workers x 1 thread, fastconv 2 threads each", median["over"],
               "(oversubscribed: 4 threads on 2 cores)")

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

        def loop(i):
            for j in range(0, len(images), 1000):
                net(images[j:j + 1000])
        t_dask, t_loop = {}, []
        for r in range(args.repeat):
            for chunk in chunkings:
                with client.as_current():
                    t_dask.setdefault(chunk, []).append(persist_time(
                        client, lambda i: fd.predict(net, dimages[chunk], batch_size=1000), 1))
            fastconv.set_num_threads(fd._cores())
            t_loop.append(best_of(1, loop))
        t_loop = float(np.median(t_loop))
        for chunk in chunkings:
            t = float(np.median(t_dask[chunk]))
            report(f"LeNet-5 predict {args.images} {source}, 2 workers, chunks of {chunk}", t,
                   f"({args.images / t:,.0f} images/s; cluster / in-process throughput "
                   f"{t_loop / t:.2f}x; target >= 0.8x)")
        report(f"LeNet-5 in-process loop, batches of 1000, {fd._cores()} threads", t_loop,
               f"({args.images / t_loop:,.0f} images/s)")
    finally:
        for c, client in clusters.values():
            client.close()
            c.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k if isinstance(k, str) else str(k): v for k, v in results.items()}, f,
                      indent=1)


if __name__ == "__main__":
    main()
