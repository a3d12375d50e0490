"""`make demo` runs the main job offline: `python -m mella.demo` on the bundled example sites."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from mella.demo.__main__ import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_runs_offline_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    assert main(["--examples", str(EXAMPLES), "--run-dir", str(run_dir), "--fresh"]) == 0
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "succeeded"
    rows = pq.read_table(sorted((run_dir / "collect").glob("part-*.parquet"))).to_pylist()
    assert {r["html_lang"] for r in rows} == {"ar", "ko", "ru", "sr"}
    assert len(rows) > 100
    kept = pq.read_table(sorted((run_dir / "dedup").glob("part-*.parquet"))).to_pylist()
    assert {r["lang"] for r in kept} == {"ar", "ko", "ru", "sr-Cyrl"}
    assert not any(r["alt"] == "Creative Commons License" for r in kept)  # licence badges are not culture
    out = capsys.readouterr().out
    assert f"outputs: {run_dir}/" in out
    # second run: same seeds, nothing recomputed (unless the fixed port was taken and it started fresh)
    assert main(["--examples", str(EXAMPLES), "--run-dir", str(run_dir)]) == 0
    second = json.loads((run_dir / "run.json").read_text())
    assert second["stages"]["collect"]["rows"] == len(rows)
