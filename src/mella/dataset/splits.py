"""Split assignment over image groups, and mixing of the train split; pure functions over counts.

Every group (images linked by sha256, pHash or domain, :mod:`mella.dataset.groups`) goes to exactly one
split, so no image is in two splits. Targets are per cell (language, source): ``size < 1`` is a fraction
of the cell's candidates, ``size >= 1`` a count. Groups are visited in a seeded random order and a group
goes to ``test`` when every cell it touches stays within its test target and one of them still needs
samples, else likewise to ``validation``, else to ``train``. The result is deterministic under the seed and
never exceeds a target; a group too big for the remaining room goes to train.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from mella.filter.text import key64

SPLITS = ("train", "validation", "test")
HELD_OUT = ("test", "validation")  # filled in this order

Cell = tuple[str, str]  # (lang, source)


def target(size: float, n: int) -> int:
    """Samples a held-out split gets from a cell of ``n`` candidates."""
    if size <= 0 or n <= 0:
        return 0
    return min(n, int(size)) if size >= 1 else int(round(size * n))


def assign_splits(group_cells: dict[str, Counter], sizes: dict[str, float], seed: int,
                  fixed: dict[str, str] | None = None) -> dict[str, str]:
    """The split of every group. ``group_cells``: group -> samples per cell; ``fixed``: groups already placed."""
    totals: Counter = Counter()
    for cells in group_cells.values():
        totals.update(cells)
    targets = {split: {c: target(sizes.get(split, 0), n) for c, n in totals.items()} for split in HELD_OUT}
    filled = {split: Counter() for split in HELD_OUT}
    out: dict[str, str] = {}
    for g, split in (fixed or {}).items():
        if g in group_cells:
            out[g] = split
            if split in filled:
                filled[split].update(group_cells[g])
    for g in sorted((g for g in group_cells if g not in out), key=lambda g: key64(str(seed), "group", g)):
        out[g] = _choose(group_cells[g], targets, filled)
    return out


def _choose(cells: Counter, targets: dict, filled: dict) -> str:
    for split in HELD_OUT:
        fits = all(filled[split][c] + n <= targets[split][c] for c, n in cells.items())
        needed = any(filled[split][c] < targets[split][c] for c in cells)
        if fits and needed:
            filled[split].update(cells)
            return split
    return "train"


def merge_fixed(groups_of: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Splits of groups from a reference build; a group holding images of several splits takes the most
    held-out one (test, then validation), so nothing a reference evaluates on is trained on."""
    rank = {"test": 0, "validation": 1, "train": 2}
    out: dict[str, str] = {}
    for g, split in groups_of:
        if split in rank and (g not in out or rank[split] < rank[out[g]]):
            out[g] = split
    return out


def mix(counts: dict[Cell, int], know_ratio: float | None, max_per_lang: int | None,
        balance: str) -> dict[Cell, int]:
    """How many train samples each cell keeps: source ratio per language, then the cap, then balancing."""
    by_lang: dict[str, dict[str, int]] = defaultdict(dict)
    for (lang, source), n in counts.items():
        by_lang[lang][source] = n
    kept = {lang: _ratio(src, know_ratio) for lang, src in by_lang.items()}
    if max_per_lang is not None:
        kept = {lang: _scale(src, max_per_lang) for lang, src in kept.items()}
    if balance == "equal" and kept:
        floor = min(sum(src.values()) for src in kept.values())
        kept = {lang: _scale(src, floor) for lang, src in kept.items()}
    return {(lang, s): n for lang, src in kept.items() for s, n in src.items()}


def _ratio(src: dict[str, int], know_ratio: float | None) -> dict[str, int]:
    """Downsample the more plentiful source so know / (know + ling) == ``know_ratio``."""
    know, ling = src.get("know", 0), src.get("ling", 0)
    if know_ratio is None or not know or not ling:
        return dict(src)
    if know / (know + ling) > know_ratio:
        know = int(round(ling * know_ratio / (1 - know_ratio))) if know_ratio < 1 else know
    else:
        ling = int(round(know * (1 - know_ratio) / know_ratio)) if know_ratio > 0 else ling
    return {**src, "know": min(know, src.get("know", 0)), "ling": min(ling, src.get("ling", 0))}


def _scale(src: dict[str, int], cap: int) -> dict[str, int]:
    """Scale the sources of one language down proportionally to at most ``cap`` samples in all."""
    total = sum(src.values())
    if total <= cap:
        return dict(src)
    out = {s: n * cap // total for s, n in src.items()}
    for s in sorted(src, key=lambda s: -(src[s] * cap % total)):  # hand out the remainder, largest first
        if sum(out.values()) < cap:
            out[s] += 1
    return out
