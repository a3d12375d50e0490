"""Item 3: workers die with the driver. SIGKILL of the `mella` process alone (not its group) must not leave
spawn workers committing parts behind a rerun; the rerun gives exactly the uninterrupted output."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from cliproc import mella, rows_of, run, wait_until

from sample_stages import make_inputs


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry.name))
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_03_workers_die_with_a_killed_driver(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=8, lines=300)
    reference = tmp_path / "reference"
    assert run("lines", inputs, "--out", reference, "-j", "1").returncode == 0

    out = tmp_path / "out"
    proc = mella("lines", inputs, "--out", out, "-j", "2", "--delay", "0.3")
    workers: list[int] = []

    def started() -> bool:
        workers[:] = [w for w in children_of(proc.pid) if "spawn_main" in Path(f"/proc/{w}/cmdline").read_text()]
        return bool(workers) and bool(list(out.glob("part-*._SUCCESS")))

    wait_until(started, proc, "a worker's committed part")
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: its workers are not signalled
    proc.wait(timeout=30)

    deadline = time.time() + 10
    while any(alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "workers outlived their driver"
    committed = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*._SUCCESS")}
    time.sleep(1.0)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*._SUCCESS")} == committed

    again = run("lines", inputs, "--out", out, "-j", "2")
    assert again.returncode == 0, again.stderr
    assert rows_of(out) == rows_of(reference)
