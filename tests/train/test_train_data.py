"""Samples to chat examples: answer-only labels, image sources, model parts and LoRA targets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trainkit as kit

from mella.train import data as D
from mella.train import model as M
from mella.train.config import FreezeSection, LoraSection


@pytest.fixture(scope="module")
def processor(tiny_vlm):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_vlm)


def test_labels_cover_the_answer_only(processor, dataset):
    samples, images, rows = dataset
    opener = D.image_opener(images)
    collator = D.SFTCollator(processor, opener, max_pixels=kit.MAX_PIXELS)
    batch_rows = [{"image": r["key"], "instruction": r["instruction"], "response": r["response"]} for r in rows[:4]]
    batch = collator(batch_rows)
    tok = processor.tokenizer
    image_id = tok.convert_tokens_to_ids("<|image_pad|>")
    for i, row in enumerate(batch_rows):
        labels, ids = batch["labels"][i], batch["input_ids"][i]
        kept = labels != D.IGNORE
        # The loss sees exactly the answer and the end of the turn: no prompt, no image, no padding token.
        assert tok.decode(labels[kept]) == row["response"] + "<|im_end|>\n"
        assert (labels[kept] == ids[kept]).all()
        assert not kept[ids == image_id].any() and (ids == image_id).sum() > 0
        first = int(kept.nonzero()[0])
        assert tok.decode(ids[:first]).endswith(row["instruction"] + "<|im_end|>\n<|im_start|>assistant\n")


def test_fetch_output_and_folder_give_the_same_images(tmp_path, pairs):
    fetch = kit.write_fetch_output(pairs[:3], tmp_path / "fetch")
    folder = kit.write_image_folder(pairs[:3], tmp_path / "images")
    from_store, from_folder = D.image_opener(fetch), D.image_opener(folder)
    for p in pairs[:3]:
        assert from_store(p["key"]).size == from_folder(p["key"]).size


def test_select_and_lengths(processor, dataset):
    samples, images, rows = dataset
    read = D.read_rows(samples)
    assert len(D.select(read, "validation")) == 8 and D.select(read, "train", ["ling"]) == []
    ds = D.sft_dataset(D.select(read, "train")[:3], D.image_opener(images), processor.tokenizer,
                       max_pixels=kit.MAX_PIXELS)
    assert ds.column_names == ["id", "image", "instruction", "response", "turns", "length"]
    assert min(ds["length"]) > 4 and ds["turns"][0] == [{"instruction": ds["instruction"][0],
                                                         "response": ds["response"][0]}]


def test_lora_targets_the_language_model_only(tiny_vlm):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm)
    parts = M.parts(model)
    assert (parts.language, parts.vision, parts.projector) == ("model.language_model", ["model.visual"],
                                                               ["model.visual.merger"])
    peft = pytest.importorskip("peft")

    cfg = SimpleNamespace(lora=LoraSection(), freeze=FreezeSection())
    wrapped = peft.get_peft_model(model, M.lora_config(model, cfg))
    lora_modules = {n for n, _ in wrapped.named_modules() if n.endswith("lora_A")}
    assert lora_modules and all(".language_model." in n for n in lora_modules)
    assert len(lora_modules) == 2 * 7   # q k v o gate up down in each of the 2 layers

