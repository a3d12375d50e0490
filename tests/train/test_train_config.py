"""The training config: every problem reported together; the CLI exits 2 on a bad config."""

from __future__ import annotations

import pytest
import trainkit as kit
import yaml

from mella.errors import ConfigError
from mella.train.config import load_config, parse_config


def test_valid_config_resolves_paths_and_defaults(tmp_path):
    (tmp_path / "ds").mkdir()
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": "m"}, "data": {"samples": "ds"}, "output": {"dir": "out"}}))
    cfg = load_config(path, {"train.max_steps": 3})
    assert cfg.data.samples == str(tmp_path / "ds") and cfg.output.dir == str(tmp_path / "out")
    assert (cfg.method, cfg.lora.targets, cfg.freeze.vision, cfg.train.max_steps) == ("lora", "language", True, 3)


def test_every_problem_is_reported_at_once(tmp_path):
    doc = {"method": "prefix", "model": {"name": "m", "colour": 1}, "data": {"samples": str(tmp_path / "nope")},
           "optim": {"lr": -1}, "train": {"precision": "bf16", "device": "cpu"}, "extras": {},
           "preference": {"enabled": True}}
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    text = str(err.value)
    for needle in ("method: 'prefix'", "model.colour: unknown option", "optim.lr", "output: missing section",
                   "extras: unknown section", "data.samples:", "bf16 needs a CUDA GPU", "preference.pairs: needed"):
        assert needle in text, needle
    assert err.value.exit_code == 2 and len(err.value.problems) >= 8


def test_qlora_without_gpu_is_a_problem(tmp_path):
    doc = kit.config("m", tmp_path, tmp_path, tmp_path / "out", method="qlora")
    with pytest.raises(ConfigError, match="qlora needs"):
        parse_config(doc)


def test_cli_bad_config_exits_2(tmp_path, monkeypatch, capsys):
    from mella import cli

    monkeypatch.setitem(cli.COMMANDS, "train", "train")
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: m}\ndata: {samples: nowhere}\noutput: {dir: out}\noptim: {lr: zero}\n")
    assert cli.main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "data.samples" in err and "optim.lr" in err
