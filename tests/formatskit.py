"""Checks that what a run writes is documented in ``mella.records`` (and so in docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from mella.records import documented_types


def stage_parts(run_dir: Path) -> list[Path]:
    """Every kept and dropped part of the run folder's stage folders (not their ``_global/`` work files)."""
    run_dir = Path(run_dir)
    return sorted(run_dir.glob("*/part-*.parquet")) + sorted(run_dir.glob("*/_dropped/part-*.parquet"))


def undocumented_columns(run_dir: Path) -> list[str]:
    """One line per column of a stage part that mella.records does not document, or documents with another type."""
    documented = documented_types()
    problems = []
    for path in stage_parts(run_dir):
        name = path.relative_to(run_dir)
        for field in pq.read_schema(path):
            types = documented.get(field.name)
            if types is None:
                problems.append(f"{name}: column {field.name} ({field.type}) is in no schema of mella.records")
            elif not any(t.equals(field.type) for t in types):
                problems.append(f"{name}: column {field.name} is {field.type}, mella.records documents "
                                f"{' or '.join(map(str, types))}")
    return problems


def assert_columns_documented(run_dir: Path) -> int:
    """Fail unless every column of every stage part under ``run_dir`` is documented; the number of parts read."""
    parts = stage_parts(run_dir)
    assert parts, f"{run_dir}: no stage parts (<stage>/part-*.parquet) to check"
    problems = undocumented_columns(run_dir)
    assert not problems, "columns missing from mella.records (then run `python tools/gen_formats.py`):\n" + \
        "\n".join(problems)
    return len(parts)
