"""Image + alt-text candidates from one HTML page (selectolax, lexbor backend).

:func:`extract_page` is the one entry point: page bytes, the page URL and (optionally) its HTTP
headers in, CANDIDATES rows and counters out. WARC, saved-page and crawler inputs all call it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mella.collect.decode import decode_html, looks_binary, meta_charset, normalize_charset
from mella.collect.urls import (  # noqa: F401  (re-exported: callers import them from here)
    Resolver,
    absolute_url,
    image_source,
    registered_domain,
)

DEFAULT_MAX_PAGE_BYTES = 10 * 1024 * 1024
DEFAULT_CONTEXT_CHARS = 300
# Lexbor's tree builder, like every HTML5 parser, scans the stack of open elements at each end tag:
# 200k nested <div>s take a minute. Real pages stay far below this depth.
MAX_NESTING = 5000
# Pages smaller than this cannot nest deep enough to hurt (10k nested <div>s parse in about 0.1 s
# even when every tag nests), so the tag scan only runs on large pages.
_DEPTH_CHECK_BYTES = 50_000
_TAG_COUNT_CHECK = 5_000  # pages with fewer '<' cannot reach a harmful depth
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
# Void elements and elements whose end tag may be left out do not deepen the tree when unclosed.
_FLAT = frozenset(b"""area base br col embed hr img input link meta param source track wbr
    p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rt rp html head body
    image keygen basefont bgsound frame isindex""".split())

# Markers put in place of each <img> so one C-level text() call yields every image's context.
_MARK = "\ue000\U000f0000\ue001"
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
    """Collapse whitespace, decode double-escaped entities, NFC; cut to ``limit`` characters if set."""
    if not text:
        return ""
    if "&" in text and _ENTITY.search(text):
        import html

        # Lexbor already decoded one level; a second level is a CMS escaping twice (&amp;quot;).
        text = html.unescape(text)
    text = " ".join(text.split())
    if limit and len(text) > limit:
        text = text[:limit]
    return unicodedata.normalize("NFC", text)


def _parse(data: bytes, http_charset: str | None, counters: Counter, fast: bool = True):
    """The lexbor tree of a page, decoded by the rules of :mod:`mella.collect.decode`.

    Fast path: with no HTTP charset other than UTF-8, the bytes go straight to lexbor as UTF-8 and
    :func:`extract_page` checks the extracted text for U+FFFD afterwards; only then is the page
    validated and, if it is not UTF-8, decoded the slow way and parsed again.
    """
    from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

    wo_events = LexborDocumentOptions.WO_EVENTS
    # No mutation events: the tree stays what the source says and parsing is about twice as fast.
    if (fast and not data.startswith(_UNICODE_BOMS) and normalize_charset(http_charset) in (None, "utf-8")
            and meta_charset(data) in (None, "utf-8")):
        counters["decode.utf8"] += 1
        return LexborHTMLParser(data, options=wo_events)
    decoded = decode_html(data, http_charset)
    counters[f"decode.{decoded.source}"] += 1
    if decoded.replaced:
        counters["decode.replaced_bytes"] += 1
    # Lexbor reads bytes as UTF-8; hand it the original bytes when they already are.
    if decoded.encoding == "utf-8" and decoded.source != "bom":
        return LexborHTMLParser(data, options=wo_events)
    return LexborHTMLParser(decoded.text.encode("utf-8", "replace"), options=wo_events)


def _head_info(tree, headers: Mapping[str, str] | None) -> dict[str, str]:
    info = {"title": "", "base": "", "og_locale": "", "canonical": "", "og_url": "", "meta_language": ""}
    title = tree.css_first("title")
    info["title"] = title.text() if title is not None else ""
    # The whole document, not just <head>: a <noscript><img> in <head> closes it early (HTML5 rules),
    # and every later <meta>/<link> lands in <body>.
    for node in tree.css("base[href], meta[property], meta[http-equiv], link[rel][href]"):
        _head_node(node, info)
    root = tree.root
    info["lang"] = (root.attributes.get("lang") or root.attributes.get("xml:lang") or "") if root else ""
    info["content_language"] = _header(headers, "content-language") or info["meta_language"]
    return info


def _head_node(node, info: dict[str, str]) -> None:
    attrs = node.attributes
    tag = node.tag
    if tag == "base":
        info["base"] = info["base"] or (attrs.get("href") or "")
    elif tag == "link":
        if "canonical" in (attrs.get("rel") or "").lower().split():
            info["canonical"] = info["canonical"] or (attrs.get("href") or "")
    elif tag == "meta":
        prop = (attrs.get("property") or "").lower()
        if prop == "og:locale":
            info["og_locale"] = info["og_locale"] or (attrs.get("content") or "")
        elif prop == "og:url":
            info["og_url"] = info["og_url"] or (attrs.get("content") or "")
        elif (attrs.get("http-equiv") or "").lower() == "content-language":
            info["meta_language"] = info["meta_language"] or (attrs.get("content") or "")


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    if not headers:
        return ""
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""


def infer_page_url(info: dict[str, str], fallback: str) -> str:
    """A saved page's own address: its canonical link, else og:url, else ``fallback``."""
    for value in (info["canonical"], info["og_url"]):
        url = absolute_url(value, fallback) if value else ""
        if url.startswith(("http://", "https://")):
            return url
    return fallback


def _figures_and_pictures(figures: list, pictures: list) -> tuple[dict[int, str], dict[int, tuple[str, ...]]]:
    """Figcaption text and <picture><source srcset> values, keyed by the mem_id of each <img> inside."""
    captions: dict[int, str] = {}
    sources: dict[int, tuple[str, ...]] = {}
    # Document order: an inner figure comes after its outer one and overwrites its caption.
    for figure in figures:
        caption = figure.css_first("figcaption")
        if caption is not None:
            text = caption.text(separator=" ")
            for img in figure.css("img"):
                captions[img.mem_id] = text
    for picture in pictures:
        srcsets = tuple(s.attributes.get("srcset") or "" for s in picture.css("source[srcset]"))
        srcsets = tuple(s for s in srcsets if s and s.lstrip()[:5].lower() != "data:")
        if srcsets:
            for img in picture.css("img"):
                sources[img.mem_id] = srcsets
    return captions, sources


def _contexts(tree, images: list, junk: list, context_chars: int) -> list[str]:
    """A window of ``context_chars`` of visible text around each image (half before, half after)."""
    for img in images:
        img.insert_before(_MARK)
    for node in junk:  # script, style and template text is not what a reader sees around an image
        node.decompose()
    body = tree.body if tree.body is not None else tree.root
    pieces = (body.text(separator=" ", strip=True, skip_empty=True) if body is not None else "").split(_MARK)
    if len(pieces) != len(images) + 1:  # a marker was lost (an image inside removed markup)
        return [""] * len(images)
    # Windows span neighbouring images too (a gallery has no text between its pictures).
    text = "".join(pieces)
    half = max(context_chars // 2, 1)
    out, pos = [], 0
    for piece in pieces[:-1]:
        pos += len(piece)
        before, after = _window(text, pos, half, False), _window(text, pos, half, True)
        out.append(unicodedata.normalize("NFC", f"{before} {after}".strip()))
    return out


def _window(text: str, pos: int, half: int, forward: bool) -> str:
    """``half`` characters of collapsed text after (or before) ``pos``, reading no more than needed."""
    span = half + half // 4  # text nodes come stripped, so little is lost to collapsing
    while True:
        raw = text[pos:pos + span] if forward else text[max(pos - span, 0):pos]
        words = " ".join(raw.split())
        if len(words) >= half * 3 // 4 or len(raw) < span or span > 64 * half:
            return words[:half].strip() if forward else words[-half:].strip()
        span *= 4  # mostly whitespace (indentation): read further


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
) -> PageRows:
    """CANDIDATES rows, one per ``<img>`` with a non-empty alt and a usable address, plus counters.

    ``headers`` are the HTTP response headers when known (charset and Content-Language are read
    from them). ``infer_url`` takes the page address from its canonical link or og:url (saved pages).
    A page that is too large or binary gives no rows and a ``pages_skipped.*`` counter.
    """
    out = PageRows()
    if len(data) > max_page_bytes:
        out.skip_reason = "too_large"
    elif looks_binary(data):
        out.skip_reason = "binary"
    elif (len(data) > _DEPTH_CHECK_BYTES and data.count(b"<") > _TAG_COUNT_CHECK
          and nesting_depth(data, MAX_NESTING) > MAX_NESTING):
        out.skip_reason = "too_deep"
    if out.skip_reason:
        out.counters[f"pages_skipped.{out.skip_reason}"] += 1
        return out
    if http_charset is None:
        http_charset = _charset_from_headers(headers)
    args = (data, url, headers, source, source_offset, context_chars, infer_url, http_charset)
    counters = Counter()
    rows = _extract(*args, counters, fast=True)
    # U+FFFD in what we extracted is the sign that the bytes were not UTF-8 after all: decode properly.
    if any("\ufffd" in row["alt"] or "\ufffd" in row["context"] for row in rows) or (
        rows and "\ufffd" in rows[0]["page_title"]
    ):
        if not _is_utf8(data):
            counters = Counter()
            rows = _extract(*args, counters, fast=False)
    out.rows, out.counters = rows, out.counters + counters
    return out


def nesting_depth(data: bytes, limit: int) -> int:
    """An estimate of the deepest element nesting in raw HTML; stops counting once past ``limit``."""
    depth = deepest = 0
    for m in _TAG.finditer(data):
        name = m.group(2).lower()
        if name in _FLAT:
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _extract(data, url, headers, source, source_offset, context_chars, infer_url, http_charset, counters, fast):
    tree = _parse(data, http_charset, counters, fast)
    counters["pages_parsed"] += 1
    info = _head_info(tree, headers)
    page_url = infer_page_url(info, url) if infer_url else url
    base = absolute_url(info["base"], page_url) if info["base"] else page_url
    if not base.startswith(("http://", "https://", "file://")):
        base = page_url
    page = {
        "page_url": page_url,
        "page_title": clean(info["title"], 1000),
        "html_lang": clean(info["lang"], 64),
        "content_language": clean(info["content_language"], 64),
        "og_locale": clean(info["og_locale"], 64),
        "domain": registered_domain(page_url),
        "source": source,
        "source_offset": source_offset,
    }
    return _image_rows(tree, base, page, context_chars, counters)


def _image_rows(tree, base: str, page: dict, context_chars: int, counters: Counter) -> list[dict[str, Any]]:
    images, figures, pictures, junk = [], [], [], []
    for node in tree.css("img, figure, picture, script, style, template"):
        tag = node.tag
        if tag == "img":
            images.append(node)
        elif tag == "figure":
            figures.append(node)
        elif tag == "picture":
            pictures.append(node)
        else:
            junk.append(node)
    captions, sources = _figures_and_pictures(figures, pictures) if figures or pictures else ({}, {})
    kept = []
    resolve = Resolver(base)
    n_alt = n_data = n_nosrc = n_bad = 0
    for img in images:
        attrs = img.attributes
        alt = attrs.get("alt")
        if not alt or not alt.strip():
            continue
        n_alt += 1
        raw = image_source(attrs, sources.get(img.mem_id, ()) if sources else ())
        if not raw:
            n_nosrc += 1
        elif raw.lstrip()[:5].lower() == "data:":
            n_data += 1
        else:
            image_url = resolve(raw)
            if image_url.startswith(("http://", "https://", "file://")):
                caption = captions.get(img.mem_id, "") if captions else ""
                kept.append((img, image_url, alt, attrs.get("title"), caption))
            else:
                n_bad += 1
    counters["images_seen"] += len(images)
    counters["images_with_alt"] += n_alt
    for name, n in (("data_uri", n_data), ("no_src", n_nosrc), ("bad_url", n_bad)):
        if n:
            counters[f"images_skipped.{name}"] += n
    if not kept:
        return []
    contexts = _contexts(tree, [k[0] for k in kept], junk, context_chars) if context_chars > 0 else None
    rows = []
    for i, (_, image_url, alt, title, caption) in enumerate(kept):
        rows.append({
            **page,
            "image_url": image_url,
            "alt": clean(alt),
            "img_title": clean(title),
            "figcaption": clean(caption, 2000),
            "context": contexts[i] if contexts else "",
        })
    counters["candidates"] += len(rows)
    return rows


def _charset_from_headers(headers: Mapping[str, str] | None) -> str | None:
    content_type = _header(headers, "content-type")
    m = _CHARSET.search(content_type) if content_type else None
    return m.group(1) if m else None
