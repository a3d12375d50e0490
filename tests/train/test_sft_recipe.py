"""SFT on a tiny real Qwen2-VL: falling loss, adapter round trip, merged model, resume, full fine-tuning."""

from __future__ import annotations

import json

import torch
import trainkit as kit

from mella.train import data as D
from mella.train.config import parse_config
from mella.train.sft import SFTRecipe, run_sft


def _batch(tiny_vlm, rows, images):
    from transformers import AutoProcessor

    collator = D.SFTCollator(AutoProcessor.from_pretrained(tiny_vlm), D.image_opener(images),
                             max_pixels=kit.MAX_PIXELS)
    batch = collator([{"image": r["key"], "instruction": r["instruction"], "response": r["response"]}
                      for r in rows[:3]])
    return {k: v for k, v in batch.items() if k != "labels"}


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def test_lora_sft_loss_falls_and_adapter_reloads_identically(tmp_path, tiny_vlm, dataset):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    samples, images, rows = dataset
    doc = kit.config(tiny_vlm, samples, images, tmp_path / "out", train={"max_steps": 12}, optim={"lr": 1e-2},
                     data={"eval_split": "validation"})
    recipe = SFTRecipe(parse_config(doc)).setup().train()
    batch = _batch(tiny_vlm, rows, images)
    trained = _logits(recipe.trainer.model, batch)
    result = recipe.save()

    train_losses = result["losses"]["train"]
    assert len(train_losses) == 12 and sum(train_losses[-3:]) / 3 < 0.85 * sum(train_losses[:3]) / 3
    assert result["eval"]["eval_loss"] > 0
    adapter = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(tiny_vlm), result["outputs"]["adapter"])
    assert torch.equal(_logits(adapter, batch), trained)
    merged = AutoModelForImageTextToText.from_pretrained(result["outputs"]["model"])
    assert torch.allclose(_logits(merged, batch), trained, atol=1e-4)
    base = AutoModelForImageTextToText.from_pretrained(tiny_vlm)
    assert not torch.allclose(_logits(base, batch), trained, atol=1e-3)
    record = json.loads((tmp_path / "out" / "train.json").read_text())
    assert record["stage"] == "sft" and record["config"]["method"] == "lora"


def test_resume_continues_from_the_last_checkpoint(tmp_path, tiny_vlm, dataset):
    samples, images, _ = dataset
    out = tmp_path / "out"
    first = kit.config(tiny_vlm, samples, images, out, train={"max_steps": 4, "save_steps": 2, "resume": "auto"},
                       output={"save_merged": False})
    run_sft(parse_config(first))
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    second = kit.config(tiny_vlm, samples, images, out, train={"max_steps": 6, "save_steps": 2, "resume": "auto"},
                        output={"save_merged": False})
    recipe = SFTRecipe(parse_config(second)).setup().train()
    logged = [h["step"] for h in recipe.trainer.state.log_history if "loss" in h]
    # Steps 1-4 come from the checkpoint's state; only 5 and 6 ran again.
    assert recipe.trainer.state.global_step == 6 and logged == [1, 2, 3, 4, 5, 6]
    assert recipe.result["metrics"]["train_runtime"] < 60


def test_full_fine_tuning_keeps_the_vision_tower_frozen_and_rates_per_part(tmp_path, tiny_vlm, dataset):
    samples, images, _ = dataset
    doc = kit.config(tiny_vlm, samples, images, tmp_path / "out", method="full", train={"max_steps": 2},
                     freeze={"vision": True, "projector": False}, optim={"lr": 1e-3, "lr_projector": 1e-2})
    recipe = SFTRecipe(parse_config(doc)).setup()
    model = recipe.trainer.model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    recipe.train()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert not any(n.startswith("model.visual.") and ".merger." not in n for n in changed)
    assert any(".merger." in n for n in changed) and any(".language_model." in n for n in changed)
    rates = sorted({g["initial_lr"] for g in recipe.trainer.optimizer.param_groups})
    assert rates == [1e-3, 1e-2]
