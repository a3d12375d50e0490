"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` server.

vLLM serve, transformers serve, SGLang, llama.cpp's server and hosted APIs all speak it. Images
travel as base64 data URLs; requests run concurrently up to a limit; 429, 5xx, timeouts and
dropped connections are retried with exponential backoff (honouring ``Retry-After``); the API key
comes from an environment variable whose name is an option, never from the config itself.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import random
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from mella.errors import MellaError
from mella.models.base import Backend, BackendOptions, GenOptions, GenRequest, chat_messages, fit_pixels

log = logging.getLogger("mella.models")

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


class OpenAIOptions(BackendOptions):
    """Options of the OpenAI-compatible HTTP backend."""

    base_url: str = Field("http://127.0.0.1:8000/v1", description="server root, up to and including /v1")
    api_key_env: str = Field(DEFAULT_KEY_ENV, description="environment variable holding the API key")
    concurrency: int = Field(8, ge=1, description="requests in flight at once")
    max_retries: int = Field(5, ge=0)
    timeout_s: float = Field(120.0, gt=0, description="per request, including generation")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles on each retry")
    max_backoff_s: float = Field(30.0, ge=0)
    image_format: Literal["PNG", "JPEG", "WEBP"] = "PNG"
    max_pixels: int | None = Field(None, ge=1, description="downscale larger images before sending")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="merged into every request body")


class OpenAIBackend(Backend):
    """Chat completions over HTTP; ``translate`` is the LLM prompt path, ``score`` is not offered."""

    name = "openai"
    Options = OpenAIOptions

    def info(self) -> dict[str, Any]:
        return super().info() | {"base_url": self.options.base_url}

    def generate(self, requests: Sequence[GenRequest], options: GenOptions | None = None) -> list[str]:
        """One completion per request, in order (requests run concurrently up to ``concurrency``)."""
        coro = self.agenerate(requests, options)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        # Called from inside an event loop (a notebook, an async stage): run ours in a thread.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    async def agenerate(self, requests: Sequence[GenRequest], options: GenOptions | None = None) -> list[str]:
        """The async form of :meth:`generate`."""
        import aiohttp

        options = options or GenOptions()
        headers = {"Content-Type": "application/json"} | self._auth_header()
        limit = asyncio.Semaphore(self.options.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_s)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:

            async def one(request: GenRequest) -> str:
                async with limit:
                    return await self._complete(session, self.request_body(request, options))

            return list(await asyncio.gather(*(one(r) for r in requests)))

    def request_body(self, request: GenRequest, options: GenOptions) -> dict[str, Any]:
        """The JSON body of one chat completion request."""
        part = self._image_part(request.image) if request.image is not None else None
        body: dict[str, Any] = {"model": self.options.model, "messages": chat_messages(request, image_part=part),
                                "max_tokens": options.max_new_tokens, "temperature": options.temperature,
                                "top_p": options.top_p, "stream": False}
        if options.seed is not None:
            body["seed"] = options.seed
        if options.repetition_penalty != 1.0:  # not in OpenAI's API; vLLM and transformers accept it
            body["repetition_penalty"] = options.repetition_penalty
        return body | self.options.extra_body

    def _image_part(self, image) -> dict[str, Any]:
        image = fit_pixels(image, None, self.options.max_pixels)
        buf = io.BytesIO()
        image.save(buf, format=self.options.image_format)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return {"type": "image_url", "image_url": {"url": f"data:image/{self.options.image_format.lower()};base64,{data}"}}

    def _auth_header(self) -> dict[str, str]:
        env = self.options.api_key_env
        key = os.environ.get(env)
        if key:
            return {"Authorization": f"Bearer {key}"}
        if env != DEFAULT_KEY_ENV:  # the user named a variable on purpose: its absence is a mistake
            raise MellaError(f"openai backend: environment variable {env} (api_key_env) is not set")
        return {}  # local servers usually need no key

    async def _complete(self, session, body: dict[str, Any]) -> str:
        """POST one request, retrying what a retry can fix; returns the message text."""
        url = self.options.base_url.rstrip("/") + "/chat/completions"
        for attempt in range(self.options.max_retries + 1):
            last = attempt == self.options.max_retries
            try:
                async with session.post(url, json=body) as resp:
                    if resp.status == 200:
                        return _message_text(await resp.json(content_type=None))
                    text = (await resp.text())[:300]
                    if resp.status not in RETRY_STATUS or last:
                        raise MellaError(f"openai backend: {url} answered HTTP {resp.status}: {_one_line(text)}")
                    delay = self._delay(attempt, resp.headers.get("Retry-After"))
                    log.warning("HTTP %s from %s; retry %d in %.1fs", resp.status, url, attempt + 1, delay)
            except (TimeoutError, OSError, _client_errors()) as exc:
                if last:
                    raise MellaError(f"openai backend: {url} failed after {attempt + 1} tries: "
                                     f"{type(exc).__name__}: {exc}") from None
                delay = self._delay(attempt, None)
                log.warning("%s from %s; retry %d in %.1fs", type(exc).__name__, url, attempt + 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After (seconds) wins, within max_backoff_s."""
        if retry_after is not None:
            try:
                return min(float(retry_after), self.options.max_backoff_s)
            except ValueError:
                pass  # an HTTP date: fall back to our own schedule
        base = min(self.options.backoff_s * 2 ** attempt, self.options.max_backoff_s)
        return base * (0.5 + random.random() / 2)  # jitter: clients that failed together retry apart


def _client_errors():
    import aiohttp

    return aiohttp.ClientError


def _message_text(payload: dict[str, Any]) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise MellaError(f"openai backend: unexpected response: {_one_line(str(payload)[:300])}") from None
    return (content or "").strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())
