"""Compare two prediction sets on the same items: deltas with paired bootstrap confidence intervals.

Koehn (2004) paired bootstrap, as sacrebleu's ``--paired-bs``: items are resampled with
replacement, both systems are scored on the same resample (corpus formula on summed item
statistics), and the percentiles of the resampled deltas give the interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from mella.evaluate.scoring import Group, as_rows, score_groups


def _align(a: Group, b: Group) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the items both groups share, in ``a``'s order."""
    where_b = {item_id: j for j, item_id in enumerate(b.ids)}
    pairs = [(i, where_b[item_id]) for i, item_id in enumerate(a.ids) if item_id in where_b]
    idx_a, idx_b = zip(*pairs, strict=True) if pairs else ((), ())
    return np.asarray(idx_a, dtype=int), np.asarray(idx_b, dtype=int)


def _subset(group: Group, idx: np.ndarray) -> Group:
    return Group(group.lang, group.source, [group.ids[i] for i in idx], group.metrics,
                 [stats[idx] for stats in group.stats])


def _bootstrap(a: Group, b: Group, n_bootstrap: int, seed: int, alpha: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n = len(a.ids)
    base_a, base_b = a.scores(), b.scores()
    deltas: dict[str, list[float]] = {name: [] for name in base_a}
    for _ in range(n_bootstrap):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        sa, sb = a.scores(weights), b.scores(weights)
        for name in deltas:
            if sa[name].score is not None and sb[name].score is not None:
                deltas[name].append(sb[name].score - sa[name].score)
    rows = []
    for name, sa in base_a.items():
        sb, d = base_b[name], np.asarray(deltas[name])
        delta = None if sa.score is None or sb.score is None else sb.score - sa.score
        low, high = (np.percentile(d, [100 * alpha / 2, 100 * (1 - alpha / 2)]).tolist() if len(d) else (None, None))
        # One-sided share of resamples where the difference vanishes or flips sign.
        p = float(np.mean(d <= 0) if delta and delta > 0 else np.mean(d >= 0)) if len(d) and delta is not None else None
        rows.append({"lang": a.lang, "source": a.source, "metric": name, "a": sa.score, "b": sb.score,
                     "delta": delta, "ci_low": low, "ci_high": high, "p_value": p, "n": n,
                     "signature": sa.signature})
    return rows


def compare_predictions(
    a: Iterable[Any], b: Iterable[Any], *, n_bootstrap: int = 1000, seed: int = 12345,
    alpha: float = 0.05, metrics: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Per (lang, source) and metric: scores of ``a`` and ``b``, ``delta = b - a`` and its bootstrap CI.

    Items are paired by ``id`` within each group; items only one side has are left out.
    """
    groups_a, _ = score_groups(as_rows(a), metrics)
    groups_b = {(g.lang, g.source): g for g in score_groups(as_rows(b), metrics)[0]}
    rows: list[dict[str, Any]] = []
    for ga in groups_a:
        gb = groups_b.get((ga.lang, ga.source))
        if gb is None:
            continue
        idx_a, idx_b = _align(ga, gb)
        if len(idx_a):
            rows.extend(_bootstrap(_subset(ga, idx_a), _subset(gb, idx_b), n_bootstrap, seed, alpha))
    return rows
