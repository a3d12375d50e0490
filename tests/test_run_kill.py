"""Killing `mella run` (the demo pipeline) at any point and rerunning it gives the uninterrupted outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STAGES = ("collect", "filter", "dedup", "fetch")
# Columns that legitimately differ between runs (timings, temp paths) are left out of the comparison.
VOLATILE = {"tar_offset", "tar_size"}


def demo(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mella.demo", "--examples", str(EXAMPLES), "--run-dir",
                             str(run_dir)], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def outputs(run_dir: Path) -> dict[str, list[tuple]]:
    out = {}
    for stage in STAGES:
        table = pq.read_table(sorted((run_dir / stage).glob("part-*.parquet")))
        cols = [c for c in table.column_names if c not in VOLATILE]
        rows = table.select(cols).to_pylist()
        out[stage] = sorted(tuple(_cell(r[c]) for c in cols) for r in rows)
    return out


def _cell(value) -> str:
    # Confidences may differ in the last bit between processes (summation order): compare them rounded.
    return f"{value:.9f}" if isinstance(value, float) else str(value)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ref") / "demo"
    proc = demo(run_dir)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    return outputs(run_dir)


@pytest.mark.parametrize("kill_when", ["filter", "fetch"])
def test_kill_mella_run_then_rerun(tmp_path, reference, kill_when):
    run_dir = tmp_path / "demo"
    proc = demo(run_dir)
    deadline = time.time() + 300
    while not (run_dir / kill_when).exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run_dir / "report" / "_SUCCESS").exists()

    rerun = demo(run_dir)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
    assert outputs(run_dir) == reference
    assert (run_dir / "report" / "report.html").exists()
