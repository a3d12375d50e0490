"""The ``dedup`` stage: global dedup of alt-texts over all parts of its input.

It reads every part of its input once (a global pass, :mod:`mella.filter.dedup_index`) and then drops
duplicates and site chrome part by part.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from mella.filter import dedup_index
from mella.pipeline.stage import Stage, StageOptions, runtime_option
from mella.records import DEDUP_READS


class DedupOptions(StageOptions):
    chrome_min_pages: int = Field(3, ge=2, description="Same alt on this many pages of a domain: site chrome.")
    image_min_pages: int = Field(5, ge=2, description="Same image URL on this many pages: a logo.")
    rows_per_bucket: int = runtime_option(1_000_000, ge=1000, description="Keys held in memory at once.")
    work_dir: str | None = runtime_option(None, description="Where the global index goes (default: temp dir).")


class DedupStage(Stage):
    """Drop exact duplicates, per-domain repeats, site chrome and logos across the whole input."""

    name = "dedup"
    Options = DedupOptions
    output_version = 1  # 1: image keys read one address written two ways as one (mella.net.urlform)
    requires = DEDUP_READS

    def prepare(self, shards: list, stage_dir=None) -> Path:
        """The global pass over every input part, once, in the driver (``Stage.prepare``).

        The index goes to ``--work-dir``, else ``<out>/_global/dedup``; executors without the hook
        get it lazily from :meth:`read` (then in a temp folder named by the inputs).
        """
        parts = [s.uri if hasattr(s, "uri") else str(s) for s in shards]
        out = getattr(stage_dir, "path", stage_dir)
        default = Path(out) / "_global" / "dedup" if out is not None else _default_work(parts, self.fingerprint())
        work = Path(self.options.work_dir) if self.options.work_dir else default
        rows = sum(_num_rows(p) for p in parts)
        buckets = max(1, -(-rows // self.options.rows_per_bucket))
        self._parts, self._work = parts, dedup_index.ensure_index(
            parts, work, buckets=buckets, chrome_min_pages=self.options.chrome_min_pages,
            image_min_pages=self.options.image_min_pages)
        return self._work

    def read(self, shard):
        from mella.pipeline.shards import read_rows

        if getattr(self, "_work", None) is None or shard.uri not in self._parts:
            self.prepare(_sibling_parts(shard.uri))
        drops = dedup_index.part_drops(self._work, self._parts.index(shard.uri))
        n = 0
        for batch in read_rows(shard, self.batch_size):
            for row in batch:
                row["_dedup"] = drops.get(n)
                n += 1
            yield batch

    def process(self, rows: list[dict[str, Any]], out) -> None:
        for row in rows:
            reason = row.pop("_dedup", None)
            if reason:
                out.drop(row, reason)
            else:
                out.keep(row)


def _num_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _sibling_parts(uri: str) -> list[str]:
    """All parts of the folder ``uri`` is in: what the global pass covers without an executor hook."""
    from mella.pipeline.shards import is_stage_output
    from mella.runstore import StageDir

    folder = Path(uri).parent
    if is_stage_output(folder):
        return [str(p) for p in StageDir(folder).committed_part_files()]
    return [str(p) for p in sorted(folder.glob("*.parquet"))]


def _default_work(parts: list[str], fingerprint: str) -> Path:
    """A temp folder named by the inputs (paths, sizes, mtimes) and options, so reruns reuse it."""
    h = hashlib.sha256(fingerprint.encode())
    for p in parts:
        st = Path(p).stat()
        h.update(f"{Path(p).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return Path(tempfile.gettempdir()) / f"mella-dedup-{h.hexdigest()[:16]}"
