"""Score prediction rows per (lang, source) group: corpus scores, per-item scores, raw statistics."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mella.errors import MellaError
from mella.evaluate.metrics import METRICS, Item, Metric, Score
from mella.evaluate.textproc import processor

log = logging.getLogger("mella")


@dataclass
class Group:
    """The items of one (lang, source) group and each metric's per-item statistics."""

    lang: str
    source: str
    ids: list[str]
    metrics: list[Metric] = field(default_factory=list)
    stats: list[np.ndarray] = field(default_factory=list)  # one (items x stats) array per metric

    def scores(self, weights: np.ndarray | None = None) -> dict[str, Score]:
        """Corpus scores, optionally over a resample (``weights``: how often each item is drawn)."""
        out: dict[str, Score] = {}
        n = len(self.ids) if weights is None else int(weights.sum())
        for metric, stats in zip(self.metrics, self.stats, strict=True):
            total = stats.sum(axis=0) if weights is None else weights @ stats
            for name, (value, count) in metric.compute(total.tolist(), n).items():
                out[name] = Score(name, value, count, metric.signature(name))
        return out


@dataclass
class Evaluation:
    """What ``mella evaluate`` writes: corpus scores and per-item scores."""

    scores: list[dict[str, Any]]
    items: list[dict[str, Any]]
    skipped: int = 0  # rows without any reference


def as_rows(data: Any) -> list[Mapping[str, Any]]:
    """Rows from a pyarrow Table or any iterable of mappings."""
    if hasattr(data, "to_pylist"):
        return data.to_pylist()
    return list(data)


def _strings(value: Any) -> list[str]:
    """A list column that users may also give as one string (or leave empty)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if v is not None]


def _group_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[tuple[str, str], list], int]:
    groups: dict[tuple[str, str], list] = {}
    skipped = 0
    for i, row in enumerate(rows):
        if not _strings(row.get("references")):
            skipped += 1
            continue
        key = (str(row.get("lang") or "und"), str(row.get("source") or "all"))
        groups.setdefault(key, []).append(row if row.get("id") is not None else {**row, "id": str(i)})
    if skipped:
        log.warning("%d prediction rows have no reference and were not scored", skipped)
    return groups, skipped


def _keywords(row: Mapping[str, Any]) -> tuple[list[str], list[str | None] | None]:
    """A row's keywords and their kinds, aligned (kinds None when the row has none)."""
    raw = row.get("keywords")
    words = [raw] if isinstance(raw, str) else list(raw or [])
    kinds_raw = row.get("keyword_kinds")
    if kinds_raw is None or (not isinstance(kinds_raw, str) and not len(kinds_raw)):
        return [w for w in words if w is not None], None
    kinds = [kinds_raw] if isinstance(kinds_raw, str) else list(kinds_raw)
    if len(kinds) != len(words):
        raise MellaError(f"prediction {row.get('id')!r}: keyword_kinds has {len(kinds)} values for "
                         f"{len(words)} keywords (they are aligned, one kind per keyword)")
    pairs = [(w, k) for w, k in zip(words, kinds, strict=True) if w is not None]
    return [w for w, _ in pairs], [k for _, k in pairs]


def _item(row: Mapping[str, Any], proc) -> Item:
    words, kinds = _keywords(row)
    return Item(hyp=proc.process(row.get("prediction")),
                refs=[proc.process(r) for r in _strings(row.get("references"))],
                keywords=[proc.process(k) for k in words] or None, keyword_kinds=kinds if words else None)


def _items(rows: list[Mapping[str, Any]], lang: str) -> list[Item]:
    proc = processor(lang)
    return [_item(row, proc) for row in rows]


def score_groups(data: Any, metrics: Iterable[str] | None = None) -> tuple[list[Group], int]:
    """Per-item statistics of every metric for every (lang, source) group, sorted by key."""
    groups, skipped = _group_rows(as_rows(data))
    names = list(metrics or METRICS)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    out = []
    for (lang, source), rows in sorted(groups.items()):
        items = _items(rows, lang)
        group = Group(lang, source, [str(r["id"]) for r in rows])
        for name in names:
            metric = METRICS[name](processor(lang))
            group.metrics.append(metric)
            group.stats.append(np.asarray(metric.stats(items), dtype=np.float64))
        out.append(group)
    return out, skipped


def _item_rows(group: Group) -> list[dict[str, Any]]:
    rows = [{"id": i, "lang": group.lang, "source": group.source} for i in group.ids]
    for metric, stats in zip(group.metrics, group.stats, strict=True):
        for row, item_stats in zip(rows, stats.tolist(), strict=True):
            row.update(metric.item_scores(item_stats))
    return rows


def run_evaluation(data: Any, metrics: Iterable[str] | None = None) -> Evaluation:
    """Corpus scores per (lang, source) group and per-item scores of prediction rows."""
    groups, skipped = score_groups(data, metrics)
    scores, items = [], []
    for group in groups:
        for s in group.scores().values():
            scores.append({"lang": group.lang, "source": group.source, "metric": s.metric,
                           "score": s.score, "n": s.n, "signature": s.signature})
        items.extend(_item_rows(group))
    return Evaluation(scores, items, skipped)


def evaluate_predictions(data: Any, metrics: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Scores as ``{lang, source, metric, score, n, signature}`` dicts (BLEU, chrF 0-100; others 0-1)."""
    return run_evaluation(data, metrics).scores
