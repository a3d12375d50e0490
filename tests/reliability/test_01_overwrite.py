"""Item 1: ``--overwrite`` never deletes an input or another stage's folder, and only ever deletes what mella wrote.

Each case reproduces a command that deleted data before the fix, on a real run folder (a copy of the demo's
build and fetch, or real parts of the sample stages), and checks that every byte of the other folders is still there.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from mella.cli import main
from mella.pipeline import registry as stage_mod
from sample_stages import make_inputs


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "lines", "sample_stages:LinesStage")
    monkeypatch.setitem(stage_mod.STAGES, "length", "sample_stages:LengthStage")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the sha256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".mella.lock"}


@pytest.fixture
def run_copy(demo_run, tmp_path) -> Path:
    """A run folder with a copy of the demo's build, fetch and score folders (and its run.json)."""
    run = tmp_path / "bc"
    run.mkdir()
    for stage in ("build", "fetch", "score"):
        shutil.copytree(demo_run / stage, run / stage)
    shutil.copy(demo_run / "run.json", run / "run.json")
    return run


def test_01_export_out_is_its_input_build(run_copy, capsys):
    before = snapshot(run_copy)
    code = main(["export", str(run_copy / "build"), "--out", str(run_copy / "build"), "--format", "llava",
                 "--images", str(run_copy / "fetch"), "--overwrite"])
    assert code != 0
    err = capsys.readouterr().err
    assert "output of stage build" in err and "Traceback" not in err
    assert snapshot(run_copy) == before


def test_01_export_out_is_the_run_folder(run_copy, capsys):
    before = snapshot(run_copy)
    code = main(["export", str(run_copy / "build"), "--out", str(run_copy), "--format", "llava",
                 "--images", str(run_copy / "fetch"), "--overwrite"])
    assert code != 0
    assert "run folder" in capsys.readouterr().err
    assert snapshot(run_copy) == before


def test_01_export_out_is_the_run_folder_without_run_json(run_copy, capsys):
    (run_copy / "run.json").unlink()  # stages run one by one: no run.json, the folder still holds them
    before = snapshot(run_copy)
    code = main(["export", str(run_copy / "build"), "--out", str(run_copy), "--format", "llava",
                 "--images", str(run_copy / "fetch"), "--overwrite"])
    assert code != 0
    err = capsys.readouterr().err
    assert str(run_copy) in err and "build" in err
    assert snapshot(run_copy) == before


def test_01_export_out_is_another_stage_fetch(run_copy, capsys):
    before = snapshot(run_copy)
    code = main(["export", str(run_copy / "build"), "--out", str(run_copy / "fetch"), "--format", "llava",
                 "--images", str(run_copy / "fetch"), "--overwrite"])
    assert code != 0
    assert "output of stage fetch" in capsys.readouterr().err
    assert snapshot(run_copy) == before


def test_01_export_overwrite_keeps_files_it_did_not_write(run_copy, tmp_path, capsys):
    out = tmp_path / "export"
    args = ["export", str(run_copy / "build"), "--out", str(out), "--format", "llava",
            "--images", str(run_copy / "fetch")]
    assert main(args) == 0
    first = snapshot(out)
    assert "_SUCCESS" in first and any(k.startswith("images/") for k in first)
    assert main(args + ["--overwrite"]) == 0  # an earlier export of its own is replaced
    assert snapshot(out).keys() == first.keys()
    (out / "my-notes.txt").write_text("mine")
    assert main(args + ["--overwrite"]) != 0
    assert "did not write" in capsys.readouterr().err
    assert (out / "my-notes.txt").read_text() == "mine"


def test_01_filter_out_is_parent_of_its_input(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=2, lines=30)
    run = tmp_path / "bc2"
    assert main(["lines", str(inputs), "--out", str(run / "collect"), "-j", "1"]) == 0
    before = snapshot(run)
    assert main(["length", str(run / "collect"), "--out", str(run), "--overwrite"]) != 0
    err = capsys.readouterr().err
    assert "holds the input" in err and str(run / "collect") in err
    assert snapshot(run) == before


def test_01_out_inside_an_input_folder(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=2, lines=30)
    (inputs / "sub").mkdir()
    (inputs / "sub" / "keep.bin").write_bytes(b"data")
    assert main(["lines", str(inputs / "*.txt"), "--out", str(inputs / "sub"), "--overwrite"]) != 0
    assert "lies inside the input" in capsys.readouterr().err
    assert (inputs / "sub" / "keep.bin").read_bytes() == b"data"


def test_01_overwrite_deletes_only_what_mella_wrote(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3, lines=30)
    out = tmp_path / "lines"
    assert main(["lines", str(inputs), "--out", str(out), "-j", "1"]) == 0
    (out / "README.txt").write_text("my notes about this run")
    (out / "extra").mkdir()
    (out / "extra" / "plot.png").write_bytes(b"\x89PNG")
    assert main(["lines", str(inputs), "--out", str(out), "-j", "1", "--min-chars", "5", "--overwrite"]) == 0
    assert (out / "README.txt").read_text() == "my notes about this run"
    assert (out / "extra" / "plot.png").read_bytes() == b"\x89PNG"
    assert len(list(out.glob("part-*._SUCCESS"))) == 3 and (out / "_SUCCESS").exists()


def test_01_overwrite_of_another_stage_folder_is_refused(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=2, lines=30)
    run = tmp_path / "r"
    assert main(["lines", str(inputs), "--out", str(run / "lines"), "-j", "1"]) == 0
    assert main(["lines", str(inputs), "--out", str(run / "other"), "-j", "1"]) == 0
    before = snapshot(run)
    assert main(["length", str(run / "other"), "--out", str(run / "lines"), "--overwrite"]) != 0
    assert "output of stage lines, not length" in capsys.readouterr().err
    assert snapshot(run) == before


def test_01_step_never_writes_into_another_stage_folder(run_copy, capsys):
    before = snapshot(run_copy)
    assert main(["evaluate", str(run_copy / "build"), "--out", str(run_copy / "fetch")]) != 0
    assert snapshot(run_copy) == before


def test_01_demo_fresh_never_deletes_a_folder_that_is_not_a_run(tmp_path, capsys):
    from mella.demo.__main__ import main as demo_main

    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert demo_main(["--examples", str(examples), "--run-dir", str(home), "--fresh"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert (home / "thesis.tex").read_text() == "years of work"
