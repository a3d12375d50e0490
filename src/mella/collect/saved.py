"""Saved HTML files (``.html``, ``.htm``, ``.xhtml``, optionally ``.gz``) -> page records.

A saved page does not know its address: :func:`mella.collect.html.extract_page` takes it from the
page's canonical link or ``og:url`` (``infer_url``), else from a ``file://`` URL of the file, so
relative image addresses still resolve to something that names the file they came from.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from mella.collect.warc import is_url, open_input
from mella.net.client import NetOptions

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")


def is_saved_html(uri: str) -> bool:
    """Whether a file name says saved HTML (``page.html``, ``page.htm.gz`` ...)."""
    name = uri.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(HTML_SUFFIXES)


def file_url(uri: str) -> str:
    """The address a saved file stands for when the page names none: its ``file://`` URL."""
    if is_url(uri):
        return uri
    return Path(uri).resolve().as_uri()


def _read_limited(uri: str, limit: int, net: NetOptions | None) -> bytes | None:
    """At most ``limit`` + 1 bytes of the file, gunzipped if it is gzip (a bomb stops at the limit)."""
    with open_input(uri, net) as fh:
        head = fh.read(2)
        rest = fh.read(limit + 1 - len(head)) if head != b"\x1f\x8b" else None
        if rest is not None:
            return head + rest
        data = head + fh.read()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        page = inflater.decompress(data, limit + 1)
    except zlib.error:
        return None
    # A truncated file inflates without error but never reaches the end of the stream.
    return page if inflater.eof or len(page) > limit else None


def saved_page(uri: str, max_page_bytes: int, net: NetOptions | None = None) -> dict[str, Any]:
    """One page record for a saved HTML file, or a skip record saying why it cannot be used."""
    data = _read_limited(uri, max_page_bytes, net)
    if data is None:
        return {"kind": "skip", "reason": "bad_gzip", "url": file_url(uri), "source": uri, "offset": -1}
    if len(data) > max_page_bytes:
        return {"kind": "skip", "reason": "too_large", "url": file_url(uri), "source": uri, "offset": -1}
    return {"kind": "page", "url": file_url(uri), "data": data, "headers": {}, "source": uri,
            "offset": -1, "infer_url": True}
