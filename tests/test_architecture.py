"""The shape of the code that docs/design.md promises: layers without circles, one rule for where an entry lives,
stages and steps on one base, the run folder passed and not put in the environment."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from mella.pipeline.entry import Entry
from mella.pipeline.registry import STAGES, get_stage, stage_names, where
from mella.pipeline.stage import Stage
from mella.pipeline.step import Step

ROOT = Path(__file__).resolve().parents[1]


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_circles_and_no_upward_arrows():
    graph = _import_graph()
    assert graph.problems() == []


def test_the_checker_finds_a_circle_and_an_upward_arrow():
    graph = _import_graph()
    g = {"mella.paths": {"mella.pipeline.shards"}, "mella.pipeline.shards": {"mella.paths"}}
    assert graph.circles(g) == [["mella.paths", "mella.pipeline.shards"]]
    assert graph.upward(g) == ["mella.paths -> mella.pipeline.shards (base -> pipeline core)"]


def test_every_room_is_in_a_layer():
    graph = _import_graph()
    rooms = {graph.room(m) for m in graph.graph()}
    for r in rooms:
        graph.layer_of(r)  # raises for a room nobody placed


@pytest.mark.parametrize("name", sorted(STAGES))
def test_an_entry_lives_in_the_module_named_after_it(name):
    cls = get_stage(name)
    module = cls.__module__.split(".")
    assert module[0] == "mella" and module[-1] == name, f"{name} lives in {cls.__module__}"
    assert where(name) == f"mella/{'/'.join(module[1:])}.py:{cls.__name__}"


def test_stages_and_steps_share_one_base_and_only_stages_have_batches():
    for name in stage_names():
        cls = get_stage(name)
        assert issubclass(cls, Entry)
        assert issubclass(cls, Stage) != issubclass(cls, Step), name
        if issubclass(cls, Step):
            assert not hasattr(cls, "process"), f"step {name} has a batch method"
            assert cls.reads == "folder"
        else:
            assert cls.reads in ("rows", "files")


def test_mella_stages_prints_where_each_entry_lives(capsys):
    from mella.cli import main

    assert main(["stages"]) == 0
    out = capsys.readouterr().out
    for name in stage_names():
        assert f"in {where(name)}" in out


def test_a_pipeline_run_leaves_the_environment_as_it_was(tmp_path, monkeypatch):
    from mella.config import load_pipeline
    from mella.pipeline.runner import run_pipeline

    monkeypatch.delenv("MELLA_RUN_DIR", raising=False)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setitem(STAGES, "lines", "sample_stages:LinesStage")
    (tmp_path / "in.txt").write_text("a\nbb\n", encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: env\nstages:\n  - stage: lines\n    inputs: [in.txt]\n", encoding="utf-8")
    summary = run_pipeline(load_pipeline(str(pipeline), str(tmp_path / "run")), tmp_path / "run", progress=False)
    assert summary["lines"]["rows"] == 2
    assert "MELLA_RUN_DIR" not in os.environ


def test_the_train_step_names_the_run_folder_to_its_config_without_the_environment(tmp_path, monkeypatch):
    from mella.train.config import load_config

    monkeypatch.delenv("MELLA_RUN_DIR", raising=False)
    (tmp_path / "build").mkdir()
    env = {"MELLA_RUN_DIR": str(tmp_path), "MELLA_CAPTION_MODEL": "/models/qwen2-vl"}
    config = load_config(ROOT / "examples" / "train-demo.yaml", env=env)
    assert str(config.data.samples) == str(tmp_path / "build")
    assert str(config.output.dir) == str(tmp_path / "train")
    assert "MELLA_RUN_DIR" not in os.environ
