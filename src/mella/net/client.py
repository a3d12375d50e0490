"""The one HTTP client of mella: the site crawler and the image fetcher both go through it.

Every request is guarded (:mod:`mella.net.guard`), checked against robots.txt (:mod:`mella.net.robots`),
throttled per host (:mod:`mella.net.limits`), capped in bytes while streaming and retried only for
transient failures. Failures come back as data in :class:`Response.error`, never as exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from mella.net.guard import BLOCKED, Allowlist, BlockedAddressError, check_url, guarded_resolver
from mella.net.limits import HostLimiter
from mella.net.robots import MAX_ROBOTS_BYTES, RobotsCache
from mella.options import runtime_option

log = logging.getLogger("mella.net")

PROJECT_URL = "https://github.com/mella-project/mella"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


def _version() -> str:
    from mella import __version__

    return __version__


class NetOptions(BaseModel):
    """Settings of the HTTP client; the defaults are polite and safe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_agent: str | None = Field(None, description="product token; default mella/<version>")
    contact_url: str | None = Field(PROJECT_URL, description="put in the User-Agent so site owners can reach you")
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0, description="longest silence while reading")
    total_timeout: float = Field(120.0, gt=0, description="whole request, per attempt")
    max_bytes: int = Field(32 * 1024 * 1024, gt=0, description="body cap, enforced while streaming")
    max_redirects: int = Field(5, ge=0)
    retries: int = Field(2, ge=0, description="extra attempts for transient failures only")
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    max_retry_after: float = Field(60.0, ge=0, description="cap on a server's Retry-After")
    concurrency: int = Field(32, ge=1, description="requests in flight overall")
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay: float = Field(0.0, ge=0, description="minimum seconds between request starts per host")
    max_crawl_delay: float = Field(30.0, ge=0, description="cap on robots.txt Crawl-delay")
    verify_tls: bool = True
    allow_hosts: tuple[str, ...] = Field((), description="host or host:port exempt from the address guard")
    respect_robots: bool = True

    def header_user_agent(self) -> str:
        """The User-Agent header: `mella/0.1.0 (+https://...)`."""
        agent = self.user_agent or f"mella/{_version()}"
        return f"{agent} (+{self.contact_url})" if self.contact_url else agent

    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against (`mella`)."""
        return (self.user_agent or "mella").split("/", 1)[0].strip()


class NetStageOptions(BaseModel):
    """The client options every stage that reaches the web offers (``collect``, ``fetch``), declared once.

    A stage's Options inherit them (``class FetchOptions(StageOptions, NetStageOptions)``), so the flags, YAML
    keys, types, limits, descriptions and fingerprint treatment cannot drift apart between stages. A stage may
    start a field elsewhere with :func:`mella.options.with_default` (collect waits 1 s between requests to a
    host; fetch, whose hosts serve images, waits none). Each name is a :class:`NetOptions` field and means
    what that field means.

    ``allow_hosts`` is part of the fingerprint, not a runtime option: it decides which hosts can be reached,
    so which pages a crawl finds and which images arrive. A part written without it holds ``blocked_address``
    failures that a resume with it would keep beside parts that succeeded; changing it asks for a new folder
    or ``--overwrite`` instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (host or host:port, e.g. 127.0.0.1:8000) exempt from the private-address guard.")
    respect_robots: bool = Field(True, description="Obey robots.txt.")
    user_agent: str | None = Field(
        None, description="Product token of the User-Agent, matched in robots.txt (default: mella/<version>).")
    per_host_delay: float = runtime_option(0.0, ge=0, description="Seconds between requests to one host.")


@dataclass
class Response:
    """What one GET gave; `error` is None only for a 2xx whose body was read in full."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    redirects: list[str] = field(default_factory=list)
    x_robots_tag: str | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when the body is here."""
        return self.error is None


@dataclass(frozen=True)
class _Request:
    """What one GET asks for besides its URL: the same on every hop and every retry."""

    accept: tuple[str, ...] | None = None
    max_bytes: int = 0
    truncate: bool = False
    headers: dict[str, str] | None = None
    # Streaming: called with the open 2xx response instead of reading its body; returns an error or None.
    on_body: Callable[[object], Awaitable[str | None]] | None = None


@dataclass
class _Hop:
    """One attempt at one URL, before redirects are followed."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    transient: bool = False
    retry_after: float | None = None


class NetClient:
    """Async HTTP client: `async with NetClient(options) as c: r = await c.get(url)`."""

    def __init__(self, options: NetOptions | None = None):
        self.options = options or NetOptions()
        self.allow = Allowlist(self.options.allow_hosts)
        self.limiter = HostLimiter(self.options.per_host_concurrency, self.options.per_host_delay)
        self.robots = RobotsCache(self._fetch_robots, self.options.robots_token(), self.limiter.set_delay,
                                  self.options.max_crawl_delay) if self.options.respect_robots else None
        self._session = None
        self._global: asyncio.Semaphore | None = None

    async def __aenter__(self) -> NetClient:
        import aiohttp

        o = self.options
        connector = aiohttp.TCPConnector(resolver=guarded_resolver(self.allow), limit=o.concurrency,
                                         limit_per_host=o.per_host_concurrency, ssl=None if o.verify_tls else False)
        timeout = aiohttp.ClientTimeout(total=o.total_timeout, sock_connect=o.connect_timeout,
                                        sock_read=o.read_timeout)
        # No cookies and no proxy from the environment: each request stands alone and goes where the guard said.
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False,
                                              cookie_jar=aiohttp.DummyCookieJar(),
                                              headers={"User-Agent": o.header_user_agent()})
        self._global = asyncio.Semaphore(o.concurrency)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, accept: tuple[str, ...] | None = None,
                  follow: Callable[[str], bool] | None = None) -> Response:
        """GET a URL: guarded, robots-checked, throttled, capped, retried; errors are data.

        `accept`: content-type prefixes wanted (e.g. ("text/html",)); anything else ends with
        "unwanted_content_type" before its body is read. `follow`: a redirect target must pass it.
        """
        return await self._get(url, _Request(accept=accept, max_bytes=self.options.max_bytes), follow=follow)

    async def stream(self, url: str, on_body: Callable[[object], Awaitable[str | None]], *,
                     headers: dict[str, str] | None = None) -> Response:
        """GET a URL as :meth:`get` does (guard on every hop, robots, retries before the body), but hand
        the open 2xx response to ``on_body`` instead of reading it; ``Response.error`` is what it returns.

        A failure inside ``on_body`` is not retried here (its bytes may have been used already): the
        caller resumes, e.g. with a Range request (:mod:`mella.net.remote`). No total time limit applies
        to a stream, only the connect and read (silence) timeouts.
        """
        return await self._get(url, _Request(headers=headers, on_body=on_body))

    async def get_range(self, url: str, start: int, length: int) -> Response:
        """GET bytes ``[start, start + length)`` of a file (``start < 0``: its last ``length`` bytes) with one
        bounded ``Range`` request; guarded, throttled and retried as :meth:`get` (a body cut short by a
        lost connection is retried whole). The caller checks the 206 and ``Content-Range``
        (:mod:`mella.net.ranges`)."""
        spec = f"-{length}" if start < 0 else f"{start}-{start + length - 1}"
        request = _Request(headers={"Range": f"bytes={spec}", "Accept-Encoding": "identity"},
                           max_bytes=max(length, 1))
        return await self._get(url, request, robots=False)

    async def _get(self, url: str, request: _Request, *, follow=None, robots: bool = True) -> Response:
        resp = Response(url=url, final_url=url)
        current = url
        while True:
            resp.final_url = current
            refused = await self._refusal(current, robots)
            if refused:
                resp.error = refused
                return resp
            hop = await self._with_retries(current, request, resp)
            location = hop.headers.get("location") if hop.status in REDIRECT_CODES else None
            if not location:
                return self._finish(resp, hop)
            current = urljoin(current, location.strip()).split("#", 1)[0]
            error = self._redirect_error(resp, current, follow)
            if error:
                resp.status, resp.error = hop.status, error
                return resp
            resp.redirects.append(current)

    def _redirect_error(self, resp: Response, target: str, follow) -> str | None:
        if len(resp.redirects) >= self.options.max_redirects:
            return "too_many_redirects"
        if follow is not None and not follow(target):
            return "redirect_offsite"
        return None

    async def _refusal(self, url: str, robots: bool) -> str | None:
        reason = check_url(url, self.allow)
        if reason is None and robots and self.robots is not None:
            reason = await self.robots.refusal(url)
        return reason

    @staticmethod
    def _finish(resp: Response, hop: _Hop) -> Response:
        resp.status, resp.headers, resp.body, resp.error = hop.status, hop.headers, hop.body, hop.error
        resp.x_robots_tag = hop.headers.get("x-robots-tag")
        return resp

    async def _with_retries(self, url: str, request: _Request, resp: Response) -> _Hop:
        host = urlsplit(url).hostname or ""
        for attempt in range(self.options.retries + 1):
            resp.attempts += 1
            hop = await self._attempt(url, host, request)
            if not hop.transient or attempt == self.options.retries:
                return hop
            wait = self._backoff(attempt, hop.retry_after)
            if hop.retry_after is not None:
                self.limiter.push_back(host, wait)
            log.debug("retry %s in %.2fs after %s", url, wait, hop.error)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        o = self.options
        if retry_after is not None:
            return min(retry_after, o.max_retry_after)
        # Full jitter: many clients failing together do not come back together.
        return random.uniform(0, min(o.backoff_max, o.backoff_base * 2 ** attempt))

    async def _attempt(self, url: str, host: str, request: _Request) -> _Hop:
        import aiohttp

        if self._session is None:
            raise RuntimeError("NetClient used outside `async with`")
        extra = {}
        if request.on_body is not None:  # a stream may take longer than any total limit; silence may not
            o = self.options
            extra["timeout"] = aiohttp.ClientTimeout(total=None, sock_connect=o.connect_timeout,
                                                     sock_read=o.read_timeout)
        async with self._global, self.limiter.slot(host):
            try:
                async with self._session.get(url, allow_redirects=False, headers=request.headers, **extra) as r:
                    return await _read(r, request)
            except TimeoutError:
                return _Hop(error="timeout", transient=True)
            except aiohttp.ClientConnectorError as exc:
                return _connect_failure(exc)
            except aiohttp.ClientSSLError:
                return _Hop(error="tls_error")
            except (aiohttp.InvalidURL, ValueError):
                return _Hop(error="invalid_url")
            except (aiohttp.ClientError, OSError):
                return _Hop(error="connection_error", transient=True)

    async def _fetch_robots(self, url: str) -> tuple[int | None, bytes | None, str | None]:
        resp = await self._get(url, _Request(max_bytes=MAX_ROBOTS_BYTES, truncate=True), robots=False)
        return resp.status, resp.body, resp.error


def _connect_failure(exc) -> _Hop:
    import aiohttp

    if isinstance(exc.os_error, BlockedAddressError) or isinstance(exc.__cause__, BlockedAddressError):
        return _Hop(error=BLOCKED)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return _Hop(error="tls_error")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _Hop(error="dns_error")
    return _Hop(error="connection_error", transient=True)


def _headers(r) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in r.headers.items():
        key = key.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


async def _read(r, request: _Request) -> _Hop:
    hop = _Hop(status=r.status, headers=_headers(r))
    if r.status in REDIRECT_CODES and "location" in hop.headers:
        return hop
    if not 200 <= r.status < 300:
        hop.error = f"http_{r.status}"
        hop.transient = r.status == 429 or r.status >= 500
        if r.status in (429, 503):
            hop.retry_after = parse_retry_after(hop.headers.get("retry-after"))
        return hop
    content_type = hop.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.accept and not content_type.startswith(tuple(request.accept)):
        hop.error = "unwanted_content_type"
        return hop
    if request.on_body is not None:
        hop.error = await request.on_body(r)
        return hop
    if not request.truncate and r.content_length is not None and r.content_length > request.max_bytes:
        hop.error = "too_large"
        return hop
    hop.body, hop.error = await _read_capped(r, request.max_bytes, request.truncate)
    return hop


async def _read_capped(r, max_bytes: int, truncate: bool) -> tuple[bytes | None, str | None]:
    body = bytearray()
    # Decoded chunks (after Content-Encoding) count, so a gzip bomb hits the cap too.
    async for chunk in r.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            return (bytes(body[:max_bytes]), None) if truncate else (None, "too_large")
    return bytes(body), None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())
