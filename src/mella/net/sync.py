"""Run the async client from sync stage code: one call, or a stream with bounded memory."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run `factory()` to completion in a fresh event loop and return its result.

    Inside a thread that already runs a loop (a notebook), the work runs in a helper thread instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_call(factory))
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _call(factory)).result()


async def _call(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def iter_async(factory: Callable[[], AsyncIterator[T]], maxsize: int = 16) -> Iterator[T]:
    """Iterate an async generator from sync code; it runs in a background thread, at most `maxsize` ahead.

    Closing the iterator early cancels the async side, so no request outlives the consumer.
    """
    items: queue.Queue = queue.Queue(maxsize)
    stop = threading.Event()
    ready = threading.Event()
    state: dict = {}
    thread = threading.Thread(target=_run_loop, args=(factory, items, stop, ready, state), daemon=True,
                              name="mella-net")
    thread.start()
    ready.wait()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        try:
            state["loop"].call_soon_threadsafe(state["task"].cancel)
        except RuntimeError:  # the loop already finished and closed
            pass
        thread.join()


def _run_loop(factory, items: queue.Queue, stop: threading.Event, ready: threading.Event, state: dict) -> None:
    loop = asyncio.new_event_loop()
    task = loop.create_task(_pump(factory, items, stop))
    state.update(loop=loop, task=task)
    ready.set()
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _pump(factory, items: queue.Queue, stop: threading.Event) -> None:
    try:
        async with aclosing(factory()) as agen:
            async for item in agen:
                if not await _put(items, item, stop):
                    return
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the consumer, who re-raises it in its own thread
        await _put(items, _Failure(exc), stop)
        return
    await _put(items, _END, stop)


async def _put(items: queue.Queue, item, stop: threading.Event) -> bool:
    # Polling keeps the loop free for in-flight requests while the consumer is busy (backpressure).
    while not stop.is_set():
        try:
            items.put_nowait(item)
            return True
        except queue.Full:
            await asyncio.sleep(0.01)
    return False
