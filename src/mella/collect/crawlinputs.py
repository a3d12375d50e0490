"""What ``mella collect`` does with ``cc:<crawl>`` inputs: the shards they become, and how a targeted shard is read.

Without ``langs``, ``cc:CC-MAIN-2025-13`` becomes the crawl's WARC files (``/wat``: its WAT files), each one
shard and one part, read whole as any archive file is. With ``langs`` it becomes the crawl's index files (the
``warc`` subset), each one shard: reading it selects the pages of those languages from the index and reads
exactly their records (:mod:`mella.collect.ccindex`). ``cc_files`` samples the WARC files in both modes (the
same sample on every machine); ``cc_shard i/n`` gives this machine every n-th shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mella.collect.ccindex import (
    INDEX_ROOT,
    IndexScan,
    is_index_file,
    list_index_files,
    select_records,
    selection_for,
    targeted_pages,
)
from mella.collect.commoncrawl import (
    CrawlStore,
    crawl_base,
    is_crawl_input,
    parse_crawl,
    parse_shard,
    sample_files,
)
from mella.errors import MellaError
from mella.net.ranges import RemoteReadError
from mella.pipeline.shards import Shard
from mella.runstore import StageDir, read_json

# Counters of a part whose input, or some of whose records, could not be read: a rerun tries them again.
RETRIED = ("inputs_skipped.unreachable", "inputs_skipped.truncated", "records_unreachable.")


def resolve(inputs: list[str], opts: Any, plain: Callable[[list[str]], list[Shard]]
            ) -> tuple[list[Shard], frozenset[str] | None]:
    """The shards of a collect run, in input order (duplicates removed), and the sampled WARC files of a
    targeted run (None: every file). ``plain`` resolves inputs that name no crawl."""
    crawls = [item for item in inputs if is_crawl_input(item)]
    if opts.langs and len(crawls) != len(inputs):
        other = next(item for item in inputs if not is_crawl_input(item))
        raise MellaError(f"--langs selects pages of a Common Crawl input (cc:<crawl>) through its index; "
                         f"input {other} is not one (filter keeps the alts of a language from any input)")
    if not crawls:
        return plain(inputs), None
    parse_shard(opts.cc_shard)  # a bad i/n is refused before any request
    uris: dict[str, None] = {}
    warc_files: set[str] | None = None
    for item in inputs:
        if not is_crawl_input(item):
            uris.update(dict.fromkeys(s.uri for s in plain([item])))
            continue
        files, sample = crawl_files(item, opts)
        uris.update(dict.fromkeys(files))
        if sample is not None:
            warc_files = (warc_files or set()) | set(sample)
    return [Shard(u) for u in uris], frozenset(warc_files) if warc_files is not None else None


def crawl_files(item: str, opts: Any) -> tuple[list[str], list[str] | None]:
    """The files one ``cc:`` input stands for, and (targeted, sampled) the WARC files its pages must lie in."""
    ref = parse_crawl(item)
    with CrawlStore(crawl_base(opts.cc_base), opts.input_net_options()) as store:
        sample = None
        if opts.cc_files is not None or not opts.langs:
            sample = sample_files(store.read_lines(ref.paths_file), files=opts.cc_files, seed=opts.cc_seed)
        if not opts.langs:
            return [store.url(p) for p in _slice(sample, opts.cc_shard)], None
        if ref.kind != "warc":
            raise MellaError(f"input {item}: --langs reads pages from WARC records through the index; "
                             f"name the crawl itself (cc:{ref.crawl})")
        return [store.url(p) for p in _slice(list_index_files(store, ref), opts.cc_shard)], sample


def _slice(items: list[str], shard: str | None) -> list[str]:
    where = parse_shard(shard)
    return items if where is None else items[where[0]::where[1]]


def is_index_shard(uri: str) -> bool:
    """Whether a shard is an index file, read for the pages it selects (``langs`` given)."""
    return is_index_file(uri)


def targeted_records(uri: str, opts: Any, warc_files: frozenset[str] | None) -> Iterator[dict[str, Any]]:
    """Page, skip and count records for the pages one index file selects; counters of what it cost."""
    base = uri[:uri.index(INDEX_ROOT)]
    selection = selection_for(opts.langs, match=opts.cc_match, tlds=opts.cc_tlds or None,
                              warc_files=sorted(warc_files) if warc_files is not None else None)
    scan = IndexScan()
    with CrawlStore(base, opts.input_net_options(), opts.cc_concurrency) as store:
        fh = store.open(uri)
        try:
            yield from targeted_pages(select_records(fh, selection, scan), store, opts.max_page_bytes)
        except RemoteReadError as exc:
            if uri in str(exc):
                raise
            raise RemoteReadError(f"index file {uri}: {exc}", exc.reason) from None
        finally:
            fh.close()
        for name, value in (("index.row_groups", scan.row_groups), ("index.row_groups_pruned", scan.row_groups_pruned),
                            ("index.rows_scanned", scan.rows), ("index.records_selected", scan.selected),
                            ("cc.bytes_read", store.bytes_read), ("cc.requests", store.requests)):
            yield {"kind": "count", "name": name, "n": value}


def reopen_unreachable(stage_dir) -> list[str]:
    """Un-commit the parts whose counters say an input or records could not be read (not the corrupt ones:
    reading them again gives the same bytes). Returns their names."""
    stage_dir = stage_dir if isinstance(stage_dir, StageDir) else StageDir(stage_dir)
    if not stage_dir.path.is_dir():
        return []
    reopened = []
    for marker in sorted(stage_dir.path.glob("part-*._SUCCESS")):
        counters = read_json(marker).get("counters", {})
        if any(k.startswith(RETRIED) and v for k, v in counters.items()):
            name = marker.name.split(".", 1)[0]
            # The marker goes first: a kill after it leaves a pending part, whose files the next attempt replaces.
            marker.unlink(missing_ok=True)
            (stage_dir.path / "_SUCCESS").unlink(missing_ok=True)
            for stale in (stage_dir.dropped_dir / f"{name}.parquet", stage_dir.path / f"{name}.parquet"):
                stale.unlink(missing_ok=True)
            reopened.append(name)
    return reopened
