"""Balancing D_know's train split by a label (the alt-text's ``kind``, the culture stage's ``culture_category``).

One rule for both (docs/dataset.md#balancing-d_know): no label holds more than ``share`` of a language's D_know
train samples. The largest labels are cut down to one common cap ``C``, the largest whole number with
``C <= share * sum(min(n, C))`` over the labels' counts ``n`` (water-filling: small labels keep everything, large
ones keep ``C`` each). When the labels present cannot meet the share at all (``share * labels <= 1``, e.g. one
label only, or two labels under a share of 0.5), every label keeps as many as the smallest one: as even as the data
allows, and a language whose D_know is all one label keeps it whole. Which samples a label keeps is the seeded
rank the train mixing uses, so the choice is deterministic. Pure functions over counts, like ``splits.mix``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

# A train candidate: (seeded rank, row index), as plan._decide ranks them.
Ranked = tuple[int, int]


def share_cap(counts: Sequence[int], share: float) -> int | None:
    """The most samples one label may keep so that none holds more than ``share``; None: no cut needed."""
    counts = [n for n in counts if n > 0]
    if len(counts) <= 1 or share >= 1:
        return None
    low, high = min(counts), max(counts)
    if share * len(counts) <= 1:
        return low  # the share cannot be met by these labels: equal counts come closest

    def fits(cap: int) -> bool:
        return cap <= share * sum(min(n, cap) for n in counts) + 1e-9

    while low < high:  # feasible caps form [0, C*] (concave in cap); low is feasible, find C*
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return None if low >= max(counts) else low


def cap_labels(ranked: list[Ranked], label_of: Sequence[Hashable], share: float | None
               ) -> tuple[list[Ranked], list[Ranked]]:
    """``ranked`` (one language's train candidates) split into kept and cut, no label above ``share``.

    ``label_of[i]`` is row ``i``'s label (None is a label of its own: rows without one). Each label keeps its
    lowest-ranked samples.
    """
    if share is None or not ranked:
        return ranked, []
    by_label: dict[Hashable, list[Ranked]] = defaultdict(list)
    for item in sorted(ranked):
        by_label[label_of[item[1]]].append(item)
    cap = share_cap([len(v) for v in by_label.values()], share)
    if cap is None:
        return ranked, []
    kept = [item for items in by_label.values() for item in items[:cap]]
    cut = [item for items in by_label.values() for item in items[cap:]]
    return sorted(kept), sorted(cut)
