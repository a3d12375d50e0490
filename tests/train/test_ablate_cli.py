"""``mella train`` through the CLI, and ``mella ablate``: variants trained alike, one comparison table."""

from __future__ import annotations

import json

import pytest
import trainkit as kit
import yaml


@pytest.fixture
def cli_with_train(monkeypatch):
    from mella import cli

    monkeypatch.setitem(cli.COMMANDS, "train", "train")
    monkeypatch.setitem(cli.COMMANDS, "ablate", "ablate")
    return cli


def test_mella_train_cli(tmp_path, tiny_vlm, dataset, cli_with_train, capsys):
    samples, images, _ = dataset
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(kit.config(tiny_vlm, samples, images, tmp_path / "out")))
    assert cli_with_train.main(["train", str(path), "--check"]) == 0
    assert cli_with_train.main(["train", str(path), "--set", "train.max_steps=2"]) == 0
    out = capsys.readouterr().out
    assert "sft: loss" in out and (tmp_path / "out" / "merged" / "config.json").exists()
    assert json.loads((tmp_path / "out" / "train.json").read_text())["config"]["train"]["max_steps"] == 2


@pytest.mark.slow
def test_ablation_trains_each_variant_and_compares(tmp_path, tiny_vlm, pairs, cli_with_train, capsys):
    # know rows answer with the alt-text, ling rows with a (stand-in) translated caption of the same image.
    know = kit.sample_rows(pairs[:12], lambda i: "train" if i < 8 else "test")
    ling = [{**r, "id": "l" + r["id"], "source": "ling", "response": f"Снимак екрана {i}."}
            for i, r in enumerate(know)]
    samples = kit.write_samples(know + ling, tmp_path / "samples")
    sdrrl = kit.write_samples([{**r, "id": "x" + r["id"]} for r in ling], tmp_path / "sdrrl")
    images = kit.write_image_folder(pairs[:12], tmp_path / "images")
    doc = kit.config(tiny_vlm, samples, images, tmp_path / "out", train={"max_steps": 2},
                     ablation={"datasets": {"sdrrl": str(sdrrl)}, "max_new_tokens": 8})
    path = tmp_path / "ablate.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert cli_with_train.main(["ablate", str(path)]) == 0
    assert "| lang | source | metric | mella | know-only | ling-only | sdrrl |" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "ablation.json").read_text())
    assert report["variants"] == ["mella", "know-only", "ling-only", "sdrrl"] and report["eval_items"] == 8
    metrics = {(r["source"], r["metric"]) for r in report["table"]}
    assert ("know", "keyword_accuracy") in metrics and ("ling", "bleu") in metrics
    for name in report["variants"]:
        assert (tmp_path / "out" / name / "predictions.parquet").exists()


def test_ablation_without_an_sdrrl_dataset_says_so_before_training(tmp_path, tiny_vlm, dataset, cli_with_train,
                                                                   capsys):
    samples, images, _ = dataset
    path = tmp_path / "ablate.yaml"
    path.write_text(yaml.safe_dump(kit.config(tiny_vlm, samples, images, tmp_path / "out")))
    assert cli_with_train.main(["ablate", str(path)]) == 2
    assert "ablation.datasets.sdrrl" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
