"""The ``collect`` stage: WARC, WAT and saved-HTML files -> CANDIDATES rows.

:meth:`CollectStage.read` turns one input file into batches of raw records (pages, WAT records,
and ``skip``/``count`` records for what could not be used); :meth:`CollectStage.process` extracts
the rows. Skipped records become dropped rows (``drop_reason``) that point back to their file and offset.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from mella.collect.html import DEFAULT_CONTEXT_CHARS, DEFAULT_MAX_PAGE_BYTES, extract_page
from mella.collect.saved import is_saved_html, saved_page
from mella.collect.warc import open_input, warc_pages
from mella.collect.wat import wat_records, wat_rows
from mella.pipeline.stage import Emitter, Stage, StageOptions, runtime_option
from mella.records import CANDIDATES

# Raw page bytes held per batch: bounds memory whatever the page sizes.
_BATCH_BYTES = 64 * 1024 * 1024


class CollectOptions(StageOptions):
    """Options of ``mella collect``."""

    format: Literal["auto", "warc", "wat", "html"] = "auto"
    context_chars: int = Field(DEFAULT_CONTEXT_CHARS, ge=0, le=20_000)
    max_page_bytes: int = Field(DEFAULT_MAX_PAGE_BYTES, gt=0)
    batch_pages: int = runtime_option(100, gt=0)


def detect_format(uri: str) -> str | None:
    """``warc``, ``wat`` or ``html`` from a file's name, else from its first bytes; None if neither."""
    name = uri.lower().rsplit("/", 1)[-1]
    if ".wat" in name:
        return "wat"
    if name.endswith((".warc", ".warc.gz")):
        return "warc"
    if is_saved_html(name):
        return "html"
    with open_input(uri) as fh:
        head = fh.read(65536)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4096)
        except zlib.error:
            return None
    if head.startswith(b"WARC/"):
        return "wat" if b"application/json" in head[:4096] and b"WARC-Refers-To" in head else "warc"
    if head.lstrip()[:1] == b"<" or head.startswith(b"\xef\xbb\xbf<"):
        return "html"
    return None


class CollectStage(Stage):
    """Image + alt-text candidates from WARC/WAT files and saved HTML pages."""

    name = "collect"
    Options = CollectOptions
    reads = "files"
    schema = CANDIDATES

    def read(self, shard) -> Iterator[list[dict[str, Any]]]:
        """Batches of raw records from one input file (bounded in count and in bytes)."""
        opts = self.options
        fmt = opts.format if opts.format != "auto" else detect_format(shard.uri)
        if fmt is None:
            yield [{"kind": "count", "name": "files_skipped.unknown_format", "n": 1}]
            return
        if fmt == "warc":
            records = warc_pages(shard.uri, opts.max_page_bytes)
        elif fmt == "wat":
            records = wat_records(shard.uri, opts.max_page_bytes)
        else:
            records = iter([saved_page(shard.uri, opts.max_page_bytes)])
        yield from _batched(records, opts.batch_pages, _BATCH_BYTES)

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        for record in rows:
            kind = record["kind"]
            if kind == "count":
                out.count(record["name"], record["n"])
            elif kind == "skip":
                out.drop(_stub(record), record["reason"])
            else:
                self._extract(record, out)

    def _extract(self, record: dict[str, Any], out: Emitter) -> None:
        # A WAT file holds request and metadata records too: wat_rows counts the pages among them.
        out.count("records_read" if record["kind"] == "wat" else "pages_read")
        if record["kind"] == "wat":
            result = wat_rows(record["data"], record["url"], record["source"], record["offset"])
        else:
            result = extract_page(
                record["data"], record["url"], record["headers"], source=record["source"],
                source_offset=record["offset"], context_chars=self.options.context_chars,
                max_page_bytes=self.options.max_page_bytes, infer_url=record["infer_url"],
            )
        if result.skip_reason:
            # The dropped row carries the count (dropped.<reason>); no second counter for it.
            result.counters.pop(f"pages_skipped.{result.skip_reason}", None)
            out.drop(_stub(record), result.skip_reason)
        for name, n in result.counters.items():
            out.count(name, n)
        for row in result.rows:
            out.keep(row)


def _stub(record: dict[str, Any]) -> dict[str, Any]:
    """A CANDIDATES row with only the page address and its origin: what a dropped page leaves."""
    row = dict.fromkeys(CANDIDATES.names, "")
    row.update(page_url=record.get("url", ""), source=record.get("source", ""),
               source_offset=record.get("offset", -1))
    return row


def _batched(records: Iterator[dict[str, Any]], max_records: int, max_bytes: int) -> Iterator[list[dict]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for record in records:
        batch.append(record)
        size += len(record.get("data", b""))
        if len(batch) >= max_records or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
