"""WAT files (Common Crawl metadata records, JSON) -> candidate rows.

A WAT record describes one response: ``Envelope.Payload-Metadata.HTTP-Response-Metadata`` holds
the HTTP headers and ``HTML-Metadata``, whose ``Links`` list has one entry per ``<img src>``
(``path == "IMG@/src"``, with ``url``, ``alt`` and ``title``) and whose ``Head`` holds ``Title``,
``Base``, ``Metas`` and ``Link``. WAT carries no page text, so ``context`` and ``figcaption``
stay empty and lazy-load attributes, srcset and ``<html lang>`` are not available; nor is the tree, so the
structure columns (landmark, link, declared size, image index) are null.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mella.collect.html import PageRows, absolute_url, clean, registered_domain
from mella.collect.structure import blank_structure
from mella.collect.warc import is_truncated, read_records, skip_record, target_uri
from mella.net.client import NetOptions


def wat_records(uri: str, max_page_bytes: int, net: NetOptions | None = None) -> Iterator[dict[str, Any]]:
    """``kind="wat"`` records (the JSON bytes of each metadata record) plus skip records."""
    from fastwarc.warc import WarcRecordType

    yield from read_records(uri, WarcRecordType.metadata, lambda record: _wat_record(record, uri, max_page_bytes),
                            net=net)


def _wat_record(record, source: str, max_page_bytes: int) -> dict[str, Any]:
    url, offset = target_uri(record), record.stream_pos
    declared = record.content_length
    if declared > max_page_bytes:
        return skip_record("too_large", url, source, offset)
    data = record.reader.read()
    if is_truncated(record, declared, len(data)):
        return skip_record("truncated", url, source, offset)
    return {"kind": "wat", "url": url, "data": data, "source": source, "offset": offset}


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _head_values(head: dict) -> dict[str, str]:
    out = {"og_locale": "", "content_language": "", "base": ""}
    for meta in head.get("Metas") or ():
        if not isinstance(meta, dict):
            continue
        prop = (meta.get("property") or meta.get("name") or "").lower()
        if prop == "og:locale" and not out["og_locale"]:
            out["og_locale"] = meta.get("content") or ""
        elif (meta.get("http-equiv") or "").lower() == "content-language" and not out["content_language"]:
            out["content_language"] = meta.get("content") or ""
    base = head.get("Base")
    if isinstance(base, str):
        out["base"] = base
    elif isinstance(base, dict):
        out["base"] = base.get("href") or base.get("url") or ""
    return out


def _header(headers: Any, name: str) -> str:
    if not isinstance(headers, dict):
        return ""
    for key, value in headers.items():
        if key.lower() == name and isinstance(value, str):
            return value
    return ""


def wat_rows(data: bytes, url: str, source: str = "", offset: int = -1) -> PageRows:
    """CANDIDATES rows from one WAT metadata record: one per IMG@/src link with a non-empty alt."""
    out = PageRows()
    try:
        meta = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        out.counters["records_skipped.bad_json"] += 1
        return out
    response = _dig(meta, "Envelope", "Payload-Metadata", "HTTP-Response-Metadata")
    if not isinstance(response, dict):
        out.counters["records_skipped.not_a_response"] += 1  # request, warcinfo and metadata records
        return out
    html = response.get("HTML-Metadata")
    if not isinstance(html, dict):
        out.counters["records_skipped.non_html"] += 1
        return out
    url = url or _dig(meta, "Envelope", "WARC-Header-Metadata", "WARC-Target-URI") or ""
    head = html.get("Head") if isinstance(html.get("Head"), dict) else {}
    values = _head_values(head)
    base = absolute_url(values["base"], url) if values["base"] else url
    headers = response.get("Headers")
    page = {
        "page_url": url,
        "page_title": clean(head.get("Title") if isinstance(head.get("Title"), str) else "", 1000),
        "html_lang": "",
        "content_language": clean(_header(headers, "content-language") or values["content_language"], 64),
        "og_locale": clean(values["og_locale"], 64),
        "domain": registered_domain(url),
        "source": source,
        "source_offset": offset,
        **blank_structure(),  # a WAT record keeps no tree: no landmark, link, declared size or position
    }
    out.counters["pages_read"] += 1
    out.counters["pages_parsed"] += 1
    _link_rows(html.get("Links") or (), base, page, out)
    return out


def _link_rows(links: Any, base: str, page: dict[str, Any], out: PageRows) -> None:
    counters = out.counters
    for link in links:
        if not isinstance(link, dict) or link.get("path") != "IMG@/src":
            continue
        counters["images_seen"] += 1
        alt = link.get("alt")
        if not isinstance(alt, str) or not alt.strip():
            continue
        counters["images_with_alt"] += 1
        raw = link.get("url") if isinstance(link.get("url"), str) else ""
        if not raw.strip():
            counters["images_skipped.no_src"] += 1
            continue
        if raw.lstrip()[:5].lower() == "data:":
            counters["images_skipped.data_uri"] += 1
            continue
        image_url = absolute_url(raw, base)
        if not image_url.startswith(("http://", "https://")):
            counters["images_skipped.bad_url"] += 1
            continue
        title = link.get("title") if isinstance(link.get("title"), str) else ""
        out.rows.append({**page, "image_url": image_url, "alt": clean(alt), "img_title": clean(title),
                         "figcaption": "", "context": ""})
    counters["candidates"] += len(out.rows)
