"""Exact (sha256) and near (pHash Hamming distance) duplicate images across the whole fetch run.

One SQLite file, `<stage>/_global/images.sqlite`, shared by every worker process: each kept image is
claimed there under its part's name, in one write transaction, so two workers never both keep copies
of one image. Memory stays bounded: the index lives on disk and near duplicates are found with
multi-index hashing (a 64-bit hash cut into `distance + 1` bands: two hashes within `distance` bits
agree exactly on at least one band, so only rows sharing a band are compared).

Entries of parts that never committed (a killed run, a part re-run for transient failures) are
forgotten by :meth:`HashIndex.forget_uncommitted` before the parts run again, so a rerun cannot
mistake an image for a copy of itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BITS = 64


def bands(distance: int) -> list[tuple[int, int]]:
    """(shift, width) of the `distance + 1` bands a 64-bit hash is cut into."""
    n = distance + 1
    widths = [BITS // n + (1 if i < BITS % n else 0) for i in range(n)]
    out, shift = [], 0
    for w in widths:
        out.append((shift, w))
        shift += w
    return out


def _signed(h: int) -> int:
    # SQLite integers are signed 64-bit.
    return h - (1 << 64) if h >= 1 << 63 else h


class HashIndex:
    """Claims of kept images: `claim(part, key, sha256, phash)` -> None (kept) or (reason, key kept before)."""

    def __init__(self, path: str | Path = ":memory:", near_distance: int = 4):
        self.near_distance = near_distance
        self.bands = bands(near_distance) if near_distance >= 0 else []
        # Busy waits, not errors, when another worker holds the write lock.
        self.db = sqlite3.connect(str(path), timeout=120, isolation_level=None)
        if str(path) != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self._create()

    def _create(self) -> None:
        cols = "".join(f", b{i} INTEGER" for i in range(len(self.bands)))
        # scope: duplicates are looked for within one scope (a language, or "" for the whole run).
        self.db.execute(f"CREATE TABLE IF NOT EXISTS images (scope TEXT, sha256 TEXT, phash INTEGER, part TEXT,"
                        f" key TEXT{cols}, PRIMARY KEY (scope, sha256))")
        self.db.execute("CREATE INDEX IF NOT EXISTS images_part ON images (part)")
        for i in range(len(self.bands)):
            self.db.execute(f"CREATE INDEX IF NOT EXISTS images_b{i} ON images (b{i})")

    def _band_values(self, h: int) -> list[int]:
        return [(h >> shift) & ((1 << width) - 1) for shift, width in self.bands]

    def claim(self, part: str, key: str, sha256: str, phash: str | None, scope: str = "") -> tuple[str, str] | None:
        """Keep this image (None) or say which kept image of ``scope`` it copies: ("duplicate" | "near_duplicate", key)."""
        h = int(phash, 16) if phash else None
        self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: check-then-insert is atomic
        try:
            found = self._find(scope, sha256, h)
            if found is None:
                self._insert(scope, part, key, sha256, h)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return found

    def _find(self, scope: str, sha256: str, h: int | None) -> tuple[str, str] | None:
        row = self.db.execute("SELECT key FROM images WHERE scope = ? AND sha256 = ?", (scope, sha256)).fetchone()
        if row:
            return "duplicate", row[0]
        if h is None or not self.bands:
            return None
        where = " OR ".join(f"b{i} = ?" for i in range(len(self.bands)))
        rows = self.db.execute(f"SELECT key, phash FROM images WHERE scope = ? AND ({where})",
                               [scope, *self._band_values(h)])
        mask = (1 << BITS) - 1
        best = min((((h ^ (p & mask)).bit_count(), k) for k, p in rows), default=None)
        if best is not None and best[0] <= self.near_distance:
            return "near_duplicate", best[1]
        return None

    def _insert(self, scope: str, part: str, key: str, sha256: str, h: int | None) -> None:
        values = self._band_values(h) if h is not None else [None] * len(self.bands)
        marks = ", ?" * len(values)
        self.db.execute(f"INSERT INTO images VALUES (?, ?, ?, ?, ?{marks})",
                        [scope, sha256, _signed(h) if h is not None else None, part, key, *values])

    def forget_uncommitted(self, committed: set[str]) -> int:
        """Drop the claims of every part not in `committed`; returns how many were dropped."""
        parts = [r[0] for r in self.db.execute("SELECT DISTINCT part FROM images")]
        stale = [p for p in parts if p not in committed]
        for p in stale:
            self.db.execute("DELETE FROM images WHERE part = ?", (p,))
        return len(stale)

    def forget_part(self, part: str) -> None:
        """Drop one part's claims (it is about to be written again)."""
        self.db.execute("DELETE FROM images WHERE part = ?", (part,))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
