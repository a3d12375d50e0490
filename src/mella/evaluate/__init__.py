"""Trustworthy multilingual metrics: BLEU, chrF, chrF++, ROUGE-L, METEOR, keyword accuracy, output language.

Every score carries a sacrebleu-style signature; see docs/metrics.md for the definitions.
"""

from __future__ import annotations

from mella.errors import require

# Fail with the extra to install, not a bare ImportError from deep inside a metric module.
for _module in ("sacrebleu", "regex", "numpy"):
    require(_module, "eval", "evaluation")

from mella.evaluate.compare import compare_predictions  # noqa: E402
from mella.evaluate.io import read_predictions, write_results  # noqa: E402
from mella.evaluate.report import render_markdown  # noqa: E402
from mella.evaluate.runner import Evaluation, evaluate_predictions, run_evaluation  # noqa: E402

__all__ = [
    "Evaluation",
    "compare_predictions",
    "evaluate_predictions",
    "read_predictions",
    "render_markdown",
    "run_evaluation",
    "write_results",
]
