"""A remote file (an archive named on the command line) read through the guarded client, as a file object.

:func:`open_remote` gives a buffered, binary, read-only file over an http(s) URL: the address guard runs
on every redirect hop (``allow_hosts`` exempts named hosts), the project's user agent is sent, transient
failures before the body are retried by :class:`~mella.net.client.NetClient`, and a connection lost in
the middle of the body is resumed with a ``Range`` request where the server accepts ranges. Seeks also
use ``Range`` (WARC damage recovery), so the file is seekable exactly when the server accepts ranges.
robots.txt is not consulted: the file was named by the user, not found by crawling.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from mella.net.client import CHUNK, NetClient, NetOptions, Response
from mella.net.ranges import RemoteReadError, remote_error
from mella.net.sync import iter_async

# A forward seek shorter than this reads on instead of opening a new ranged request.
_SKIP_BYTES = 1 << 20
_BUFFER = 1 << 20


@dataclass
class _Head:
    status: int
    headers: dict[str, str]


@dataclass
class _End:
    response: Response


def open_remote(url: str, options: NetOptions | None = None) -> io.BufferedReader:
    """Open an http(s) URL for binary reading through the guarded client; raises MellaError naming it."""
    options = (options or NetOptions()).model_copy(update={"respect_robots": False})
    return io.BufferedReader(RemoteFile(url, options), _BUFFER)


class RemoteFile(io.RawIOBase):
    """The raw side of :func:`open_remote`: one streaming GET at a time, reopened with Range at a seek."""

    def __init__(self, url: str, options: NetOptions):
        super().__init__()
        self.url, self.options = url, options
        self.size: int | None = None
        self._ranges = False
        self._pos = 0          # where the reader is
        self._stream_pos = 0   # where the open stream is
        self._chunks: Iterator | None = None
        self._pending = b""
        self._resumes = 0
        self._open(0)

    # -- io.RawIOBase
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._ranges

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise io.UnsupportedOperation(f"{self.url}: size unknown, cannot seek from the end")
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos and not self._ranges and target < self._stream_pos:
            raise io.UnsupportedOperation(f"{self.url}: the server does not accept ranges, cannot seek back")
        self._pos = target
        return target

    def readinto(self, buffer) -> int:
        if self._pos != self._stream_pos:
            self._reposition()
        while not self._pending:
            if self.size is not None and self._pos >= self.size:
                return 0
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        self._stream_pos += n
        return n

    def close(self) -> None:
        self._stop()
        super().close()

    # -- streaming
    def _open(self, pos: int) -> None:
        self._stop()
        self._chunks = iter_async(lambda: _stream(self.url, self.options, pos), maxsize=8)
        first = next(self._chunks)
        if isinstance(first, _End):
            self._stop()
            raise remote_error(f"cannot read input {self.url}: {_describe(first.response)}",
                               first.response.error or "no_body")
        if pos and first.status != 206:  # the server ignored the Range header
            self._stop()
            raise RemoteReadError(f"cannot read input {self.url}: the server does not resume at byte {pos}")
        self._ranges = first.status == 206 or first.headers.get("accept-ranges", "").lower() == "bytes"
        self.size = _size(first, pos)
        self._pos = self._stream_pos = pos
        self._pending = b""

    def _reposition(self) -> None:
        gap = self._pos - self._stream_pos
        if 0 < gap <= _SKIP_BYTES or (gap > 0 and not self._ranges):
            target, self._pos = self._pos, self._stream_pos
            while self._pos < target:  # read on and drop: cheaper than a new request for a short gap
                data = self.read(min(target - self._pos, CHUNK))
                if not data:
                    break
            return
        self._open(self._pos)

    def _next_chunk(self) -> bytes | None:
        """The next bytes of the stream; resumes a broken stream with Range; None at the end."""
        item = next(self._chunks, None)
        if isinstance(item, bytes):
            self._resumes = 0
            return item
        response = item.response if isinstance(item, _End) else None
        complete = response is not None and response.error is None and (
            self.size is None or self._stream_pos >= self.size)
        if complete:
            return None
        if not self._ranges or self._resumes >= self.options.retries:
            what = _describe(response) if response is not None else "the stream ended early"
            raise RemoteReadError(f"cannot read input {self.url}: {what} at byte {self._stream_pos}",
                                  "unreachable" if response is not None and response.error else "truncated")
        self._resumes += 1
        self._open(self._stream_pos)
        return b""

    def _stop(self) -> None:
        if self._chunks is not None:
            self._chunks.close()
            self._chunks = None


def _size(head: _Head, pos: int) -> int | None:
    total = head.headers.get("content-range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = head.headers.get("content-length", "")
    return pos + int(length) if length.isdigit() and "content-encoding" not in head.headers else None


def _describe(response: Response) -> str:
    error = response.error or "no body"
    if error == "blocked_address":
        where = f" ({response.final_url})" if response.final_url != response.url else ""
        return (f"blocked_address{where}: the address guard refuses loopback, private and link-local "
                "addresses (--allow-hosts exempts a host)")
    return error


async def _stream(url: str, options: NetOptions, offset: int) -> AsyncIterator[_Head | bytes | _End]:
    """A _Head, the body's chunks, then an _End with the client's Response (its error, if any)."""
    queue: asyncio.Queue = asyncio.Queue(4)

    async def on_body(r) -> str | None:
        import aiohttp

        await queue.put(_Head(r.status, {k.lower(): v for k, v in r.headers.items()}))
        try:
            async for chunk in r.content.iter_chunked(CHUNK):
                await queue.put(chunk)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"connection lost ({exc.__class__.__name__})"
        return None

    async def run() -> None:
        headers = {"Accept-Encoding": "identity"}  # the file's own bytes, so offsets are the file's
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            async with NetClient(options) as client:
                response = await client.stream(url, on_body, headers=headers)
        except Exception as exc:  # a programmer error in the client: handed to the reader, who raises it
            await queue.put(exc)
            return
        await queue.put(_End(response))

    task = asyncio.create_task(run())
    try:
        while True:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            yield item
            if isinstance(item, _End):
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
