"""Image + alt-text candidates from one HTML page (lexbor: in C, or through selectolax).

:func:`extract_page` is the one entry point: page bytes, the page URL and (optionally) its HTTP
headers in, CANDIDATES rows and counters out. WARC, saved-page and crawler inputs all call it.
Two engines give the same rows: ``native`` (:mod:`mella.collect._native`, one C walk of lexbor's
tree; the default where it is built) and ``selectolax`` (the rules below, through selectolax's
Python API: the reference the C walk is tested against). See docs/collect.md.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mella.collect.accel import native as _native
from mella.collect.context import contexts
from mella.collect.decode import decode_html, looks_binary, meta_charset, normalize_charset, strip_controls
from mella.collect.nesting import _DEPTH_CHECK_BYTES, MAX_NESTING, could_nest_deeper, nesting_depth  # noqa: F401
from mella.collect.reference import candidates, header, linked_images, parse_tree, scan
from mella.collect.structure import LINK_TEXT_CHARS, blank_structure, declared_size, enclosing, link_target
from mella.collect.urls import (  # noqa: F401  (re-exported: callers import them from here)
    Resolver,
    absolute_url,
    image_source,
    registered_domain,
)

DEFAULT_MAX_PAGE_BYTES = 10 * 1024 * 1024
DEFAULT_CONTEXT_CHARS = 300
ENGINES = ("native", "selectolax")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)
_UNICODE_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")


@dataclass
class PageRows:
    """What one page gave: CANDIDATES rows and counters (images seen, with alt, data: URIs ...)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)
    skip_reason: str | None = None  # set when the whole page was skipped (too_large, binary)


def clean(text: str | None, limit: int = 0) -> str:
    """Decode double-escaped entities, drop control characters, collapse whitespace, NFC; cut to
    ``limit`` characters if set."""
    if not text:
        return ""
    if "&" in text and _ENTITY.search(text):
        import html

        # Lexbor already decoded one level; a second level is a CMS escaping twice (&amp;quot;).
        text = html.unescape(text)
    text = " ".join(strip_controls(text).split())
    if limit and len(text) > limit:
        text = text[:limit]
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def default_engine() -> str:
    """``native`` (one C walk of lexbor's tree) when built, else ``selectolax``; MELLA_COLLECT_ENGINE overrides."""
    wanted = os.environ.get("MELLA_COLLECT_ENGINE", "")
    if wanted == "selectolax" or _native is None:
        return "selectolax"
    return "native"


def _html_input(data: bytes, http_charset: str | None, counters: Counter, fast: bool = True) -> bytes:
    """The page as the UTF-8 bytes lexbor reads, decoded by the rules of :mod:`mella.collect.decode`.

    Fast path: with no HTTP charset other than UTF-8, the bytes go straight to lexbor as UTF-8 and
    :func:`extract_page` checks the extracted text for U+FFFD afterwards; only then is the page
    validated and, if it is not UTF-8, decoded the slow way and parsed again.
    """
    if (fast and not data.startswith(_UNICODE_BOMS) and normalize_charset(http_charset) in (None, "utf-8")
            and meta_charset(data) in (None, "utf-8")):
        counters["decode.utf8"] += 1
        return data
    decoded = decode_html(data, http_charset)
    counters[f"decode.{decoded.source}"] += 1
    if decoded.replaced:
        counters["decode.replaced_bytes"] += 1
    # Lexbor reads bytes as UTF-8; hand it the original bytes when they already are.
    if decoded.encoding == "utf-8" and decoded.source != "bom":
        return data
    return decoded.utf8


def infer_page_url(info: dict[str, str], fallback: str) -> str:
    """A saved page's own address: its canonical link, else og:url, else ``fallback``."""
    for value in (info["canonical"], info["og_url"]):
        url = absolute_url(value, fallback) if value else ""
        if url.startswith(("http://", "https://")):
            return url
    return fallback


def extract_page(
    data: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    source: str = "",
    source_offset: int = -1,
    context_chars: int = DEFAULT_CONTEXT_CHARS,
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
    infer_url: bool = False,
    http_charset: str | None = None,
    engine: str | None = None,
) -> PageRows:
    """CANDIDATES rows, one per ``<img>`` with a non-empty alt and a usable address, plus counters.

    ``headers`` are the HTTP response headers when known (charset and Content-Language are read
    from them). ``infer_url`` takes the page address from its canonical link or og:url (saved pages).
    A page that is too large or binary gives no rows and a ``pages_skipped.*`` counter.
    ``engine``: ``native`` (one C walk of lexbor's tree) or ``selectolax`` (the same extraction
    through selectolax's Python API); both give the same rows. Default: :func:`default_engine`.
    """
    engine = engine or default_engine()
    if engine not in ENGINES or (engine == "native" and _native is None):
        raise ValueError(f"engine {engine!r} is not available (built: {', '.join(available_engines())})")
    out = PageRows()
    if len(data) > max_page_bytes:
        out.skip_reason = "too_large"
    elif looks_binary(data):
        out.skip_reason = "binary"
    elif (len(data) > _DEPTH_CHECK_BYTES and could_nest_deeper(data, MAX_NESTING)
          and nesting_depth(data, MAX_NESTING) > MAX_NESTING):
        out.skip_reason = "too_deep"
    if out.skip_reason:
        out.counters[f"pages_skipped.{out.skip_reason}"] += 1
        return out
    if http_charset is None:
        http_charset = _charset_from_headers(headers)
    args = (data, url, headers, source, source_offset, context_chars, infer_url, http_charset, engine)
    counters = Counter()
    rows = _extract(*args, counters, fast=True)
    # U+FFFD in what we extracted is the sign that the bytes were not UTF-8 after all: decode properly.
    if rows and _replaced(rows):
        if not _is_utf8(data):
            counters = Counter()
            rows = _extract(*args, counters, fast=False)
    out.rows, out.counters = rows, counters  # every counter set here is positive
    return out


def available_engines() -> tuple[str, ...]:
    """The extraction engines this installation has."""
    return ENGINES if _native is not None else ("selectolax",)


def _replaced(rows: list[dict[str, Any]]) -> bool:
    """Whether U+FFFD shows in the page title or in any row's alt or context."""
    if "\ufffd" in rows[0]["page_title"]:
        return True
    for row in rows:
        if "\ufffd" in row["alt"] or "\ufffd" in row["context"]:
            return True
    return False


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_INFO = ("title", "base", "lang", "og_locale", "canonical", "og_url", "meta_language")


def _extract(data, url, headers, source, source_offset, context_chars, infer_url, http_charset, engine,
             counters, fast):
    html = _html_input(data, http_charset, counters, fast)
    counters["pages_parsed"] += 1
    if engine == "native":
        return _extract_native(html, url, headers, source, source_offset, context_chars, infer_url, counters)
    tree = parse_tree(html)
    info, images, figures, pictures, junk, links = scan(tree, headers)
    page, base = _page_fields(info, url, infer_url, source, source_offset)
    kept = _keep(candidates(images, figures, pictures), len(images), base, counters)
    if not kept:
        return []
    # Before contexts(), which puts markers in the tree and takes script and style out of it.
    linked = linked_images([(index, alt) for _, alt, _, _, (_, index) in kept], links)
    resolve = Resolver.for_base(base)
    structures = [_structure(img, index, resolve, page["domain"]) for *_, (img, index) in kept]
    windows = contexts(tree, [k[4][0] for k in kept], junk, context_chars) if context_chars > 0 else None
    rows = []
    for i, (image_url, alt, title, caption, _) in enumerate(kept):
        row = page.copy()
        row["image_url"] = image_url
        row["alt"] = clean(alt)
        row["img_title"] = clean(title) if title else ""
        row["figcaption"] = clean(caption, 2000) if caption else ""
        row["context"] = windows[i] if windows else ""
        row.update(structures[i])
        row["alt_is_link_text"] = row["image_index"] in linked
        rows.append(row)
    counters["candidates"] += len(rows)
    return rows


def _structure(img, index: int, resolve: Resolver, page_domain: str) -> dict[str, Any]:
    """The structure columns of one image (docs/collect.md, "Structure around the image")."""
    landmark, link, href = enclosing(img)
    attrs = img.attributes
    out = {"landmark": landmark, "link_url": None, "link_scope": None, "link_text": None,
           "declared_width": declared_size(attrs.get("width")), "declared_height": declared_size(attrs.get("height")),
           "image_index": index}
    if link is not None:
        out["link_url"], out["link_scope"] = link_target(href, resolve, page_domain)
        out["link_text"] = clean(link.text(separator=" "), LINK_TEXT_CHARS)
    return out


def _extract_native(html, url, headers, source, source_offset, context_chars, infer_url, counters):
    # One C walk: metadata, counts, and columns (alt, source, title, caption, context, fallback, and the structure:
    # landmark, link href, link text, width, height, index) of the <img>s with an alt and a source; text finished
    # (collapsed, NFC) unless it holds '&' or a control character.
    meta, (n_images, n_alt, n_nosrc, n_data), columns, linked = _native.extract(html, context_chars)
    info = dict(zip(_INFO, meta, strict=True))
    info["content_language"] = header(headers, "content-language") or info["meta_language"]
    page, base = _page_fields(info, url, infer_url, source, source_offset)
    fallbacks = columns[5]
    data = columns[:5] + columns[6:]  # alt, src, title, caption, context, then the structure columns
    if fallbacks.count(None) != len(fallbacks):
        # Non-ASCII srcsets: urls.image_source decides, and the tests the C walk made on the others.
        srcs = data[1]
        keep = []
        for i, fallback in enumerate(fallbacks):
            if fallback is not None:
                srcs[i] = image_source(*fallback)
                if not srcs[i]:
                    n_nosrc += 1
                    continue
                if srcs[i].lstrip()[:5].lower() == "data:":
                    n_data += 1
                    continue
            keep.append(i)
        data = tuple([c[i] for i in keep] for c in data)
    resolver = Resolver.for_base(base)
    parts = (resolver.scheme, resolver.origin, resolver.directory) if resolver.origin else None
    rows, n_bad = _native.rows(page, parts, resolver, clean, registered_domain, data)
    _count_images(counters, n_images, n_alt, n_data, n_nosrc, n_bad)
    if rows:
        for row in rows:
            row["alt_is_link_text"] = row["image_index"] in linked
        counters["candidates"] += len(rows)
    return rows


_USABLE = ("http://", "https://", "file://")


def _parses(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:  # e.g. "http://[::1" (an IPv6 host not closed)
        return False
    return True


def _page_fields(info: dict[str, str], url: str, infer_url: bool, source: str, source_offset: int) -> tuple:
    """The row fields every image of a page shares (the per-image ones blank, so that each row is a
    copy with room for them, in the CANDIDATES order), and the address its images resolve against."""
    page_url = infer_page_url(info, url) if infer_url else url
    base = page_url
    if info["base"]:
        base = absolute_url(info["base"], page_url)
        if not base.startswith(_USABLE) or not _parses(base):
            base = page_url  # a base that is not a URL is ignored, as browsers do
    page = {
        "page_url": page_url,
        "image_url": "", "alt": "", "img_title": "", "figcaption": "", "context": "",
        "page_title": clean(info["title"], 1000),
        "html_lang": clean(info["lang"], 64),
        "content_language": clean(info["content_language"], 64),
        "og_locale": clean(info["og_locale"], 64),
        "domain": registered_domain(page_url),
        "source": source,
        "source_offset": source_offset,
        **blank_structure(),
    }
    return page, base


def _keep(candidates, n_images: int, base: str, counters: Counter) -> list[tuple]:
    """(absolute URL, alt, title, caption, (node, index)) of each candidate with a usable address; counts the
    rest."""
    kept = []
    resolve = Resolver.for_base(base)
    n_alt = n_data = n_nosrc = n_bad = 0
    for alt, raw, title, caption, extra in candidates:
        n_alt += 1
        if not raw:
            n_nosrc += 1
        elif raw.lstrip()[:5].lower() == "data:":
            n_data += 1
        else:
            image_url = resolve(raw)
            if image_url.startswith(_USABLE):
                kept.append((image_url, alt, title, caption, extra))
            else:
                n_bad += 1
    _count_images(counters, n_images, n_alt, n_data, n_nosrc, n_bad)
    return kept


def _count_images(counters: Counter, n_images: int, n_alt: int, n_data: int, n_nosrc: int, n_bad: int) -> None:
    for name, n in (("images_seen", n_images), ("images_with_alt", n_alt), ("images_skipped.data_uri", n_data),
                    ("images_skipped.no_src", n_nosrc), ("images_skipped.bad_url", n_bad)):
        if n:
            counters[name] += n


def _charset_from_headers(headers: Mapping[str, str] | None) -> str | None:
    content_type = header(headers, "content-type")
    m = _CHARSET.search(content_type) if content_type else None
    return m.group(1) if m else None
