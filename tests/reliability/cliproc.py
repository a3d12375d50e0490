"""The mella CLI as a real process, with the tests' sample stages registered (for lock and kill tests)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

BOOT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})  # the tests folder, where sample_stages lives
    from mella.pipeline import registry as stage
    stage.STAGES["lines"] = "sample_stages:LinesStage"
    stage.STAGES["length"] = "sample_stages:LengthStage"
    from mella.cli import main
    sys.exit(main({args!r}))
""")


def mella(*args: str, cwd: str | Path | None = None) -> subprocess.Popen:
    """Start ``mella ARGS...`` in its own session (so a test can kill the whole group)."""
    code = BOOT.format(tests=str(TESTS), args=[str(a) for a in args])
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: str, cwd: str | Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = mella(*args, cwd=cwd)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_until(condition, proc: subprocess.Popen, what: str, timeout: float = 90) -> None:
    """Poll ``condition()`` while ``proc`` runs; fail with its stderr if it ends first, or after ``timeout``."""
    import time

    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, f"{what}: not in time"
        time.sleep(0.05)


def rows_of(out: Path) -> list[tuple]:
    """The kept rows of the sample `lines` stage in ``out``, sorted (for comparing two runs)."""
    import pyarrow.parquet as pq

    table = pq.read_table(sorted(out.glob("part-*.parquet")))
    return sorted(zip(*(table[c].to_pylist() for c in ("file", "lineno", "text")), strict=True))
