"""Item 2: one writer per stage folder and per run folder; the second process is refused with one line.

Real processes: a slow `mella lines` holds the folder while a second one tries it. A lock left by a process
killed with SIGKILL is no lock at all (the kernel drops it), so the rerun goes ahead and finishes exactly.
"""

from __future__ import annotations

import os
import signal

from cliproc import mella, rows_of, run, wait_until

from sample_stages import make_inputs


def test_02_second_writer_of_a_stage_folder_is_refused(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=6, lines=200)
    out = tmp_path / "out"
    first = mella("lines", inputs, "--out", out, "-j", "1", "--delay", "0.2")
    wait_until(lambda: list(out.glob("part-*._SUCCESS")), first, "a committed part")
    second = run("lines", inputs, "--out", out, "-j", "1")
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by another mella process" in lines[0] and f"pid {first.pid}" in lines[0]
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert len(list(out.glob("part-*._SUCCESS"))) == 6 and (out / "_SUCCESS").exists()


def test_02_second_pipeline_on_one_run_folder_is_refused(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=4, lines=200)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: p\nworkers: 1\nstages:\n  - stage: lines\n    inputs: [{inputs}]\n    delay: 0.2\n"
                        "  - stage: length\n")
    run_dir = tmp_path / "run"
    first = mella("run", pipeline, "--run-dir", run_dir)
    wait_until(lambda: list(run_dir.glob("lines/part-*._SUCCESS")), first, "a committed part")
    second = run("run", pipeline, "--run-dir", run_dir)
    assert second.returncode == 1 and "in use by another mella process" in second.stderr
    assert "FileNotFoundError" not in second.stderr
    assert first.wait(timeout=120) == 0, first.stderr.read()


def test_02_lock_of_a_killed_process_is_not_in_the_way(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=6, lines=200)
    reference = tmp_path / "reference"
    assert run("lines", inputs, "--out", reference, "-j", "1").returncode == 0
    out = tmp_path / "out"
    proc = mella("lines", inputs, "--out", out, "-j", "1", "--delay", "0.2")
    wait_until(lambda: list(out.glob("part-*._SUCCESS")), proc, "a committed part")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (out / ".mella.lock").exists()  # the file stays; the lock died with its process
    again = run("lines", inputs, "--out", out, "-j", "1")
    assert again.returncode == 0, again.stderr
    assert rows_of(out) == rows_of(reference)
