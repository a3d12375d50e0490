"""Sequence packing and the chunked loss: the same loss and gradients as the plain padded batch, on tiny models."""

from __future__ import annotations

import pytest
import torch
import trainkit as kit

from mella.train import data as D
from mella.train.config import parse_config
from mella.train.packing import pack, packing_wanted, rope_index, sample_lengths
from mella.train.sft import SFTRecipe

ATOL = 1e-5


@pytest.fixture(scope="module")
def images(tmp_path_factory, pairs):
    return kit.write_image_folder(pairs[:4], tmp_path_factory.mktemp("images"))


def _rows(pairs):
    # Different lengths and image sizes; the second sample is two-turn (only its answers are labelled).
    rows = [{"image": p["key"], "instruction": kit.INSTRUCTION[p["lang"]], "response": p["alt"]} for p in pairs[:4]]
    rows[1]["turns"] = [{"instruction": rows[1]["instruction"], "response": rows[1]["response"]},
                        {"instruction": "And the colours?", "response": "Mostly grey."}]
    return rows


def _loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(**{"use_cache": False, **batch}).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_same(a, b):
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    assert torch.allclose(loss_a, loss_b, atol=ATOL), (loss_a, loss_b)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name, grad in grads_a.items():
        assert torch.allclose(grad, grads_b[name], atol=ATOL), name


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl", "internvl", "idefics3"])
def test_packed_batch_gives_the_unpacked_loss_and_gradients(kind, tmp_path, pairs, images):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from mella.models.tiny import make_tiny

    folder = make_tiny(kind, tmp_path / kind)
    model = AutoModelForImageTextToText.from_pretrained(folder, attn_implementation="sdpa", dtype=torch.float32)
    collator = D.SFTCollator(AutoProcessor.from_pretrained(folder), D.image_opener(images), max_pixels=kit.MAX_PIXELS)
    padded = collator(_rows(pairs))
    packed = pack(padded, rope_index(model))

    lengths = padded["attention_mask"].sum(1).tolist()
    assert packed["input_ids"].shape == (1, sum(lengths)) and "attention_mask" not in packed
    assert sample_lengths(packed) == lengths and len(set(lengths)) > 1
    assert (rope_index(model) is not None) == kind.startswith("qwen")
    if kind.startswith("qwen"):   # text positions, then the per-sample 3D mrope positions
        assert packed["position_ids"].shape == (4, 1, sum(lengths))
    _assert_same(_loss_and_grads(model, padded), _loss_and_grads(model, packed))


def test_samples_do_not_see_each_other(tiny_vlm, pairs, images):
    """Changing the second sample leaves the first sample's logits in the packed row untouched."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm, attn_implementation="sdpa")
    collator = D.SFTCollator(AutoProcessor.from_pretrained(tiny_vlm), D.image_opener(images), max_pixels=kit.MAX_PIXELS)
    rows = _rows(pairs)[2:]
    other = [rows[0], {**rows[1], "response": "something else entirely, and longer than before"}]
    logits = []
    for batch in (pack(collator(rows), rope_index(model)), pack(collator(other), rope_index(model))):
        with torch.no_grad():
            logits.append(model(**{k: v for k, v in batch.items() if k != "labels"}).logits)
    first = sample_lengths(pack(collator(rows), rope_index(model)))[0]
    assert torch.allclose(logits[0][0, :first], logits[1][0, :first], atol=1e-6)
    assert logits[0].shape[1] != logits[1].shape[1]   # the second sample did change


def test_packing_default_follows_the_attention_kernel():
    assert packing_wanted("auto", "flash_attention_2") and packing_wanted("auto", "kernels-community/flash-attn2")
    assert not packing_wanted("auto", "sdpa") and not packing_wanted("auto", None)
    assert packing_wanted(True, "sdpa") and not packing_wanted(False, "flash_attention_2")


def _recipe(tmp_path, tiny_vlm, dataset, name, method="lora", **train):
    samples, image_folder, _ = dataset
    # No LoRA dropout: its random masks depend on the batch's shape, which packing changes.
    doc = kit.config(tiny_vlm, samples, image_folder, tmp_path / name, method=method, lora={"dropout": 0.0},
                     train={"max_steps": 3, "group_by_length": False, **train}, output={"save_merged": False})
    return SFTRecipe(parse_config(doc)).setup()


@pytest.mark.parametrize("packing", [False, True])
def test_chunked_loss_equals_the_full_logits_loss(tmp_path, tiny_vlm, dataset, packing):
    recipes = {c: _recipe(tmp_path, tiny_vlm, dataset, f"c{c}", method="full", chunked_loss=c, packing=packing)
               for c in (True, False)}
    batch = recipes[True].trainer.data_collator([dict(r) for r in recipes[True].trainer.train_dataset.select(range(4))])
    assert ("attention_mask" not in batch) == packing
    results = []
    for chunked, recipe in recipes.items():
        trainer = recipe.trainer
        trainer.model.train()
        trainer.model.zero_grad(set_to_none=True)
        loss = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=None)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in trainer.model.named_parameters()
                                        if p.grad is not None}))
        assert recipe.result["packing"] == packing and type(trainer).chunked_loss == chunked
    _assert_same(*results)


def test_packed_training_follows_the_unpacked_losses(tmp_path, tiny_vlm, dataset):
    runs = [_recipe(tmp_path, tiny_vlm, dataset, f"p{p}", packing=p).train() for p in (False, True)]
    plain, packed = (r.result["losses"]["train"] for r in runs)
    assert len(plain) == 3 and plain == pytest.approx(packed, abs=1e-4)
    assert runs[1].result["packing"] and not runs[0].result["packing"]


def test_liger_without_the_package_is_a_config_problem(tmp_path):
    import importlib.util

    from mella.errors import ConfigError

    if importlib.util.find_spec("liger_kernel") is not None:
        pytest.skip("liger-kernel is installed here")
    with pytest.raises(ConfigError, match="train.liger: needs liger-kernel"):
        parse_config(kit.config("m", tmp_path, tmp_path, tmp_path / "out", train={"liger": True}))
