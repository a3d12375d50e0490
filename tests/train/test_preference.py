"""The culture-contrastive DPO stage: pairs from annotated rows, a real DPO step on a tiny Qwen2-VL."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import trainkit as kit

from mella.train.config import parse_config
from mella.train.preference import BuildSplits, PreferenceRecipe, pair_rows


def _annotated(pairs):
    # Fetch rows with annotation columns: the thick caption carries the native alt-text, the plain one does not.
    return [{"key": p["key"], "lang": p["lang"], "translation_lang": p["lang"], "translation_thick": p["alt"],
             "translation": "Слика екрана." if p["lang"] == "sr" else "Screenshot."} for p in pairs]


def test_pairs_from_annotated_rows_and_from_a_pairs_file():
    rows = _annotated(kit.site_pairs(3)) + [{"key": "k", "translation": "same", "translation_thick": "same"}]
    splits = BuildSplits("build", frozenset(r["key"] for r in rows), frozenset())
    pairs, stats = pair_rows(rows, splits)
    assert len(pairs) == 3   # identical chosen and rejected teach nothing
    assert stats == {"rows": 4, "pairs": 3, "excluded.same_text": 1}
    assert pairs[0]["chosen"] == rows[0]["translation_thick"] and pairs[0]["rejected"] == rows[0]["translation"]
    assert pairs[0]["prompt"].startswith("Describe this image in ")
    given, _ = pair_rows([{"key": "k", "prompt": "Опиши.", "chosen": "a", "rejected": "b"}], splits)
    assert given == [{"image": "k", "prompt": "Опиши.", "chosen": "a", "rejected": "b"}]


def test_a_dpo_step_moves_the_adapter(tmp_path, tiny_vlm, dataset, pairs):
    samples, images, _ = dataset
    pq.write_table(pa.Table.from_pylist(_annotated(pairs[:8])), tmp_path / "annotated.parquet")
    doc = kit.config(tiny_vlm, samples, images, tmp_path / "out",
                     preference={"enabled": True, "pairs": str(tmp_path / "annotated.parquet"), "max_steps": 2,
                                 "batch_size": 4, "lr": 1e-2})
    recipe = PreferenceRecipe(parse_config(doc)).setup()
    lora = {n: p.detach().clone() for n, p in recipe.trainer.model.named_parameters() if "lora_B" in n}
    recipe.train()
    moved = [n for n, p in recipe.trainer.model.named_parameters() if "lora_B" in n and not (p == lora[n]).all()]
    assert moved
    result = recipe.save()
    # the samples folder is the build: 2 of the 8 images are validation images
    assert result["pairs"]["pairs"] == 6 and result["pairs"]["excluded.not_train"] == 2
    losses = result["losses"]["train"]
    # The first step's policy equals the reference (LoRA B starts at zero): the DPO loss is log 2.
    assert len(losses) == 2 and math.isclose(losses[0], math.log(2), abs_tol=1e-3)
    assert len(result["reward_margins"]) == 2
    assert (tmp_path / "out" / "preference" / "adapter" / "adapter_config.json").exists()
