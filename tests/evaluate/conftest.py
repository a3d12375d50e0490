"""Shared helpers for the metric tests (this folder is on sys.path, so `import sentences` works)."""

from __future__ import annotations

import pytest

from mella.evaluate.metrics import Item
from mella.evaluate.textproc import processor

LANGS = ["ar", "cs", "hu", "ko", "ru", "sr", "th", "vi"]


def make_items(lang: str, pairs: list[tuple[str, str | list[str]]]) -> list[Item]:
    """Items from (reference(s), prediction) pairs."""
    proc = processor(lang)
    items = []
    for refs, hyp in pairs:
        refs = [refs] if isinstance(refs, str) else refs
        items.append(Item(proc.process(hyp), [proc.process(r) for r in refs]))
    return items


@pytest.fixture
def items_for():
    return make_items
