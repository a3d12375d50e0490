"""Fixtures of the Ray tests: a loopback-only Ray, the sample stages importable on Ray workers, the gold alts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
LABELS = TESTS / "data" / "labels"

# Before ray is imported: Ray's single-machine mode binds every service to 127.0.0.1 (tests use loopback only).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# Ray workers (and drivers started as subprocesses) import the test stages by module name.
os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])


@pytest.fixture(scope="session")
def gold_shards(tmp_path_factory):
    """The labelled real alt-texts as candidates, in 3 parquet shards (whole pages per shard)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.filter import gold
    from mella.records import CANDIDATES

    rows = gold.candidate_rows(LABELS)
    folder = tmp_path_factory.mktemp("gold")
    pages = sorted({r["page_url"] for r in rows})
    for i in range(3):
        part = [r for r in rows if pages.index(r["page_url"]) % 3 == i]
        pq.write_table(pa.Table.from_pylist(part, schema=CANDIDATES), folder / f"candidates-{i}.parquet")
    return folder
