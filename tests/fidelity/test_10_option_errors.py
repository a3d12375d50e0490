"""Item 10: a misspelt metric and bad filter options are refused as option problems (exit 2), all together.

Before the fix ``mella evaluate --metrics blue`` ended in ``internal error: ValueError`` (exit 1). Driven through the
real CLI (``mella.cli.main``) on real input files; nothing may be written.
"""

from __future__ import annotations

import json

from clikit import pairs_folder, refused

VALID = "bleu, chrf, rougeL, meteor, keyword_accuracy, entity_accuracy, output_lang_rate"


def test_10_evaluate_metrics_blue_names_blue_and_the_valid_metrics(tmp_path, capsys):
    preds = tmp_path / "predictions.jsonl"
    row = {"id": "1", "lang": "cs", "source": "know", "prediction": "Praha", "references": ["Praha"]}
    preds.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "scores"
    problems = refused(capsys, ["evaluate", str(preds), "--out", str(out), "--metrics", "blue"], out)
    assert problems == [f"metrics: unknown 'blue'; valid: {VALID}"]


def test_10_evaluate_metrics_checked_before_reading_predictions(tmp_path, capsys):
    # A valid name beside the typo does not let the run start.
    out = tmp_path / "scores"
    problems = refused(capsys, ["evaluate", str(tmp_path / "missing.jsonl"), "--out", str(out),
                                 "--metrics", "bleu,blue"], out)
    assert problems == [f"metrics: unknown 'blue'; valid: {VALID}"]


def test_10_filter_unknown_language_and_confidence_above_one_reported_together(tmp_path, capsys):
    pairs = pairs_folder(tmp_path)
    out = tmp_path / "f"
    problems = refused(capsys, ["filter", str(pairs), "--out", str(out), "--langs", "xx", "--min-confidence", "2"],
                        out)
    assert len(problems) == 2
    assert any(p.startswith("min_confidence: Input should be less than or equal to 1") for p in problems)
    assert any(p.startswith("langs: unknown language 'xx'") for p in problems)
