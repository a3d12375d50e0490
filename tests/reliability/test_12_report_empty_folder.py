"""Issue 15 item 12: ``mella report`` on an empty folder wrote a blank report and exited 0; now it is a one-line
error (exit 2) that writes nothing, and a stage folder given instead of its run folder says which to give."""

from __future__ import annotations

import pytest

from mella.cli import main

pytest.importorskip("jinja2", reason="the report extra is not installed")
pytest.importorskip("matplotlib", reason="the report extra is not installed")


def test_12_report_on_empty_folder_is_one_line_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["report", str(empty)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err == (f"mella: error: {empty} holds no stage output (no <stage>/stats.json): nothing to report; "
                   "give a run folder")
    assert list(empty.iterdir()) == []


def test_12_report_on_a_stage_folder_names_its_run_folder(tmp_path, capsys):
    from inputkit import make_outputs

    fetch = make_outputs(tmp_path / "run")["fetch"]
    capsys.readouterr()
    code = main(["report", str(fetch), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err == f"mella: error: {fetch} is one stage's folder; give its run folder ({fetch.parent}) to report the whole run"
    assert not (tmp_path / "r.html").exists()
