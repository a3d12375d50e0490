"""Helpers shared by the metric tests (tests/evaluate is on sys.path through its conftest)."""

from __future__ import annotations

from evalkit_sentences import PAIRS

from mella.evaluate.metrics import Item
from mella.evaluate.textproc import processor

LANGS = ["ar", "cs", "hu", "ko", "ru", "sr", "th", "vi"]

__all__ = ["LANGS", "PAIRS", "make_items"]


def make_items(lang: str, pairs: list[tuple[str | list[str], str]]) -> list[Item]:
    """Items from (reference(s), prediction) pairs."""
    proc = processor(lang)
    items = []
    for refs, hyp in pairs:
        refs = [refs] if isinstance(refs, str) else refs
        items.append(Item(proc.process(hyp), [proc.process(r) for r in refs]))
    return items
