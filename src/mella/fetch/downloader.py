"""Download a batch of image URLs through :class:`mella.net.NetClient`; results stream out as they finish.

The client lives on a background event loop for the whole worker, so robots.txt is fetched once per host
and connections are reused across batches. Results come back in completion order, so the caller decodes
one image while the others are still downloading.
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from mella.net import NetClient, NetOptions, Response

# Statuses a later run may retry: the next attempt can go differently (see docs/fetch.md).
TRANSIENT = frozenset({"timeout", "connection_error", "http_429"})
AI_DIRECTIVES = frozenset({"noai", "noimageai", "none"})
# X-Robots-Tag directives that carry a value after a colon, so "name: value" is not a user-agent prefix.
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})


def is_transient(status: str | None) -> bool:
    """True for a failure worth retrying later: timeouts, connection errors, 429 and 5xx answers."""
    if not status:
        return False
    return status in TRANSIENT or (status.startswith("http_5") and len(status) == 8)


@dataclass
class Download:
    """What one image URL gave: `status` is "ok" or why not (a `mella.net` error name, or "noai")."""

    url: str
    status: str
    error: str | None = None
    http_status: int | None = None
    body: bytes | None = None
    final_url: str | None = None
    x_robots_tag: str | None = None


def refuses_ai(x_robots_tag: str | None, token: str) -> bool:
    """True when an X-Robots-Tag value says noai / noimageai / none, for every agent or for `token`."""
    if not x_robots_tag:
        return False
    agent = None
    for item in x_robots_tag.lower().split(","):
        name, sep, rest = item.partition(":")
        if sep and name.strip() not in _VALUED:
            # "mella: noai, noimageai": the agent applies to this item and the ones after it.
            agent, item = name.strip(), rest
        if item.strip() in AI_DIRECTIVES and agent in (None, "*", token.lower()):
            return True
    return False


def to_download(resp: Response, token: str, honour_noai: bool = True) -> Download:
    """A NetClient Response as a Download, refusing it when X-Robots-Tag forbids AI use."""
    d = Download(url=resp.url, status="ok", http_status=resp.status, body=resp.body, final_url=resp.final_url,
                 x_robots_tag=resp.x_robots_tag)
    if resp.error:
        d.status, d.error, d.body = resp.error, _error_text(resp), None
    elif honour_noai and refuses_ai(resp.x_robots_tag, token):
        d.status, d.error, d.body = "noai", f"X-Robots-Tag: {resp.x_robots_tag}", None
    return d


def _error_text(resp: Response) -> str:
    hops = f" after redirects {' -> '.join(resp.redirects)}" if resp.redirects else ""
    return f"{resp.error} at {resp.final_url}{hops} (attempts: {resp.attempts})"


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Downloader:
    """A NetClient on its own event loop thread: `for i, d in downloader.iter_downloads(urls): ...`."""

    def __init__(self, options: NetOptions, honour_noai: bool = True, max_pending: int = 256):
        self.options, self.honour_noai, self.max_pending = options, honour_noai, max_pending
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: NetClient | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Downloader:
        """Start the loop thread and open the client (idempotent)."""
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="mella-fetch")
        self._thread.start()
        self._client = self._call(self._open())
        atexit.register(self.close)
        return self

    async def _open(self) -> NetClient:
        client = NetClient(self.options)
        return await client.__aenter__()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Close the client and stop the loop thread."""
        if self._loop is None:
            return
        loop, self._loop = self._loop, None
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()
        atexit.unregister(self.close)

    def iter_downloads(self, urls: list[str]) -> Iterator[tuple[int, Download]]:
        """(index into `urls`, Download) for every URL, in completion order."""
        self.start()
        results: queue.Queue = queue.Queue()
        # Tickets bound what is downloaded but not yet consumed, so memory stays bounded when decoding lags.
        tickets = self._call(_make_semaphore(self.max_pending))
        future = asyncio.run_coroutine_threadsafe(self._produce(urls, results, tickets), self._loop)
        try:
            for _ in range(len(urls)):
                item = results.get()
                if isinstance(item, _Failure):
                    raise item.exc
                self._loop.call_soon_threadsafe(tickets.release)
                yield item
        finally:
            future.cancel()

    async def _produce(self, urls: list[str], results: queue.Queue, tickets: asyncio.Semaphore) -> None:
        token = self.options.robots_token()

        async def one(i: int, url: str) -> None:
            try:
                resp = await self._client.get(url)
                results.put((i, to_download(resp, token, self.honour_noai)))
            except Exception as exc:  # a bug, not a network failure (those are data): hand it over
                results.put(_Failure(exc))

        tasks = []
        for i, url in enumerate(urls):
            await tickets.acquire()
            tasks.append(asyncio.ensure_future(one(i, url)))
        await asyncio.gather(*tasks)


async def _make_semaphore(n: int) -> asyncio.Semaphore:
    # Created inside the loop that uses it.
    return asyncio.Semaphore(n)


def download_all(urls: list[str], options: NetOptions, honour_noai: bool = True) -> list[Download]:
    """Download every URL once from sync code; results in input order."""
    downloader = Downloader(options, honour_noai)
    try:
        out: list[Download | None] = [None] * len(urls)
        for i, d in downloader.iter_downloads(urls):
            out[i] = d
        return out  # type: ignore[return-value]
    finally:
        downloader.close()
