"""`mella predict` on a small samples table with real fetched images and a tiny VLM, then `mella evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the models extra is not installed")

from mella.demo.siteserver import SiteServer, load_sites  # noqa: E402
from mella.evaluate.predict import PredictStage  # noqa: E402
from mella.fetch.fetch import FetchStage, image_key  # noqa: E402
from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402
from mella.records import PAIRS, PREDICTIONS, SAMPLES  # noqa: E402

SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
SITE = "ru__raspberrypilearning__lost-in-space"


def run(stage, inputs, out):
    return run_stage(stage, [str(inputs)], out, LocalExecutor(1, progress=False))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A fetch output with two real images, a samples table over them, and a tiny Qwen2-VL."""
    from mella.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("predict")
    images = sorted((SITES / SITE).rglob("*.png"), key=lambda p: -p.stat().st_size)[:2]
    with SiteServer(load_sites(SITES)) as server:
        urls = [f"{server.base_url}/{SITE}/{p.relative_to(SITES / SITE).as_posix()}" for p in images]
        pairs = [dict(dict.fromkeys(PAIRS.names), image_url=u, alt="Космос", lang="ru", page_url=u) for u in urls]
        (root / "pairs").mkdir()
        pq.write_table(pa.Table.from_pylist(pairs, schema=PAIRS), root / "pairs" / "p.parquet")
        run(FetchStage(allow_hosts=[server.host_port]), root / "pairs", root / "fetch")
    keys = [image_key(u) for u in urls]
    samples = [
        {"id": "s1", "key": keys[0], "lang": "ru", "source": "know", "instruction": "Опишите изображение.",
         "response": "Космический корабль среди звёзд", "split": "test", "keywords": ["корабль", "звёзд"],
         "keyword_kinds": ["rare", "rare"]},
        {"id": "s2", "key": keys[1], "lang": "ru", "source": "ling", "instruction": "Что на картинке?",
         "response": "Обезьяна в космосе", "split": "test", "keywords": None},
        {"id": "s3", "key": keys[1], "lang": "ru", "source": "ling", "instruction": "Что на картинке?",
         "response": "Обезьяна", "split": "train", "keywords": None},
        {"id": "s4", "key": "0" * 20, "lang": "ru", "source": "know", "instruction": "Что это?",
         "response": "Нет картинки", "split": "test", "keywords": None},
    ]
    schema = SAMPLES.append(pa.field("keywords", pa.list_(pa.string()))).append(
        pa.field("keyword_kinds", pa.list_(pa.string())))
    (root / "samples").mkdir()
    pq.write_table(pa.Table.from_pylist(samples, schema=schema), root / "samples" / "part-00000.parquet")
    return root, make_tiny("qwen2-vl", root / "model")


def test_predict_writes_predictions_of_the_test_split(setup):
    root, model = setup
    stage = PredictStage(model=str(model), images=str(root / "fetch"), max_new_tokens=12)
    report = run(stage, root / "samples", root / "predict")
    rows = pq.read_table(root / "predict" / "part-00000.parquet")
    assert rows.schema.equals(PREDICTIONS)
    by_id = {r["id"]: r for r in rows.to_pylist()}
    assert set(by_id) == {"s1", "s2"}  # s3 is train, s4 has no image
    assert by_id["s1"]["references"] == ["Космический корабль среди звёзд"]
    assert by_id["s1"]["keywords"] == ["корабль", "звёзд"] and by_id["s2"]["keywords"] is None
    assert by_id["s1"]["keyword_kinds"] == ["rare", "rare"] and by_id["s2"]["keyword_kinds"] is None
    assert all(r["prediction"] and r["model"] == "tiny-random:qwen2_vl" for r in by_id.values())
    dropped = pq.read_table(root / "predict" / "_dropped" / "part-00000.parquet").to_pylist()
    assert [(r["id"], r["drop_reason"]) for r in dropped] == [("s4", "image_missing")]
    assert report.counters["skipped_other_split"] == 1 and report.counters["model_calls"] == 2
    # resumable: the same command skips the committed part
    assert run(stage, root / "samples", root / "predict").parts_skipped == 1


def test_evaluate_reads_the_predict_output(setup):
    from mella.cli.evaluate import command

    root, _ = setup
    if not (root / "predict" / "_SUCCESS").exists():
        pytest.skip("needs the predict output of the test above")
    result = CliRunner().invoke(command, [str(root / "predict"), "--out", str(root / "scores")])
    assert result.exit_code == 0, result.output
    scores = json.loads((root / "scores" / "scores.json").read_text(encoding="utf-8"))
    groups = {(s["lang"], s["source"]) for s in scores}
    assert groups == {("ru", "know"), ("ru", "ling")}
    assert {s["metric"] for s in scores} >= {"bleu", "chrf", "rougeL", "meteor", "keyword_accuracy",
                                            "entity_accuracy"}
    assert all(s["n"] == 1 for s in scores if s["metric"] == "bleu")  # one prediction per group


def test_predict_split_none_takes_every_row_and_names_the_model(setup, tmp_path):
    root, model = setup
    stage = PredictStage(model=str(model), images=str(root / "fetch"), split=None, model_name="my-model",
                         max_new_tokens=12, cache_dir=str(tmp_path / "cache"))
    report = run(stage, root / "samples", tmp_path / "predict")
    rows = pq.read_table(tmp_path / "predict" / "part-00000.parquet").to_pylist()
    assert {r["id"] for r in rows} == {"s1", "s2", "s3"} and {r["model"] for r in rows} == {"my-model"}
    assert report.counters.get("skipped_other_split", 0) == 0
