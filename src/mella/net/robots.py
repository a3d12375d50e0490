"""robots.txt: fetched once per origin through the guarded client, cached, checked before every request.

Unavailable robots.txt follows Google's convention
(https://developers.google.com/search/docs/crawling-indexing/robots/robots_txt#handling-http-result-codes):

- 2xx: parsed with protego and obeyed (rules and Crawl-delay for our user-agent token).
- 4xx (404, 403, 410, ...): there are no rules, everything is allowed.
- 429, 5xx, a network error, a blocked address or a timeout: the site is treated as fully disallowed, because
  we cannot know what it wants. (Google retries later; one crawl run just skips the site.)
- Redirects are followed (up to the client's limit), each hop guarded. A robots.txt over 512 KiB is cut
  there (Google reads the first 500 KiB); what we read is parsed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("mella.net")

MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsRules:
    """The parsed robots.txt of one origin, or a blanket allow/deny."""

    parser: object | None = None  # protego.Protego
    allow_all: bool = False
    fetch_error: str | None = None  # a network-level failure fetching robots.txt (no HTTP status)

    def allows(self, url: str, token: str) -> bool:
        """True when `token` may fetch `url`."""
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(url, token)

    def crawl_delay(self, token: str) -> float | None:
        """The Crawl-delay (seconds) for `token`, if any."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(token)
        return float(delay) if delay is not None else None


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: robots.txt applies per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def rules_from_response(status: int | None, body: bytes | None, error: str | None) -> RobotsRules:
    """Robots rules from the fetch of /robots.txt, following the convention in this module's docstring."""
    from protego import Protego

    if status is not None and 200 <= status < 300 and body is not None:
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return RobotsRules(parser=Protego.parse(text))
    if status is not None and 400 <= status < 500 and status != 429:
        return RobotsRules(allow_all=True)
    return RobotsRules(allow_all=False, fetch_error=error if status is None else None)


class RobotsCache:
    """robots.txt rules per origin, each fetched once even when many requests wait for it."""

    def __init__(self, fetch: Callable[[str], Awaitable[tuple[int | None, bytes | None, str | None]]],
                 token: str, on_delay: Callable[[str, float], None], max_delay: float):
        self._fetch = fetch
        self.token = token
        self._on_delay = on_delay
        self.max_delay = max_delay
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(self, url: str) -> str | None:
        """None when robots.txt lets our user agent fetch `url`, else why not.

        "robots_disallowed", or the network error that kept robots.txt from us ("blocked_address",
        "dns_error", "timeout", ...): the page itself would have failed the same way.
        """
        if urlsplit(url).path == "/robots.txt":
            return None
        rules = await self.rules(origin(url))
        if rules.allows(url, self.token):
            return None
        return rules.fetch_error or "robots_disallowed"

    async def rules(self, key: str) -> RobotsRules:
        """The rules of one origin, fetching robots.txt the first time."""
        if key in self._rules:
            return self._rules[key]
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._rules:
                self._rules[key] = await self._load(key)
        return self._rules[key]

    async def _load(self, key: str) -> RobotsRules:
        status, body, error = await self._fetch(key + "/robots.txt")
        rules = rules_from_response(status, body, error)
        log.debug("robots.txt %s: status=%s error=%s allow_all=%s", key, status, error, rules.allow_all)
        delay = rules.crawl_delay(self.token)
        if delay:
            # A huge Crawl-delay would stall a run for hours; the cap keeps the crawl moving but slow.
            self._on_delay(urlsplit(key).hostname or "", min(delay, self.max_delay))
        return rules
