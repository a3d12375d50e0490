"""Byte ranges of remote files, read through the guarded client: index footers, column chunks, WARC records.

Common Crawl is read in pieces: the footer and a few column chunks of each index parquet file, then one
WARC record (a gzip member of some tens of KB) at each offset the index names. :class:`RangeReader` keeps
one :class:`~mella.net.client.NetClient` open in a background event loop and serves those reads to sync
code, one at a time (:meth:`RangeReader.read`) or many in flight, in order (:meth:`RangeReader.read_many`).

Every read is a bounded ``Range: bytes=a-b`` request, so the bytes that cross the network are the bytes
asked for (an open-ended range would stream on until the socket closes). What the client already does for
every request applies: the address guard on every hop, the user agent, retries with backoff and jitter on
429/5xx and connection resets, ``Retry-After``. A body cut short is retried as a whole: a range is small.
The reader counts requests and body bytes, the figures the Common Crawl benchmark reports.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mella.errors import MellaError
from mella.net.client import NetClient, NetOptions, Response

# Ranges of one file closer than this are read as one request (the gap is read and dropped).
COALESCE_GAP = 32 * 1024
# ... as long as the merged request stays below this.
COALESCE_MAX = 8 * 1024 * 1024
# The first read of a file asks for its last bytes: the total size comes back in Content-Range, and a
# parquet file's footer (metadata) is almost always within them.
_TAIL = 64 * 1024


class RemoteReadError(MellaError):
    """A remote input failed after its retries (the network or the server, not the content or the config).

    ``reason`` names it for the counters (``unreachable``, ``http_404``, ``truncated`` ...): a stage may
    count the input as skipped and go on, where a refused address or a bad URL stops it.
    """

    def __init__(self, message: str, reason: str = "unreachable"):
        super().__init__(message)
        self.reason = reason


def remote_error(message: str, error: str) -> MellaError:
    """The exception for a failed remote read: a plain :class:`MellaError` for what the user must fix (a
    refused address, an invalid URL), else a :class:`RemoteReadError` a stage may count and skip."""
    head = error.split(" ", 1)[0]
    if head in ("blocked_address", "invalid_url", "tls_error"):
        return MellaError(message)
    return RemoteReadError(message, failure_reason(error))


_TRANSIENT = frozenset({"timeout", "connection_error", "dns_error", "io_error", "http_429"})


def failure_reason(error: str) -> str:
    """The counter name of a failed read: ``unreachable`` for what the client retries and may succeed later
    (timeouts, resets, 429, 5xx; an object store's bare I/O error, ``io_error``), else the error's own name
    (``http_404``, ``not_found``: the server's answer about the file; ``range_ignored``, ``short_body`` ...)."""
    head = error.split(" ", 1)[0]
    transient = head in _TRANSIENT or head.startswith("http_5")
    return "unreachable" if transient else head


@dataclass(frozen=True, order=True)
class Span:
    """Bytes ``[start, start + length)`` of ``url``."""

    url: str
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Merged:
    """One request that covers several spans of one file (see :func:`coalesce`)."""

    span: Span
    parts: list[Span]

    def split(self, data: bytes) -> list[tuple[Span, bytes]]:
        """Each part's bytes out of the merged body (a part past a short body gets what is there)."""
        return [(p, data[p.start - self.span.start:p.end - self.span.start]) for p in self.parts]


def coalesce(spans: Iterable[Span], gap: int = COALESCE_GAP, max_length: int = COALESCE_MAX) -> list[Merged]:
    """Spans sorted by file and offset, neighbours less than ``gap`` bytes apart merged into one request."""
    out: list[Merged] = []
    for span in sorted(spans):
        last = out[-1] if out else None
        if (last is not None and last.span.url == span.url and span.start - last.span.end <= gap
                and max(span.end, last.span.end) - last.span.start <= max_length):
            end = max(span.end, last.span.end)
            last.span = Span(span.url, last.span.start, end - last.span.start)
            last.parts.append(span)
        else:
            out.append(Merged(span, [span]))
    return out


def range_options(options: NetOptions | None = None, *, retries: int = 5, concurrency: int = 8) -> NetOptions:
    """Client settings for archive reads: no robots.txt (the files were named, not crawled), more retries
    than a crawl (a crawl bucket answers 503 "slow down" under load), ``concurrency`` requests per host."""
    base = options or NetOptions()
    return base.model_copy(update={
        "respect_robots": False, "retries": max(base.retries, retries), "per_host_concurrency": concurrency,
        "concurrency": max(base.concurrency, concurrency), "max_bytes": max(base.max_bytes, COALESCE_MAX)})


class RangeReader:
    """Sync access to bounded range reads of http(s) files, over one client in a background loop.

    Use as a context manager. ``bytes_read`` and ``requests`` count what crossed the network (retries
    included in requests).
    """

    def __init__(self, options: NetOptions | None = None):
        self.options = options or range_options()
        self.bytes_read = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="mella-ranges")
        self._thread.start()
        self._client = NetClient(self.options)
        self._call(self._client.__aenter__())

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and stop the loop thread."""
        if self._loop.is_closed():
            return
        try:
            self._call(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- reads
    def read(self, span: Span) -> bytes:
        """The span's bytes; raises :class:`RemoteReadError` (one line naming the file) when it cannot."""
        data, error = self._finish(span, self._call(self._client.get_range(span.url, span.start, span.length)))
        if error is not None:
            raise remote_error(f"cannot read {span.url} bytes {span.start}-{span.end - 1}: {error}", error)
        return data

    def fetch(self, url: str) -> bytes:
        """A whole (small) file with one GET: a paths list, a robots-free file the user named."""
        response = self._call(self._client.get(url))
        self._count(response)
        if response.error is not None or response.body is None:
            raise remote_error(f"cannot read {url}: {response.error or 'no body'}", response.error or "no_body")
        return response.body

    def tail(self, url: str, length: int = _TAIL) -> tuple[int, bytes]:
        """The file's total size and its last ``length`` bytes (all of it when shorter)."""
        response = self._call(self._client.get_range(url, -length, length))
        self._count(response)
        if response.status == 416:  # an empty file: no suffix of it can be served
            return 0, b""
        if response.status == 200:  # the whole file came (or would have, past the cap): no ranges here
            raise RemoteReadError(f"cannot read {url}: the server does not answer range requests (status 200)",
                                  "no_ranges")
        if response.error is not None or response.body is None:
            error = response.error or "no body"
            raise remote_error(f"cannot read {url}: {error}", error)
        total = _total_size(response)
        if total is None:
            raise RemoteReadError(f"cannot read {url}: the server does not answer range requests "
                                  f"(status {response.status}, no Content-Range)", "no_ranges")
        return total, response.body

    def read_many(self, spans: Iterable[Span], ahead: int | None = None) -> Iterator[tuple[Span, bytes | None, str | None]]:
        """``(span, data, None)`` or ``(span, None, error)`` for each span, in the order given, with at most
        ``ahead`` requests in flight (default: the client's per-host concurrency, doubled)."""
        ahead = ahead or 2 * self.options.per_host_concurrency
        window: deque = deque()
        source = iter(spans)
        for span in source:
            window.append((span, asyncio.run_coroutine_threadsafe(
                self._client.get_range(span.url, span.start, span.length), self._loop)))
            if len(window) >= ahead:
                yield self._done(*window.popleft())
        while window:
            yield self._done(*window.popleft())

    def _done(self, span: Span, future) -> tuple[Span, bytes | None, str | None]:
        data, error = self._finish(span, future.result())
        return span, data, error

    def _finish(self, span: Span, response: Response) -> tuple[bytes | None, str | None]:
        self._count(response)
        if response.status == 200:  # the whole file came (or would have): the server ignores Range
            return None, "range_ignored (status 200)"
        if response.error is not None:
            return None, response.error
        start = _range_start(response)
        if start is not None and start != span.start:
            return None, f"range_mismatch (server sent from byte {start})"
        body = response.body or b""
        if len(body) < span.length:
            total = _total_size(response)
            if total is not None and total < span.end:
                return body, None  # the file is shorter than the span: the caller sees a short record
            return None, f"short_body ({len(body)} of {span.length} bytes)"
        return body[:span.length], None

    def _count(self, response: Response) -> None:
        with self._lock:
            self.requests += max(1, response.attempts)
            self.bytes_read += len(response.body or b"")


def _range_start(response: Response) -> int | None:
    value = response.headers.get("content-range", "")
    first = value.removeprefix("bytes").strip().split("-", 1)[0]
    return int(first) if first.isdigit() else None


def _total_size(response: Response) -> int | None:
    total = response.headers.get("content-range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over an http(s) URL whose every read is one bounded range request.

    For formats read by seeking (a parquet footer, then the column chunks a query needs): only those
    bytes cross the network. The first request fetches the file's tail, which gives its size.
    """

    def __init__(self, reader: RangeReader, url: str):
        super().__init__()
        self.reader, self.url = reader, url
        self.size, tail = reader.tail(url)
        self._tail_start = self.size - len(tail)
        self._tail = tail
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        if end <= self._pos:
            return b""
        if self._pos >= self._tail_start:
            data = self._tail[self._pos - self._tail_start:end - self._tail_start]
        else:
            data = self.reader.read(Span(self.url, self._pos, end - self._pos))
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
