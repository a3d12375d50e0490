"""Trustworthy multilingual metrics: BLEU, chrF, chrF++, ROUGE-L, METEOR, keyword accuracy, output language.

Every score carries a sacrebleu-style signature; see docs/metrics.md for the definitions.
"""

from __future__ import annotations

from mella.evaluate.compare import compare_predictions
from mella.evaluate.io import read_predictions, write_results
from mella.evaluate.report import render_markdown
from mella.evaluate.runner import Evaluation, evaluate_predictions, run_evaluation

__all__ = [
    "Evaluation",
    "compare_predictions",
    "evaluate_predictions",
    "read_predictions",
    "render_markdown",
    "run_evaluation",
    "write_results",
]
