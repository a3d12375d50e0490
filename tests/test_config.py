"""Pipeline config: every problem in one message, exit code 2, nothing written."""

from __future__ import annotations

import pytest

from mella.cli import main
from mella.config import load_pipeline, parse_pipeline
from mella.errors import ConfigError
from mella.pipeline import registry as stage_mod
from sample_stages import make_inputs


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "lines", "sample_stages:LinesStage")
    monkeypatch.setitem(stage_mod.STAGES, "length", "sample_stages:LengthStage")


BAD = """\
name: broken
executr: local
workers: many
stages:
  - stage: lines
    inputs: [does/not/exist/*.txt]
    min_chars: ten
    uper: true
  - stage: lenght
  - stage: length
    max_chars: 0
  - {inputs: [x]}
"""


def test_every_problem_is_named_in_one_message(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as info:
        load_pipeline(str(path))
    msg = str(info.value)
    expected = [
        "unknown key 'executr' (did you mean 'executor'?)",
        "workers: expected int (got 'many')",
        "stages[0] (lines).inputs: input pattern",
        "stages[0] (lines).min_chars: Input should be a valid integer",
        "unknown option 'uper' (did you mean 'upper'?)",
        "stages[1]: unknown stage 'lenght' (did you mean 'length'?)",
        "stages[2] (length).max_chars: Input should be greater than or equal to 1",
        "stages[3]: missing 'stage'",
    ]
    for piece in expected:
        assert piece in msg, f"{piece!r} missing from:\n{msg}"
    assert len(info.value.problems) == len(expected)
    assert msg.startswith(f"{path}: 8 problems:")


def test_cli_exit_code_2_and_nothing_written(tmp_path, capsys):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BAD)
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "8 problems" in err and "Traceback" not in err
    assert not run_dir.exists()


def test_valid_pipeline_resolves_inputs_relative_to_file(tmp_path):
    make_inputs(tmp_path / "texts", n_files=2)
    (tmp_path / "p.yaml").write_text("name: ok\nstages:\n  - stage: lines\n    inputs: texts\n"
                                     "  - stage: length\n    max_chars: 12\n")
    cfg = load_pipeline(str(tmp_path / "p.yaml"))
    assert cfg.name == "ok" and cfg.executor == "local"
    assert cfg.stages[0].inputs == [str(tmp_path / "texts")]
    assert cfg.stages[1].after == "lines" and cfg.stages[1].options.max_chars == 12
    resolved = cfg.resolved()
    assert resolved["stages"][0]["min_chars"] == 1  # defaults are filled in


def test_yaml_syntax_error_names_the_line(tmp_path):
    (tmp_path / "p.yaml").write_text("name: x\nstages: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_pipeline(str(tmp_path / "p.yaml"))


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_pipeline(["stage"])


def test_environment_variables_are_interpolated(tmp_path, monkeypatch):
    make_inputs(tmp_path / "texts", n_files=1)
    monkeypatch.setenv("TEXTS", "texts")
    monkeypatch.delenv("NOPE", raising=False)
    (tmp_path / "p.yaml").write_text("name: ${RUN_NAME:-envy}\nstages:\n  - stage: lines\n    inputs: ${TEXTS}\n")
    cfg = load_pipeline(str(tmp_path / "p.yaml"))
    assert cfg.name == "envy" and cfg.stages[0].inputs == [str(tmp_path / "texts")]
    (tmp_path / "q.yaml").write_text("name: x\nstages:\n  - stage: lines\n    inputs: ${NOPE}\n")
    with pytest.raises(ConfigError, match="environment variable NOPE is not set"):
        load_pipeline(str(tmp_path / "q.yaml"))
