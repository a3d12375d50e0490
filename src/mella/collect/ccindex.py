"""Pages by language from Common Crawl's columnar URL index, then exactly their WARC records.

The index (``cc-index/table/cc-main/warc/crawl=<crawl>/subset=warc/*.parquet``) has one row per capture,
with the capture's detected languages (``content_languages``: up to three ISO 639-3 codes, the main one
first), its status, its detected MIME type, its host's TLD and where its record lies (``warc_filename``,
``warc_record_offset``, ``warc_record_length``). :func:`select_records` reads only the columns a selection
needs, skips the row groups whose ``url_host_tld`` statistics rule out every wanted TLD (the index is sorted
by SURT key, so a TLD's rows are contiguous), and filters the rest with vectorised compute.
:func:`targeted_pages` then reads those records with range requests, neighbours coalesced, and turns each
into the page record the WARC reader makes, with ``source`` the WARC file and ``offset`` the record's.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mella.collect.warc import record_page, skip_record
from mella.errors import MellaError
from mella.languages import get_language
from mella.net.ranges import RemoteReadError, Span, coalesce, failure_reason

HTML_MIMES = ("text/html", "application/xhtml+xml")
# What a selection reads of each index file: the filters' columns, then where each record lies.
FILTER_COLUMNS = ["fetch_status", "content_mime_detected", "content_languages", "url_host_tld"]
LOCATION_COLUMNS = ["url", "warc_filename", "warc_record_offset", "warc_record_length"]
INDEX_ROOT = "cc-index/table/"
INDEX_SUBSET = "/subset=warc/"
_CODE = re.compile(r"[a-z]{3}")


@dataclass(frozen=True)
class Selection:
    """Which index rows a targeted harvest reads.

    ``languages``: ISO 639-3 code -> mella language tag. ``tld_languages``: TLD -> {code: tag}, codes that
    count only on that TLD (Serbian written in Latin script is often detected as Croatian or Bosnian; on
    ``.rs`` it is Serbian). ``match``: ``any`` of a page's detected languages, or only its ``primary`` one.
    ``tlds``: only hosts under these TLDs. ``warc_files``: only records in these files (crawl-relative
    paths), for ``--cc-files``/``--cc-shard`` sampling.
    """

    languages: dict[str, str]
    tld_languages: dict[str, dict[str, str]] = field(default_factory=dict)
    match: str = "any"
    tlds: frozenset[str] | None = None
    warc_files: frozenset[str] | None = None

    def codes(self) -> list[str]:
        return sorted(set(self.languages) | {c for m in self.tld_languages.values() for c in m})


def selection_for(langs: list[str], *, match: str = "any", tlds: list[str] | None = None,
                  warc_files: list[str] | None = None) -> Selection:
    """The selection for mella language tags, from the registry's ``cc_languages`` / ``cc_tld_languages``."""
    languages: dict[str, str] = {}
    tld_languages: dict[str, dict[str, str]] = {}
    for tag in langs:
        lang = get_language(tag)
        codes = lang.extra.get("cc_languages")
        if not codes:
            raise MellaError(f"language {tag}: the registry gives no cc_languages (the ISO 639-3 codes Common "
                             "Crawl's index writes for it); add them to its registry entry (src/mella/data/languages.yaml, or a file named by MELLA_LANGUAGES)")
        for code in codes:
            _check_code(tag, code)
            languages.setdefault(code, lang.tag)
        for tld, more in (lang.extra.get("cc_tld_languages") or {}).items():
            for code in more:
                _check_code(tag, code)
                tld_languages.setdefault(str(tld).lower(), {}).setdefault(code, lang.tag)
    return Selection(languages, tld_languages, match,
                     frozenset(t.lower().lstrip(".") for t in tlds) if tlds else None,
                     frozenset(warc_files) if warc_files is not None else None)


def _check_code(tag: str, code: str) -> None:
    if not _CODE.fullmatch(str(code)):
        raise MellaError(f"language {tag}: cc_languages code {code!r} is not an ISO 639-3 code (three letters)")


def is_index_file(location: str) -> bool:
    """Whether a location is a parquet file of the columnar index's ``warc`` subset."""
    return f"/{INDEX_ROOT}" in location and INDEX_SUBSET in location and location.endswith(".parquet")


def list_index_files(store, ref) -> list[str]:
    """The crawl-relative index files of the ``warc`` subset that a crawl's ``cc-index-table.paths.gz`` lists
    (``store`` a :class:`~mella.collect.commoncrawl.CrawlStore`, ``ref`` a ``CrawlRef``); one-line error when
    there are none."""
    index = [p for p in store.read_lines(ref.index_paths_file) if is_index_file("/" + p)]
    if not index:
        raise MellaError(f"{store.url(ref.index_paths_file)} lists no index file of the warc subset "
                         f"({INDEX_ROOT}cc-main/warc/crawl={ref.crawl}{INDEX_SUBSET}*.parquet)")
    return index


def _regex(codes: list[str], match: str) -> str:
    alternatives = "|".join(sorted(codes))
    return f"^({alternatives})(,|$)" if match == "primary" else f"(^|,)({alternatives})(,|$)"


def _prunable(stats, wanted: frozenset[str]) -> bool:
    """Whether a row group's url_host_tld min/max statistics exclude every wanted TLD."""
    if stats is None or not stats.has_min_max:
        return False
    low, high = stats.min, stats.max
    if isinstance(low, bytes):
        low, high = low.decode("utf-8", "replace"), high.decode("utf-8", "replace")
    return not any(low <= tld <= high for tld in wanted)


@dataclass
class IndexScan:
    """What reading one index file cost and found: counters for ``stats.json``."""

    row_groups: int = 0
    row_groups_pruned: int = 0
    rows: int = 0
    selected: int = 0


def select_records(fh, selection: Selection, scan: IndexScan | None = None) -> Iterator[dict[str, Any]]:
    """The selected rows of one index file (a seekable binary file), in file order: ``url``, ``lang`` (the
    mella tag), ``warc_filename``, ``offset``, ``length``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    scan = scan if scan is not None else IndexScan()
    try:
        pf = pq.ParquetFile(fh)
    except RemoteReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a corrupt file
        raise RemoteReadError(f"not a readable parquet index file: {exc.__class__.__name__}: {exc}",
                              "corrupt") from None
    names = set(pf.schema_arrow.names)
    missing = [c for c in FILTER_COLUMNS + LOCATION_COLUMNS if c not in names]
    if missing:
        raise RemoteReadError(f"not a Common Crawl index file: no column {', '.join(missing)}", "corrupt")
    tld_index = pf.schema_arrow.get_field_index("url_host_tld")
    wanted_tlds = selection.tlds
    if wanted_tlds is None and not selection.languages:  # only TLD-bound languages: their TLDs bound the scan
        wanted_tlds = frozenset(selection.tld_languages)
    mask_of = _masker(selection, pc)
    warc_files = _array(selection.warc_files) if selection.warc_files is not None else None
    for i in range(pf.metadata.num_row_groups):
        scan.row_groups += 1
        group = pf.metadata.row_group(i)
        if wanted_tlds and _prunable(group.column(tld_index).statistics, wanted_tlds):
            scan.row_groups_pruned += 1
            continue
        table = _row_group(pf, i, FILTER_COLUMNS)
        scan.rows += table.num_rows
        mask = mask_of(table)
        if not pc.any(mask).as_py():
            continue
        located = _row_group(pf, i, LOCATION_COLUMNS)  # only where something matched
        for name in LOCATION_COLUMNS:
            table = table.append_column(name, located[name])
        rows = table.filter(mask)
        if warc_files is not None:
            rows = rows.filter(pc.is_in(rows["warc_filename"], value_set=warc_files))
        for row in rows.to_pylist():
            lang = _language_of(row["content_languages"], row["url_host_tld"], selection)
            if lang is None:
                continue
            scan.selected += 1
            yield {"url": row["url"], "lang": lang, "warc_filename": row["warc_filename"],
                   "offset": int(row["warc_record_offset"]), "length": int(row["warc_record_length"])}


def _row_group(pf, i: int, columns: list[str]):
    try:
        return pf.read_row_group(i, columns=columns)
    except RemoteReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged column chunk: the file's fault, not the network's
        raise RemoteReadError(f"row group {i} of the index file is not readable: {exc.__class__.__name__}: "
                              f"{exc}", "corrupt") from None


def _array(values):
    import pyarrow as pa

    return pa.array(sorted(values), pa.string())


def _masker(selection: Selection, pc):
    """The row-group filter of a selection: rows that pass are 200, HTML, in a wanted language (TLD-bound
    ones on their TLD) and, with ``tlds``, on a wanted TLD. Its value sets and regexes are built here, once
    per index file, not once per row group."""
    mimes = _array(HTML_MIMES)
    any_regex = _regex(list(selection.languages), selection.match) if selection.languages else None
    bound = [(tld, _regex(list(codes), selection.match)) for tld, codes in selection.tld_languages.items()]
    tlds = _array(selection.tlds) if selection.tlds is not None else None

    def mask(table):
        ok = pc.and_(pc.equal(table["fetch_status"], 200), pc.is_in(table["content_mime_detected"], value_set=mimes))
        languages = table["content_languages"]
        wanted = pc.match_substring_regex(languages, any_regex) if any_regex else None
        for tld, regex in bound:
            on_tld = pc.and_(pc.equal(table["url_host_tld"], tld), pc.match_substring_regex(languages, regex))
            wanted = on_tld if wanted is None else pc.or_(wanted, on_tld)
        if wanted is None:
            return pc.fill_null(pc.equal(table["fetch_status"], -1), False)
        result = pc.and_(ok, wanted)
        if tlds is not None:
            result = pc.and_(result, pc.is_in(table["url_host_tld"], value_set=tlds))
        return pc.fill_null(result, False)

    return mask


def _language_of(languages: str | None, tld: str | None, selection: Selection) -> str | None:
    """The mella tag a row was selected for: its first detected language that the selection wants."""
    codes = (languages or "").split(",")
    if selection.match == "primary":
        codes = codes[:1]
    bound = selection.tld_languages.get((tld or "").lower(), {})
    for code in codes:
        if code in selection.languages:
            return selection.languages[code]
        if code in bound:
            return bound[code]
    return None


# -- reading the selected records -------------------------------------------------------------------

def targeted_pages(records: Iterator[dict[str, Any]], store, max_page_bytes: int,
                   batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Page records (as :func:`mella.collect.warc.warc_pages` makes them) for selected index rows.

    Rows are taken ``batch`` at a time, sorted by file and offset, and neighbouring records of one file
    coalesced into one range request. A record that cannot be read after the client's retries becomes
    a ``skip`` with reason ``unreachable`` (or ``truncated`` when the file ends inside it); the rest go on.
    """
    chunk: list[dict[str, Any]] = []
    for row in records:
        chunk.append(row)
        if len(chunk) >= batch:
            yield from _read_chunk(chunk, store, max_page_bytes)
            chunk = []
    if chunk:
        yield from _read_chunk(chunk, store, max_page_bytes)


def _read_chunk(rows: list[dict[str, Any]], store, max_page_bytes: int) -> Iterator[dict[str, Any]]:
    by_span: dict[Span, dict[str, Any]] = {}
    for row in rows:
        if row["length"] > max_page_bytes + 65536:
            yield skip_record("too_large", row["url"], store.url(row["warc_filename"]), row["offset"])
            continue
        by_span[Span(store.url(row["warc_filename"]), row["offset"], row["length"])] = row
    merged = {m.span: m for m in coalesce(by_span)}
    for request, data, error in store.read_many(list(merged)):
        group = merged[request]
        if error is not None:
            # 416: the file ends before the record starts (a truncated upload): as lost as a record cut short.
            reason = "truncated" if error.startswith("http_416") else failure_reason(error)
            for part in group.parts:
                yield skip_record(reason, by_span[part]["url"], part.url, part.start)
                if reason == "unreachable":  # a rerun reads these again (crawlinputs.RETRIED)
                    yield {"kind": "count", "name": f"records_unreachable.{_reason(error)}", "n": 1}
            continue
        for part, record_bytes in group.split(data):
            yield {"kind": "count", "name": "records_read", "n": 1}
            yield _page_of(record_bytes, part, by_span[part]["url"], max_page_bytes)


def _reason(error: str) -> str:
    head = error.split(" ", 1)[0]
    return head if re.fullmatch(r"[a-z_0-9]+", head) else "error"


def _page_of(data: bytes, span: Span, url: str, max_page_bytes: int) -> dict[str, Any]:
    """One record's bytes (a gzip member, or a plain record) -> a page/skip/count record."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    if len(data) < span.length:
        return skip_record("truncated", url, span.url, span.start)
    try:
        for record in ArchiveIterator(io.BytesIO(data), record_types=WarcRecordType.response |
                                      WarcRecordType.resource, parse_http=False):
            page = record_page(record, span.url, max_page_bytes)
            if "offset" in page:
                page["offset"] = span.start
            return page
    except OSError:
        pass
    return skip_record("invalid_warc_data", url, span.url, span.start)
