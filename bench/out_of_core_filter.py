"""Out of core: filter an image bigger than the memory you give it, chunk by chunk, on a cluster.

    PYTHONPATH=. python bench/out_of_core_filter.py                  # 16384^2 float32 (1 GiB)
    PYTHONPATH=. python bench/out_of_core_filter.py --size 4096      # a quick run
    [--chunk 1024] [--kernel 5] [--workers 2] [--dir DIR] [--keep] [--cache-mib 0]

Writes a (size x size) float32 image as a .npy file (block by block: it is never whole in
memory), opens it as a Dask array whose tasks read their chunk from the file (each task
pickles only the path; a numpy.memmap handed to Dask would be pickled as its whole contents),
filters it with fastconv.dask (filter2d where this build has it, else the single-channel
conv2d with zero padding, the same correlation) on a LocalCluster, each task reading its own
chunk with its halo from the file (fastconv.dask.from_storage), and stores the result into a
second .npy file, chunk by chunk.  It checks a few output blocks against the numpy op on the
same region with its halo, and reports each worker's peak resident memory (VmHWM, reset
before the run) beside its baseline and the size of one chunk with its halo.
"""
import argparse
import os
import tempfile
import time

import numpy as np

import dask.array as da
from distributed import Client, LocalCluster

import fastconv
import fastconv.dask as fd


class NpyFile:
    """A (H, W) .npy file as an array Dask can read and write by regions, row by row with
    pread/pwrite, opened per access and pickled as its path.  Not memory-mapped: the file's pages
    a mapped access touches count in the worker's resident memory, and a chunk's slice of a row
    of a wide image straddles two pages, so a mapped read or write of a chunk would add about
    twice the chunk to the peak being measured.  lead=2 shows the file as (1, 1, H, W), conv2d's
    layout."""

    def __init__(self, path, shape=None, dtype=None, lead=0):
        if shape is not None:  # create it, of this shape, without writing its contents
            np.lib.format.open_memmap(path, "w+", dtype, shape).flush()
        self.path, self.lead = path, lead
        header = np.load(path, mmap_mode="r")  # its header only: nothing is read through it
        if not header.flags.c_contiguous or header.ndim != 2:
            raise ValueError(f"NpyFile: {path} is not a C-ordered (H, W) array")
        self.file_shape, self.dtype, self.offset = header.shape, header.dtype, header.offset
        del header
        self.shape = (1,) * lead + self.file_shape
        self.ndim = len(self.shape)

    def _rows_cols(self, region):
        region = region if isinstance(region, tuple) else (region,)
        region = region[self.lead:] if len(region) == self.ndim else region
        region = tuple(region) + (slice(None),) * (2 - len(region))
        (r0, r1, rs), (c0, c1, cs) = (r.indices(n) for r, n in zip(region, self.file_shape))
        if rs != 1 or cs != 1:
            raise ValueError("NpyFile: regions are slices with step 1")
        return r0, r1, c0, c1

    def _row_offset(self, row, col):
        return self.offset + (row * self.file_shape[1] + col) * self.dtype.itemsize

    def __getitem__(self, region):
        r0, r1, c0, c1 = self._rows_cols(region)
        data = np.empty((r1 - r0, c1 - c0), self.dtype)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for i, row in enumerate(range(r0, r1)):
                os.preadv(fd, [data[i]], self._row_offset(row, c0))
        finally:
            os.close(fd)
        return data.reshape((1,) * self.lead + data.shape) if self.lead else data

    def __setitem__(self, region, value):
        r0, r1, c0, c1 = self._rows_cols(region)
        value = np.ascontiguousarray(np.broadcast_to(value, (r1 - r0, c1 - c0)), self.dtype)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for i, row in enumerate(range(r0, r1)):
                os.pwritev(fd, [value[i]], self._row_offset(row, c0))
        finally:
            os.close(fd)


def _reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS (Linux >= 4.0)
        f.write("5")


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _peak_and_now():
    return _rss_kib("VmHWM"), _rss_kib("VmRSS")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--kernel", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where the .npy files go (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument("--cache-mib", type=int, default=0,
                        help="fastconv's cache of freed outputs on each worker "
                             "(fastconv.set_cache_limit; its default is 256 MiB; streaming "
                             "chunk by chunk it saves page faults, not work, and what it keeps "
                             "counts in the peak: 16 MiB measured 4.6 chunks, 0 measured 2.4)")
    args = parser.parse_args()
    folder = args.dir or tempfile.mkdtemp(prefix="fastconv-ooc-")
    source, result = os.path.join(folder, "image.npy"), os.path.join(folder, "filtered.npy")
    n, chunk, k = args.size, args.chunk, args.kernel
    rng = np.random.default_rng(0)
    image_file = NpyFile(source, (n, n), np.float32)
    start = time.perf_counter()
    for row in range(0, n, chunk):  # written a band at a time: never the whole image
        image_file[row:row + chunk] = rng.standard_normal((min(chunk, n - row), n), np.float32)
    print(f"wrote {source}: {n}x{n} float32, {n * n * 4 / 2**30:.2f} GiB, "
          f"in {time.perf_counter() - start:.1f} s")
    kernel = rng.standard_normal((k, k)).astype(np.float32)
    if hasattr(fastconv, "filter2d"):
        def numpy_filter(x):
            return fastconv.filter2d(x, kernel, border="constant")

        def dask_filter(path):
            image = fd.from_storage(NpyFile(path), chunks=chunk)
            return fd.filter2d(image, kernel, border="constant")
    else:
        def numpy_filter(x):
            return fastconv.conv2d(x[None, None], kernel[None, None], padding=k // 2,
                                   algorithm="depthwise")[0, 0]

        def dask_filter(path):
            image = fd.from_storage(NpyFile(path, lead=2), chunks=(1, 1, chunk, chunk))
            return fd.conv2d(image, kernel[None, None], padding=k // 2,
                             algorithm="depthwise")[0, 0]

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        fd.share_cores(client)
        # the blocks differ in shape at the edges: a cache of freed outputs big enough to
        # keep one of each would count in the peak (--cache-mib)
        client.run(fastconv.set_cache_limit, args.cache_mib << 20)
        client.run(lambda: np.zeros(1) + fastconv.conv2d(np.zeros((1, 1, 8, 8), np.float32),
                                                         np.zeros((1, 1, 1, 1), np.float32)))
        baseline = client.run(_peak_and_now)
        client.run(_reset_peak_rss)
        out = NpyFile(result, (n, n), np.float32)
        start = time.perf_counter()
        # each task reads its chunk with its halo from the file (fastconv.dask.from_storage),
        # filters it and writes its block of the result: one slab and one block in memory
        da.store(dask_filter(source), out, lock=False)
        seconds = time.perf_counter() - start
        peaks = client.run(_peak_and_now)
    halo = k // 2
    chunk_mib = (chunk + 2 * halo) ** 2 * 4 / 2**20
    print(f"filtered {k}x{k} on {args.workers} workers x 1 thread in {seconds:.1f} s "
          f"({n * n / seconds / 1e6:.0f} Mpixel/s) -> {result}")
    print(f"one {chunk}^2 chunk with its halo: {chunk_mib:.1f} MiB; budget per worker "
          f"4 x {chunk_mib:.1f} MiB + baseline")
    for address in sorted(peaks):
        peak, _ = peaks[address]
        base = baseline[address][1]
        above = (peak - base) / 1024
        print(f"  worker {address}: peak RSS {peak / 1024:.0f} MiB, baseline {base / 1024:.0f} "
              f"MiB, peak - baseline {above:.0f} MiB = {above / chunk_mib:.1f} chunks with halo")
    # a few blocks checked against the numpy op on the region with its halo
    filtered = np.load(result, mmap_mode="r")
    whole_source = np.load(source, mmap_mode="r")
    for r0, c0 in [(0, 0), (n // 2, n // 3), (n - chunk, n - chunk)]:
        r1, c1 = min(r0 + chunk, n), min(c0 + chunk, n)
        lo_r, lo_c = max(r0 - halo, 0), max(c0 - halo, 0)
        region = np.array(whole_source[lo_r:min(r1 + halo, n), lo_c:min(c1 + halo, n)])
        ref = numpy_filter(region)[r0 - lo_r:r0 - lo_r + r1 - r0, c0 - lo_c:c0 - lo_c + c1 - c0]
        same = np.array_equal(ref, filtered[r0:r1, c0:c1])
        print(f"  block at ({r0}, {c0}): {'bitwise equal to' if same else 'DIFFERS from'} "
              f"the numpy op on the region")
    if not args.keep:
        for path in (source, result):
            os.remove(path)
        if args.dir is None:
            os.rmdir(folder)


if __name__ == "__main__":
    main()
