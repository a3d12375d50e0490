"""Issue 16, item 2: `mella train` trains on the two-turn samples build writes, never drops them silently."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mella.errors import ConfigError, MellaError

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def two_turn_build(tmp_path_factory):
    """(build folder, image folder, built rows): a real two-turn build over 24 example-site images."""
    from mella.dataset.build import BuildStage
    from mella.fetch.images import phash_hex
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    from train import trainkit as kit

    root = tmp_path_factory.mktemp("two-turn")
    pairs = kit.site_pairs(24)
    rows = [{"key": p["key"], "lang": "sr-Cyrl" if p["lang"] == "sr" else p["lang"], "alt": p["alt"],
             "sha256": p["key"] * 4, "phash": phash_hex(Image.open(p["path"])), "domain": f"{p['lang']}.example",
             # every third image has no translation: its D_know sample stays single-turn
             "translation": f"Снимок экрана номер {i}." if i % 3 else None} for i, p in enumerate(pairs)]
    (root / "annotate").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), root / "annotate" / "part-00000.parquet")
    run_stage(BuildStage(conversation="two_turn", test_size=0.25, validation_size=0), [str(root / "annotate")],
              root / "build", LocalExecutor(1, progress=False))
    built = pq.read_table(sorted((root / "build").glob("part-*.parquet"))).to_pylist()
    return root / "build", kit.write_image_folder(pairs, root / "images"), built


def _recipe(tiny, build, images, out, **data):
    from mella.train.config import parse_config
    from mella.train.sft import SFTRecipe
    from train import trainkit as kit

    doc = kit.config(tiny, build, images, out, data=data, train={"max_steps": 2, "batch_size": 4})
    return SFTRecipe(parse_config(doc))


def test_two_turn_samples_are_trained_as_one_chat(two_turn_build, tiny_model, tmp_path):
    build, images, built = two_turn_build
    both = [r for r in built if r["source"] == "both" and r["split"] == "train"]
    assert both and all(len(r["turns"]) == 2 for r in both)
    recipe = _recipe(tiny_model("qwen2-vl"), build, images, tmp_path / "out").setup()
    ids = recipe.trainer.train_dataset["id"]
    assert {r["id"] for r in both} <= set(ids)   # none dropped
    assert len(ids) == sum(r["split"] == "train" for r in built)
    assert recipe.result["data"]["train.both"] == len(both)
    assert not any(k.startswith("excluded") for k in recipe.result["data"])
    recipe.train()
    assert all(math.isfinite(x) for x in recipe.result["losses"]["train"])


def test_two_turn_labels_cover_both_answers_and_no_instruction(two_turn_build, tiny_model, tmp_path):
    build, images, built = two_turn_build
    recipe = _recipe(tiny_model("qwen2-vl"), build, images, tmp_path / "out").setup()
    ds = recipe.trainer.train_dataset
    row = next(ds[i] for i in range(len(ds)) if ds[i]["id"].startswith("both-"))
    batch = recipe.trainer.data_collator([row])
    tok = recipe.processor.tokenizer
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    first, second = row["turns"]
    trained = tok.decode(ids[labels != -100])
    assert trained == f"{first['response']}<|im_end|>\n{second['response']}<|im_end|>\n"
    rendered = tok.decode(ids[batch["attention_mask"][0] == 1])
    # one chat: the image in the first user turn, then the second instruction as a user turn
    assert rendered.index("<|image_pad|>") < rendered.index(first["instruction"]) < rendered.index(
        first["response"]) < rendered.index(second["instruction"]) < rendered.index(second["response"])
    assert rendered.count("<|vision_start|>") == 1


def test_sources_that_leave_two_turn_samples_out_say_so(two_turn_build, tiny_model, tmp_path):
    build, images, built = two_turn_build
    recipe = _recipe(tiny_model("qwen2-vl"), build, images, tmp_path / "out", sources=["know", "ling"]).setup()
    n = sum(r["source"] == "both" and r["split"] == "train" for r in built)
    assert recipe.result["data"]["excluded.source_both"] == n > 0
    assert recipe.result["data"]["train.know"] == len(recipe.trainer.train_dataset)
    with pytest.raises(ConfigError, match="data.sources"):
        _recipe(tiny_model("qwen2-vl"), build, images, tmp_path / "o2", sources=["conversation"])


def test_two_turn_sample_without_its_turns_is_refused_not_cut(two_turn_build, tiny_model, tmp_path):
    from mella.records import SAMPLES

    build, images, built = two_turn_build
    flat = tmp_path / "flat"   # SAMPLES columns only: a both sample has lost its second turn
    flat.mkdir()
    pq.write_table(pa.Table.from_pylist([{k: r[k] for k in SAMPLES.names} for r in built], schema=SAMPLES),
                   flat / "part-00000.parquet")
    with pytest.raises(MellaError, match="two-turn") as err:
        _recipe(tiny_model("qwen2-vl"), flat, images, tmp_path / "out").setup()
    assert "\n" not in str(err.value)


def test_train_step_of_a_pipeline_reports_samples_per_source(two_turn_build, tiny_model, tmp_path):
    import yaml

    from mella.train.train import TrainStep
    from train import trainkit as kit

    build, images, built = two_turn_build
    doc = kit.config(tiny_model("qwen2-vl"), build, images, tmp_path / "unused",
                     train={"max_steps": 1, "batch_size": 4}, output={"save_merged": False})
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(doc))
    counters = TrainStep(config=str(tmp_path / "train.yaml")).run_step([str(build)], tmp_path / "step", None)
    for source in ("both", "know"):
        assert counters[f"sft.data.train.{source}"] == sum(r["source"] == source and r["split"] == "train"
                                                           for r in built)
