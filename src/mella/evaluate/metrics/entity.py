"""Entity accuracy: the share of samples with entity keywords whose prediction names every one of them (0-1).

A sample's entities are its explicit ``keywords`` whose ``keyword_kinds`` entry is ``entity`` (the keywords stage
writes them; build and predict carry them). A prediction names an entity when every content word of the entity
span is among the prediction's match keys, with the keyword metric's processing (NFC, script folding, the
language's words and Snowball stems): "собора Василия Блаженного" names "Собор Василия Блаженного", "Храм
Светог Саве" is named by "Hram Svetog Save". Unlike a multi-word keyword, the words need not be contiguous or in
order ("Собор Святого Василия Блаженного" names it too): an entity is named, not quoted. See docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from mella.evaluate.metrics.base import Item, Metric, mean_or_none
from mella.evaluate.metrics.keyword import content_keys


def entity_keys(item: Item, proc) -> list[tuple[str, ...]]:
    """The content-word keys of the item's entity keywords, deduplicated (empty spans left out)."""
    if not item.keywords or not item.keyword_kinds:
        return []
    spans = (content_keys(k, proc) for k, kind in zip(item.keywords, item.keyword_kinds, strict=True)
             if kind == "entity")
    return list(dict.fromkeys(s for s in spans if s))


class EntityAccuracy(Metric):
    """Share of items with entity keywords whose prediction names all of them; items without entities skip.

    Item stats are ``[named, has_entities]``; the item column is ``entity_named`` (1, 0 or null).
    """

    outputs = ("entity_accuracy",)

    def _item(self, item: Item) -> list[float]:
        entities = entity_keys(item, self.proc)
        if not entities:
            return [0.0, 0.0]
        keys = set(item.hyp.keys)
        return [float(all(set(e) <= keys for e in entities)), 1.0]

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        return [self._item(item) for item in items]

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {"entity_accuracy": (mean_or_none(total[0], total[1]), int(total[1]))}

    def item_scores(self, row) -> dict[str, float | None]:
        return {"entity_named": row[0] if row[1] else None}

    def settings(self, output: str) -> str:
        return (f"{self.proc.signature()}|stopwords:{self.proc.stopwords_label}|min_chars:{self.proc.min_chars}"
                "|entities:keyword_kinds|match:all-content-keys|agg:macro")
