"""SIGKILL a run part-way under one executor; the other (or the same) finishes it, nothing lost or redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from raykit import output  # noqa: E402

from sample_stages import make_inputs  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
N = 8

SCRIPT = textwrap.dedent("""
    import sys
    from sample_stages import LinesStage
    from mella.pipeline.runner import make_executor, run_stage
    executor = make_executor({executor!r}, 2, progress=False)
    run_stage(LinesStage(min_chars=2, delay={delay}), [{inputs!r}], {out!r}, executor)
""")

pytestmark = pytest.mark.ray


def start(executor: str, inputs: Path, out: Path, delay: float) -> subprocess.Popen:
    # A new session: the driver, its pool or its own Ray instance (GCS, raylet, workers) are one process group.
    code = SCRIPT.format(executor=executor, inputs=str(inputs), out=str(out), delay=delay)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, cwd=TESTS,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_part_way(proc: subprocess.Popen, out: Path) -> None:
    deadline = time.time() + 120
    while len(list(out.glob("part-*._SUCCESS"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "no part committed in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.time() + 30
    while _group_alive(proc.pid):  # every process of the run is gone, Ray's included
        assert time.time() < deadline, "processes of the killed run are still alive"
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The inputs and an uninterrupted local run over them."""
    base = tmp_path_factory.mktemp("kill")
    inputs = make_inputs(base / "in", n_files=N, lines=200)
    proc = start("local", inputs, base / "reference", 0.0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-3000:]
    return inputs, base / "reference"


@pytest.mark.parametrize("first,second", [("local", "ray"), ("ray", "local"), ("ray", "ray")])
def test_killed_run_resumes_under_either_executor(tmp_path, reference, first, second):
    inputs, ref = reference
    out = tmp_path / "out"
    kill_part_way(start(first, inputs, out, 0.25), out)
    committed = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*.parquet")
                 if p.with_suffix("._SUCCESS").exists()}
    assert 2 <= len(committed) < N, "the kill must land part-way"
    assert not (out / "_SUCCESS").exists()

    rerun = start(second, inputs, out, 0.0)
    assert rerun.wait(timeout=180) == 0, rerun.stderr.read().decode()[-3000:]

    for name, ident in committed.items():  # committed parts were not recomputed
        assert ((out / name).stat().st_ino, (out / name).stat().st_mtime_ns) == ident
    got, want = output(out), output(ref)
    assert got["rows"] == want["rows"] and len(got["rows"]) == len(set(got["rows"])) == N * 180
    assert got["dropped"] == want["dropped"] and got["stats"] == want["stats"]
    assert got["temporaries"] == [] and got["complete"]
