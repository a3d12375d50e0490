import pytest
from evalkit import PAIRS

from mella.evaluate import compare_predictions


def _rows(lang, predictions):
    return [{"id": str(i), "lang": lang, "source": "know", "prediction": p, "references": [ref]}
            for i, ((ref, _), p) in enumerate(zip(PAIRS[lang], predictions, strict=True))]


def test_identical_systems_have_zero_delta():
    rows = _rows("cs", [h for _, h in PAIRS["cs"]])
    out = compare_predictions(rows, rows, n_bootstrap=50)
    assert {r["metric"] for r in out} >= {"bleu", "chrf", "rougeL", "meteor"}
    for r in out:
        if r["delta"] is not None:
            assert r["delta"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0


def test_better_system_has_positive_delta_and_ci():
    worse = _rows("ru", ["", "", ""])
    better = _rows("ru", [ref for ref, _ in PAIRS["ru"]])
    out = {r["metric"]: r for r in compare_predictions(worse, better, n_bootstrap=100, seed=1)}
    assert out["bleu"]["a"] == 0 and out["bleu"]["b"] == pytest.approx(100)
    assert out["rougeL"]["delta"] == pytest.approx(1)
    assert out["chrf"]["ci_low"] > 0 and out["chrf"]["p_value"] == 0
    assert out["bleu"]["n"] == 3


def test_items_are_paired_by_id():
    a = _rows("vi", [h for _, h in PAIRS["vi"]])
    b = list(reversed(a))[:2]
    out = compare_predictions(a, b, n_bootstrap=20)
    assert all(r["n"] == 2 for r in out)
    assert all(r["delta"] in (0, None) for r in out)
