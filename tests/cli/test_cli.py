"""The CLI: stage commands built from Options, one-line errors, --verbose tracebacks, mella run."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.pipeline import registry as stage_mod
from sample_stages import make_inputs


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "lines", "sample_stages:LinesStage")
    monkeypatch.setitem(stage_mod.STAGES, "length", "sample_stages:LengthStage")


def test_help_lists_stage_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "lines" in out and "run" in out and "languages" in out


def test_stage_help_shows_flags_from_options(capsys):
    assert main(["lines", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--out", "--min-chars", "--upper / --no-upper", "--tags", "--workers", "--overwrite"):
        assert flag in out


def test_stage_command_runs_and_chains(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=2, lines=40)
    out1, out2 = tmp_path / "lines", tmp_path / "length"
    assert main(["lines", str(inputs / "*.txt"), "--out", str(out1), "--min-chars", "3", "--upper",
                 "--tags", "a,b", "--tags", "c", "-j", "1"]) == 0
    stats = json.loads((out1 / "stats.json").read_text())
    assert stats["options"] == {"min_chars": 3, "upper": True, "delay": 0.0, "tags": ["a", "b", "c"]}
    assert main(["length", str(out1), "--out", str(out2), "--max-chars", "100"]) == 0
    rows = pq.read_table(sorted(out2.glob("part-*.parquet"))).to_pylist()
    assert len(rows) == 72 and all(r["text"].isupper() for r in rows)
    printed = capsys.readouterr().out
    assert "72 rows kept" in printed and str(out2) in printed


def test_bad_option_value_is_one_line_exit_2(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=1)
    assert main(["lines", str(inputs), "--out", str(tmp_path / "o"), "--min-chars", "-1"]) == 2
    err = capsys.readouterr().err
    assert "min_chars" in err and "greater than or equal to 0" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_input_is_one_line_error(tmp_path, capsys):
    assert main(["lines", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"mella: error: input {tmp_path / 'nope.txt'} does not exist"


def test_internal_error_traceback_only_with_verbose(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "exploding", "sample_stages:ExplodingStage")
    (tmp_path / "in.txt").write_text("boom\n")
    assert main(["exploding", str(tmp_path / "in.txt"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "internal error: ValueError: boom" in err and "Traceback" not in err
    assert main(["exploding", str(tmp_path / "in.txt"), "--out", str(tmp_path / "o2"), "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unknown_command(capsys):
    assert main(["lenght"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_overwrite_restarts(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=1)
    out = tmp_path / "o"
    assert main(["lines", str(inputs), "--out", str(out)]) == 0
    assert main(["lines", str(inputs), "--out", str(out), "--upper"]) == 1  # options changed, same folder
    assert main(["lines", str(inputs), "--out", str(out), "--upper", "--overwrite"]) == 0


def test_mella_run_pipeline_writes_run_json(tmp_path, capsys):
    make_inputs(tmp_path / "texts", n_files=3, lines=30)
    (tmp_path / "p.yaml").write_text(
        "name: tiny\nworkers: 2\nstages:\n  - stage: lines\n    inputs: [texts]\n    min_chars: 2\n"
        "  - stage: length\n    max_chars: 14\n")
    run_dir = tmp_path / "runs" / "tiny"
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(run_dir)]) == 0
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["name"] == "tiny"
    assert manifest["config"]["stages"][1]["max_chars"] == 14
    assert manifest["versions"]["pyarrow"] and manifest["host"]["hostname"]
    assert manifest["started_at"] <= manifest["ended_at"]
    assert set(manifest["stages"]) == {"lines", "length"}
    assert manifest["stages"]["lines"]["rows"] == 81
    assert (run_dir / "lines" / "_SUCCESS").exists() and (run_dir / "length" / "_SUCCESS").exists()
    # a rerun resumes: nothing recomputed
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(run_dir)]) == 0
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["attempts"] == 2 and manifest["stages"]["lines"]["parts_run"] == 0


def test_a_reader_that_goes_away_is_not_an_error():
    # `mella stages | head`: the pipe's reader is gone before mella writes; no "internal error", exit 0.
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        code = "import sys; from mella.cli import main; sys.exit(main(['stages']))"
        proc = subprocess.run([sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"error" not in proc.stderr
