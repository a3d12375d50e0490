"""Issue 16, item 5: translate splits captions into sentences, translates them in one batched call per language
pair, rejoins them in order, keeps the alignment, and writes a named round-trip QE (tiny random NLLB, offline)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

pytest.importorskip("transformers", reason="the models extra is not installed")

from mella.annotate.qe import chrf  # noqa: E402
from mella.annotate.sentences import join_sentences, split_sentences  # noqa: E402
from mella.annotate.translate import TranslateOptions, TranslateStage  # noqa: E402
from mella.errors import MellaError  # noqa: E402
from mella.models.hf import HFBackend  # noqa: E402
from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402

CAPTIONS = [
    "A red fishing boat lies on the sand. Dr. Lee paints its hull, which is 4.5 m long. Gulls fly above.",
    "Two children read a book under a tree. The book is about the U.S. space program.",
    "A plate of rice with grilled fish.",
]


class RecordingHF(HFBackend):
    """The real hf backend; each translate call is recorded (languages, texts, outputs)."""

    name = "hf"
    calls: list[tuple[str, str, list[str], list[str]]] = []

    def translate(self, texts, src_lang, tgt_lang, options=None):
        outputs = super().translate(texts, src_lang, tgt_lang, options)
        RecordingHF.calls.append((src_lang, tgt_lang, list(texts), list(outputs)))
        return outputs


@pytest.fixture
def recording(monkeypatch):
    # Registered under its own name, as a user would register a backend: the model itself is not replaced.
    from mella.models import base

    monkeypatch.setitem(base.BACKENDS, "hf-recording", f"{__name__}:RecordingHF")
    RecordingHF.calls = []
    return RecordingHF.calls


def _run(tiny_model, tmp_path: Path, rows: list[dict], **options) -> tuple[list[dict], object]:
    inp = tmp_path / "in"
    inp.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), inp / "part-00000.parquet")
    stage = TranslateStage(backend="hf-recording", model=tiny_model("nllb"), max_new_tokens=16, batch_size=64,
                           checks=["echo"], cache=False, **options)
    report = run_stage(stage, [str(inp)], tmp_path / "out", LocalExecutor(1, progress=False))
    kept = [r for f in sorted((tmp_path / "out").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    return kept, report


def _rows() -> list[dict]:
    return [{"key": f"k{i}{lang}", "lang": lang, "caption": cap, "caption_lang": "en", "caption_thick": None}
            for lang in ("ru", "ko") for i, cap in enumerate(CAPTIONS)]


def test_multi_sentence_captions_are_translated_sentence_by_sentence_in_one_batched_call(tiny_model, tmp_path,
                                                                                         recording):
    kept, report = _run(tiny_model, tmp_path, _rows(), qe="none")
    sentences = [s.text for cap in CAPTIONS for s in split_sentences(cap, "en")]
    assert len(sentences) == 6
    # one model call per language pair, holding every sentence of the batch (not one caption per input)
    assert [(src, tgt, sorted(texts)) for src, tgt, texts, _ in recording] == \
        [("en", "ru", sorted(sentences)), ("en", "ko", sorted(sentences))]
    assert report.counters["sentences.caption"] == 12 and report.counters["split.caption"] == 4
    outputs = {(tgt, text): out for _, tgt, texts, outs in recording for text, out in zip(texts, outs, strict=True)}
    assert len(kept) == 6
    for row in kept:
        segments = row["translation_segments"]
        # alignment: the caption's sentences in order, each with what the model made of it
        assert [s["source"] for s in segments] == [s.text for s in split_sentences(row["caption"], "en")]
        assert [s["target"] for s in segments] == [outputs[(row["lang"], s["source"])].strip() for s in segments]
        assert row["translation"] == join_sentences([s["target"] for s in segments],
                                                    [s.gap for s in split_sentences(row["caption"], "en")], "ru")
        assert row["translation_qe"] is None and row["translation_qe_method"] is None


def test_split_sentences_false_translates_each_caption_whole(tiny_model, tmp_path, recording):
    kept, _ = _run(tiny_model, tmp_path, _rows()[:3], qe="none", split_sentences=False)
    assert [sorted(texts) for *_, texts, _ in recording] == [sorted(CAPTIONS)]
    assert all(len(r["translation_segments"]) == 1 for r in kept)


def test_roundtrip_qe_is_chrf_of_the_back_translation_and_names_its_method(tiny_model, tmp_path, recording):
    kept, report = _run(tiny_model, tmp_path, _rows())
    forward = [c for c in recording if c[0] == "en"]
    back = [c for c in recording if c[1] == "en"]
    # the back-translation is batched too: one call per language pair, one input per translated sentence
    assert sorted(src for src, *_ in back) == ["ko", "ru"] and len(forward) == 2
    for src, _, texts, _ in back:  # every distinct translated sentence, once (equal outputs share a result)
        assert sorted(texts) == sorted({s["target"] for r in kept if r["lang"] == src
                                        for s in r["translation_segments"]})
    assert report.counters["qe.model_calls"] > 0
    back_of = {(src, text): out for src, _, texts, outs in back for text, out in zip(texts, outs, strict=True)}
    for row in kept:
        assert row["translation_qe_method"] == "roundtrip-chrf:tiny-random:m2m_100"
        parts = split_sentences(row["caption"], "en")
        texts = [back_of[(row["lang"], s["target"])].strip() for s in row["translation_segments"]]
        expected = chrf(join_sentences(texts, [p.gap for p in parts], "en"), row["caption"], "en")
        assert row["translation_qe"] == pytest.approx(expected, abs=1e-4)
        assert 0 <= row["translation_qe"] <= 100
    # a caption compared with itself scores 100: the scale the QE is on
    assert chrf(CAPTIONS[0], CAPTIONS[0], "en") == pytest.approx(100.0)


def test_qe_options_are_validated():
    with pytest.raises(ValidationError, match="qe_model: qe cometkiwi needs a COMET-Kiwi model"):
        TranslateOptions(qe="cometkiwi")
    with pytest.raises(ValidationError, match="qe_model: set, but qe is none"):
        TranslateOptions(qe="none", qe_model="facebook/nllb-200-distilled-600M")
    with pytest.raises(ValidationError):
        TranslateOptions(qe="bleu")
    assert TranslateOptions(qe="cometkiwi", qe_model="Unbabel/wmt22-cometkiwi-da").qe == "cometkiwi"


@pytest.mark.skipif(importlib.util.find_spec("comet") is not None, reason="unbabel-comet is installed")
def test_cometkiwi_without_the_comet_package_is_a_one_line_error_naming_the_extra(tiny_model):
    stage = TranslateStage(model=tiny_model("nllb"), qe="cometkiwi", qe_model="Unbabel/wmt22-cometkiwi-da",
                           cache=False)
    with pytest.raises(MellaError) as err:
        stage.ensure_setup()
    assert str(err.value) == "comet is needed for qe: cometkiwi but is not installed: pip install 'mella[comet]'"


def test_a_sentence_left_untranslated_or_lost_fails_the_sample():
    from mella.annotate.checks import TranslationChecker

    checker = TranslationChecker(["echo", "copy", "length"], 0.25, 4.0, 0.8)
    sources = ["A red boat lies on the sand.", "Gulls fly above the water.", "Apollo 11."]
    # the whole sample passes the copy check (most of it is Russian), one sentence of it is English still
    assert checker.check(" ".join(sources), "Красная лодка лежит на песке. Gulls fly above the water. Apollo 11.",
                         "ru", []) is None
    assert checker.check_sentences(sources, ["Красная лодка лежит на песке.", "Gulls fly above the water.",
                                             "Apollo 11."]) == "translation_copy"
    assert checker.check_sentences(sources, ["Красная лодка лежит на песке.", "", "Apollo 11."]) \
        == "translation_length"
    # a short sentence (a name, a number) may stay as it is
    assert checker.check_sentences(sources, ["Красная лодка лежит на песке.", "Над водой летают чайки.",
                                             "Apollo 11."]) is None
