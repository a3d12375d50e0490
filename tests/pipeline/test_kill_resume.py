"""SIGKILL a running local executor part-way; the rerun finishes without duplicates or recomputation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq

from sample_stages import make_inputs

HERE = Path(__file__).parent.parent

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})  # the tests folder, where sample_stages lives
    from sample_stages import LinesStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    run_stage(LinesStage(min_chars=2, delay={delay}), [{inputs!r}], {out!r}, LocalExecutor(2, progress=False))
""")


def run_script(inputs: Path, out: Path, delay: float) -> subprocess.Popen:
    code = SCRIPT.format(here=str(HERE), inputs=str(inputs), out=str(out), delay=delay)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def rows_of(out: Path) -> list[tuple]:
    table = pq.read_table(sorted(out.glob("part-*.parquet")))
    return sorted(zip(table["file"].to_pylist(), table["lineno"].to_pylist(), table["text"].to_pylist(), strict=True))


def test_sigkill_then_rerun_equals_uninterrupted_run(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=8, lines=200)

    reference = tmp_path / "reference"
    assert run_script(inputs, reference, 0.0).wait(timeout=120) == 0

    out = tmp_path / "killed"
    proc = run_script(inputs, out, 0.25)
    deadline = time.time() + 90
    while len(list(out.glob("part-*._SUCCESS"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no part committed in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run: the main process and its workers
    proc.wait(timeout=30)

    committed = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*")}
    n_committed = len(list(out.glob("part-*._SUCCESS")))
    assert 2 <= n_committed < 8, "the kill must land part-way"
    assert not (out / "_SUCCESS").exists()

    rerun = run_script(inputs, out, 0.0)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()

    # committed parts were not recomputed: same inode, same mtime
    for name in committed:
        if name.endswith("._SUCCESS"):
            part = out / name.replace("._SUCCESS", ".parquet")
            assert (part.stat().st_ino, part.stat().st_mtime_ns) == committed[part.name]
    final = rows_of(out)
    assert final == rows_of(reference)
    assert len(final) == len(set(final)) == 8 * 180
    assert not list(out.rglob(".*.tmp"))
    assert (out / "_SUCCESS").exists()
