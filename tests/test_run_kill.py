"""Killing `mella run` at any point and rerunning it gives the outputs of an uninterrupted run.

The pipeline is the demo's first half (collect, filter, dedup, fetch) plus a tiny-model caption stage and
the report, served from the demo's local site server; it is killed with SIGKILL in the middle of a data stage
and in the middle of the model stage.
"""

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

STAGES = ("collect", "filter", "dedup", "fetch", "caption")
VOLATILE = {"tar_offset", "tar_size"}  # where an image lies in a tar depends on write order, not content
PIPELINE = """\
name: killable
workers: 2
stages:
  - stage: collect
    inputs: [{sites}]
    allow_hosts: [${{MELLA_DEMO_HOST}}]
    per_host_delay: 0.02
    max_depth: 2
  - stage: filter
    langs: [ar, ko, ru, sr]
    min_words: 2
  - stage: dedup
  - stage: fetch
    allow_hosts: [${{MELLA_DEMO_HOST}}]
    image_size: 384
  - stage: caption
    model: ${{MELLA_CAPTION_MODEL}}
    max_new_tokens: 8
  - stage: report
"""


def demo(run_dir: Path, pipeline: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mella.demo", "--examples", str(EXAMPLES), "--run-dir",
                             str(run_dir), "--pipeline", str(pipeline)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _cell(value) -> str:
    # Confidences may differ in the last bit between processes (summation order): compare them rounded.
    return f"{value:.9f}" if isinstance(value, float) else str(value)


def outputs(run_dir: Path) -> dict[str, list[tuple]]:
    out = {}
    for stage in STAGES:
        table = pq.read_table(sorted((run_dir / stage).glob("part-*.parquet")))
        cols = [c for c in table.column_names if c not in VOLATILE]
        out[stage] = sorted(tuple(_cell(r[c]) for c in cols) for r in table.select(cols).to_pylist())
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "killable.yaml"
    sites = ", ".join(f"${{MELLA_DEMO_URL}}/{name}/" for name in (
        "ar__raspberrypilearning__lost-in-space", "ru__raspberrypilearning__lost-in-space",
        "sr__raspberrypilearning__poetry-generator"))
    path.write_text(PIPELINE.format(sites=sites))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, pipeline):
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    proc = demo(run_dir, pipeline)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    return outputs(run_dir)


@pytest.mark.parametrize("kill_when", ["filter", "caption"])
def test_kill_mella_run_then_rerun(tmp_path, pipeline, reference, kill_when):
    run_dir = tmp_path / "run"
    proc = demo(run_dir, pipeline)
    deadline = time.time() + 600
    while not (run_dir / kill_when).exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run_dir / "report" / "_SUCCESS").exists()

    rerun = demo(run_dir, pipeline)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read().decode()
    assert outputs(run_dir) == reference
    assert (run_dir / "report" / "report.html").exists()
