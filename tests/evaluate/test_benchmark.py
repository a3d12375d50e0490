"""XM3600 from a local copy: the loader, `mella benchmark`, then `mella predict` with a tiny random VLM and
`mella evaluate`, over a fixture in XM3600's own file format (tests/data/xm3600, see its README)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.errors import MellaError
from mella.evaluate import xm3600

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "xm3600"
CAPTIONS = FIXTURE / "captions.jsonl"
IMAGES = FIXTURE / "images"
KEYS = ["1f0e3d9c4b7a6e52", "5a9c2e7f0b3d8164", "8e41b6d02f9a7c35", "c07d5f3a1e8b9246"]


def fixture_captions() -> dict[tuple[str, str], list[str]]:
    """(key, lang) -> captions, read from the file with nothing but json."""
    out = {}
    for line in CAPTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for code, entry in row.items():
            if not code.startswith("image/"):
                out[(row["image/key"], code)] = entry["caption"]
    return out


def test_the_fixture_is_in_xm3600s_format():
    for line in CAPTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert len(row["image/key"]) == 16 and int(row["image/key"], 16) >= 0 and row["image/locale"] == "cs"
        for code, entry in row.items():
            if code.startswith("image/"):
                continue
            assert code in xm3600.LANGUAGES
            assert set(entry) == {"caption", "caption/tokenized", "caption/tokenized/lowercase"}
            assert len(entry["caption"]) == len(entry["caption/tokenized"]) == len(
                entry["caption/tokenized/lowercase"]) >= 1
        assert (IMAGES / f"{row['image/key']}.jpg").is_file()


def test_the_loader_reads_every_caption_of_the_mella_languages():
    items = list(xm3600.load(CAPTIONS, IMAGES))
    expected = fixture_captions()
    assert len(items) == 4 * 7 and {i.lang for i in items} == {"ar", "cs", "hu", "ko", "ru", "th", "vi"}
    for item in items:
        assert list(item.captions) == expected[(item.key, item.lang)]
        assert item.image == IMAGES / f"{item.key}.jpg" and item.locale == "cs"
    by = {(i.key, i.lang): i for i in items}
    assert len(by[(KEYS[0], "ru")].captions) == 3 and len(by[(KEYS[2], "th")].captions) == 1
    assert [i.lang for i in xm3600.load(CAPTIONS, IMAGES, ["de"])] == ["de"] * 4  # any XM3600 language on request


def test_the_language_map():
    assert xm3600.MELLA_LANGUAGES == ("ar", "cs", "hu", "ko", "ru", "th", "vi")
    assert all(xm3600.mella_tag(code) == code for code in xm3600.MELLA_LANGUAGES)
    assert "sr" not in xm3600.LANGUAGES and len(xm3600.LANGUAGES) == 36
    assert xm3600.mella_tag("sr") is None  # XM3600 has no Serbian
    with pytest.raises(MellaError, match="XM3600 has no captions in sr"):
        list(xm3600.load(CAPTIONS, IMAGES, ["sr"]))


def test_the_loader_refuses_a_file_that_is_not_xm3600(tmp_path):
    bad = tmp_path / "captions.jsonl"
    bad.write_text('{"image/key": "00ff", "ru": ["a bare list"]}\n', encoding="utf-8")
    with pytest.raises(MellaError, match=r"captions.jsonl:1: ru is not \{\"caption\""):
        list(xm3600.load(bad, IMAGES, ["ru"]))
    bad.write_text('{"image/key": "../etc/passwd"}\n', encoding="utf-8")
    with pytest.raises(MellaError, match="not a safe key"):
        list(xm3600.load(bad, IMAGES, ["ru"]))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`mella benchmark` on the fixture, `mella predict` with a tiny random Qwen2-VL, `mella evaluate`."""
    pytest.importorskip("transformers", reason="the models extra is not installed")
    from mella.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("xm3600")
    assert main(["benchmark", str(CAPTIONS), "--images", str(IMAGES), "--out", str(root / "bench")]) == 0
    model = make_tiny("qwen2-vl", root / "model")
    assert main(["predict", str(root / "bench"), "--model", str(model), "--max-new-tokens", "8",
                 "--out", str(root / "predict")]) == 0
    assert main(["evaluate", str(root / "predict"), "--out", str(root / "eval")]) == 0
    return root


def _rows(folder: Path) -> list[dict]:
    return [r for part in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(part).to_pylist()]


def test_benchmark_writes_test_samples_with_every_reference_and_the_images(run):
    from mella.dataset.templates import templates
    from mella.fetch.wds import ImageStore
    from mella.records import BENCHMARK

    assert pq.read_schema(run / "bench" / "part-00000.parquet").equals(BENCHMARK)
    rows = _rows(run / "bench")
    expected = fixture_captions()
    assert len(rows) == 28
    for r in rows:
        refs = expected[(r["key"], r["lang"])]
        assert r["references"] == refs and r["response"] == refs[0]
        assert (r["split"], r["source"], r["benchmark"]) == ("test", "xm3600", "xm3600")
        assert r["instruction"] in templates(r["lang"])["ling"]  # the native instruction build asks
        assert r["id"] == f"xm3600-{r['lang']}-{r['key']}"
    store = ImageStore(run / "bench")  # found by key, as predict finds a fetch folder's images
    assert sorted(store.refs) == KEYS
    for key in KEYS:
        assert store[key] == (IMAGES / f"{key}.jpg").read_bytes()  # unchanged
    stats = json.loads((run / "bench" / "stats.json").read_text(encoding="utf-8"))["counters"]
    assert stats["images"] == 4 and all(stats[f"samples.{code}"] == 4 for code in xm3600.MELLA_LANGUAGES)


def test_predict_and_evaluate_score_every_language_against_all_references(run):
    from mella.evaluate import run_evaluation

    predictions = _rows(run / "predict")
    assert len(predictions) == 28 and all(p["model"] == "tiny-random:qwen2_vl" and p["prediction"]
                                          for p in predictions)
    expected = fixture_captions()
    for p in predictions:
        assert p["references"] == expected[(p["id"].split("-")[2], p["lang"])]
    scores = json.loads((run / "eval" / "scores.json").read_text(encoding="utf-8"))
    bleu = {s["lang"]: s for s in scores if s["metric"] == "bleu"}
    assert sorted(bleu) == sorted(xm3600.MELLA_LANGUAGES)
    assert all(s["source"] == "xm3600" and s["n"] == 4 for s in bleu.values())
    # every reference counts: ru, ko and th have 2, 3 or 1 captions per image, the others always 2
    for lang, s in bleu.items():
        assert f"nrefs:{'var' if lang in ('ru', 'ko', 'th') else 2}" in s["signature"], s["signature"]
    # a prediction equal to the LAST reference is a perfect match: the first one is not the only one scored
    last = [{**p, "prediction": p["references"][-1]} for p in predictions]
    perfect = {(s["lang"], s["metric"]): s["score"] for s in run_evaluation(last, ["rougeL", "chrf"]).scores}
    assert all(perfect[(lang, "rougeL")] == pytest.approx(1.0) for lang in xm3600.MELLA_LANGUAGES)
    assert all(perfect[(lang, "chrf")] == pytest.approx(100.0) for lang in xm3600.MELLA_LANGUAGES)


def test_benchmark_drops_what_predict_could_not_use(tmp_path):
    images = tmp_path / "images"
    shutil.copytree(IMAGES, images)
    (images / f"{KEYS[1]}.jpg").unlink()
    (images / f"{KEYS[2]}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert main(["benchmark", str(CAPTIONS), "--images", str(images), "--langs", "ru,th", "--templates", "know",
                 "--out", str(tmp_path / "bench")]) == 0
    kept = _rows(tmp_path / "bench")
    assert sorted((r["key"], r["lang"]) for r in kept) == [(KEYS[0], "ru"), (KEYS[0], "th"), (KEYS[3], "ru"),
                                                           (KEYS[3], "th")]
    dropped = pq.read_table(tmp_path / "bench" / "_dropped" / "part-00000.parquet").to_pylist()
    assert sorted((r["key"], r["drop_reason"]) for r in dropped) == sorted(
        [(KEYS[1], "image_missing")] * 2 + [(KEYS[2], "image_unreadable")] * 2)


def test_benchmark_refuses_languages_it_cannot_serve(tmp_path, capsys):
    assert main(["benchmark", str(CAPTIONS), "--images", str(IMAGES), "--langs", "sr", "--out",
                 str(tmp_path / "a")]) == 2
    assert main(["benchmark", str(CAPTIONS), "--images", str(IMAGES), "--langs", "de", "--out",
                 str(tmp_path / "b")]) == 2  # in XM3600, but mella has no German instruction templates
    assert main(["benchmark", str(CAPTIONS), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "xm3600 has no captions in 'sr' (XM3600 has no Serbian)" in err
    assert "'de'" in err and "images: name the benchmark's image folder" in err
    assert not any((tmp_path / name).exists() for name in "abc")
