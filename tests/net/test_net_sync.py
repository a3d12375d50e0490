"""Sync bridges: run_sync and the bounded background stream."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mella.net import iter_async, run_sync


def test_run_sync_outside_and_inside_a_running_loop():
    async def answer():
        await asyncio.sleep(0)
        return 42

    assert run_sync(answer) == 42

    async def nested():
        return run_sync(answer)  # e.g. a notebook cell calling sync stage code

    assert asyncio.run(nested()) == 42


def test_stream_is_bounded_and_stops_when_the_consumer_stops():
    produced = []
    finished = threading.Event()

    async def numbers():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            finished.set()

    stream = iter_async(numbers, maxsize=4)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert finished.wait(5)
    assert len(produced) <= 3 + 4 + 2  # read, queued, and one in hand: never the whole thousand


def test_stream_reraises_errors_in_the_consumer():
    async def failing():
        yield 1
        raise ValueError("boom")

    stream = iter_async(failing)
    assert next(stream) == 1
    with pytest.raises(ValueError, match="boom"):
        next(stream)
