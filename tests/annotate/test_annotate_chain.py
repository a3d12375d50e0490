"""caption -> translate -> score end to end on real fetched images with tiny random models; reruns hit the cache."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest
from annotatekit import read_rows, run

from mella.annotate.caption import CaptionStage
from mella.annotate.checks import TranslationChecker
from mella.annotate.score import ScoreStage
from mella.annotate.translate import TranslateStage
from mella.models.images import find_image_folder
from mella.records import ANNOTATIONS

CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def stages(tiny_models, **translate):
    caption = CaptionStage(model=tiny_models("qwen2-vl"), mode="both", max_new_tokens=16)
    # The tiny models write noise in no language: the end-to-end chain keeps the cheap checks only.
    translate = TranslateStage(model=tiny_models("nllb"), max_new_tokens=24, **({"checks": ["echo", "copy"]} | translate))
    return caption, translate, ScoreStage(model=tiny_models("siglip"))


def run_chain(tiny_models, fetched, root, suffix="", **cache):
    caption, translate, score = stages(tiny_models, **cache)
    for stage in (caption, score):
        stage.options = stage.options.model_copy(update=cache)
    reports = {"caption": run(caption, fetched, root / f"caption{suffix}")}
    reports["translate"] = run(translate, root / f"caption{suffix}", root / f"translate{suffix}")
    reports["score"] = run(score, root / f"translate{suffix}", root / f"score{suffix}")
    return reports


@pytest.fixture(scope="module")
def chain(tiny_models, fetched, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    return root, run_chain(tiny_models, fetched, root)


def test_chain_writes_every_annotation_with_provenance(chain, fetched):
    root, reports = chain
    rows = read_rows(root / "score")
    fetch_rows = read_rows(fetched)
    assert len(rows) == len(fetch_rows) == 6 and not read_rows(root / "score", dropped=True)
    assert set(ANNOTATIONS.names) <= set(pq.read_schema(root / "score" / "part-00000.parquet").names)
    hashes = {r["prompt_hash"] for r in rows}
    assert len(hashes) == 1 and re.fullmatch(r"[0-9a-f]{16}", hashes.pop())
    for row in rows:
        # tiny random models are labelled as such on every row, never as a real model
        assert row["caption_model"] == "tiny-random:qwen2_vl" and row["caption_backend"] == "hf"
        assert row["translation_model"] == "tiny-random:m2m_100"
        assert row["relevance_model"] == "tiny-random:siglip"
        assert row["caption_mode"] == "both" and row["caption_lang"] == "en"
        assert row["caption"] and row["caption_thick"] and row["translation"] and row["translation_thick"]
        assert row["translation_lang"] == row["lang"]
        assert -1 <= row["relevance"] <= 1 and -1 <= row["relevance_alt"] <= 1
        assert row["alt"] and row["key"] and row["sha256"]  # the fetch columns (and the alt) stay on the row
    latin = [r for r in rows if r["lang"] == "sr-Latn"]
    assert latin and not any(CYRILLIC.search(r["translation"] + r["translation_thick"]) for r in latin)
    for name, report in reports.items():
        assert report.counters["rows_from_tiny_model"] == 6, name


def test_rows_sharing_an_image_are_captioned_once(chain, fetched):
    _, reports = chain
    rows = read_rows(fetched)
    images = {r["sha256"] for r in rows}
    contexts = {(r["sha256"], r["alt"], r["page_title"]) for r in rows}
    assert len(images) == 5 and len(contexts) == 6
    # plain captions once per image, thick ones once per (image, context)
    assert reports["caption"].counters["model_calls"] == len(images) + len(contexts)


def test_images_are_found_from_the_input_chain(chain, fetched):
    root, _ = chain
    assert find_image_folder(str(root / "translate" / "part-00001.parquet")) == fetched
    assert find_image_folder(str(fetched / "part-00000.parquet")) == fetched


def test_a_second_run_computes_nothing(chain, tiny_models, fetched, tmp_path):
    root, first = chain
    # The same stages again into new folders of the run (sharing its _cache): no model call at all.
    reruns = [run_chain(tiny_models, fetched, root, suffix="-again")]
    assert (root / "_cache" / "annotate.sqlite").exists()
    # Another run folder elsewhere, pointed at that cache.
    reruns.append(run_chain(tiny_models, fetched, tmp_path, cache_dir=str(root / "_cache")))
    for reports in reruns:
        for name, report in reports.items():
            assert report.counters.get("model_calls", 0) == 0, name
            assert report.counters["cache_hits"] == first[name].counters["model_calls"], name
    assert read_rows(root / "score-again") == read_rows(tmp_path / "score") == read_rows(root / "score")
    # the executor's part-level resume: the same command again skips every committed part
    report = run(stages(tiny_models)[2], root / "translate", root / "score")
    assert report.parts_skipped == 2 and report.parts_run == 0


def test_full_checks_drop_the_tiny_models_noise_with_reasons(chain, tiny_models, tmp_path):
    root, _ = chain
    translate = stages(tiny_models, checks=["echo", "copy", "length", "language"], cache_dir=str(root / "_cache"))[1]
    report = run(translate, root / "caption", tmp_path / "translate")
    dropped = read_rows(tmp_path / "translate", dropped=True)
    assert dropped and report.counters.get("model_calls", 0) == 0  # outputs came from the cache
    assert {r["drop_reason"] for r in dropped} <= {"translation_wrong_language", "translation_length"}
    assert any(r["drop_reason"] == "translation_wrong_language" for r in dropped)
    assert report.counters[f"dropped.{dropped[0]['drop_reason']}"] >= 1
    checker = TranslationChecker(["language"], 0.25, 4.0, 0.8)
    for row in read_rows(tmp_path / "translate"):  # what is kept passes the language check
        assert checker.check(row["caption"], row["translation"], row["lang"], []) is None
