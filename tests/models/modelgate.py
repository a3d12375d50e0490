"""A loopback gate in front of a real OpenAI-compatible server: it forwards every request unchanged,
and can first answer with an injected status (429, 503, ...) or a delay, while recording what a
server sees (Authorization headers, requests in flight). Fault injection, not a fake: the answers
that succeed come from the real server behind it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from aiohttp import ClientSession, web


@dataclass
class GateState:
    actions: list = field(default_factory=list)  # per incoming request, in order: an int status or ("sleep", s)
    hold_s: float = 0.05  # keep each forwarded request open a moment so concurrency is observable
    attempts: int = 0
    forwarded: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    auth: list = field(default_factory=list)


class Gate:
    """``with Gate(upstream) as gate:`` serves on ``gate.url`` (``http://127.0.0.1:PORT/v1``)."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.state = GateState()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def reset(self, actions=(), hold_s: float = 0.05) -> GateState:
        self.state = GateState(actions=list(actions), hold_s=hold_s)
        return self.state

    async def _handle(self, request: web.Request) -> web.Response:
        st = self.state
        st.attempts += 1
        st.auth.append(request.headers.get("Authorization"))
        body = await request.read()
        action = st.actions.pop(0) if st.actions else None
        if isinstance(action, int):
            return web.json_response({"error": {"message": f"injected {action}"}}, status=action,
                                     headers={"Retry-After": "0"})
        if isinstance(action, tuple):  # ("sleep", seconds): slower than the client's timeout
            await asyncio.sleep(action[1])
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            await asyncio.sleep(st.hold_s)
            async with self._session.post(self.upstream + request.path.removeprefix("/v1"), data=body,
                                          headers={"Content-Type": "application/json"}) as resp:
                st.forwarded += 1
                return web.Response(status=resp.status, body=await resp.read(), content_type="application/json")
        finally:
            st.in_flight -= 1

    async def _start(self) -> None:
        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"

    async def _stop(self) -> None:
        await self._session.close()
        await self._runner.cleanup()

    def __enter__(self) -> Gate:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
