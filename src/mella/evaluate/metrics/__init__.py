"""The metrics, by name. Each class may report several outputs (chrF and chrF++ share a pass)."""

from __future__ import annotations

from mella.evaluate.metrics.base import Item, Metric, Score
from mella.evaluate.metrics.bleu import BLEU
from mella.evaluate.metrics.chrf import ChrF
from mella.evaluate.metrics.entity import EntityAccuracy
from mella.evaluate.metrics.keyword import KeywordAccuracy
from mella.evaluate.metrics.meteor import Meteor
from mella.evaluate.metrics.outlang import OutputLanguage
from mella.evaluate.metrics.rouge import RougeL

METRICS: dict[str, type[Metric]] = {
    "bleu": BLEU,
    "chrf": ChrF,
    "rougeL": RougeL,
    "meteor": Meteor,
    "keyword_accuracy": KeywordAccuracy,
    "entity_accuracy": EntityAccuracy,
    "output_lang_rate": OutputLanguage,
}

# The reported names, in report order.
OUTPUTS: tuple[str, ...] = tuple(name for cls in METRICS.values() for name in cls.outputs)

__all__ = ["METRICS", "OUTPUTS", "Item", "Metric", "Score"]
