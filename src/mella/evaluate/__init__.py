"""Trustworthy multilingual metrics: BLEU, chrF, chrF++, ROUGE-L, METEOR, keyword and entity accuracy, output
language.

Every score carries a sacrebleu-style signature; see docs/metrics.md for the definitions. The names below
are imported on first use, so ``mella.evaluate.predict`` and ``mella.evaluate.evaluate`` load without the
``eval`` extra; using a metric without it raises an error naming the extra.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Evaluation": "mella.evaluate.scoring",
    "compare_predictions": "mella.evaluate.compare",
    "evaluate_predictions": "mella.evaluate.scoring",
    "read_predictions": "mella.evaluate.io",
    "render_markdown": "mella.evaluate.report",
    "run_evaluation": "mella.evaluate.scoring",
    "write_results": "mella.evaluate.io",
}

__all__ = sorted(_EXPORTS)


def _require_extra() -> None:
    from mella.errors import require

    # Fail with the extra to install, not a bare ImportError from deep inside a metric module.
    for module in ("sacrebleu", "regex", "numpy"):
        require(module, "eval", "evaluation")


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mella.evaluate' has no attribute {name!r}")
    _require_extra()
    return getattr(importlib.import_module(_EXPORTS[name]), name)
