"""Image addresses: which attribute holds the real image, absolute URLs, registered domains."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

# Where lazy-loading scripts keep the real address while `src` holds a placeholder; first match wins.
LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-echo",
            "data-original-src", "data-hi-res-src", "data-full-src", "data-img-src", "data-image")
SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset")
_LAZY_RANK = {name: i for i, name in enumerate(LAZY_SRC)}
_SRCSET_SET = frozenset(SRCSET_ATTRS)
_SOURCE_ATTRS = _SRCSET_SET | frozenset(LAZY_SRC)
_DESCRIPTOR = re.compile(r"^(\d+(?:\.\d+)?)([wx])$")


def registered_domain(url: str) -> str:
    """The registered domain (eTLD+1) of a URL, from the public-suffix snapshot bundled with tldextract."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an invalid IPv6 host
        return ""
    return _host_domain(host) if host else ""


@lru_cache(maxsize=65536)
def _host_domain(host: str) -> str:
    # Cached per host: a crawl has many pages per host, and every URL is different.
    result = _tld_extractor()(host)
    return result.top_domain_under_public_suffix or result.domain


@lru_cache(maxsize=1)
def _tld_extractor():
    import tldextract

    # No list URLs and no cache: the snapshot shipped in the wheel, never a download at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def absolute_url(value: str, base: str) -> str:
    """``value`` resolved against ``base`` the way a browser reads an attribute (tabs/newlines removed)."""
    value = value.strip()
    if "\n" in value or "\t" in value or "\r" in value:
        value = value.replace("\n", "").replace("\t", "").replace("\r", "")
    if value.startswith(("http://", "https://")):
        return value
    try:
        return urljoin(base, value)
    except ValueError:  # e.g. an invalid IPv6 host
        return ""


class Resolver:
    """:func:`absolute_url` for one base, with shortcuts for the common shapes of relative addresses."""

    @classmethod
    def for_base(cls, base: str) -> Resolver:
        """The resolver of ``base``, shared by the pages that have it (see :func:`_resolver`)."""
        return _resolver(base)

    def __init__(self, base: str):
        self.base = base
        self.scheme = self.origin = ""
        try:
            parts = urlsplit(base)
        except ValueError:  # e.g. an invalid IPv6 host: nothing resolves against it (absolute_url gives "")
            return
        self.scheme = parts.scheme
        if parts.scheme in ("http", "https") and parts.netloc and ";" not in parts.path:
            self.origin = f"{parts.scheme}://{parts.netloc}"
            path = parts.path or "/"
            self.directory = self.origin + path[: path.rfind("/") + 1]

    def __call__(self, value: str) -> str:
        value = value.strip()
        if value.startswith(("http://", "https://")) and "\n" not in value and "\t" not in value:
            return value
        # Shapes urljoin would only concatenate: no dot segments, no scheme, no query-only reference.
        if self.origin and value and "/." not in value and value[0] != "." and "\n" not in value and "\t" not in value:
            if value[0] == "/":
                return f"{self.scheme}:{value}" if value[1:2] == "/" else self.origin + value
            if value[0] not in "?#\r" and ":" not in value.split("/", 1)[0]:
                return self.directory + value
        return absolute_url(value, self.base)


@lru_cache(maxsize=1024)
def _resolver(base: str) -> Resolver:
    return Resolver(base)


# The separators of a srcset: ASCII whitespace as the C walk's ascii_space reads it (HT LF VT FF CR, the four
# information separators, space).
_SRCSET_SPACE = frozenset(" \t\n\v\f\r\x1c\x1d\x1e\x1f")


def srcset_candidates(srcset: str) -> list[tuple[str, list[str]]]:
    """The candidates of a ``srcset``, (url, descriptors), split as the HTML standard's srcset parser splits
    them: a URL is a run of non-space characters and may hold commas (``..._extract=67,0,1867,1050_.jpg``);
    commas that end it are stripped and leave it without descriptors; otherwise its descriptors run to the
    next comma outside parentheses."""
    out: list[tuple[str, list[str]]] = []
    n, i = len(srcset), 0
    while True:
        while i < n and (srcset[i] in _SRCSET_SPACE or srcset[i] == ","):
            i += 1
        if i >= n:
            return out
        j = i
        while j < n and srcset[j] not in _SRCSET_SPACE:
            j += 1
        url, i = srcset[i:j], j
        descriptors: list[str] = []
        if url.endswith(","):
            out.append((url.rstrip(","), descriptors))
            continue
        current, parens = "", False
        while i < n:
            c = srcset[i]
            i += 1
            if parens:
                current += c
                parens = c != ")"
            elif c == ",":
                break
            elif c in _SRCSET_SPACE:
                if current:
                    descriptors.append(current)
                    current = ""
            else:
                current += c
                parens = c == "("
        if current:
            descriptors.append(current)
        out.append((url, descriptors))


def _srcset_best(srcset: str) -> tuple[str, float, float] | None:
    """The largest candidate of a ``srcset``: (url, width, density); widths beat densities."""
    best = None
    for url, descriptors in srcset_candidates(srcset):
        width, density = 0.0, 1.0
        for desc in descriptors:
            m = _DESCRIPTOR.match(desc)
            if m:
                if m.group(2) == "w":
                    width = float(m.group(1))
                else:
                    density = float(m.group(1))
        if best is None or (width, density) > (best[1], best[2]):
            best = (url, width, density)
    return best


def image_source(attrs: Mapping[str, str | None], extra_srcsets: tuple[str, ...] = ()) -> str:
    """The raw address of an image: the largest srcset candidate, else a lazy-load attribute, else src."""
    if not extra_srcsets and attrs.keys().isdisjoint(_SOURCE_ATTRS):  # the common case: src alone
        return (attrs.get("src") or "").strip()
    srcsets = list(extra_srcsets)
    lazy, lazy_rank = None, len(LAZY_SRC)
    for name, value in attrs.items():  # usually a handful of attributes: one pass beats many lookups
        if name in _SRCSET_SET:
            if value and value.lstrip()[:5].lower() != "data:":
                srcsets.append(value)
            continue
        rank = _LAZY_RANK.get(name, lazy_rank)
        if rank < lazy_rank and value and value.strip() and value.lstrip()[:5].lower() != "data:":
            lazy, lazy_rank = value, rank
    best = None
    for value in srcsets:
        cand = _srcset_best(value)
        if cand and (best is None or cand[1:] > best[1:]):
            best = cand
    if best is not None:
        return best[0]
    if lazy is not None:
        return lazy
    return (attrs.get("src") or "").strip()
