"""Per-host politeness: a concurrency limit and a minimum delay between request starts, per host."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class HostLimiter:
    """At most `per_host` requests in flight per host, their starts at least `delay` seconds apart."""

    def __init__(self, per_host: int, delay: float):
        self.per_host = per_host
        self.delay = delay
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}
        self._delays: dict[str, float] = {}

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise this host's delay (robots.txt Crawl-delay); never below the configured one."""
        self._delays[host] = max(self.delay, seconds)

    def delay_for(self, host: str) -> float:
        """Seconds between two request starts on this host."""
        return self._delays.get(host, self.delay)

    def push_back(self, host: str, seconds: float) -> None:
        """Start nothing on this host for `seconds` (a Retry-After the server asked for)."""
        until = asyncio.get_running_loop().time() + seconds
        self._next[host] = max(self._next.get(host, 0.0), until)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's request slots, waiting for its turn first."""
        sem = self._sems.setdefault(host, asyncio.Semaphore(self.per_host))
        async with sem:
            await self._wait_turn(host)
            yield

    async def _wait_turn(self, host: str) -> None:
        # The lock makes waiters take turns, so two requests can't both see the slot as free.
        async with self._locks.setdefault(host, asyncio.Lock()):
            loop = asyncio.get_running_loop()
            wait = self._next.get(host, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next[host] = loop.time() + self.delay_for(host)
