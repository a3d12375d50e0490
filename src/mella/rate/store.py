"""The judgements of a rating study: one SQLite file in the run folder (``<run_dir>/rate/judgements.sqlite``).

Written as raters work: every :meth:`RatingStore.record` is its own committed transaction in WAL mode with
``synchronous=FULL``, so a judgement is on disk when the call returns and survives a killed server or a closed
tab. Items are added idempotently (their id is a hash of what they are), so building the study again never
duplicates nor loses anything, and a rater resumes at the first item they have not finished.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.rate.scales import QUESTIONS, VALUES
from mella.rate.tasks import Item

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, lang TEXT NOT NULL,
    sample_id TEXT NOT NULL, image_key TEXT, prompt TEXT NOT NULL, text TEXT NOT NULL, source_text TEXT NOT NULL,
    output_a TEXT, output_b TEXT, system_a TEXT, system_b TEXT);
CREATE INDEX IF NOT EXISTS items_by_study ON items (lang, kind, seq);
CREATE TABLE IF NOT EXISTS raters (rater_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, rater_id TEXT NOT NULL REFERENCES raters, csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS judgements (
    rater_id TEXT NOT NULL REFERENCES raters, item_id TEXT NOT NULL REFERENCES items, question TEXT NOT NULL,
    value TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '', shown_a TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (rater_id, item_id, question));
"""

MAX_NAME = 200
MAX_COMMENT = 10_000


def default_path(run_dir: str | Path) -> Path:
    """Where a run's judgements live."""
    return Path(run_dir) / "rate" / "judgements.sqlite"


def _item(row: sqlite3.Row) -> Item:
    pair = row["system_a"] is not None
    return Item(item_id=row["item_id"], kind=row["kind"], lang=row["lang"], sample_id=row["sample_id"],
                image_key=row["image_key"], prompt=row["prompt"], text=row["text"], source_text=row["source_text"],
                outputs=(row["output_a"], row["output_b"]) if pair else None,
                systems=(row["system_a"], row["system_b"]) if pair else None)


class RatingStore:
    """Items, raters, sessions and judgements of one study. Safe to share between threads (one lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise MellaError(f"{self.path}: not a usable rating store ({exc})") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RatingStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, params: tuple | list = ()) -> sqlite3.Cursor:
        """One statement in its own transaction, committed (and, with synchronous=FULL, synced) on return."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return cur

    def _read(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- items -------------------------------------------------------------------------------------

    def add_items(self, items: list[Item]) -> int:
        """Add the items not yet in the store (by id), after those already there; returns how many were new."""
        for it in items:
            if it.kind not in QUESTIONS:
                raise MellaError(f"item {it.item_id}: unknown kind {it.kind!r}; known: {', '.join(QUESTIONS)}")
            if (it.kind == "pairwise") != (it.systems is not None and it.outputs is not None):
                raise MellaError(f"item {it.item_id}: a pairwise item has two outputs and two systems, others none")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute("SELECT COALESCE(MAX(seq), -1) FROM items").fetchone()[0]
                added = 0
                for it in items:
                    out_a, out_b = it.outputs or (None, None)
                    sys_a, sys_b = it.systems or (None, None)
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (it.item_id, seq + 1 + added, it.kind, it.lang, it.sample_id, it.image_key, it.prompt,
                         it.text, it.source_text, out_a, out_b, sys_a, sys_b))
                    added += cur.rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return added

    def items(self, lang: str | None = None, kind: str | None = None) -> list[Item]:
        """The items (optionally of one language and kind) in the order they were added."""
        where, params = self._filter(lang=lang, kind=kind)
        return [_item(r) for r in self._read(f"SELECT * FROM items {where} ORDER BY seq", params)]

    def item(self, item_id: str) -> Item | None:
        rows = self._read("SELECT * FROM items WHERE item_id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    @staticmethod
    def _filter(**conditions: Any) -> tuple[str, list[Any]]:
        used = {k: v for k, v in conditions.items() if v is not None}
        where = " AND ".join(f"{k} = ?" for k in used)
        return (f"WHERE {where}" if where else ""), list(used.values())

    # -- raters and sessions -----------------------------------------------------------------------

    def rater(self, name: str) -> str:
        """The id of the rater called ``name`` (created on first use); names are trimmed, never empty."""
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise MellaError(f"a rater name is 1 to {MAX_NAME} printable characters, not {name[:40]!r}")
        rows = self._read("SELECT rater_id FROM raters WHERE name = ?", (name,))
        if rows:
            return rows[0][0]
        rater_id = "r-" + secrets.token_hex(6)
        self._write("INSERT OR IGNORE INTO raters VALUES (?,?,?)", (rater_id, name, time.time()))
        return self._read("SELECT rater_id FROM raters WHERE name = ?", (name,))[0][0]

    def rater_name(self, rater_id: str) -> str | None:
        rows = self._read("SELECT name FROM raters WHERE rater_id = ?", (rater_id,))
        return rows[0][0] if rows else None

    def new_session(self, rater_id: str) -> tuple[str, str]:
        """A new (session id, CSRF token) for the rater, stored so a restarted server still knows it."""
        if self.rater_name(rater_id) is None:
            raise MellaError(f"no rater with id {rater_id!r}")
        session_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._write("INSERT INTO sessions VALUES (?,?,?,?)", (session_id, rater_id, csrf, time.time()))
        return session_id, csrf

    def session(self, session_id: str) -> tuple[str, str] | None:
        """(rater id, CSRF token) of a session, or None for an unknown one."""
        rows = self._read("SELECT rater_id, csrf_token FROM sessions WHERE session_id = ?", (session_id or "",))
        return (rows[0][0], rows[0][1]) if rows else None

    # -- judgements --------------------------------------------------------------------------------

    def record(self, rater_id: str, item_id: str, question: str, value: str, comment: str = "") -> None:
        """Store (or replace) the rater's answer to one question of one item; committed before it returns.

        ``value`` is one of the question's values (``"1"``..``"5"``; pairwise ``"A"``, ``"tie"``, ``"B"`` as shown
        on screen); the pairwise item's system shown as A is stored with it.
        """
        it = self.item(item_id)
        if it is None:
            raise MellaError(f"no item {item_id!r} in {self.path}")
        if question not in QUESTIONS[it.kind]:
            raise MellaError(f"item {item_id} ({it.kind}) has no question {question!r}; "
                             f"its questions: {', '.join(QUESTIONS[it.kind])}")
        value = str(value)
        if value not in VALUES[question]:
            raise MellaError(f"{question}: value {value!r} is not one of {', '.join(VALUES[question])}")
        if self.rater_name(rater_id) is None:
            raise MellaError(f"no rater with id {rater_id!r}")
        comment = (comment or "")[:MAX_COMMENT]
        now = time.time()
        self._write(
            "INSERT INTO judgements VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (rater_id, item_id, question) DO UPDATE "
            "SET value = excluded.value, comment = excluded.comment, shown_a = excluded.shown_a, "
            "updated_at = excluded.updated_at",
            (rater_id, item_id, question, value, comment, it.systems[0] if it.systems else None, now, now))

    def judgements(self, lang: str | None = None) -> list[dict[str, Any]]:
        """Every judgement (optionally of one language) with its item's kind, language, sample and systems.

        Keys: rater, rater_name, item_id, kind, lang, sample_id, question, value, comment, shown_a, shown_b,
        created_at, updated_at (seconds since the epoch).
        """
        where, params = ("WHERE i.lang = ?", [lang]) if lang is not None else ("", [])
        rows = self._read(
            "SELECT j.rater_id AS rater, r.name AS rater_name, j.item_id, i.kind, i.lang, i.sample_id, j.question, "
            "j.value, j.comment, j.shown_a, i.system_b AS shown_b, j.created_at, j.updated_at "
            "FROM judgements j JOIN items i USING (item_id) JOIN raters r USING (rater_id) "
            f"{where} ORDER BY i.seq, r.name, j.question", params)
        out = []
        for r in rows:
            row = dict(r)
            if row["shown_a"] is None:
                row["shown_b"] = None
            out.append(row)
        return out

    def answered(self, rater_id: str, item_id: str) -> dict[str, tuple[str, str]]:
        """The rater's answers to one item: question -> (value, comment); for showing an item again."""
        rows = self._read("SELECT question, value, comment FROM judgements WHERE rater_id = ? AND item_id = ?",
                          (rater_id, item_id))
        return {r[0]: (r[1], r[2]) for r in rows}

    def done_ids(self, rater_id: str, lang: str, kind: str) -> set[str]:
        """Ids of the items of ``lang`` and ``kind`` the rater has answered every question of."""
        needed = len(QUESTIONS.get(kind, []))
        rows = self._read(
            "SELECT j.item_id FROM judgements j JOIN items i USING (item_id) "
            "WHERE j.rater_id = ? AND i.lang = ? AND i.kind = ? GROUP BY j.item_id HAVING COUNT(*) >= ?",
            (rater_id, lang, kind, needed))
        return {r[0] for r in rows}

    def next_item(self, rater_id: str, lang: str, kind: str) -> Item | None:
        """The first item (in the order added) of ``lang`` and ``kind`` whose questions the rater has not all
        answered; None when they are done."""
        done = self.done_ids(rater_id, lang, kind)
        return next((it for it in self.items(lang, kind) if it.item_id not in done), None)

    def progress(self, rater_id: str, lang: str, kind: str) -> tuple[int, int]:
        """(items the rater has answered every question of, items) for ``lang`` and ``kind``."""
        total = self._read("SELECT COUNT(*) FROM items WHERE lang = ? AND kind = ?", (lang, kind))[0][0]
        return len(self.done_ids(rater_id, lang, kind)), total
