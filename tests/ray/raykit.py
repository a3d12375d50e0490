"""Helpers of the Ray tests: stages that report on their workers, and output comparisons.

Lives on Ray workers' PYTHONPATH (see conftest.py), so these stages can be pickled by reference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import Field

from mella.errors import MellaError
from mella.pipeline.stage import StageOptions
from sample_stages import LINES, LinesStage

#: Small Ray: no dashboard, a small object store (rows travel through files, not through Ray).
RAY_ARGS = {"include_dashboard": False, "log_to_driver": False, "object_store_memory": 100 * 2**20}


class CountingOptions(StageOptions):
    log_dir: str = Field(description="Folder where every setup() leaves a file named by its process id.")
    fail_on: str = Field("", description="Raise a MellaError on a line with this text.")


class CountingStage(LinesStage):
    """LinesStage that records each setup() (one per worker or actor) and can fail like bad config."""

    name = "counting"
    Options = CountingOptions
    schema = LINES

    def setup(self) -> None:
        Path(self.options.log_dir, f"setup-{os.getpid()}-{id(self)}").touch()

    def process(self, rows, out):
        for row in rows:
            if self.options.fail_on and row["text"] == self.options.fail_on:
                raise MellaError(f"cannot use line {row['lineno']}")
            out.keep(row)


def setups(log_dir: Path) -> int:
    return len(list(Path(log_dir).glob("setup-*")))


def _value(v):
    # The filter's language confidences differ in the last bit with which parts a worker ran before
    # (local runs with 1 and 2 workers differ too), so floats compare to 9 decimals.
    return round(v, 9) if isinstance(v, float) else v


def table_rows(paths: list[Path]) -> list[tuple]:
    """Every row of these parquet files as tuples, sorted (by repr: columns may hold None)."""
    if not paths:
        return []
    return sorted((tuple(_value(v) for v in r.values()) for r in pq.read_table(paths).to_pylist()), key=repr)


def output(folder: Path) -> dict:
    """What a stage folder holds, executor-independent: rows, dropped rows, part names, merged stats."""
    stats = json.loads((folder / "stats.json").read_text())
    return {
        "rows": table_rows(sorted(folder.glob("part-*.parquet"))),
        "dropped": table_rows(sorted((folder / "_dropped").glob("part-*.parquet"))),
        "parts": sorted(p.name for p in folder.glob("part-*")),
        "stats": {k: stats[k] for k in ("parts", "rows", "dropped", "counters", "options", "complete")},
        "sources": {part: Path(info["source"]).name for part, info in stats["per_part"].items()},
        "complete": (folder / "_SUCCESS").exists(),
        "temporaries": sorted(p.name for p in folder.rglob(".*.tmp")),
    }
