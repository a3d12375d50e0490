"""Rating items from a small synthetic run: pairwise joins on sample id, A/B order per item stable for a seed,
system names only in ``systems``; know and ling items from the build; images by key from the fetch tars."""

from __future__ import annotations

import dataclasses
import json

import pytest
from corekit import IMAGES, KEYS, SYSTEMS, jpeg, make_run, write_items_parquet

from mella.errors import MellaError
from mella.rate.tasks import (
    Item,
    evaluation_items,
    image_bytes,
    image_folder,
    item_id,
    know_items,
    ling_items,
    pairwise_items,
    predictions_folders,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("rate-tasks"))


def pairs(run, seed=0, n=None, names=SYSTEMS):
    return pairwise_items(run / SYSTEMS[0], run / SYSTEMS[1], names, "ru", n=n, seed=seed)


def test_pairwise_items_join_the_two_systems_on_sample_id(run):
    items = pairs(run)
    # A answered know-ru-1 (B did not), B answered ling-ru-2 (A's answer is null): neither is an item
    assert sorted(i.sample_id for i in items) == ["know-ru-2", "know-ru-3", "ling-ru-1"]
    for it in items:
        assert it.kind == "pairwise" and it.lang == "ru" and sorted(it.systems) == sorted(SYSTEMS)
        for output, system in zip(it.outputs, it.systems, strict=True):  # each output is its system's answer
            assert output == f"ответ {'A' if system == SYSTEMS[0] else 'B'} {it.sample_id}"
        # the image key and instruction come from the build part the predictions' markers name
        assert it.prompt == "Опишите изображение." and it.image_key in KEYS
        assert it.text == "" and it.source_text == ""
        assert it.item_id == item_id("pairwise", "ru", it.sample_id, SYSTEMS)


def test_the_shown_order_is_random_per_item_and_stable_for_a_seed(run):
    orders = {seed: {i.sample_id: i.systems for i in pairs(run, seed)} for seed in range(12)}
    assert all(orders[s] == {i.sample_id: i.systems for i in pairs(run, s)} for s in (0, 5))  # stable
    shown_first = [order[sid][0] for order in orders.values() for sid in order]
    assert set(shown_first) == set(SYSTEMS)  # both systems are shown as A
    per_item = {sid: {orders[s][sid] for s in orders} for sid in orders[0]}
    assert all(len(v) == 2 for v in per_item.values())  # every item is flipped by some seed
    # drawing fewer items keeps each item's order (the coin depends on seed and sample, not on n)
    small = pairs(run, 3, n=2)
    assert len(small) == 2 and all(orders[3][i.sample_id] == i.systems for i in small)
    # and the item ids do not depend on the order shown
    assert {i.item_id for i in pairs(run, 1)} == {i.item_id for i in pairs(run, 2)}


def test_system_names_appear_in_no_field_but_systems(run):
    for seed in range(4):
        for it in pairs(run, seed):
            shown = {f.name: getattr(it, f.name) for f in dataclasses.fields(Item) if f.name != "systems"}
            blob = json.dumps(shown, ensure_ascii=False)
            assert not any(name in blob for name in SYSTEMS), blob
            assert not any(part in blob for name in SYSTEMS for part in name.split("_")[1:])


def test_pairwise_items_need_two_different_names(run):
    with pytest.raises(MellaError, match="two different system names"):
        pairs(run, names=("same", "same"))


def test_pairwise_items_fall_back_to_a_sibling_build_folder(tmp_path):
    run = make_run(tmp_path)
    for marker in run.glob(f"{SYSTEMS[0]}/part-*._SUCCESS"):
        marker.write_text(json.dumps({"rows": 5}), encoding="utf-8")  # a marker that names no source
    for marker in run.glob(f"{SYSTEMS[1]}/part-*._SUCCESS"):
        marker.write_text(json.dumps({"rows": 4}), encoding="utf-8")
    items = pairs(run)
    assert {i.image_key for i in items} <= set(KEYS) and all(i.prompt for i in items)


def test_know_items_are_the_languages_alt_texts_one_per_image_and_text(run):
    items = know_items(run / "build", "ru", n=10, seed=0)
    assert sorted(i.text for i in items) == ["Звезда", "Космический корабль над Москвой", "Обезьяна в скафандре"]
    assert all(i.kind == "know" and i.outputs is None and i.systems is None and i.source_text == "" for i in items)
    assert {i.image_key for i in items} == set(KEYS[:3])
    assert len(know_items(run / "build", "ru", n=2, seed=0)) == 2
    assert [i.item_id for i in know_items(run / "build", "ru", n=3, seed=7)] == \
        [i.item_id for i in know_items(run / "build", "ru", n=3, seed=7)]
    # a language code takes its scripts' rows; a tag only its own
    assert sorted(i.text for i in know_items(run / "build", "sr", n=10, seed=0)) == \
        ["Pogled na Novi Sad", "Поглед на Београд"]
    assert [i.text for i in know_items(run / "build", "sr-Latn", n=10, seed=0)] == ["Pogled na Novi Sad"]
    assert know_items(run / "build", "th", n=10, seed=0) == []


def test_ling_items_carry_the_english_caption_and_skip_code_switched_samples(run):
    items = {i.sample_id: i for i in ling_items(run / "build", "ru", n=10, seed=0)}
    assert set(items) == {"ling-ru-1", "ling-ru-2"}
    assert (items["ling-ru-1"].text, items["ling-ru-1"].source_text) == \
        ("Мультяшный космический корабль", "A cartoon spaceship.")


def test_rating_items_refuse_a_missing_build_folder(tmp_path):
    with pytest.raises(MellaError, match="no such build folder"):
        know_items(tmp_path / "nope", "ru", n=1, seed=0)


def test_image_folder_and_image_bytes_read_the_fetch_tar(run, tmp_path):
    folder = image_folder(run)
    assert folder == run / "fetch"
    data, media_type = image_bytes(folder, KEYS[1])
    assert media_type == "image/jpeg" and data == jpeg(IMAGES[1])
    with pytest.raises(KeyError):
        image_bytes(folder, "0" * 20)
    assert image_folder(tmp_path) is None


def test_the_runs_predictions_and_evaluations_are_found_by_folder(tmp_path):
    run = make_run(tmp_path)
    assert set(predictions_folders(run)) == set(SYSTEMS)
    items = write_items_parquet(run / "eval_z", SYSTEMS[0], {"know-ru-2": {"bleu": 1.0}})
    assert evaluation_items(run) == {SYSTEMS[0]: items}
