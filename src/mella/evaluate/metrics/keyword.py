"""Keyword accuracy: the share of the reference's keywords that the prediction contains (0-1).

Keywords are the sample's explicit ``keywords`` (the keywords stage's culture spans, carried by build and
predict) when it has them, else the reference's content words (tokens that are not stop words and have at
least ``keyword_min_chars`` letters); the signature says which (``kw:keywords``, ``kw:content-words``, or the
counts of both in a group that mixes them). A keyword is present when its match key (Snowball stem, or the
token itself where the language has no stemmer) is one of the prediction's keys; a multi-word keyword needs
its keys as a contiguous run. Whole tokens only: "kolo" never matches inside "okolo". See docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from mella.evaluate.metrics.base import Item, Metric, mean_or_none
from mella.evaluate.textproc import Text, TextProcessor


def reference_keywords(ref: Text, proc: TextProcessor) -> list[tuple[str, ...]]:
    """The content-word keys of a reference, deduplicated in order of appearance."""
    seen: dict[tuple[str, ...], None] = {}
    for token, key in zip(ref.tokens, ref.keys, strict=True):
        if proc.is_content_word(token):
            seen.setdefault((key,), None)
    return list(seen)


def content_keys(text: Text, proc: TextProcessor) -> tuple[str, ...]:
    """The match keys of ``text``'s content words (all its keys when it has none): what naming it takes."""
    keys = tuple(k for t, k in zip(text.tokens, text.keys, strict=True) if proc.is_content_word(t))
    return keys or tuple(text.keys)


def keyword_source_label(explicit: int, content: int) -> str:
    """The signature's ``kw:`` field: where the group's keywords came from (items counted by source)."""
    if explicit and content:
        return f"keywords={explicit}+content-words={content}"
    return "keywords" if explicit else "content-words" if content else "none"


def explicit_keywords(keywords: Sequence[Text]) -> list[tuple[str, ...]]:
    """Key sequences of explicit keywords (a keyword may be several words), deduplicated."""
    return list(dict.fromkeys(tuple(k.keys) for k in keywords if k.keys))


def _contains(keys: Sequence[str], key_set: set[str], keyword: tuple[str, ...]) -> bool:
    if len(keyword) == 1:
        return keyword[0] in key_set
    n = len(keyword)
    return any(tuple(keys[i:i + n]) == keyword for i in range(len(keys) - n + 1))


def keyword_hits(hyp: Text, keywords: list[tuple[str, ...]]) -> int:
    """How many of ``keywords`` occur in the prediction."""
    key_set = set(hyp.keys)
    return sum(_contains(hyp.keys, key_set, k) for k in keywords)


class KeywordAccuracy(Metric):
    """Macro mean over samples with keywords, and the micro rate over all keywords.

    Item stats are ``[accuracy, has_keywords, hits, keywords]``; with several references
    (and no explicit keywords) the reference giving the best accuracy counts.
    """

    outputs = ("keyword_accuracy", "keyword_accuracy_micro")

    def __init__(self, proc: TextProcessor):
        super().__init__(proc)
        self.sources = (0, 0)  # items scored on explicit keywords, on content words (set by stats)

    def _item(self, item: Item) -> list[float]:
        if item.keywords:
            sets = [explicit_keywords(item.keywords)]
        else:
            sets = [reference_keywords(r, self.proc) for r in item.refs]
        best = [0.0, 0.0, 0.0, 0.0]
        for keywords in sets:
            if keywords:
                hits = keyword_hits(item.hyp, keywords)
                row = [hits / len(keywords), 1.0, float(hits), float(len(keywords))]
                if row[0] > best[0] or not best[1]:
                    best = row
        return best

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        rows = [self._item(item) for item in items]
        explicit = sum(1 for item, row in zip(items, rows, strict=True) if row[1] and item.keywords)
        self.sources = (explicit, sum(1 for row in rows if row[1]) - explicit)
        return rows

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {
            "keyword_accuracy": (mean_or_none(total[0], total[1]), int(total[1])),
            "keyword_accuracy_micro": (mean_or_none(total[2], total[3]), int(total[3])),
        }

    def item_scores(self, row) -> dict[str, float | None]:
        return {"keyword_accuracy": row[0] if row[1] else None,
                "keyword_hits": int(row[2]), "keyword_total": int(row[3])}

    def settings(self, output: str) -> str:
        agg = "macro" if output == "keyword_accuracy" else "micro"
        return (
            f"{self.proc.signature()}|stopwords:{self.proc.stopwords_label}|min_chars:{self.proc.min_chars}"
            f"|kw:{keyword_source_label(*self.sources)}|match:key-in-prediction|agg:{agg}|multiref:max"
        )
