"""A persistent cache of model results, keyed by what determines them (image hash, model, prompt, options).

One SQLite file, shared by every stage and worker of a run (WAL mode: readers never wait for writers,
writers wait for each other). A rerun, or a second run pointed at the same cache, computes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

FILENAME = "annotate.sqlite"


def cache_key(*parts: Any) -> str:
    """A stable hex key for the JSON-serialisable ``parts`` (kind, model signature, inputs ...)."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """``get_many(keys) -> {key: value}`` and ``put_many({key: value}, kind, model)``; ``None`` path: memory only."""

    def __init__(self, folder: str | Path | None):
        self.path = Path(folder) / FILENAME if folder else None
        self._memory: dict[str, Any] = {}
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Several worker processes share the file: wait for a writer rather than fail.
            self._db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            self._setup()

    def _setup(self, attempts: int = 60) -> None:
        # Switching to WAL and creating the table take locks that SQLite may refuse at once (not after the busy
        # timeout) while another worker does the same: retry. The driver normally does this before workers start.
        for attempt in range(attempts):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, kind TEXT, "
                                 "model TEXT, value TEXT NOT NULL, created REAL)")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.1 + random.random() * 0.4)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The cached values of those ``keys`` that are present."""
        if self._db is None:
            return {k: self._memory[k] for k in keys if k in self._memory}
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self._db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put_many(self, values: dict[str, Any], kind: str, model: str) -> None:
        """Store ``values`` in one transaction (a killed worker leaves whole batches or nothing)."""
        if not values:
            return
        if self._db is None:
            self._memory.update(values)
            return
        now = time.time()
        rows = [(k, kind, model, json.dumps(v, ensure_ascii=False), now) for k, v in values.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        if self._db is None:
            return len(self._memory)
        return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
