"""Image groups for leakage-free splits: images that must land in the same split.

Two images are in one group when they have the same sha256 (one picture under two URLs), when their
perceptual hashes differ in at most ``distance`` bits (a resized or re-encoded copy), or, optionally, when
they come from the same domain. Groups are the connected components of these links (union-find).

Near neighbours are found by multi-index hashing: the 64 bits are cut into ``distance + 1`` bands; two
hashes within ``distance`` bits agree exactly on at least one band (pigeonhole), so only hashes that share a
band value are compared. Memory is a few numpy arrays over the distinct images (about 40 bytes each);
a band value shared by more than ``max_bucket`` images (blank or single-colour images hash alike) is
compared within a sliding window of the sorted hashes, which bounds the work at the price of maybe
missing a link inside such a degenerate bucket.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    """Union-find over ``n`` integer nodes with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def union_runs(self, labels: np.ndarray) -> None:
        """Join every node with the other nodes of the same (non-negative) label."""
        order = np.argsort(labels, kind="stable")
        ordered = labels[order]
        same = (ordered[1:] == ordered[:-1]) & (ordered[1:] >= 0)
        for i in np.flatnonzero(same):
            self.union(int(order[i]), int(order[i + 1]))

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def parse_phash(values: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes from 16-hex strings, and a mask of the rows that had one."""
    out = np.zeros(len(values), dtype=np.uint64)
    ok = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v:
            try:
                out[i] = np.uint64(int(v, 16))
                ok[i] = True
            except ValueError:  # a malformed hash links nothing
                pass
    return out, ok


def bands(distance: int) -> list[tuple[int, int]]:
    """(shift, width) of the ``distance + 1`` bands covering 64 bits."""
    n = distance + 1
    widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
    shifts = np.cumsum([0] + widths[:-1]).tolist()
    return list(zip(shifts, widths, strict=True))


def link_near(uf: UnionFind, hashes: np.ndarray, valid: np.ndarray, distance: int,
              max_bucket: int = 256) -> int:
    """Join images whose hashes differ in at most ``distance`` bits; returns how many links were made."""
    if distance < 0:
        return 0
    idx = np.flatnonzero(valid)
    links = 0
    for shift, width in bands(distance):
        mask = np.uint64((1 << width) - 1)
        band = (hashes[idx] >> np.uint64(shift)) & mask
        order = np.lexsort((hashes[idx], band))
        ordered_band = band[order]
        starts = np.flatnonzero(np.r_[True, ordered_band[1:] != ordered_band[:-1], True])
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            if b - a > 1:
                links += _link_bucket(uf, idx[order[a:b]], hashes, distance, max_bucket)
    return links


def _link_bucket(uf: UnionFind, members: np.ndarray, hashes: np.ndarray, distance: int, window: int) -> int:
    """Compare the members of one band bucket (sorted by hash), each with the next ``window`` members."""
    links = 0
    h = hashes[members]
    for offset in range(1, min(window, len(members) - 1) + 1):
        close = np.bitwise_count(h[offset:] ^ h[:-offset]) <= distance
        for i in np.flatnonzero(close):
            uf.union(int(members[i]), int(members[i + offset]))
            links += 1
    return links


def labels(values) -> np.ndarray:
    """Dense labels of hashable values; missing values (None, "") get -1 and link nothing."""
    ids: dict = {}
    return np.array([ids.setdefault(v, len(ids)) if v else -1 for v in values], dtype=np.int64)


def image_groups(sha: np.ndarray, phash: list[str | None], domain: np.ndarray | None, distance: int) -> np.ndarray:
    """The group (a root image index) of every distinct image.

    ``sha`` and ``domain`` are :func:`labels` per image (equal labels link); ``phash`` the 16-hex hashes.
    """
    uf = UnionFind(len(sha))
    uf.union_runs(sha)
    hashes, ok = parse_phash(phash)
    link_near(uf, hashes, ok, distance)
    if domain is not None:
        uf.union_runs(domain)
    return uf.roots()
