"""The one HTTP client both crawling and downloading use: guard, robots.txt, per-host limits, byte caps.

aiohttp is imported only when a client is opened, so importing this package stays cheap.
"""

from mella.net.client import NetClient, NetOptions, NetStageOptions, Response
from mella.net.sync import iter_async, run_sync

__all__ = ["NetClient", "NetOptions", "NetStageOptions", "Response", "iter_async", "run_sync", "get_many"]


def get_many(urls: list[str], options: NetOptions | None = None) -> list[Response]:
    """GET many URLs from sync code, concurrently within the client's limits; one Response per URL, in order."""
    import asyncio

    async def work() -> list[Response]:
        async with NetClient(options) as client:
            return list(await asyncio.gather(*(client.get(u) for u in urls)))

    return run_sync(work)
