"""Smoke test of bench/threads_under_load.py: `--quick` runs to the end and prints every row of
its table with a figure, a target and a mark (the figures themselves depend on the machine and
its load, and are not asserted).  About 40 s on two cores: marked slow (`-m "not slow"` leaves
it out)."""
import json
import os
import subprocess
import sys

import pytest

import fastconv

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "threads_under_load.py")
ROWS = ["default environment / OPENBLAS_NUM_THREADS=1", "`fastconv train`'s own steps",
        "PyTorch's loop"] + \
       [f"2t/1t beside a busy process: {op}" for op in
        ("conv2d resnet_3x3_b1", "conv2d vgg_3x3", "max_pool2d", "relu")] + \
       ["two processes of conv2d resnet_3x3_b1 at 2 threads",
        "two processes of conv2d resnet_3x3_b1 at 1 thread each", "2-thread speed-up: conv2d vgg_3x3",
        "2-thread speed-up: conv2d resnet_3x3_b32", "per-call time: relu (1,1,8,8)",
        "per-call time: conv2d (1,1,8,8)"]


@pytest.mark.slow
def test_quick_run_prints_every_row_of_the_table(tmp_path):
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([home, os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, SCRIPT, "--quick", "--json", "t.json"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("machine: ") and " cores, " in lines[0] and "ISA" in lines[0]
    table = [line for line in lines if line.startswith("| ")]
    assert [cell.strip() for cell in table[0].strip("|").split("|")] == \
        ["measurement", "measured", "target", "result", "load"]
    for text in ROWS:
        (line,) = [line for line in table if text in line]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[2] == "report" or cells[3] in ("pass", "FAIL"), line
        assert cells[4] in ("", "busy"), line
    with open(tmp_path / "t.json") as f:
        doc = json.load(f)
    assert len(doc["rows"]) == len(ROWS) and doc["quick"] is True
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["isa"]
    for row in doc["rows"]:
        assert isinstance(row["load"]["busy"], bool)
        assert row["target"] is None or isinstance(row["target"]["pass"], bool)
    busy = [row for row in doc["rows"] if row["load"]["busy"]]
    assert ("busy: " in res.stdout) == bool(busy)
