"""The ``collect`` stage: WARC, WAT, saved-HTML files and live sites -> CANDIDATES rows.

:meth:`CollectStage.read` turns one input file into batches of raw records (pages, WAT records,
and ``skip``/``count`` records for what could not be used); :meth:`CollectStage.process` extracts
the rows. Skipped records become dropped rows (``drop_reason``) that point back to their file and offset.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from mella.collect import crawlinputs
from mella.collect.html import DEFAULT_CONTEXT_CHARS, DEFAULT_MAX_PAGE_BYTES, default_engine, extract_page
from mella.collect.live import URL_LIST_SUFFIXES, is_sitemap, site_records, sitemap_records, url_list_records
from mella.collect.saved import is_saved_html, saved_page
from mella.collect.sites import CrawlOptions
from mella.collect.structure import blank_structure
from mella.collect.warc import open_input, skip_record, warc_pages
from mella.collect.wat import wat_records, wat_rows
from mella.net.client import NetOptions, NetStageOptions
from mella.net.ranges import RemoteReadError
from mella.options import with_default
from mella.pipeline.checks import languages, no_controls, nonblank, raise_problems
from mella.pipeline.shards import Shard
from mella.pipeline.stage import Emitter, Stage, StageOptions, runtime_option
from mella.records import CANDIDATES

log = logging.getLogger("mella")

# Raw page bytes held per batch: bounds memory whatever the page sizes.
_BATCH_BYTES = 64 * 1024 * 1024


class CollectOptions(StageOptions, NetStageOptions):
    """Options of ``mella collect``; the client's (``allow_hosts`` ...) are :class:`NetStageOptions`."""

    format: Literal["auto", "warc", "wat", "html", "site", "urls", "sitemap"] = Field(
        "auto", description="Input kind; auto: from the name (http(s) page URLs are crawled as sites).")
    context_chars: int = Field(DEFAULT_CONTEXT_CHARS, ge=0, le=20_000, description="Text kept around each image.")
    max_page_bytes: int = Field(DEFAULT_MAX_PAGE_BYTES, gt=0, description="Larger pages are skipped.")
    batch_pages: int = runtime_option(100, gt=0, description="Pages per batch.")
    # Live web (site crawl, URL lists, sitemaps): pages only; images are fetched later by `fetch`.
    crawl: bool = Field(True, description="Follow same-site links from a page URL input (else fetch it alone).")
    max_depth: int = Field(3, ge=0, description="Links followed from a seed URL.")
    max_pages: int = Field(1000, ge=1, description="Pages fetched per seed, sitemap or URL list.")
    scope: Literal["host", "domain"] = Field("host", description="Same host, or same registered domain.")
    # A crawl asks one site for page after page: one second apart unless told otherwise.
    per_host_delay: float = with_default(NetStageOptions, "per_host_delay", 1.0)
    # Common Crawl (cc:CC-MAIN-YYYY-WW inputs; docs/common-crawl.md).
    langs: list[str] = Field(default_factory=list, description=(
        "Languages (mella tags) of a cc: input: read only the pages Common Crawl's index detects in them."))
    cc_match: Literal["any", "primary"] = Field(
        "any", description="A page counts when any of its detected languages is wanted, or only its primary one.")
    cc_tlds: list[str] = Field(default_factory=list, description="With --langs: only hosts under these TLDs.")
    cc_files: int | None = Field(None, ge=1, description=(
        "Read a sample of the crawl: the first N WARC/WAT files after a seeded shuffle (with --langs: only "
        "the selected pages in those files)."))
    cc_seed: int = Field(0, description="Seed of the --cc-files shuffle.")
    cc_shard: str | None = runtime_option(None, description=(
        "i/n: this machine's share of a cc: input's files (every n-th from the i-th), disjoint across i."))
    cc_base: str | None = runtime_option(None, description=(
        "Where crawls lie: https://data.commoncrawl.org/ (default, or MELLA_CC_BASE), s3://commoncrawl/ "
        "(the cc extra), a mirror URL or a local folder."))
    cc_concurrency: int = runtime_option(8, ge=1, le=256, description="Range requests in flight per input.")
    strict: bool = runtime_option(False, description=(
        "An unreachable or corrupt remote input stops the stage (default: it is counted as skipped in "
        "stats.json and the stage goes on; a rerun tries it again)."))

    @model_validator(mode="after")
    def _check(self):
        raise_problems(nonblank(self, "allow_hosts") + no_controls(self, "allow_hosts", "user_agent")
                       + languages(self, "langs") + nonblank(self, "cc_tlds"))
        return self

    def input_net_options(self) -> NetOptions:
        """Client settings for archive files named by URL: the guard with ``allow_hosts``, the user agent."""
        return NetOptions(allow_hosts=tuple(self.allow_hosts), user_agent=self.user_agent)

    def crawl_options(self) -> CrawlOptions:
        net = NetOptions(per_host_concurrency=1, per_host_delay=self.per_host_delay,
                         allow_hosts=tuple(self.allow_hosts), respect_robots=self.respect_robots,
                         user_agent=self.user_agent)
        return CrawlOptions(max_depth=self.max_depth, max_pages=self.max_pages, scope=self.scope, net=net)


def detect_format(uri: str, net: NetOptions | None = None) -> str | None:
    """``warc``, ``wat`` or ``html`` from a file's name, else from its first bytes; None if neither."""
    name = uri.lower().split("?", 1)[0].rsplit("/", 1)[-1]
    if name.endswith(URL_LIST_SUFFIXES):
        return "urls"
    if is_sitemap(uri):
        return "sitemap"
    if ".wat" in name:
        return "wat"
    if name.endswith((".warc", ".warc.gz")):
        return "warc"
    if uri.startswith(("http://", "https://")):
        return "site"  # a page URL (saved-page names like /index.html included): crawl it
    if is_saved_html(name):
        return "html"
    with open_input(uri, net) as fh:
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
    output_version = 2  # 1: the alt_is_link_text column; 2: srcset URLs that hold commas
    Options = CollectOptions
    reads = "files"
    schema = CANDIDATES
    _engine: str | None = None

    _cc_warc_files: frozenset[str] | None = None

    def resolve(self, inputs: list[str]) -> list[Shard]:
        """Files, globs, folders and URLs as every stage reads them; a ``cc:<crawl>`` input becomes the crawl's
        files (with ``langs``: its index files, each read for the pages of those languages)."""
        shards, self._cc_warc_files = crawlinputs.resolve(inputs, self.options, super().resolve)
        return shards

    def read(self, shard) -> Iterator[list[dict[str, Any]]]:
        """Batches of raw records from one input file (bounded in count and in bytes).

        A remote input that stays unreachable, or is cut short or corrupt, ends as a counted skip
        (``inputs_skipped.<reason>``) after the records it gave, which are kept; ``strict`` makes it fatal.
        """
        yield from _batched(self._guarded(shard), self.options.batch_pages, _BATCH_BYTES)

    def _guarded(self, shard) -> Iterator[dict[str, Any]]:
        try:
            yield from self._records(shard)
        except RemoteReadError as exc:
            if self.options.strict:
                raise
            log.warning("collect: skipping input %s: %s", shard.uri, exc)
            yield {"kind": "count", "name": f"inputs_skipped.{exc.reason}", "n": 1}
            yield skip_record(f"input_{exc.reason}", "", shard.uri, -1)

    def _records(self, shard) -> Iterator[dict[str, Any]]:
        opts = self.options
        net = opts.input_net_options()
        if crawlinputs.is_index_shard(shard.uri):
            yield from crawlinputs.targeted_records(shard.uri, opts, self._cc_warc_files)
            return
        fmt = opts.format if opts.format != "auto" else detect_format(shard.uri, net)
        if fmt is None:
            yield {"kind": "count", "name": "files_skipped.unknown_format", "n": 1}
        elif fmt == "warc":
            yield from warc_pages(shard.uri, opts.max_page_bytes, net)
        elif fmt == "wat":
            yield from wat_records(shard.uri, opts.max_page_bytes, net)
        elif fmt == "site":
            yield from site_records(shard.uri, opts.crawl_options(), follow=opts.crawl)
        elif fmt == "sitemap":
            yield from sitemap_records(shard.uri, opts.crawl_options())
        elif fmt == "urls":
            yield from url_list_records(shard.uri, opts.crawl_options())
        else:
            yield saved_page(shard.uri, opts.max_page_bytes, net)

    def before_run(self, shards: list, stage_dir) -> list[str]:
        """Re-open committed parts whose input (or some of its records) could not be read: a rerun tries again."""
        return crawlinputs.reopen_unreachable(stage_dir)

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
            if self._engine is None:  # read once per stage (MELLA_COLLECT_ENGINE), not once per page
                self._engine = default_engine()
            result = extract_page(
                record["data"], record["url"], record["headers"], source=record["source"],
                source_offset=record["offset"], context_chars=self.options.context_chars,
                max_page_bytes=self.options.max_page_bytes, infer_url=record["infer_url"], engine=self._engine,
            )
        if result.skip_reason:
            # The dropped row carries the count (dropped.<reason>); no second counter for it.
            result.counters.pop(f"pages_skipped.{result.skip_reason}", None)
            out.drop(_stub(record), result.skip_reason)
        out.count_all(result.counters)
        out.keep_all(result.rows)


def _stub(record: dict[str, Any]) -> dict[str, Any]:
    """A CANDIDATES row with only the page address and its origin: what a dropped page leaves."""
    row = dict.fromkeys(CANDIDATES.names, "")
    row.update(page_url=record.get("url", ""), source=record.get("source", ""),
               source_offset=record.get("offset", -1), **blank_structure())
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
