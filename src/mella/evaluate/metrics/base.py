"""The metric contract: per-item sufficient statistics that sum to the corpus score.

Like sacrebleu, a metric turns each (hypothesis, references) item into a vector of statistics;
the corpus score is a function of the vectors' sum. That one rule gives corpus scores, per-item
scores and paired bootstrap resampling (a weighted sum) from the same code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from mella.evaluate.textproc import Text, TextProcessor


@dataclass(frozen=True)
class Score:
    """One reported number with everything needed to reproduce it."""

    metric: str
    score: float | None  # None when no item could be scored (e.g. no keywords at all)
    n: int
    signature: str


@dataclass
class Item:
    """One prediction with its references, processed for one language."""

    hyp: Text
    refs: list[Text]
    keywords: list[Text] | None = None  # explicit per-sample keywords, when given
    keyword_kinds: list[str | None] | None = None  # per keyword (aligned): entity | rare, when given


def mella_version() -> str:
    from mella import __version__

    return __version__


class Metric(ABC):
    """Base class: subclasses name their ``outputs`` and implement ``stats`` and ``compute``."""

    outputs: tuple[str, ...] = ()

    def __init__(self, proc: TextProcessor):
        self.proc = proc

    @abstractmethod
    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        """One statistics vector per item."""

    @abstractmethod
    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        """``{output: (score, n)}`` from the summed statistics of ``n`` items."""

    def item_scores(self, row: Sequence[float]) -> dict[str, float | None]:
        """Per-item scores (the corpus formula applied to one item)."""
        return {name: value for name, (value, _) in self.compute(row, 1).items()}

    @abstractmethod
    def settings(self, output: str) -> str:
        """The metric-specific part of the signature."""

    def signature(self, output: str) -> str:
        """``name|lang:..|<settings>|mella:<version>``, sacrebleu style."""
        return f"{output}|lang:{self.proc.lang.tag}|{self.settings(output)}|mella:{mella_version()}"

    def score(self, items: Sequence[Item]) -> dict[str, Score]:
        """Corpus scores of ``items`` for every output."""
        rows = self.stats(items)
        width = len(rows[0]) if rows else 0
        total = [sum(col) for col in zip(*rows, strict=True)] if rows else [0.0] * width
        return {
            name: Score(name, value, n, self.signature(name))
            for name, (value, n) in self.compute(total, len(rows)).items()
        }


def mean_or_none(total: float, count: float) -> float | None:
    """``total / count``, or None when nothing was counted."""
    return total / count if count else None
