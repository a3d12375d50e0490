"""`make demo` runs the main job offline: every stage of examples/demo.yaml, checked on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from formatskit import assert_columns_documented
from mella.demo.__main__ import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def rows(run_dir, stage, columns=None):
    return pq.read_table(sorted((run_dir / stage).glob("part-*.parquet")), columns=columns).to_pylist()


def test_every_stage_of_the_demo(demo_run):
    manifest = json.loads((demo_run / "run.json").read_text())
    assert manifest["status"] == "succeeded"
    stages = manifest["stages"]
    assert list(stages) == ["collect", "filter", "dedup", "keywords", "culture", "fetch", "caption", "translate",
                            "score", "build", "export", "predict_base", "eval_base", "train", "predict_tuned",
                            "eval_tuned", "report"]

    collected = rows(demo_run, "collect")
    assert {r["html_lang"] for r in collected} >= {"ar", "cs", "ko", "ru", "sr", "sr-Latn", "th", "vi"}
    assert len(collected) > 150
    kept = rows(demo_run, "dedup")
    assert {r["lang"] for r in kept} == {"ar", "cs", "hu", "ko", "ru", "sr-Cyrl", "sr-Latn", "th", "vi"}
    assert not any(r["alt"] == "Creative Commons License" for r in kept)  # licence badges are not culture

    fetched = rows(demo_run, "fetch")
    assert fetched and all(r["status"] == "ok" and r["sha256"] and r["width"] for r in fetched)
    assert list(demo_run.joinpath("fetch").glob("part-*.tar"))

    annotated = rows(demo_run, "score")
    assert all(r["caption_model"].startswith("tiny-random:") for r in annotated)  # never passed off as real
    assert all(r["translation_model"].startswith("tiny-random:") for r in annotated)
    assert all(r["caption_thick"] is not None and r["relevance_alt"] is not None for r in annotated)

    samples = rows(demo_run, "build")
    assert {s["source"] for s in samples} == {"know", "ling"}
    assert {s["split"] for s in samples} == {"train", "validation", "test"}
    test_images = {s["image_sha256"] for s in samples if s["split"] == "test"}
    assert not test_images & {s["image_sha256"] for s in samples if s["split"] == "train"}
    assert (demo_run / "export" / "hf" / "README.md").exists()
    assert (demo_run / "export" / "sharegpt" / "dataset_info.json").exists()

    preds = rows(demo_run, "predict_base")
    assert preds and {p["id"] for p in preds} <= {s["id"] for s in samples if s["split"] == "test"}
    scores = json.loads((demo_run / "eval_base" / "scores.json").read_text())
    assert {"keyword_accuracy", "bleu", "chrf", "rougeL", "meteor"} <= {s["metric"] for s in scores}
    train = json.loads((demo_run / "train" / "_SUCCESS").read_text())["counters"]
    assert train["sft.steps"] >= 1 and train["sft.loss_last"] < train["sft.loss_first"]
    tuned = rows(demo_run, "predict_tuned")
    assert {p["id"] for p in tuned} == {p["id"] for p in preds} and {p["model"] for p in tuned} == {"tuned"}
    assert (demo_run / "eval_tuned" / "scores.json").exists()
    html = (demo_run / "report" / "report.html").read_text(encoding="utf-8")
    assert "eval_base" in html and "eval_tuned" in html
    assert "Tiny random models" in html and 'id="gallery"' in html
    # culture statistics of D_know, and entity accuracy next to keyword accuracy of both models
    rated = rows(demo_run, "culture", ["culture_category", "culture_method"])
    assert rated and {r["culture_method"] for r in rated} == {"offline:3"}
    assert 'id="culture-kinds"' in html and '<table id="culture-categories">' in html
    assert "eval_base: entity accuracy" in html and "eval_tuned: entity accuracy" in html
    assert_columns_documented(demo_run)  # every column of every part: in mella.records, with its type


def test_demo_rerun_resumes(demo_run, capsys):
    before = json.loads((demo_run / "run.json").read_text())
    assert main(["--examples", str(EXAMPLES), "--run-dir", str(demo_run)]) == 0
    after = json.loads((demo_run / "run.json").read_text())
    assert after["attempts"] == before["attempts"] + 1
    for sid, rep in after["stages"].items():
        assert rep["rows"] == before["stages"][sid]["rows"]
        if sid != "report":
            assert rep["parts_run"] == 0, sid  # nothing recomputed
    assert "report:  " in capsys.readouterr().out
