"""Issue 16 item 13: TRL's vision SFT reads the hf export as it is (``messages`` + ``images``).

Before: the hf export had ``instruction``/``response``/``turns``/``image`` only, and TRL's
``DataCollatorForVisionLanguageModeling`` raised ``KeyError: Unexpected input keys``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason="the models extra is not installed")
trl_sft = pytest.importorskip("trl.trainer.sft_trainer", reason="trl is not installed")
datasets = pytest.importorskip("datasets")

from exportkit import two_turn_build  # noqa: E402

from mella.dataset.export import export  # noqa: E402


@pytest.fixture(scope="module")
def hf_export(tmp_path_factory):
    """The hf export of a real two-turn build (single- and two-turn samples)."""
    out = tmp_path_factory.mktemp("f16-13") / "hf"
    export(two_turn_build(tmp_path_factory), "hf", out)
    return out


@pytest.fixture(scope="module")
def processor(tiny_model):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model("qwen2-vl"))


def _loaded(out, tmp_path):
    """The export as users load it: ``load_from_disk`` and the Hub layout through ``load_dataset``."""
    yield "disk", datasets.load_from_disk(str(out / "disk"))
    yield "parquet", datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))


def test_13_trl_collator_accepts_a_batch_of_the_hf_export(hf_export, processor, tmp_path):
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    vision_start = processor.tokenizer.convert_tokens_to_ids("<|vision_start|>")
    collator = trl_sft.DataCollatorForVisionLanguageModeling(processor=processor)
    for how, dsd in _loaded(hf_export, tmp_path):
        for split, ds in dsd.items():
            rows = [ds[i] for i in range(min(4, len(ds)))]
            two_turn = [r for r in ds if r["source"] == "both"][:2]
            for batch_rows in (rows, two_turn):
                if not batch_rows:
                    continue
                batch = collator([dict(r) for r in batch_rows])  # the collator pops keys: give it copies
                ids = batch["input_ids"]
                assert ids.shape[0] == len(batch_rows) and batch["labels"].shape == ids.shape, (how, split)
                # one image per sample: one vision block each, and as many patches as the image grid says
                assert [(row == vision_start).sum().item() for row in ids] == [1] * len(batch_rows)
                merge = processor.image_processor.merge_size ** 2
                assert (ids == image_pad).sum().item() == batch["image_grid_thw"].prod(-1).sum().item() // merge
                text = processor.tokenizer.batch_decode(ids)
                assert not any("<image>" in t for t in text)  # no literal tag next to TRL's image block
                for r, t in zip(batch_rows, text, strict=True):
                    assert all(turn["response"] in t and turn["instruction"] in t for turn in r["turns"])
        assert sum(r["source"] == "both" for ds in dsd.values() for r in ds) > 0  # two-turn rows were tried


def test_13_sft_trainer_keeps_the_columns_trl_reads(hf_export, processor, tiny_model, tmp_path):
    """SFTTrainer drops columns outside its signature; the batch it builds from the export still collates."""
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_model("qwen2-vl"))
    train = datasets.load_from_disk(str(hf_export / "disk"))["train"]
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=1, per_device_train_batch_size=2,
                             report_to=[], save_strategy="no", use_cpu=True, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=processor)
    batch = next(iter(trainer.get_train_dataloader()))
    assert {"input_ids", "labels", "pixel_values", "image_grid_thw"} <= set(batch)
    trainer.train()
    assert trainer.state.global_step == 1
