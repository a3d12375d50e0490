"""`build` over a real corpus run (the example sites crawled, filtered, fetched) with tiny-model annotations."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasetkit import TINY_TRANSLATOR

from mella.dataset.baselines import code_switch
from mella.dataset.groups import parse_phash
from mella.dataset.templates import templates


def samples(folder):
    return pq.read_table(sorted(folder.glob("part-*.parquet"))).to_pylist()


def dropped(folder):
    return pq.read_table(sorted((folder / "_dropped").glob("part-*.parquet"))).to_pylist()


def test_dual_source_samples_with_native_instructions(build, corpus):
    rows = samples(build("mella"))
    annotated = pq.read_table(sorted((corpus / "annotate").glob("part-*.parquet"))).to_pylist()
    assert {r["lang"] for r in rows} == {"ar", "ko", "ru", "sr-Cyrl"}
    know = [r for r in rows if r["source"] == "know"]
    ling = [r for r in rows if r["source"] == "ling"]
    assert {r["response"] for r in know} == {r["alt"].strip() for r in annotated}  # every native alt-text
    assert len(ling) == len({(r["lang"], r["key"]) for r in annotated})  # one translation per image+language
    assert all(r["translation_model"] == TINY_TRANSLATOR for r in ling)
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["instruction"] in templates(r["lang"])[r["source"]]
        assert r["response"] not in r["instruction"]
        assert r["turns"] == [{"source": r["source"], "instruction": r["instruction"], "response": r["response"]}]
    assert {r["split"] for r in rows} == {"train", "validation", "test"}
    assert all(r["drop_reason"] == "ling_duplicate_sample" for r in dropped(build("mella")))


def test_no_image_crosses_splits_even_under_other_urls(build):
    rows = samples(build("mella"))
    by_sha, by_key = defaultdict(set), defaultdict(set)
    for r in rows:
        by_sha[r["image_sha256"]].add(r["split"])
        by_key[r["image_sha256"]].add(r["key"])
    # the example sites reuse their pictures across languages: one sha256 under several URLs (keys)
    shared = [sha for sha, keys in by_key.items() if len(keys) > 1]
    assert len(shared) >= 5
    assert all(len(splits) == 1 for splits in by_sha.values())
    held_out = [r for r in rows if r["split"] != "train"]
    train = [r for r in rows if r["split"] == "train"]
    hashes, _ = parse_phash([r["phash"] for r in train])
    for r in held_out:  # no pHash neighbour (<= 4 bits) of a held-out image is in train
        h, _ = parse_phash([r["phash"]])
        assert np.bitwise_count(hashes ^ h[0]).min() > 4


def test_build_is_deterministic_and_recipes_share_test_images(build):
    a = samples(build("mella"))
    assert a == samples(build("mella-again"))
    test_keys = {r["key"] for r in a if r["split"] == "test"}
    for recipe, sources in (("know-only", {"know"}), ("ling-only", {"ling"})):
        rows = samples(build(recipe, recipe=recipe))
        assert {r["source"] for r in rows} == sources
        assert {r["key"] for r in rows if r["split"] == "test"} <= test_keys
        assert not {r["key"] for r in rows if r["split"] == "train"} & test_keys


def test_two_turn_conversations(build):
    rows = samples(build("two-turn", conversation="two_turn"))
    both = [r for r in rows if r["source"] == "both"]
    assert both and all(r["split"] != "test" for r in both)
    for r in both:
        assert [t["source"] for t in r["turns"]] == ["ling", "know"]
        assert r["turns"][1]["instruction"] in templates(r["lang"])["know"]
    assert {r["source"] for r in rows if r["split"] == "test"} == {"know", "ling"}  # evaluation stays per source


def test_mixing_ratio_cap_and_balance_on_train(build):
    base = samples(build("mella"))
    rows = samples(build("mixed", know_ratio=0.25, max_per_lang=12, balance="equal"))
    train = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r["split"] == "train":
            train[r["lang"]][r["source"]] += 1
    totals = {lang: sum(v.values()) for lang, v in train.items()}
    assert len(set(totals.values())) == 1 and max(totals.values()) <= 12
    assert all(v["know"] < v["ling"] for v in train.values())
    held = sorted(r["id"] for r in base if r["split"] != "train")
    assert sorted(r["id"] for r in rows if r["split"] != "train") == held  # held-out splits untouched
    reasons = {r["drop_reason"] for r in dropped(build("mixed"))}
    assert {"know_mixing", "ling_mixing"} <= reasons


def test_splits_from_reuses_a_reference_build(build):
    ref = samples(build("mella"))
    rows = samples(build("sdrrl-ref", recipe="sdrrl", splits_from=str(build("mella")), seed=7))
    ref_split = {r["key"]: r["split"] for r in ref}
    assert all(ref_split[r["key"]] == r["split"] for r in rows)


def test_sdrrl_code_switching_on_real_sentences():
    cases = [
        ("ru", "Собака бежит по улице рядом с домом.", "A dog runs along the street next to a house.",
         "dog бежит по street рядом с house."),
        ("ko", "강아지가 거리에서 뛰어요", "A dog runs in the street", "dog가 street에서 뛰어요"),
        ("th", "สุนัขวิ่งบนถนน", "A dog runs on the street", "dog วิ่งบน street"),
        ("vi", "Con chó chạy trên đường phố", "A dog runs on the street", "dog chạy trên street"),
        ("ar", "كلب يجري في الشارع", "A dog runs in the street", "dog يجري في street"),
        ("sr-Latn", "Pas trči ulicom", "A dog runs down the street", "dog trči street"),
        ("cs", "Pes běží po ulici", "A dog runs down the street", "dog běží po street"),
        ("hu", "A kutya az utcán fut", "The dog runs in the street", "A dog az street fut"),
    ]
    for tag, text, caption, expected in cases:
        assert code_switch(text, caption, tag, 1.0, "s") == expected, tag
    # without alignment evidence (the English word is not in the caption) nothing is switched
    assert code_switch("Собака бежит", "A cat sleeps", "ru", 1.0, "s") is None
    partial = code_switch("Собака бежит по улице рядом с домом.", "A dog, a street, a house", "ru", 0.3, "s")
    assert partial.count(" ") == 6 and sum(w in partial for w in ("dog", "street", "house")) == 1


def test_summary_records_images_and_counts(build, corpus):
    summary = json.loads((build("mella") / "_global" / "build" / "summary.json").read_text())
    assert summary["images_dir"] == str((corpus / "fetch").resolve())
    assert sum(summary["samples"].values()) == len(samples(build("mella")))


@pytest.mark.parametrize("bad", [{"recipe": "other"}, {"test_size": -1}, {"conversation": "three"}])
def test_bad_options_are_config_errors(bad):
    from pydantic import ValidationError

    from mella.dataset.build import BuildOptions

    with pytest.raises(ValidationError):
        BuildOptions(**bad)
