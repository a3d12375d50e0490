"""Live-web inputs of ``collect``: a site crawl from a seed URL, a list of page URLs, or a sitemap.

Each yields the same page records as a WARC (``kind="page"``) so extraction is shared; fetch
failures become ``count`` records (``crawl.error_<reason>``), never crashes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from mella.collect.sites import CrawlOptions, Page, fetch_url_list, iter_pages, sitemap_urls
from mella.collect.warc import open_input

URL_LIST_SUFFIXES = (".urls", ".urls.txt", ".url.txt")


def is_sitemap(uri: str) -> bool:
    name = uri.lower().split("?", 1)[0].rsplit("/", 1)[-1]
    return "sitemap" in name and name.endswith((".xml", ".xml.gz"))


def _record(page: Page, source: str) -> dict[str, Any]:
    headers = {k: v for k, v in page.headers.items() if k.lower() in ("content-type", "content-language")}
    return {"kind": "page", "url": page.final_url or page.url, "data": page.body, "headers": headers,
            "source": source, "offset": -1, "infer_url": False}


def _records(pages: Iterator[Page], source: str, stats: Counter) -> Iterator[dict[str, Any]]:
    for page in pages:
        if page.error is None and page.body:
            yield _record(page, source)
    # The crawler fills `stats` as it goes; hand the totals to the stage once the crawl is over.
    for name, n in sorted(stats.items()):
        yield {"kind": "count", "name": f"crawl.{name}", "n": n}


def site_records(seed: str, options: CrawlOptions, follow: bool) -> Iterator[dict[str, Any]]:
    """Pages of a crawl from ``seed`` (or only the seed page when ``follow`` is false)."""
    stats: Counter = Counter()
    pages = iter_pages(seed, options, stats) if follow else fetch_url_list([seed], options, stats)
    yield from _records(pages, seed, stats)


def sitemap_records(uri: str, options: CrawlOptions) -> Iterator[dict[str, Any]]:
    """Pages listed by a sitemap (or sitemap index), fetched without following links."""
    stats: Counter = Counter()
    urls = sitemap_urls(uri, options.net, stats)[: options.max_pages]
    stats["sitemap_urls"] += len(urls)
    yield from _records(fetch_url_list(urls, options, stats), uri, stats)


def url_list_records(uri: str, options: CrawlOptions) -> Iterator[dict[str, Any]]:
    """Pages of a text file with one URL per line (``#`` comments and blank lines ignored)."""
    with open_input(uri, options.net) as fh:
        lines = fh.read().decode("utf-8", errors="replace").splitlines()
    urls = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    stats: Counter = Counter({"listed_urls": len(urls)})
    yield from _records(fetch_url_list(urls[: options.max_pages], options, stats), uri, stats)
