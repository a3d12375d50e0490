"""Refuse a stage's input before any work when it is not what the stage reads.

Each stage and step declares the columns it reads (``requires``, lists in :mod:`mella.records`). Only parquet
footers are read here (and the first line of a JSON lines file), so the check costs little even on many parts;
an unreadable footer is reported as the corrupt file it is. Stages that read raw files (``collect``) refuse
the parquet parts of another stage instead.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from mella.errors import InputError, MellaError
from mella.pipeline.shards import (
    REMOTE_PREFIXES,
    Shard,
    expand_input,
    is_stage_output,
    parquet_schema,
    stage_that_wrote,
)
from mella.records import COLUMN_TYPES, writer_of

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json")


def check_input_columns(stage: Any, inputs: list[Shard] | list[str]) -> None:
    """Raise :class:`InputError` (one line) when an input of ``stage`` lacks a column it reads, holds one of
    mella's columns with another type, or cannot be read; or when a stage that reads raw files is given
    another stage's parts.

    ``stage`` is a stage or step (or its class): ``name``, ``reads`` and ``requires`` are used. ``inputs`` are
    the resolved shards of a row stage, or the paths a step was given.
    """
    if stage.reads == "files":
        _refuse_stage_parts(stage, _local_files(stage, inputs))
        return
    required = tuple(getattr(stage, "requires", ()) or ())
    if required:
        for path in _local_files(stage, inputs):
            _check_file(stage, path, required)


def _local_files(stage: Any, inputs: list[Shard] | list[str]) -> list[str]:
    uris = [i.uri if isinstance(i, Shard) else str(i) for i in inputs]
    if stage.reads == "folder":  # a step's inputs are paths: its row files, if they hold rows
        uris = [f for item in uris for f in _step_files(item)]
    return [u for u in uris if not u.startswith(REMOTE_PREFIXES)]


def _step_files(item: str) -> list[str]:
    try:
        return expand_input(item, "rows")
    except MellaError:
        if Path(item).is_dir():  # a folder of something else (a run folder, a datasets save): not rows to check
            return []
        raise


def _refuse_stage_parts(stage: Any, files: list[str]) -> None:
    for path in files:
        folder = Path(path).parent
        if path.endswith(".parquet") and is_stage_output(folder):
            writer = stage_that_wrote(folder)
            what = f"the output of the {writer} stage" if writer else "a mella stage output"
            raise InputError(f"{stage.name}: {folder} is {what} (parquet parts), not raw input files; "
                             f"{stage.name} reads web archives, pages and URLs")


def _check_file(stage: Any, path: str, required: tuple[str, ...]) -> None:
    columns = _columns(path)
    if columns is None:
        return
    missing = [c for c in required if c not in columns]
    if missing:
        writer = writer_of(missing)
        by = f" (written by the {writer} stage)" if writer else ""
        raise InputError(f"{stage.name}: {_where(path)} lacks column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}{by}")
    empty = [c for c in required if isinstance(columns[c], pa.DataType) and pa.types.is_null(columns[c])]
    if empty:  # a column written with no value at all (type null) is as good as missing
        raise InputError(f"{stage.name}: {_where(path)}: column {empty[0]} holds only nulls")
    # Every column named like one of mella's (records.py) must have its type: stages read optional ones too.
    for name, actual in columns.items():
        expected = COLUMN_TYPES.get(name)
        if isinstance(actual, pa.DataType) and expected is not None and not compatible(actual, expected):
            raise InputError(f"{stage.name}: {_where(path)}: column {name} is {type_name(actual)}, "
                             f"not {type_name(expected)} as mella writes it")


def _columns(path: str) -> dict[str, pa.DataType | None] | None:
    """Column name -> type (parquet), or -> None (JSON lines: the keys of the first row); None if unknown."""
    if path.endswith(".parquet"):
        schema = parquet_schema(path)
        return {f.name: f.type for f in schema}
    if path.endswith(JSON_SUFFIXES):
        first = _first_json_row(path)
        return dict.fromkeys(first) if isinstance(first, dict) else None
    return None


def _first_json_row(path: str) -> Any:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    return json.loads(line)
    except (ValueError, OSError, EOFError):
        return None  # the reader reports a bad line with its number
    return None


def _where(path: str) -> str:
    """A mella stage output is named by its folder (all its parts share one schema); other files by path."""
    folder = Path(path).parent
    return str(folder) if is_stage_output(folder) else path


def compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a column of type ``actual`` reads as ``expected`` (any string for a string, any number for a
    float, a list of compatible items for a list; an all-null column always)."""
    t = pa.types
    if t.is_null(actual):
        return True
    if t.is_dictionary(actual):
        actual = actual.value_type
    if t.is_string(expected) or t.is_large_string(expected):
        return t.is_string(actual) or t.is_large_string(actual) or _is_string_view(actual)
    if t.is_floating(expected):
        return t.is_floating(actual) or t.is_integer(actual)
    if t.is_integer(expected):
        return t.is_integer(actual)
    if t.is_list(expected) or t.is_large_list(expected):
        lists = t.is_list(actual) or t.is_large_list(actual) or t.is_fixed_size_list(actual)
        return lists and compatible(actual.value_type, expected.value_type)
    return actual.equals(expected)


def type_name(t: pa.DataType) -> str:
    """``list<string>`` rather than pyarrow's ``list<item: string>``."""
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"list<{type_name(t.value_type)}>"
    return str(t)


def _is_string_view(actual: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(actual))
