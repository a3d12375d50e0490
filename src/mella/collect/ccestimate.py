"""``mella cc-estimate``: what a targeted harvest of a crawl would read and yield, from the index alone.

Per language: the pages the index selects, the bytes of their WARC records, the WARC files they lie in,
and the alts to expect, measured on a seeded sample of those pages (read and extracted as collect would).
With ``index_files`` only that many index files are scanned (a seeded sample) and the counts are scaled
by the share of index files scanned; the index is sorted by URL (SURT), so a small sample of files sees a
few TLDs only and the scaled figures are rough. Nothing is written.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mella.collect.ccindex import IndexScan, list_index_files, select_records, selection_for, targeted_pages
from mella.collect.commoncrawl import CrawlStore, crawl_base, parse_crawl, sample_files
from mella.collect.html import extract_page
from mella.errors import MellaError
from mella.net.client import NetOptions


@dataclass
class LanguageEstimate:
    """What the index says of one language, and the alts of its sampled pages."""

    pages: int = 0
    record_bytes: int = 0
    warc_files: set[str] = field(default_factory=set)
    sample: list[dict[str, Any]] = field(default_factory=list)
    sampled_pages: int = 0
    sampled_alts: int = 0

    def alts_per_page(self) -> float | None:
        return self.sampled_alts / self.sampled_pages if self.sampled_pages else None


def estimate(item: str, langs: list[str], *, base: str | None = None, net: NetOptions | None = None,
             index_files: int | None = None, sample_pages: int = 20, match: str = "any",
             tlds: list[str] | None = None, seed: int = 0, concurrency: int = 8) -> dict[str, Any]:
    """The estimate as a dict (printed by the CLI, also as JSON)."""
    ref = parse_crawl(item)
    if ref.kind != "warc":
        raise MellaError(f"input {item}: the index describes WARC records; name the crawl itself (cc:{ref.crawl})")
    selection = selection_for(langs, match=match, tlds=tlds)
    rng = random.Random(seed)
    per_lang: dict[str, LanguageEstimate] = defaultdict(LanguageEstimate)
    scan = IndexScan()
    with CrawlStore(crawl_base(base), net, concurrency) as store:
        listed = list_index_files(store, ref)
        chosen = sample_files(listed, files=index_files, seed=seed)
        for rel in chosen:
            fh = store.open(store.url(rel))
            try:
                for row in select_records(fh, selection, scan):
                    est = per_lang[row["lang"]]
                    est.pages += 1
                    est.record_bytes += row["length"]
                    est.warc_files.add(row["warc_filename"])
                    _reservoir(est, row, sample_pages, rng)
            finally:
                fh.close()
        index_bytes = store.bytes_read
        for est in per_lang.values():
            _measure_alts(est, store)
        sample_bytes = store.bytes_read - index_bytes
    scale = len(listed) / len(chosen)
    return {
        "crawl": ref.crawl, "base": crawl_base(base), "index_files": len(listed), "index_files_scanned": len(chosen),
        "scale": scale, "rows_scanned": scan.rows, "row_groups": scan.row_groups,
        "row_groups_pruned": scan.row_groups_pruned, "index_bytes_read": index_bytes, "sample_bytes_read": sample_bytes,
        "languages": {tag: _language_row(per_lang.get(tag, LanguageEstimate()), scale) for tag in _tags(langs)},
    }


def _tags(langs: list[str]) -> list[str]:
    from mella.languages import get_language

    return [get_language(t).tag for t in langs]


def _reservoir(est: LanguageEstimate, row: dict[str, Any], size: int, rng: random.Random) -> None:
    if size <= 0:
        return
    if len(est.sample) < size:
        est.sample.append(row)
    else:
        j = rng.randrange(est.pages)
        if j < size:
            est.sample[j] = row


def _measure_alts(est: LanguageEstimate, store: CrawlStore) -> None:
    """Read the sampled pages' records and count the alts collect would keep from them."""
    for record in targeted_pages(iter(est.sample), store, 10 * 1024 * 1024):
        if record["kind"] != "page":
            continue
        est.sampled_pages += 1
        result = extract_page(record["data"], record["url"], record["headers"], context_chars=0)
        est.sampled_alts += len(result.rows)


def _language_row(est: LanguageEstimate, scale: float) -> dict[str, Any]:
    per_page = est.alts_per_page()
    return {
        "pages": round(est.pages * scale), "record_bytes": round(est.record_bytes * scale),
        "warc_files": len(est.warc_files) if scale == 1 else None, "warc_files_seen": len(est.warc_files),
        "sampled_pages": est.sampled_pages, "alts_per_page": round(per_page, 2) if per_page is not None else None,
        "expected_alts": round(per_page * est.pages * scale) if per_page is not None else None,
    }


def format_estimate(result: dict[str, Any]) -> str:
    """The estimate as a small table, with what it cost and how it was scaled."""
    lines = [f"{result['crawl']} at {result['base']}: {result['index_files_scanned']} of {result['index_files']} "
             f"index files scanned ({result['rows_scanned']:,} rows; {result['row_groups_pruned']} of "
             f"{result['row_groups']} row groups skipped by TLD); read {_size(result['index_bytes_read'])} of index "
             f"and {_size(result['sample_bytes_read'])} of sampled records"]
    if result["scale"] != 1:
        lines.append(f"figures scaled x{result['scale']:.1f} from the scanned files (rough: the index is sorted by "
                     "URL, so a sample of its files sees few TLDs)")
    lines.append(f"{'language':<10} {'pages':>12} {'WARC bytes':>12} {'WARC files':>11} {'alts/page':>10} "
                 f"{'expected alts':>14}")
    for tag, row in result["languages"].items():
        files = row["warc_files"] if row["warc_files"] is not None else f">={row['warc_files_seen']}"
        per_page = "-" if row["alts_per_page"] is None else f"{row['alts_per_page']:.2f}"
        alts = "-" if row["expected_alts"] is None else f"{row['expected_alts']:,}"
        lines.append(f"{tag:<10} {row['pages']:>12,} {_size(row['record_bytes']):>12} {files!s:>11} "
                     f"{per_page:>10} {alts:>14}")
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
