"""Re-running parts of a fetch output for their transient failures, reusing what they already have.

`reopen_transient(stage_dir)` finds committed parts with a transient failure (timeout, connection
error, 429, 5xx) among their dropped rows and un-commits them: the marker goes first, then the part's
files move to `_retry/`. The executor then sees those parts as pending and runs them again; each run
takes its images and permanent failures from `_retry/` (no new request) and downloads only the rest.

Every step is a rename, so a kill at any moment leaves either a committed part or a pending part whose
previous files sit under `_retry/` or, at worst, still under their final names: :func:`adopt_previous`
moves those aside when the part starts. A kill inside `PartWriter.commit` (files renamed, marker not yet
written) leaves the same state, so that part's finished work is reused too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mella.fetch.downloader import is_transient
from mella.runstore import StageDir

RETRY_DIR = "_retry"


def _files(stage_dir: StageDir, part: str) -> list[tuple[Path, Path]]:
    """(final path, path under _retry/) of a part's kept rows, tar and dropped rows."""
    retry = stage_dir.path / RETRY_DIR
    return [(stage_dir.path / f"{part}.parquet", retry / f"{part}.parquet"),
            (stage_dir.path / f"{part}.tar", retry / f"{part}.tar"),
            (stage_dir.dropped_dir / f"{part}.parquet", retry / f"{part}.dropped.parquet")]


def transient_parts(stage_dir: StageDir) -> list[str]:
    """Committed parts whose dropped rows hold a transient failure."""
    import pyarrow.parquet as pq

    found = []
    for part_file in stage_dir.committed_part_files():
        dropped = stage_dir.dropped_dir / part_file.name
        if dropped.exists():
            reasons = pq.read_table(dropped, columns=["drop_reason"])["drop_reason"].unique().to_pylist()
            if any(is_transient(r) for r in reasons):
                found.append(part_file.stem)
    return found


def reopen(stage_dir: StageDir, part: str) -> None:
    """Un-commit one part, keeping its files under _retry/ for the next attempt to reuse."""
    (stage_dir.path / f"{part}._SUCCESS").unlink(missing_ok=True)
    (stage_dir.path / "_SUCCESS").unlink(missing_ok=True)
    adopt_previous(stage_dir, part)


def reopen_transient(stage_dir: StageDir | str | os.PathLike) -> list[str]:
    """Un-commit every part with transient failures; returns their names."""
    stage_dir = stage_dir if isinstance(stage_dir, StageDir) else StageDir(stage_dir)
    if not stage_dir.path.is_dir():
        return []
    parts = transient_parts(stage_dir)
    for part in parts:
        reopen(stage_dir, part)
    return parts


def adopt_previous(stage_dir: StageDir, part: str) -> None:
    """Move a not-committed part's leftover final files under _retry/ (they are its previous attempt)."""
    (stage_dir.path / RETRY_DIR).mkdir(exist_ok=True)
    for final, retry in _files(stage_dir, part):
        if final.exists():
            os.replace(final, retry)


def clear_retry(stage_dir: StageDir, committed: set[str]) -> None:
    """Delete _retry/ files of parts that have committed since (their new files replace them)."""
    retry = stage_dir.path / RETRY_DIR
    if retry.is_dir():
        for path in retry.iterdir():
            if path.name.split(".", 1)[0] in committed:
                path.unlink()


@dataclass
class Previous:
    """What an earlier attempt at a part found, by image key: row fields, and where ok images lie."""

    tar: Path | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reusable(self, key: str) -> dict[str, Any] | None:
        """The earlier result for `key` unless it failed transiently (then it is downloaded again)."""
        found = self.results.get(key)
        if found is None or is_transient(found.get("status")):
            return None
        if found.get("status") == "ok" and self.tar is None:
            return None
        return found

    def image_bytes(self, found: dict[str, Any]) -> bytes:
        """The stored image of an earlier ok result."""
        from mella.fetch.wds import read_at

        return read_at(self.tar, found["tar_offset"], found["tar_size"])


def load_previous(stage_dir: StageDir, part: str, columns: list[str]) -> Previous:
    """The earlier attempt at `part` from _retry/ (empty when there was none)."""
    import pyarrow.parquet as pq

    kept, tar, dropped = (retry for _, retry in _files(stage_dir, part))
    prev = Previous(tar=tar if tar.exists() else None)
    for path in (dropped, kept):  # kept last: an ok result wins over a failure of the same key
        if path.exists():
            names = [c for c in columns if c in pq.read_schema(path).names]
            for row in pq.read_table(path, columns=names).to_pylist():
                prev.results[row["key"]] = row
    return prev
