"""Item 12 (part): a file where an output folder must go, non-UTF-8 and ``${VAR}``-in-a-comment pipeline files,
and ``mella run``'s advice on a stage folder that holds other work. Each is one line (or one listed problem) from
the real CLI, never ``internal error``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mella.cli import main
from mella.pipeline import registry as stage_mod
from sample_stages import make_inputs


@pytest.fixture(autouse=True)
def sample_registry(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "lines", "sample_stages:LinesStage")
    monkeypatch.setitem(stage_mod.STAGES, "length", "sample_stages:LengthStage")


def error_of(capsys, argv: list[str], code: int = 1) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    return err.strip()


def pipeline(tmp_path: Path, body: str, name: str = "p.yaml") -> Path:
    make_inputs(tmp_path / "texts", n_files=1, lines=5)
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


# -- an existing file as --out ----------------------------------------------------------------------------------

def test_12_out_is_file_for_a_stage_command(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in", n_files=1)
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    err = error_of(capsys, ["lines", str(inputs), "--out", str(blocker)])
    assert len(err.splitlines()) == 1 and str(blocker) in err and "not a folder" in err
    assert blocker.read_text() == "mine\n"


def test_12_out_is_file_above_the_output_folder(tmp_path, capsys):
    # Before: internal error: NotADirectoryError (a file where a parent folder must go).
    inputs = make_inputs(tmp_path / "in", n_files=1)
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    err = error_of(capsys, ["lines", str(inputs), "--out", str(blocker / "sub")])
    assert err == f"mella: error: {blocker / 'sub'}: Not a directory; a file stands where a folder is needed"
    assert blocker.read_text() == "mine\n"


def test_12_out_is_file_as_run_dir(tmp_path, capsys):
    path = pipeline(tmp_path, "name: p\nstages:\n  - stage: lines\n    inputs: texts\n")
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    for run_dir in (blocker, blocker / "run"):
        err = error_of(capsys, ["run", str(path), "--run-dir", str(run_dir)])
        assert len(err.splitlines()) == 1 and str(run_dir) in err
    assert blocker.read_text() == "mine\n"


# -- pipeline files -----------------------------------------------------------------------------------------------

def test_12_yaml_not_utf8_names_the_file_and_byte_offset(tmp_path, capsys):
    # Before: internal error: UnicodeDecodeError, without the file's name.
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\nstages: []\n".encode("latin-1"))
    err = error_of(capsys, ["run", str(path), "--run-dir", str(tmp_path / "run")], code=2)
    assert err == (f"mella: error: {path}: 1 problem:\n"
                   "  - not UTF-8 text: byte 0xe9 at offset 9 (line 1); save the file as UTF-8")
    assert not (tmp_path / "run").exists()


def test_12_yaml_env_reference_in_a_comment_is_not_required(tmp_path, monkeypatch):
    from mella.config import load_pipeline

    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = pipeline(tmp_path, "# set ${NOT_SET_ANYWHERE} to change the inputs\n"
                              "name: p   # or ${NOT_SET_ANYWHERE}\n"
                              "stages:\n  - stage: lines\n    inputs: texts  # ${NOT_SET_ANYWHERE:-}\n")
    config = load_pipeline(str(path))  # before: environment variable NOT_SET_ANYWHERE is not set
    assert config.name == "p" and config.stages[0].inputs == [str(tmp_path / "texts")]


def test_12_yaml_hash_inside_quotes_is_not_a_comment(tmp_path, monkeypatch):
    from mella.config import load_pipeline
    from mella.errors import ConfigError

    monkeypatch.setenv("TAG", "x")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = pipeline(tmp_path, "name: p\nstages:\n  - stage: lines\n    inputs: texts\n"
                              "    tags: ['#${TAG}', \"a # ${TAG}\"]\n")
    assert load_pipeline(str(path)).stages[0].options.tags == ["#x", "a # x"]
    path.write_text("name: p\nstages:\n  - stage: lines\n    inputs: texts\n    tags: ['# ${NOT_SET_ANYWHERE}']\n")
    with pytest.raises(ConfigError, match="environment variable NOT_SET_ANYWHERE is not set"):
        load_pipeline(str(path))


def test_12_yaml_env_value_keeps_its_yaml_type_unless_quoted(tmp_path, monkeypatch):
    from mella.config import load_pipeline

    monkeypatch.setenv("N", "3")
    path = pipeline(tmp_path, "name: p\nworkers: ${N}\nstages:\n  - stage: lines\n    inputs: texts\n"
                              "    min_chars: ${N}\n    tags: ['${N}']\n")
    config = load_pipeline(str(path))
    assert config.workers == 3 and config.stages[0].options.min_chars == 3
    assert config.stages[0].options.tags == ["3"]


def test_12_yaml_comments_in_flow_lists_and_after_block_scalars(tmp_path, monkeypatch):
    from mella.config import load_pipeline

    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.delenv("TAGS", raising=False)
    monkeypatch.setenv("TAG", "x")
    path = pipeline(tmp_path, "name: p\nray_address: |\n  a # ${TAG}\n# ${NOT_SET_ANYWHERE}\n"
                              "stages:\n  - stage: lines\n    inputs: texts\n"
                              "    tags: [${TAGS:-a,b},  # ${NOT_SET_ANYWHERE}\n           c]\n")
    config = load_pipeline(str(path))
    assert config.stages[0].options.tags == ["a", "b", "c"]  # a default may still hold several flow items
    assert config.ray_address == "a # x\n"  # a block scalar's lines are text, not comments


def test_12_yaml_alias_bomb_and_deep_nesting_are_config_errors(tmp_path):
    from mella.config import load_pipeline
    from mella.errors import ConfigError

    bomb = ["a0: &a0 ['${X:-x}']"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = pipeline(tmp_path, "\n".join(bomb) + "\nname: p\nstages: []\n")
    with pytest.raises(ConfigError, match="unknown key 'a0'"):
        load_pipeline(str(path))
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_pipeline(str(path))


# -- mella run's advice -------------------------------------------------------------------------------------------

def test_12_run_hint_names_what_run_has(tmp_path, capsys):
    # Before: "... use a new output folder or --overwrite", a flag `mella run` does not have.
    path = pipeline(tmp_path, "name: p\nstages:\n  - stage: lines\n    inputs: texts\n    min_chars: 1\n")
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    path.write_text(path.read_text().replace("min_chars: 1", "min_chars: 2"))
    err = error_of(capsys, ["run", str(path), "--run-dir", str(run_dir)])
    assert "--overwrite" not in err and len(err.splitlines()) == 1
    assert err.endswith("use a new --run-dir, or delete that stage's folder (and those of the stages after it) "
                        "to redo it")
    assert str(run_dir / "lines") in err
