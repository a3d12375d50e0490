"""Global deduplication over all parts of a stage output, in bounded memory.

Three keys per row (stable 64-bit hashes, :func:`mella.filter.text.key64`):

- ``pair``: normalised image URL + normalised alt. Every occurrence after the first is a
  ``duplicate``.
- ``alt``: domain + normalised alt. On at least ``chrome_min_pages`` pages of a domain it is
  ``site_chrome`` (logos, nav tiles, ads: all copies go); on fewer pages, later copies are
  ``duplicate_alt_domain`` (one caption per domain is enough).
- ``image``: normalised image URL. On at least ``image_min_pages`` pages it is a
  ``repeated_image`` (a logo or banner reused site-wide).

Bounded memory: pass 1 streams the key columns of every part (record batch by record batch)
into ``buckets`` on-disk parquet files per key, by ``key mod buckets``; pass 2 groups one bucket at
a time. Peak memory is one bucket (rows / buckets keys), not the run. Pass 2 writes, per input
part, the rows to drop and why; the dedup stage then streams each part against its own list.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mella.filter.text import key64, normalize_alt, normalize_url
from mella.pipeline.shards import parquet_batches, parquet_schema

# Highest first: when a row has several reasons, the first one here names it.
REASONS = ("site_chrome", "repeated_image", "duplicate", "duplicate_alt_domain")
_COLUMNS = ["page_url", "image_url", "alt", "domain"]
_KEYS = pa.schema([("key", pa.int64()), ("page", pa.int64()), ("pos", pa.int64())])


def row_keys(row: dict[str, Any]) -> tuple[int, int, int, int]:
    """(pair, alt, image, page) keys of one row."""
    img = normalize_url(row.get("image_url") or "")
    alt = row.get("alt_norm") or normalize_alt(row.get("alt") or "")
    return (key64(img, alt), key64(row.get("domain") or "", alt), key64(img), key64(row.get("page_url") or ""))


def build_index(parts: list[str], work: str | Path, buckets: int, chrome_min_pages: int = 3,
                image_min_pages: int = 5) -> Path:
    """Run both passes over ``parts``; returns ``work`` with ``drops/part-<i>.parquet`` files."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    _partition(parts, work, buckets)
    writers: dict[int, pq.ParquetWriter] = {}
    for b in range(buckets):
        drops = _bucket_drops(work, b, chrome_min_pages, image_min_pages)
        _append_drops(drops, work / "drops", writers)
    for w in writers.values():
        w.close()
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    (work / "_DONE").write_text(json.dumps({"parts": parts, "rows": rows, "buckets": buckets,
                                            "seconds": round(time.time() - t0, 3)}))
    return work


def _partition(parts: list[str], work: Path, buckets: int) -> None:
    writers: dict[tuple[str, int], pq.ParquetWriter] = {}
    try:
        for index, path in enumerate(parts):
            pos = index << 32
            # The filter's own alt_norm, where the part has it: normalising again costs more
            # than reading it.
            columns = _COLUMNS + (["alt_norm"] if "alt_norm" in parquet_schema(path).names else [])
            for batch in parquet_batches(path, 65536, columns):  # a corrupt part is named, with its stage
                rows = batch.to_pylist()
                keys = [row_keys(r) for r in rows]
                positions = pa.array(range(pos, pos + len(rows)), pa.int64())
                pos += len(rows)
                pages = pa.array([k[3] for k in keys], pa.int64())
                for kind, col in (("pair", 0), ("alt", 1), ("image", 2)):
                    key = pa.array([k[col] for k in keys], pa.int64())
                    table = pa.table([key, pages, positions], schema=_KEYS)
                    _scatter(table, kind, work, buckets, writers)
    finally:
        for w in writers.values():
            w.close()


def _scatter(table: pa.Table, kind: str, work: Path, buckets: int, writers: dict) -> None:
    bucket = pc.abs(pc.remainder(table["key"], buckets)) if buckets > 1 else None
    for b in range(buckets):
        part = table if bucket is None else table.filter(pc.equal(bucket, b))
        if part.num_rows == 0:
            continue
        if (kind, b) not in writers:
            (work / kind).mkdir(exist_ok=True)
            writers[(kind, b)] = pq.ParquetWriter(work / kind / f"b{b:05d}.parquet", _KEYS)
        writers[(kind, b)].write_table(part)


def _read(work: Path, kind: str, b: int) -> pa.Table:
    path = work / kind / f"b{b:05d}.parquet"
    return pq.read_table(path) if path.exists() else _KEYS.empty_table()


def _bucket_drops(work: Path, b: int, chrome_min_pages: int, image_min_pages: int) -> pa.Table:
    """Rows of bucket ``b`` to drop: (pos, reason)."""
    out = []
    pair = _read(work, "pair", b)
    out.append(_later_copies(pair, "duplicate"))
    alt = _read(work, "alt", b)
    chrome = _keys_on_pages(alt, chrome_min_pages)
    is_chrome = pc.is_in(alt["key"], chrome)
    out.append(_reason(alt.filter(is_chrome)["pos"], "site_chrome"))
    out.append(_later_copies(alt.filter(pc.invert(is_chrome)), "duplicate_alt_domain"))
    image = _read(work, "image", b)
    logos = _keys_on_pages(image, image_min_pages)
    out.append(_reason(image.filter(pc.is_in(image["key"], logos))["pos"], "repeated_image"))
    return pa.concat_tables(out)


def _keys_on_pages(table: pa.Table, min_pages: int) -> pa.Array:
    pages = table.group_by("key").aggregate([("page", "count_distinct")])
    return pages.filter(pc.greater_equal(pages["page_count_distinct"], min_pages))["key"]


def _later_copies(table: pa.Table, reason: str) -> pa.Table:
    """Every row of ``table`` but the first (lowest position) of each key."""
    first = table.group_by("key").aggregate([("pos", "min")])["pos_min"]
    return _reason(table.filter(pc.invert(pc.is_in(table["pos"], first)))["pos"], reason)


def _reason(pos: pa.Array, reason: str) -> pa.Table:
    return pa.table({"pos": pos, "reason": pa.array([reason] * len(pos), pa.string())})


def _append_drops(drops: pa.Table, folder: Path, writers: dict[int, pq.ParquetWriter]) -> None:
    if drops.num_rows == 0:
        return
    folder.mkdir(exist_ok=True)
    part_of = pc.shift_right(drops["pos"], 32)
    for part in pc.unique(part_of).to_pylist():
        if part not in writers:
            writers[part] = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", drops.schema)
        writers[part].write_table(drops.filter(pc.equal(part_of, part)))


def part_drops(work: str | Path, part: int) -> dict[int, str]:
    """Row number within part ``part`` -> the reason it is dropped (the strongest of its reasons)."""
    path = Path(work) / "drops" / f"part-{part:05d}.parquet"
    if not path.exists():
        return {}
    rank = {r: i for i, r in enumerate(REASONS)}
    out: dict[int, str] = {}
    table = pq.read_table(path)
    for pos, reason in zip(table["pos"].to_pylist(), table["reason"].to_pylist(), strict=True):
        row = pos & 0xFFFFFFFF
        if row not in out or rank[reason] < rank[out[row]]:
            out[row] = reason
    return out


def ensure_index(parts: list[str], work: str | Path, **kwargs: Any) -> Path:
    """Build the index in ``work`` unless done; several workers may call this, one builds."""
    work = Path(work)
    if _done_for(work, parts):
        return work
    work.parent.mkdir(parents=True, exist_ok=True)
    lock = work.with_name(work.name + ".lock")
    try:
        os.mkdir(lock)
    except FileExistsError:
        while not _done_for(work, parts):  # another worker is building it
            if not lock.exists():
                return ensure_index(parts, work, **kwargs)
            time.sleep(0.2)
        return work
    try:
        if work.exists():  # an index of other inputs, or one a killed run left half-built
            shutil.rmtree(work)
        return build_index(parts, work, **kwargs)
    finally:
        os.rmdir(lock)


def _done_for(work: Path, parts: list[str]) -> bool:
    """True when ``work`` holds a finished index of exactly ``parts``."""
    try:
        return json.loads((work / "_DONE").read_text())["parts"] == list(parts)
    except (OSError, ValueError, KeyError):
        return False
