"""The report: the table's rows, the notes under it, the legends, the extra tables of
--algorithms, --scaling and --load, and the plot."""
import math
import textwrap

from .._config import __version__
from .cases import cases
from .peers import BASELINES, PEERS
from .targets import AUTO_TOLERANCE, GEOMEAN_TARGET, LOAD_TARGET, SCALING_TARGET, TARGETS


# ---- report ---------------------------------------------------------------------------------

def _duration(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


COLUMNS = [("case", 20), ("load", 4), ("auto", 9), ("fastconv", 10), ("spread", 7),
           ("rate", 15), ("peak", 6), ("torch", 8), ("ort", 8), ("opencv", 8), ("numpy", 8),
           ("scipy", 8), ("nchw", 6), ("check", 10), ("target", 18)]


def _line(values):
    return "  ".join(f"{v:<{w}}" for v, (_, w) in zip(values, COLUMNS)).rstrip()


def format_row(row):
    if "error" in row:
        return _line([row["name"], "", "", "ERROR"]) + "  " + row["error"]
    peers = []
    for peer in PEERS:
        if peer in row["ratios"]:
            peers.append(f"{row['ratios'][peer]:.2f}x")
        else:
            reason = row["missing"].get(peer, "")
            peers.append("absent" if reason.startswith("not installed") else
                         "error" if reason.startswith("error") else "-")
    peers += [f"{row['ratios'][own]:.2f}x" if own in row["ratios"] else "-" for own in BASELINES]
    bad = [p for p, c in row["checks"].items() if not c["ok"]]
    check = "MISMATCH " + ",".join(bad) if bad else "ok"
    target = row["target"]
    status = target["status"]
    if target.get("failed"):
        status += " " + ",".join(target["failed"])
    if target.get("busy") and status not in ("-", "n/a"):
        status += " (busy)"
    share = "" if row["peak_share"] is None else f"{100 * row['peak_share']:.0f}%"
    if not row.get("peak_share_reliable", True):
        share += "!"
    fast = row["impls"]["fastconv"]
    return _line([row["name"], _load_flag(row.get("load")), row["auto_algorithm"] or "",
                  _duration(fast["median_s"]),
                  f"±{100 * fast['spread'] / 2:.0f}%", f"{row['rate']:.1f} {row['unit']}",
                  share, *peers, check, status])


def header():
    return _line([name for name, _ in COLUMNS])


def _load_flag(verdict):
    return "busy" if verdict and verdict["busy"] else ""


def busy_notes(rows, what="rows"):
    """Lines under a table: what was seen during each row measured while the machine was busy
    (the rows whose load column says "busy")."""
    busy = [row for row in rows if row.get("load") and row["load"]["busy"]]
    if not busy:
        return []
    lines = [f"busy: {len(busy)} of {len(rows)} {what} were measured while the machine was "
             f"busy; their figures are unreliable:"]
    lines += [f"  {row['name']}: {'; '.join(row['load']['reasons'])}" for row in busy]
    return lines


def geomeans(rows):
    """Per peer, the geometric mean of the ratios over the conv2d layers (not their +relu
    twins) that have one, with how many layers it covers: {peer: (geomean, count)}."""
    result = {}
    layers = [row for row in rows
              if row.get("op") == "conv2d" and row["name"] == row.get("layer")
              and "ratios" in row and not row["name"].startswith(("overhead", "image"))]
    for peer in ("torch", "onnxruntime"):
        ratios = [row["ratios"][peer] for row in layers if row["ratios"].get(peer)]
        if ratios:
            result[peer] = (math.exp(sum(map(math.log, ratios)) / len(ratios)), len(ratios))
    return result


def geomean_notes(rows, quick=False):
    """The line under the table: the geometric means of geomeans(), the torch one judged
    against GEOMEAN_TARGET (not on --quick's shapes)."""
    means = geomeans(rows)
    if not means:
        return []
    parts = [f"{peer} {mean:.2f}x over {count} layers" for peer, (mean, count) in means.items()]
    line = "geomean of the conv layers' ratios: " + ", ".join(parts)
    if "torch" in means and not quick:
        verdict = "pass" if means["torch"][0] >= GEOMEAN_TARGET else "FAIL"
        line += f"; target >= {GEOMEAN_TARGET}x torch: {verdict}"
    return [line]


def peak_share_notes(rows):
    unreliable = [row["name"] for row in rows if not row.get("peak_share_reliable", True)]
    if not unreliable:
        return []
    return [f"peak share above 100% ({', '.join(unreliable)}), marked !: unreliable, and not "
            f"judged against the target. The row beat the kernel that stands for the peak: its "
            f"data fit in a cache the peak's do not, it reads more than it writes (a copy "
            f"also reads its destination before writing it), or the load changed between the "
            f"two timings."]


LEGEND = """\
load: "busy" when, while the row was timed, other processes used more than a quarter of a
CPU, the hypervisor took CPU (steal), or a fixed calibration loop ran over 15% slower than at
the start (what was seen is listed under the table). fastconv: median time per call (spread:
± half the interquartile range). rate: GFLOP/s for conv2d and conv_transpose2d, GB/s (bytes
read + written) otherwise. peak: share of the sgemm peak (conv) or of the copy bandwidth, timed
in the same loop ("!": above 100%, unreliable). torch / ort (ONNX Runtime) / opencv / numpy / scipy
(scipy.ndimage.correlate, beside the image filters): peer time /
fastconv time, > 1 means fastconv is faster ("absent": not installed, "-": not applicable;
a +bwd row times conv2d + conv2d_backward against torch.autograd's). nchw (the nhwc_ conv2d
rows): fastconv's own NCHW call of the same layer, its time / the NHWC call's time, the two
interleaved (torch's there runs on channels_last tensors). check: every peer's result
against fastconv's. target: "pass", or "FAIL" and the criteria missed, against
the goals below; "n/a" when a criterion's peer is missing, and on --quick's small shapes."""

_CRITERION_TEXT = {"peak": lambda b: f">= {100 * b:.0f}% of peak",
                   "max_us": lambda b: f"<= {b:g} us per call"}


def targets_legend(all_cases=None):
    """The targets, one line per rule, naming the rows each applies to (a conv rule also
    covers the row's +relu twin).

    Example
    -------
    >>> print(next(line for line in targets_legend().splitlines() if "lenet_c1," in line))
      lenet_c1, lenet_c2: >= 1.5x torch, >= 1x onnxruntime
    """
    names = {}
    for case in all_cases if all_cases is not None else cases():
        if case.rule and not case.name.endswith("+relu"):
            names.setdefault(case.rule, []).append(case.name)
    lines = ["targets (each conv2d row's +relu twin has its layer's):"]
    for rule, criteria in TARGETS.items():
        if rule not in names:
            continue
        text = ", ".join(_CRITERION_TEXT.get(key, lambda b, key=key: f">= {b:g}x {key}")(bound)
                         for key, bound in criteria.items())
        # the names wrap; the criteria stay whole, on the names' last line when they fit
        wrapped = textwrap.wrap(", ".join(names[rule]) + ":", 96, initial_indent="  ",
                                subsequent_indent="    ")
        if len(wrapped[-1]) + 1 + len(text) <= 96:
            wrapped[-1] += " " + text
        else:
            wrapped.append("    " + text)
        lines += wrapped
    return "\n".join(lines)


def plot(rows, path):
    """A bar chart of fastconv's speed ratio to each peer per case (log scale); returns None,
    or a message saying why there is no plot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (f"--plot: matplotlib is not installed (pip install matplotlib); "
                f"no plot written to {path}")
    rows = [r for r in rows if "ratios" in r and r["ratios"]]
    if not rows:
        return f"--plot: no case has a peer to compare with; no plot written to {path}"
    peers = [p for p in PEERS if any(p in r["ratios"] for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 4.5))
    width = 0.8 / len(peers)
    for i, peer in enumerate(peers):
        xs = [j + (i - (len(peers) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [r["ratios"].get(peer, 0) or 0 for r in rows], width, label=f"vs {peer}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["name"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("peer time / fastconv time (> 1: fastconv faster)")
    ax.set_title(f"fastconv {__version__}: speed ratio to its peers")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def _algorithm_table(rows):
    lines = [f"{'algorithms':<20}  {'auto picks':<10}  {'best':<10}  {'pick/best':<9}  "
             f"times per algorithm"]
    for row in rows:
        info = row.get("algorithms")
        if not info:
            continue
        times = "  ".join(f"{name} {_duration(t)}" for name, t in info["times_s"].items())
        skipped = ", ".join(row["skipped_algorithms"])
        verdict = "" if info["ok"] else f"  (> {AUTO_TOLERANCE:.2f}x the best)"
        lines.append(f"{row['name']:<20}  {info['auto'] or '?':<10}  {info['best']:<10}  "
                     f"{info['auto_slowdown']:<9.3f}  {times}"
                     + (f"  (not for this shape: {skipped})" if skipped else "") + verdict)
    return "\n".join(lines)


def _scaling_table(rows):
    lines = [f"{'scaling':<20}  {'load':<4}  {'1 thread':<10}  {'2 threads':<10}  "
             f"{'speed-up':<8}  target >= {SCALING_TARGET}x"]
    for row in rows:
        busy = " (busy)" if _load_flag(row.get("load")) and row["target"] != "n/a" else ""
        lines.append(f"{row['name']:<20}  {_load_flag(row.get('load')):<4}  "
                     f"{_duration(row['one_thread_s']):<10}  "
                     f"{_duration(row['two_threads_s']):<10}  {row['speedup']:<8.2f}  "
                     f"{row['target']}{busy}")
    return "\n".join(lines)


def _load_table(rows, threads):
    hi = f"{threads}t"
    lines = [f"{'under load':<20}  {'load':<4}  {'fastconv 1t':<11}  {'fastconv ' + hi:<11}  "
             f"{hi + '/1t':<6}  {'torch 1t':<10}  {'torch ' + hi:<10}  {hi + '/1t':<6}  "
             f"target <= {LOAD_TARGET}x"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['name']:<20}  {'':<4}  ERROR  {row['error']}")
            continue
        cells = []
        for library, width in (("fastconv", 11), ("torch", 10)):
            figures = row[library]
            if "ratio" in figures:
                cells += [f"{_duration(figures['1']['time_s']):<{width}}",
                          f"{_duration(figures[str(threads)]['time_s']):<{width}}",
                          f"{figures['ratio']:<6.2f}"]
            else:
                cells += [f"{'-':<{width}}", f"{'-':<{width}}", f"{'-':<6}"]
        status = row["target"]["status"]
        if _load_flag(row.get("load")) and status != "n/a":
            status += " (busy)"
        lines.append(f"{row['name']:<20}  {_load_flag(row.get('load')):<4}  "
                     + "  ".join(cells) + f"  {status}")
    return "\n".join(lines)


LOAD_LEGEND = """\
under load: the cases again with one CPU-bound process of ours beside them (started and
killed by the command), fastconv and torch at 1 and at {threads} threads, interleaved; each
time per call is throughput: the total time of blocks of back-to-back calls over the calls.
{threads}t/1t above 1: more threads make the loaded machine slower. load: "busy" when other
processes than ours took CPU too."""
