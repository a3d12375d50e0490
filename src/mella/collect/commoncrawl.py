"""Common Crawl by name: ``cc:CC-MAIN-2025-13`` (WARC), ``cc:CC-MAIN-2025-13/wat``, and where their files lie.

A crawl is a set of files under a base: ``crawl-data/<crawl>/warc.paths.gz`` lists its WARC files,
``wat.paths.gz`` its WAT files, ``cc-index-table.paths.gz`` the parquet files of its columnar URL index. The
base is Common Crawl's public HTTPS endpoint unless ``--cc-base`` (or ``MELLA_CC_BASE``) names another: an
``s3://commoncrawl/`` bucket (the ``cc`` extra, s3fs), a mirror, a local folder.

:class:`CrawlStore` reads what a harvest needs from that base: the paths files, index files opened for
seeking, and byte ranges of WARC files. Over http(s) every read goes through the guarded client
(:mod:`mella.net.ranges`): user agent, address guard, retries with backoff on 429/503 and resets.
"""

from __future__ import annotations

import builtins
import gzip
import os
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mella.collect.warc import open_input
from mella.errors import MellaError, MissingExtraError
from mella.net.client import NetOptions
from mella.net.ranges import RangeFile, RangeReader, RemoteReadError, Span, range_options

CC_PREFIX = "cc:"
DEFAULT_BASE = "https://data.commoncrawl.org/"
BASE_ENV = "MELLA_CC_BASE"
KINDS = ("warc", "wat")
_CRAWL = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class CrawlRef:
    """A named crawl and which of its file sets: ``warc`` (pages) or ``wat`` (link metadata)."""

    crawl: str
    kind: str = "warc"

    @property
    def paths_file(self) -> str:
        return f"crawl-data/{self.crawl}/{self.kind}.paths.gz"

    @property
    def index_paths_file(self) -> str:
        return f"crawl-data/{self.crawl}/cc-index-table.paths.gz"


def is_crawl_input(item: str) -> bool:
    """Whether an input names a crawl (``cc:...``) rather than a file."""
    return item.startswith(CC_PREFIX)


def parse_crawl(item: str) -> CrawlRef:
    """``cc:CC-MAIN-2025-13`` or ``cc:CC-MAIN-2025-13/wat`` -> :class:`CrawlRef`; one-line error otherwise."""
    body = item[len(CC_PREFIX):].strip().strip("/")
    crawl, _, kind = body.partition("/")
    kind = kind or "warc"
    if not _CRAWL.fullmatch(crawl) or kind not in KINDS:
        raise MellaError(f"input {item}: a crawl is named cc:CC-MAIN-YYYY-WW (WARC files) or "
                         "cc:CC-MAIN-YYYY-WW/wat (WAT files), e.g. cc:CC-MAIN-2025-13")
    return CrawlRef(crawl, kind)


def crawl_base(option: str | None = None) -> str:
    """The base the crawl's paths are relative to: the option, else ``MELLA_CC_BASE``, else the public endpoint;
    always ending in ``/`` (a local folder is made absolute)."""
    base = option or os.environ.get(BASE_ENV) or DEFAULT_BASE
    if "://" not in base:
        base = str(Path(base).expanduser().resolve())
    return base if base.endswith("/") else base + "/"


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None when not given."""
    if not value:
        return None
    m = _SHARD.fullmatch(value.strip())
    if not m or not int(m.group(1)) < int(m.group(2)):
        raise MellaError(f"cc_shard {value!r}: write i/n with 0 <= i < n, e.g. 0/4 for the first of four machines")
    return int(m.group(1)), int(m.group(2))


def sample_files(paths: list[str], *, files: int | None = None, seed: int = 0) -> list[str]:
    """The files a harvest reads: all of them in the listed order, or with ``files``, the first ``files`` of
    a shuffle seeded with ``seed``: the same sample on every machine and every rerun."""
    if files is None:
        return list(paths)
    order = sorted(paths)
    random.Random(seed).shuffle(order)
    return order[:files]


class CrawlStore:
    """Reads one crawl base: a local folder, http(s) through the guarded client, or fsspec (``s3://``).

    Use as a context manager; ``bytes_read`` and ``requests`` count what was read from the base.
    """

    def __init__(self, base: str, net: NetOptions | None = None, concurrency: int = 8):
        self.base = base
        self.net = net
        self.concurrency = concurrency
        self.kind = "http" if base.startswith(("http://", "https://")) else "fsspec" if "://" in base else "local"
        self._reader: RangeReader | None = None
        self._bytes = self._requests = 0

    def __enter__(self) -> CrawlStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def bytes_read(self) -> int:
        return self._bytes + (self._reader.bytes_read if self._reader else 0)

    @property
    def requests(self) -> int:
        return self._requests + (self._reader.requests if self._reader else 0)

    def url(self, rel: str) -> str:
        """Where a crawl-relative path (``crawl-data/...``, ``cc-index/...``) lies under the base."""
        if "://" in rel or rel.startswith("/"):
            return rel
        return self.base + rel.lstrip("/")

    def relative(self, location: str) -> str:
        """The crawl-relative path of a location under the base (the index's ``warc_filename`` form)."""
        return location[len(self.base):] if location.startswith(self.base) else location

    # -- whole small files
    def read_lines(self, rel: str) -> list[str]:
        """The lines of a (gzipped) paths file; one-line error naming it when it cannot be read."""
        location = self.url(rel)
        try:
            data = self._read_all(location)
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise MellaError(f"cannot read {location}: {exc.__class__.__name__}: {exc}") from None
        return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]

    def _read_all(self, location: str) -> bytes:
        if self.kind == "http":
            return self._range_reader().fetch(location)
        with self.open(location) as fh:
            return fh.read()

    # -- seekable files (index parquet)
    def open(self, location: str) -> IO[bytes]:
        """A seekable binary file: each read of an http(s) file is one bounded range request; a local or
        fsspec file is opened as every archive input is (:func:`mella.collect.warc.open_input`: one-line
        errors, the cc extra named for s3://, no fsspec protocol that reads over HTTP outside the guard)."""
        if self.kind == "http":
            return RangeFile(self._range_reader(), location)
        return _CountingFile(open_input(location, self.net), self)

    # -- byte ranges (WARC records)
    def read_many(self, spans: Iterable[Span]) -> Iterator[tuple[Span, bytes | None, str | None]]:
        """Each span's bytes (or its error), in order; over http(s) ``concurrency`` requests in flight."""
        if self.kind == "http":
            yield from self._range_reader().read_many(spans, 2 * self.concurrency)
            return
        handles: dict[str, IO[bytes]] = {}
        try:
            for span in spans:
                try:
                    fh = handles.get(span.url)
                    if fh is None:
                        fh = handles[span.url] = self.open(span.url)
                    fh.seek(span.start)
                    yield span, fh.read(span.length), None
                except OSError as exc:
                    yield span, None, f"{store_error(exc.__class__)} {exc.__class__.__name__}: {exc}"
                except MellaError as exc:
                    # A local file that cannot be opened stops the run (the user's crawl copy is wrong); a remote
                    # (fsspec) one is this record's failure: open_input's "<why>" after "cannot read input <uri>: ".
                    if self.kind == "local" or isinstance(exc, MissingExtraError):
                        raise
                    why = str(exc).split(f"{span.url}: ", 1)[-1]
                    yield span, None, f"{store_error(getattr(builtins, why.split(':', 1)[0], None))} {why}"
        finally:
            for fh in handles.values():
                fh.close()

    def _range_reader(self) -> RangeReader:
        if self._reader is None:
            self._reader = RangeReader(range_options(self.net, concurrency=self.concurrency))
        return self._reader


def store_error(cls: type | None) -> str:
    """The failure name of a local or fsspec read that raised ``cls``, named as the http reader names its
    failures (:func:`mella.net.ranges.failure_reason` reads it): ``not_found`` and ``forbidden`` are the
    store's answer about the file; ``timeout``, ``connection_error`` and any other I/O error (``io_error``:
    an object store's throttling or a dropped stream, which fsspec raises as a bare ``OSError``) may pass on
    a rerun, so their records count as unreachable and are read again."""
    if not isinstance(cls, type):
        return "io_error"
    for base, name in ((FileNotFoundError, "not_found"), (IsADirectoryError, "not_found"),
                       (PermissionError, "forbidden"), (TimeoutError, "timeout"),
                       (ConnectionError, "connection_error")):
        if issubclass(cls, base):
            return name
    return "io_error"


class _CountingFile:
    """A file whose reads add to the store's byte and request counters (local and fsspec reads)."""

    def __init__(self, fh: IO[bytes], store: CrawlStore):
        self._fh, self._store = fh, store

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._store._bytes += len(data)
        self._store._requests += 1
        return data

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


__all__ = ["CC_PREFIX", "CrawlRef", "CrawlStore", "RemoteReadError", "crawl_base", "is_crawl_input",
           "parse_crawl", "sample_files"]
