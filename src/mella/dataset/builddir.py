"""Reading a build folder: its samples, splits, plan summary, and the names that become file names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mella.errors import MellaError

SPLIT_ORDER = ("train", "validation", "test")


def build_summary(build_dir: str | Path) -> dict[str, Any]:
    """The build's plan summary (counts, options, the fetch folder), or {} for a build made elsewhere."""
    import json

    path = Path(build_dir) / "_global" / "build" / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def iter_samples(build_dir: str | Path, split: str | None = None) -> Iterator[dict[str, Any]]:
    """The kept samples of a build folder, part by part (optionally one split)."""
    import pyarrow.compute as pc

    from mella.pipeline.shards import read_parquet
    from mella.runstore import StageDir

    for part in StageDir(build_dir).committed_part_files(strict=True):
        table = read_parquet(part)
        if split is not None:
            table = table.filter(pc.equal(table["split"], split))
        yield from table.to_pylist()


def splits_of(build_dir: str | Path) -> list[str]:
    """The splits a build holds, in train / validation / test order."""
    from mella.paths import name_problem
    from mella.pipeline.shards import read_parquet
    from mella.runstore import StageDir

    found = set()
    for part in StageDir(build_dir).committed_part_files(strict=True):
        for split in set(read_parquet(part, columns=["split"])["split"].to_pylist()) - {None}:
            problem = name_problem("split", split)  # split names become file names
            if problem:
                raise MellaError(f"{part}: {problem}")
            found.add(split)
    return [s for s in SPLIT_ORDER if s in found] + sorted(found - set(SPLIT_ORDER) - {None})


def check_names(build_dir: str | Path) -> None:
    """Refuse, before anything is written, a build whose keys or sample ids could not be file names."""
    from mella.paths import check_key
    from mella.pipeline.shards import read_parquet
    from mella.runstore import StageDir

    for part in StageDir(build_dir).committed_part_files(strict=True):
        table = read_parquet(part, columns=["key", "id"])
        for column in ("key", "id"):
            for value in set(table[column].to_pylist()):
                check_key(value, f"{part}: column {column}")
    splits_of(build_dir)  # split names become file names too
