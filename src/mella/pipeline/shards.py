"""Input resolution: files, globs, folders and URLs become an ordered list of shards.

Shard ``i`` of a stage's input becomes part ``i`` of its output, so the mapping is deterministic
and a rerun knows which parts are already done. A folder written by a previous stage is read as
that stage's committed parts.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mella.errors import InputError, MellaError
from mella.paths import REMOTE_PREFIXES

ROW_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson", ".json")


@dataclass(frozen=True, order=True)
class Shard:
    """One unit of input: a local path or a remote URL."""

    uri: str

    @property
    def is_remote(self) -> bool:
        return self.uri.startswith(REMOTE_PREFIXES)

    @property
    def name(self) -> str:
        return os.path.basename(self.uri.rstrip("/"))


def is_stage_output(path: Path) -> bool:
    """A folder mella wrote (stats.json or part markers), as opposed to a folder of files made by hand."""
    return path.is_dir() and ((path / "stats.json").exists() or any(path.glob("part-*._SUCCESS")))


def _stage_parts(folder: Path) -> list[Path]:
    from mella.runstore import StageDir

    return StageDir(folder).committed_part_files(strict=True)


def expand_input(item: str, reads: str) -> list[str]:
    """The files (or URL) one input item stands for: a stage output's committed parts, a folder's files, a glob."""
    if item.startswith("cc:") and reads != "files":
        raise MellaError(f"input {item}: a Common Crawl crawl is read by collect (cc:<crawl>), not by a stage "
                         "that reads rows")
    if item.startswith(REMOTE_PREFIXES):
        return [item]
    path = Path(item)
    if path.is_dir():
        if is_stage_output(path):
            return [str(p) for p in _stage_parts(path)]
        # Skip hidden files and `_`/`.` folders (another tool's markers, dropped rows).
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and not any(d.startswith(("_", ".")) for d in p.relative_to(path).parts[:-1]))
        if reads == "rows":
            files = [p for p in files if p.name.endswith(ROW_SUFFIXES)]
        if not files:
            raise MellaError(f"input folder {item} holds no {'row files' if reads == 'rows' else 'files'}")
        return [str(p) for p in files]
    if any(ch in item for ch in "*?["):
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            raise MellaError(f"input pattern {item} matches no file")
        return [m for m in matches if os.path.isfile(m)]
    if path.is_file():
        return [item]
    raise MellaError(f"input {item} does not exist")


def check_inputs(items: list[str], reads: str = "rows") -> list[str]:
    """Every problem with ``items`` (missing files, empty globs ...), without raising."""
    if reads == "folder":  # steps read whole folders (or files) as they are
        return [f"input {i} does not exist" for i in items
                if not i.startswith(REMOTE_PREFIXES) and not any(ch in i for ch in "*?[") and not Path(i).exists()]
    problems = []
    for item in items:
        try:
            expand_input(item, reads)
        except MellaError as exc:
            problems.append(str(exc))
    return problems


def resolve_inputs(items: list[str], reads: str = "rows") -> list[Shard]:
    """Expand files, globs, folders and URLs into shards: sorted within each item, duplicates removed."""
    if not items:
        raise MellaError("no input given")
    problems = check_inputs(items, reads)
    if problems:
        raise MellaError("; ".join(problems))
    seen: dict[str, None] = {}
    for item in items:
        for uri in expand_input(item, reads):
            seen.setdefault(uri, None)
    return [Shard(uri) for uri in seen]


def read_rows(shard: Shard, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Stream rows of a parquet or JSONL shard in batches of at most ``batch_size`` (bounded memory)."""
    uri = shard.uri
    if uri.endswith(".parquet"):
        for batch in parquet_batches(uri, batch_size):
            yield batch.to_pylist()
        return
    if uri.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):  # .json: one object per line
        try:
            yield from _jsonl_rows(uri, batch_size)
        except (UnicodeDecodeError, EOFError, OSError) as exc:  # not UTF-8, a cut or corrupt gzip stream
            raise InputError(f"{uri}: cannot read JSON lines ({_first_line(exc)})") from None
        return
    raise MellaError(f"{uri}: cannot read rows from this file type (use {', '.join(ROW_SUFFIXES)})")


def parquet_batches(uri: str, batch_size: int, columns: list[str] | None = None) -> Iterator[Any]:
    """Record batches of a parquet file; an unreadable file (footer or any page) is an :class:`InputError`."""
    import pyarrow.parquet as pq

    with parquet_errors(uri):
        pf = pq.ParquetFile(uri)
    with pf:
        batches = pf.iter_batches(batch_size=batch_size, columns=columns)
        while True:
            with parquet_errors(uri):  # a page can be corrupt behind a sound footer
                batch = next(batches, None)
            if batch is None:
                return
            yield batch


def jsonl_objects(uri: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of a JSON lines file (``.gz`` too); one-line errors
    naming the file and line for a line that is not a JSON object."""
    uri = str(uri)
    opener = gzip.open if uri.endswith(".gz") else open
    with opener(uri, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MellaError(f"{uri}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise MellaError(f"{uri}:{lineno}: expected a JSON object per line")
            yield lineno, row


def _jsonl_rows(uri: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for _, row in jsonl_objects(uri):
        batch.append(row)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def input_schema(shard: Shard):
    """The Arrow schema of a parquet shard, or None for formats without one."""
    if shard.uri.endswith(".parquet"):
        return parquet_schema(shard.uri)
    return None


# -- parquet files that cannot be read: one line naming the file and the stage that wrote it -------------
def parquet_schema(path: str | os.PathLike):
    """The Arrow schema of a parquet file (its footer only); an unreadable file is an :class:`InputError`."""
    import pyarrow.parquet as pq

    with parquet_errors(path):
        return pq.read_schema(path)


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None):
    """A whole parquet file (or some of its columns) as a table; an unreadable file is an :class:`InputError`."""
    import pyarrow.parquet as pq

    with parquet_errors(path):
        return pq.read_table(path, columns=columns)


@contextmanager
def parquet_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn pyarrow's errors about an unreadable parquet file into one line naming it and its writer."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise unreadable_parquet(path, exc) from None


def unreadable_parquet(path: str | os.PathLike, exc: BaseException) -> InputError:
    """The error for a parquet file that cannot be read: the file, pyarrow's reason, and what to do."""
    return InputError(f"{path}: not a readable parquet file ({_first_line(exc)}); {_written_by(Path(path))}")


def stage_that_wrote(folder: str | os.PathLike) -> str | None:
    """The stage named in ``folder``'s stats.json (a mella stage output), or None."""
    stats = Path(folder) / "stats.json"
    try:
        stage = json.loads(stats.read_text(encoding="utf-8")).get("stage") if stats.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return stage if isinstance(stage, str) and stage else None


def _written_by(path: Path) -> str:
    folder = path.parent.parent if path.parent.name == "_dropped" else path.parent
    stage = stage_that_wrote(folder)
    if stage:
        return f"the {stage} stage wrote it: delete it and rerun {stage} into {folder} to write it again"
    if is_stage_output(folder):
        return f"a mella stage wrote it but has not finished: delete it and rerun the stage writing {folder}"
    return "it was not written by mella"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:200] + "..."
