"""ROUGE-L F-measure over the language's word tokens (0-1).

Google's ``rouge-score`` keeps only ``[a-z0-9]``, so Arabic, Cyrillic, Thai or Korean text scores
0 there; here the tokens come from the language's processor (lower-cased words, punctuation
dropped), and the score equals rouge-score's ``rougeL`` fmeasure fed the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from mella.evaluate.metrics.base import Item, Metric, mean_or_none


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Crochemore et al. 2001).

    Bit i of ``v`` is 0 where a[i] ends a match of the current LCS row, so one big-int update
    per token of ``b`` replaces a row of the O(len(a) * len(b)) table.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """ROUGE-L F1 of one pair (0 when either side is empty, as rouge-score does)."""
    lcs = lcs_length(ref, hyp)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(hyp), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


class RougeL(Metric):
    """Mean over items of the best ROUGE-L F1 across references (rouge-score's ``score_multi``)."""

    outputs = ("rougeL",)

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        return [[max(rouge_l(item.hyp.tokens, r.tokens) for r in item.refs), 1.0] for item in items]

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {"rougeL": (mean_or_none(total[0], total[1]), int(total[1]))}

    def settings(self, output: str) -> str:
        return f"{self.proc.signature()}|f:1|multiref:max|impl:mella-lcs"
