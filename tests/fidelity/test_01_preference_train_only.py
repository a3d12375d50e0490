"""Issue 16, item 1: the preference (DPO) stage takes pairs only from images of the build's train split."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mella.errors import ConfigError, MellaError

pytest.importorskip("trl")
pytest.importorskip("peft")


def _annotated(pairs):
    """Annotated rows of real example-site images: thick translation = the native alt-text, plain = generic."""
    from mella.fetch.images import phash_hex

    rows = []
    for p in pairs:
        lang = "sr-Cyrl" if p["lang"] == "sr" else p["lang"]
        rows.append({"key": p["key"], "lang": lang, "alt": p["alt"], "sha256": p["key"] * 4,
                     "phash": phash_hex(Image.open(p["path"])), "domain": f"{p['lang']}.example",
                     "translation_lang": lang, "translation_thick": p["alt"],
                     "translation": "Слика екрана." if p["lang"] == "sr" else "Screenshot."})
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(root, annotated rows, build folder, image folder): a real build over 16 images; 1 image not built."""
    from mella.dataset.build import BuildStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    from train import trainkit as kit

    root = tmp_path_factory.mktemp("pref")
    pairs = kit.site_pairs(17)
    rows = _annotated(pairs)
    (root / "annotate").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:16]), root / "annotate" / "part-00000.parquet")
    run_stage(BuildStage(test_size=0.25, validation_size=0.125), [str(root / "annotate")], root / "build",
              LocalExecutor(1, progress=False))
    # The pairs file holds every annotated row plus one of an image the build never saw.
    pq.write_table(pa.Table.from_pylist(rows), root / "pairs.parquet")
    return root, rows, root / "build", kit.write_image_folder(pairs, root / "images")


def _splits(build):
    table = pq.read_table(sorted(build.glob("part-*.parquet")), columns=["key", "split"]).to_pylist()
    out = {}
    for r in table:
        out.setdefault(r["key"], set()).add(r["split"])
    return out


def _config(tiny, root, samples, images, out, **pref):
    from mella.train.config import parse_config
    from train import trainkit as kit

    doc = kit.config(tiny, samples, images, out,
                     preference={"enabled": True, "pairs": str(root / "pairs.parquet"), "max_steps": 1,
                                 "batch_size": 2, **pref})
    return parse_config(doc)


def test_preference_pairs_exclude_test_and_validation_images_of_the_build(world, tiny_model, tmp_path):
    from mella.train.preference import PreferenceRecipe

    root, rows, build, images = world
    splits = _splits(build)
    held_out = {k for k, s in splits.items() if s != {"train"}}
    train = {k for k, s in splits.items() if s == {"train"}}
    assert held_out and train   # the build put images in test/validation
    cfg = _config(tiny_model("qwen2-vl"), root, build, images, tmp_path / "out", build=str(build))
    recipe = PreferenceRecipe(cfg).setup()
    used = set(recipe.trainer.train_dataset["image"])
    assert used == train and not used & held_out
    recipe.train()
    result = recipe.save()
    stats = result["pairs"]
    assert stats["rows"] == 17 and stats["pairs"] == len(train)
    assert stats["excluded.not_train"] == sum(r["key"] in held_out for r in rows)
    assert stats["excluded.no_split"] == 1   # the image the build never saw
    written = json.loads((tmp_path / "out" / "preference" / "train.json").read_text())
    assert written["pairs"] == stats and written["pairs"]["build"] == str(build)


def test_preference_build_defaults_to_the_sft_samples(world, tiny_model, tmp_path):
    from mella.train.preference import PreferenceRecipe

    root, _, build, images = world
    recipe = PreferenceRecipe(_config(tiny_model("qwen2-vl"), root, build, images, tmp_path / "out")).setup()
    train = {k for k, s in _splits(build).items() if s == {"train"}}
    assert set(recipe.trainer.train_dataset["image"]) == train
    assert recipe.result["pairs"]["build"] == str(build)


def test_preference_refuses_without_a_build_rather_than_training_on_all(world, tiny_model, tmp_path):
    from mella.train.preference import PreferenceRecipe

    root, _, _, images = world
    # data.samples is the annotated folder (no split column) and no preference.build is given
    cfg = _config(tiny_model("qwen2-vl"), root, root / "annotate", images, tmp_path / "out")
    with pytest.raises(MellaError) as err:
        PreferenceRecipe(cfg).setup()
    assert "preference.build" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="preference.build"):
        _config(tiny_model("qwen2-vl"), root, root / "annotate", images, tmp_path / "o2",
                build=str(tmp_path / "missing"))
