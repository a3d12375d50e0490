"""Item 11: the report written as a step of ``mella run`` said ``status running · ended ?`` about its own run.

It now says the run is in progress, that the report is its step, how many stages are done and which are still
pending; a report of a finished run says how it ended; a run that stopped without finishing (nobody holds the run
folder's lock) is ``interrupted``. Driven through the real CLI (``mella run``, ``mella report``) on real runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mella.cli import main

PRED = {"id": "1", "lang": "cs", "source": "know", "prediction": "Praha je hezká", "references": ["Praha je krásná"]}


def _header(html: Path) -> str:
    meta = re.search(r'<div class="meta">(.*?)</div>', html.read_text(encoding="utf-8"), re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", meta).split())


def _run(tmp_path: Path, stages: str) -> Path:
    (tmp_path / "preds.jsonl").write_text(json.dumps(PRED) + "\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text("name: t11\nstages:\n" + stages, encoding="utf-8")
    run_dir = tmp_path / "run"
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(run_dir)]) == 0
    return run_dir


EVAL = "  - stage: evaluate\n    id: {id}\n    inputs: [{preds}]\n    metrics: [bleu]\n"


@pytest.fixture
def report_in_the_middle(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return _run(tmp_path, EVAL.format(id="scores", preds="preds.jsonl") + "  - stage: report\n"
                + EVAL.format(id="scores2", preds="preds.jsonl"))


def test_11_report_step_says_in_progress_and_names_the_pending_stages(report_in_the_middle):
    header = _header(report_in_the_middle / "report" / "report.html")
    assert "status running" not in header and "ended ?" not in header
    assert "status in progress (this report is its step report; 1 of 3 stages done)" in header
    assert "pending: scores2" in header


def test_11_report_as_the_last_step_has_nothing_pending(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = _run(tmp_path, EVAL.format(id="scores", preds="preds.jsonl") + "  - stage: report\n")
    header = _header(run_dir / "report" / "report.html")
    assert "status in progress (this report is its step report; 1 of 2 stages done)" in header
    assert "pending" not in header and "ended" not in header


def test_11_report_of_a_finished_run_says_how_it_ended(report_in_the_middle, tmp_path):
    out = tmp_path / "after.html"
    assert main(["report", str(report_in_the_middle), "--out", str(out)]) == 0
    header = _header(out)
    ended = json.loads((report_in_the_middle / "run.json").read_text())["ended_at"]
    assert "status succeeded · started" in header and f"· ended {ended}" in header
    assert "pending" not in header


def test_11_run_that_stopped_without_finishing_is_interrupted(report_in_the_middle, tmp_path):
    # What a killed `mella run` leaves: run.json still says running, one stage done, and nobody holds the lock.
    manifest_path = report_in_the_middle / "run.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(status="running", ended_at=None, stages={"scores": manifest["stages"]["scores"]})
    manifest_path.write_text(json.dumps(manifest))
    out = tmp_path / "killed.html"
    assert main(["report", str(report_in_the_middle), "--out", str(out)]) == 0
    header = _header(out)
    assert "status interrupted (1 of 3 stages done; rerun mella run to resume)" in header
    assert "pending: report, scores2" in header


def test_11_run_going_on_in_another_process_is_in_progress(report_in_the_middle, tmp_path):
    manifest_path = report_in_the_middle / "run.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(status="running", ended_at=None, stages={"scores": manifest["stages"]["scores"]})
    manifest_path.write_text(json.dumps(manifest))
    # Another process holds the run folder's lock, as `mella run` does while it runs.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from mella.locks import acquire; acquire(sys.argv[1]); "
         "print('held', flush=True); time.sleep(120)", str(report_in_the_middle)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = tmp_path / "elsewhere.html"
        assert main(["report", str(report_in_the_middle), "--out", str(out)]) == 0
        header = _header(out)
        assert "status in progress in another process (1 of 3 stages done)" in header
        assert "pending: scores2" in header
    finally:
        holder.kill()
        holder.wait()
