import math

import pyarrow as pa
import pytest
from evalkit import LANGS, PAIRS

from mella.evaluate import evaluate_predictions, run_evaluation
from mella.evaluate.metrics import OUTPUTS
from mella.records import PREDICTIONS

NAMES = ["bleu", "chrf", "chrf++", "rougeL", "meteor", "keyword_accuracy", "keyword_accuracy_micro",
         "entity_accuracy", "output_lang_rate"]


def _rows():
    return [
        {"id": f"{lang}-{i}", "lang": lang, "source": source, "prediction": hyp, "references": [ref],
         "keywords": None, "model": "m"}
        for lang in LANGS for source in ("know", "ling") for i, (ref, hyp) in enumerate(PAIRS[lang])
    ]


def test_metric_names_are_the_documented_ones():
    assert list(OUTPUTS) == NAMES


def test_scores_per_lang_and_source_with_scales():
    scores = evaluate_predictions(_rows())
    assert len(scores) == len(LANGS) * 2 * len(NAMES)
    for s in scores:
        assert set(s) == {"lang", "source", "metric", "score", "n", "signature"}
        assert s["signature"].startswith(f"{s['metric']}|lang:{s['lang']}|")
        top = 100 if s["metric"] in ("bleu", "chrf", "chrf++") else 1
        if s["metric"] == "entity_accuracy":  # no row has keyword_kinds: no entities to name
            assert s["score"] is None and s["n"] == 0
            continue
        assert 0 <= s["score"] <= top + 1e-9
    bleu = {(s["lang"], s["source"]): s for s in scores if s["metric"] == "bleu"}
    assert bleu[("th", "know")]["n"] == len(PAIRS["th"])


def test_pyarrow_table_input_gives_the_same_scores():
    table = pa.Table.from_pylist(_rows(), schema=PREDICTIONS)
    assert evaluate_predictions(table) == evaluate_predictions(_rows())


def test_items_have_one_row_per_prediction():
    evaluation = run_evaluation(_rows())
    assert len(evaluation.items) == len(_rows())
    item = evaluation.items[0]
    assert {"id", "lang", "source", "bleu", "chrf", "chrf++", "rougeL", "meteor", "keyword_accuracy",
            "keyword_hits", "keyword_total", "entity_named", "output_lang_rate"} <= set(item)


def test_rows_without_references_are_skipped_and_counted():
    rows = _rows()[:2] + [{"id": "x", "lang": "cs", "source": "know", "prediction": "a", "references": []}]
    evaluation = run_evaluation(rows)
    assert evaluation.skipped == 1 and len(evaluation.items) == 2


def test_missing_prediction_scores_as_empty():
    rows = [{"id": "1", "lang": "ru", "source": "know", "prediction": None, "references": "Красная площадь"}]
    scores = {s["metric"]: s["score"] for s in evaluate_predictions(rows)}
    assert scores["bleu"] == 0 and scores["rougeL"] == 0 and scores["output_lang_rate"] == 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in scores.values())


def test_explicit_keywords_column_is_used():
    rows = [{"id": "1", "lang": "cs", "source": "know", "prediction": "Karlův most v Praze",
             "references": ["Praha"], "keywords": ["Karlův most", "orloj"]}]
    scores = {s["metric"]: s["score"] for s in evaluate_predictions(rows)}
    assert scores["keyword_accuracy"] == pytest.approx(0.5)


def test_metric_subset_and_unknown_metric():
    scores = evaluate_predictions(_rows()[:3], metrics=["rougeL"])
    assert {s["metric"] for s in scores} == {"rougeL"}
    with pytest.raises(ValueError, match="known"):
        evaluate_predictions(_rows()[:3], metrics=["bertscore"])
