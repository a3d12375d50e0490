"""METEOR with exact and stem matching, nltk-compatible (alpha 0.9, beta 3, gamma 0.5; 0-1).

nltk's ``meteor_score`` needs WordNet (English only; ``nltk.download`` is not possible offline)
and stems with English Porter. This is the same algorithm on the language's tokens with its
Snowball stemmer and no synonym stage; it equals nltk fed the same tokens and stemmer.
"""

from __future__ import annotations

from collections.abc import Sequence

from mella.evaluate.metrics.base import Item, Metric, mean_or_none

ALPHA, BETA, GAMMA = 0.9, 3.0, 0.5


def _match(hyp: list[tuple[int, str]], ref: list[tuple[int, str]]):
    """nltk's ``_match_enums``: later hypothesis words take the latest unused equal reference word."""
    positions: dict[str, list[int]] = {}
    for j, (_, word) in enumerate(ref):
        positions.setdefault(word, []).append(j)
    matches, used_h, used_r = [], set(), set()
    for i in range(len(hyp) - 1, -1, -1):
        free = positions.get(hyp[i][1])
        if free:
            j = free.pop()
            used_h.add(i)
            used_r.add(j)
            matches.append((hyp[i][0], ref[j][0]))
    rest_h = [p for i, p in enumerate(hyp) if i not in used_h]
    rest_r = [p for j, p in enumerate(ref) if j not in used_r]
    return matches, rest_h, rest_r


def _chunks(matches: list[tuple[int, int]]) -> int:
    """Runs of matches adjacent in both hypothesis and reference (matches sorted by hypothesis)."""
    return 1 + sum(
        1 for (h0, r0), (h1, r1) in zip(matches, matches[1:], strict=False) if not (h1 == h0 + 1 and r1 == r0 + 1)
    )


def meteor(hyp: Sequence[str], ref: Sequence[str], hyp_stems: Sequence[str], ref_stems: Sequence[str]) -> float:
    """METEOR of one pair: exact matches first, then matches of the remaining words' stems."""
    if not hyp or not ref:
        return 0.0
    exact, rest_h, rest_r = _match(list(enumerate(hyp)), list(enumerate(ref)))
    stemmed, _, _ = _match([(i, hyp_stems[i]) for i, _ in rest_h], [(j, ref_stems[j]) for j, _ in rest_r])
    matches = sorted(exact + stemmed)
    if not matches:
        return 0.0
    m = len(matches)
    precision, recall = m / len(hyp), m / len(ref)
    fmean = precision * recall / (ALPHA * precision + (1 - ALPHA) * recall)
    penalty = GAMMA * (_chunks(matches) / m) ** BETA
    return (1 - penalty) * fmean


class Meteor(Metric):
    """Mean over items of the best METEOR across references (nltk's ``meteor_score``)."""

    outputs = ("meteor",)

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        return [
            [max(meteor(item.hyp.tokens, r.tokens, item.hyp.keys, r.keys) for r in item.refs), 1.0]
            for item in items
        ]

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {"meteor": (mean_or_none(total[0], total[1]), int(total[1]))}

    def settings(self, output: str) -> str:
        return (
            f"{self.proc.signature()}|alpha:{ALPHA}|beta:{BETA:g}|gamma:{GAMMA}|stages:exact+stem"
            "|multiref:max|impl:mella-nltk-compatible"
        )
