"""Item 5: keys, stage ids and pipeline names that would write outside their folder are refused where they enter.

A build row whose ``key`` is ``../../ESCAPED_KEY`` made ``mella export --format llava`` write outside ``--out``;
a pipeline entry ``id: ../../x`` or ``id: /abs/path`` and a pipeline ``name: ../../../x`` wrote outside the run folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.errors import ConfigError, MellaError
from mella.pipeline import registry as stage_mod
from sample_stages import make_inputs


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "lines", "sample_stages:LinesStage")
    monkeypatch.setitem(stage_mod.STAGES, "length", "sample_stages:LengthStage")


def poison(build: Path, column: str, value: str) -> None:
    """Set ``column`` of the first row of the build's first part to ``value`` (as a hand-edited file would)."""
    part = sorted(build.glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    values = table[column].to_pylist()
    values[0] = value
    pq.write_table(table.set_column(table.column_names.index(column), column, pa.array(values, pa.string())), part)


@pytest.fixture
def build_copy(demo_run, tmp_path) -> Path:
    root = tmp_path / "deep" / "er" / "run"
    for stage in ("build", "fetch"):
        shutil.copytree(demo_run / stage, root / stage)
    return root


@pytest.mark.parametrize("fmt", ["llava", "swift", "sharegpt", "hf"])
def test_05_export_refuses_a_traversing_key(build_copy, tmp_path, capsys, fmt):
    poison(build_copy / "build", "key", "../../ESCAPED_KEY")
    out = build_copy / "out"
    code = main(["export", str(build_copy / "build"), "--out", str(out), "--format", fmt,
                 "--images", str(build_copy / "fetch")])
    assert code == 1
    err = capsys.readouterr().err
    assert "not a safe key" in err and "ESCAPED_KEY" in err
    assert not list(tmp_path.rglob("ESCAPED_KEY*"))


def test_05_export_wds_refuses_a_traversing_sample_id(build_copy, tmp_path, capsys):
    poison(build_copy / "build", "id", "../../ESCAPED_ID")
    code = main(["export", str(build_copy / "build"), "--out", str(build_copy / "out"), "--format", "wds",
                 "--images", str(build_copy / "fetch")])
    assert code == 1 and "not a safe key" in capsys.readouterr().err


def test_05_export_refuses_a_traversing_split(build_copy, capsys):
    poison(build_copy / "build", "split", "../../ESCAPED_SPLIT")
    code = main(["export", str(build_copy / "build"), "--out", str(build_copy / "out"), "--format", "llava",
                 "--images", str(build_copy / "fetch")])
    assert code == 1 and "not a safe folder name" in capsys.readouterr().err
    assert not list(build_copy.parent.rglob("ESCAPED_SPLIT*"))


def test_05_export_refuses_a_traversing_name(build_copy, capsys):
    code = main(["export", str(build_copy / "build"), "--out", str(build_copy / "out"), "--format", "sharegpt",
                 "--images", str(build_copy / "fetch"), "--name", "../../../x"])
    assert code == 1 and "not a safe folder name" in capsys.readouterr().err
    assert not (build_copy / "out").exists() or not any((build_copy / "out").iterdir())


@pytest.mark.parametrize("sid", ["../../x", "/abs/path", "a/b", "..", ".hidden", "x\ny"])
def test_05_pipeline_stage_id_outside_the_run_folder(tmp_path, sid):
    from mella.config import parse_pipeline

    inputs = make_inputs(tmp_path / "in", n_files=1, lines=5)
    doc = {"name": "p", "stages": [{"stage": "lines", "inputs": [str(inputs)], "id": sid},
                                   {"stage": "length", "id": sid}]}
    with pytest.raises(ConfigError) as err:
        parse_pipeline(doc)
    assert "not a safe folder name" in str(err.value)


@pytest.mark.parametrize("name", ["../../../x", "/etc/x", "a/b"])
def test_05_pipeline_name_outside_runs(tmp_path, monkeypatch, capsys, name):
    inputs = make_inputs(tmp_path / "in", n_files=1, lines=5)
    pipeline = tmp_path / "sub" / "p.yaml"
    pipeline.parent.mkdir()
    pipeline.write_text(f"name: {name}\nstages:\n  - stage: lines\n    inputs: [{inputs}]\n")
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["run", str(pipeline)]) == 2
    assert "not a safe folder name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "sub"]


def test_05_under_refuses_escapes(tmp_path):
    from mella.paths import under

    assert under(tmp_path, "a/b.json") == (tmp_path / "a" / "b.json").resolve()
    for bad in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(MellaError):
            under(tmp_path, bad)
    (tmp_path / "link").symlink_to("/")
    with pytest.raises(MellaError):
        under(tmp_path, "link/etc/passwd")
