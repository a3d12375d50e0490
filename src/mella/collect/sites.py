"""A polite site crawler on :mod:`mella.net`: pages only, same site, robots.txt, per-host delay.

`iter_pages(seeds, options)` crawls breadth-first from the seeds and streams :class:`Page` records to sync
code (the collect stage) with bounded memory; `fetch_url_list(urls)` fetches a list without following
links; `sitemap_urls(url)` reads a sitemap or sitemap index (gzip too). Images are not fetched here:
links to images, documents and archives are skipped by extension, other non-HTML answers by content type.
Every fetched URL yields one Page, failures included (`error` set), so callers can count them.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from mella.net.client import NetClient, NetOptions, Response
from mella.net.sync import iter_async, run_sync

HTML_TYPES = ("text/html", "application/xhtml+xml")
SKIP_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp svg bmp ico tif tiff avif heic "  # images: the fetch stage downloads them
    "pdf doc docx xls xlsx ppt pptx odt ods odp epub rtf "
    "zip gz tgz bz2 xz 7z rar tar zst "
    "mp3 mp4 m4a avi mov webm ogg ogv wav flac mkv "
    "css js json xml rss atom txt csv woff woff2 ttf eot otf exe dmg iso apk msi bin".split())
# Percent-encode only what must be, so "/a b" and "/a%20b" dedup to one URL.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_META_ROBOTS = re.compile(r"\b(nofollow|none)\b", re.I)


def _default_crawl_net() -> NetOptions:
    # One request at a time per host, a second apart: a crawler should never be felt by the site.
    return NetOptions(per_host_concurrency=1, per_host_delay=1.0)


class CrawlOptions(BaseModel):
    """Limits of a crawl; `net` holds the HTTP client's settings (user agent, delay, allowlist ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(3, ge=0, description="links followed from a seed (0: the seeds only)")
    max_pages: int = Field(1000, ge=1, description="URLs fetched in all, failures included")
    scope: Literal["host", "domain"] = Field("host", description="same host:port, or same registered domain")
    skip_extensions: frozenset[str] = SKIP_EXTENSIONS
    concurrency: int = Field(8, ge=1, description="pages in flight (per-host limits still apply)")
    queue_size: int = Field(16, ge=1, description="pages buffered ahead of the consumer")
    net: NetOptions = Field(default_factory=_default_crawl_net)


@dataclass
class Page:
    """One fetched URL. `body` is empty unless the page is HTML and fetched in full (then `error` is None)."""

    url: str
    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str | None
    depth: int
    final_url: str = ""
    redirects: list[str] = field(default_factory=list)


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute http(s) URL without fragment, lower-case scheme and host, no default port; else None."""
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    path = parts.path or "/"
    if "." in path:  # resolve ./ and ../ (urljoin does it only for relative references)
        path = urlsplit(urljoin("http://x/", path)).path
    path = quote(path, safe=_SAFE_PATH)
    return urlunsplit((scheme, netloc, path, quote(parts.query, safe=_SAFE_QUERY), ""))


def extract_links(body: bytes, base_url: str) -> tuple[list[str], bool]:
    """(`<a>`/`<area>` href values resolved against `<base href>` and the page URL, nofollow).

    `nofollow` is True when `<meta name="robots">` asks crawlers not to follow the page's links.
    """
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    for meta in tree.css('meta[name="robots" i]'):
        if _META_ROBOTS.search(meta.attributes.get("content") or ""):
            return [], True
    base_node = tree.css_first("base[href]")
    base = urljoin(base_url, (base_node.attributes.get("href") or "").strip()) if base_node else base_url
    links = []
    for node in tree.css("a[href], area[href]"):
        href = node.attributes.get("href")
        if href and (url := normalize_url(href, base)):
            links.append(url)
    return links, False


class _Frontier:
    """Which URLs a crawl fetches: dedup, scope, extension, depth and page limits, in BFS order."""

    def __init__(self, options: CrawlOptions, stats: Counter, follow_links: bool):
        self.options = options
        self.stats = stats
        self.follow_links = follow_links
        self.seen: set[str] = set()
        self.sites: set[str] = set()
        self.queue: deque[tuple[str, int]] = deque()
        self.admitted = 0

    def site_key(self, url: str) -> str:
        """What "the same site" means under the scope option."""
        if self.options.scope == "domain":
            from mella.collect.html import registered_domain

            return registered_domain(url)
        return urlsplit(url).netloc

    def in_scope(self, url: str) -> bool:
        """True for a URL of one of the seeds' sites."""
        return not self.follow_links or self.site_key(url) in self.sites

    def add_seed(self, url: str) -> None:
        """A start URL: always in scope, depth 0."""
        norm = normalize_url(url)
        if norm is None:
            self.stats["skipped_bad_url"] += 1
            return
        self.sites.add(self.site_key(norm))
        self.offer(norm, 0)

    def offer(self, url: str, depth: int) -> None:
        """Queue a URL found at `depth` unless a rule skips it (each skip counted once per URL)."""
        if url in self.seen:
            return
        self.seen.add(url)
        reason = self._skip_reason(url, depth)
        if reason:
            self.stats[f"skipped_{reason}"] += 1
            return
        self.admitted += 1
        self.queue.append((url, depth))

    def _skip_reason(self, url: str, depth: int) -> str | None:
        if not self.in_scope(url):
            return "offsite"
        last = urlsplit(url).path.rsplit("/", 1)[-1]
        if "." in last and last.rsplit(".", 1)[-1].lower() in self.options.skip_extensions:
            return "extension"
        if depth > self.options.max_depth:
            return "depth"
        if self.admitted >= self.options.max_pages:
            return "max_pages"
        return None


async def crawl(seeds: Iterable[str], options: CrawlOptions | None = None, stats: Counter | None = None,
                follow_links: bool = True) -> AsyncIterator[Page]:
    """Async core of :func:`iter_pages`: BFS over the seeds' sites, yielding each fetched Page."""
    options = options or CrawlOptions()
    stats = stats if stats is not None else Counter()
    frontier = _Frontier(options, stats, follow_links)
    for seed in seeds:
        frontier.add_seed(seed)
    async with NetClient(options.net) as client:
        in_flight: set[asyncio.Task] = set()
        try:
            while frontier.queue or in_flight:
                while frontier.queue and len(in_flight) < options.concurrency:
                    url, depth = frontier.queue.popleft()
                    in_flight.add(asyncio.create_task(_fetch_page(client, frontier, url, depth)))
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    page = task.result()
                    _count(stats, page)
                    yield page
        finally:
            for task in in_flight:
                task.cancel()


async def _fetch_page(client: NetClient, frontier: _Frontier, url: str, depth: int) -> Page:
    # Seeds may redirect anywhere (http -> https, bare -> www); the site then includes where they landed.
    follow = None if depth == 0 else frontier.in_scope
    resp: Response = await client.get(url, accept=HTML_TYPES, follow=follow)
    page = Page(url=url, status=resp.status, headers=resp.headers, body=resp.body or b"", error=resp.error,
                depth=depth, final_url=resp.final_url, redirects=resp.redirects)
    if resp.redirects:
        final = normalize_url(resp.final_url)
        if depth == 0 and final and frontier.follow_links:
            frontier.sites.add(frontier.site_key(final))
        frontier.seen.add(final or resp.final_url)
    if page.error is None and frontier.follow_links and depth < frontier.options.max_depth:
        links, nofollow = extract_links(page.body, resp.final_url)
        if nofollow:
            frontier.stats["nofollow_pages"] += 1
        for link in links:
            frontier.offer(link, depth + 1)
    return page


def _count(stats: Counter, page: Page) -> None:
    stats["pages_fetched"] += 1
    if page.error is None:
        stats["pages_ok"] += 1
    elif page.error == "robots_disallowed":
        stats["robots_disallowed"] += 1
    elif page.error == "unwanted_content_type":
        stats["skipped_content_type"] += 1
    else:
        stats["errors"] += 1
        stats[f"error_{page.error}"] += 1


def iter_pages(seeds: str | Iterable[str], options: CrawlOptions | None = None,
               stats: Counter | None = None) -> Iterator[Page]:
    """Crawl from the seed URL(s), yielding every fetched Page; `stats` (if given) receives the counters.

    The crawl runs in a background thread with its own event loop, at most `options.queue_size` pages
    ahead of the consumer. Stopping the iteration early stops the crawl.
    """
    seeds = [seeds] if isinstance(seeds, str) else list(seeds)
    options = options or CrawlOptions()
    return iter_async(lambda: crawl(seeds, options, stats), maxsize=options.queue_size)


def fetch_url_list(urls: Iterable[str], options: CrawlOptions | None = None,
                   stats: Counter | None = None) -> Iterator[Page]:
    """Fetch each URL once (deduplicated, depth 0, no links followed), yielding a Page per URL."""
    urls = list(urls)
    options = options or CrawlOptions()
    return iter_async(lambda: crawl(urls, options, stats, follow_links=False), maxsize=options.queue_size)


def parse_sitemap(data: bytes, max_bytes: int = 64 * 1024 * 1024) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap or sitemap index; gzip is undone (capped)."""
    import xml.etree.ElementTree as ET

    if data[:2] == b"\x1f\x8b":
        data = _gunzip_capped(data, max_bytes)
    if b"<!ENTITY" in data[:4096]:
        return [], []  # sitemaps have no use for entities; refusing them closes the door on entity bombs
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return [], []
    locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
    if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
        return [], locs
    return locs, []


def _gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    out = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return out.decompress(data, max_bytes)
    except zlib.error:
        return b""  # unreadable: an empty sitemap


async def _sitemap_urls(client: NetClient, url: str, stats: Counter, max_sitemaps: int) -> list[str]:
    pages: list[str] = []
    todo, seen = deque([url]), {url}
    while todo and len(seen) <= max_sitemaps:
        resp = await client.get(todo.popleft())
        if resp.error or resp.body is None:
            stats[f"sitemap_error_{resp.error}"] += 1
            continue
        stats["sitemaps_read"] += 1
        found, children = parse_sitemap(resp.body, client.options.max_bytes)
        pages += found
        for child in children:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return list(dict.fromkeys(pages))


def sitemap_urls(sitemap_url: str, options: NetOptions | None = None, stats: Counter | None = None,
                 max_sitemaps: int = 1000) -> list[str]:
    """Page URLs listed by a sitemap, following sitemap indexes (at most `max_sitemaps` files)."""
    stats = stats if stats is not None else Counter()

    async def work() -> list[str]:
        async with NetClient(options or _default_crawl_net()) as client:
            return await _sitemap_urls(client, sitemap_url, stats, max_sitemaps)

    return run_sync(work)
