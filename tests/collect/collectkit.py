"""Test helpers for collect: the real pages in tests/data/web, an independent <img> parse, WARC/WAT writers.

The independent parse uses Python's html.parser and urljoin, not selectolax, so the tests check
mella's extraction against a second reading of the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

DATA = Path(__file__).parents[1] / "data"
WEB = DATA / "web"
LAZY = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-echo",
        "data-original-src", "data-hi-res-src", "data-full-src", "data-img-src", "data-image")
SRCSETS = ("srcset", "data-srcset", "data-lazy-srcset")


def provenance() -> dict[str, dict[str, str]]:
    with open(DATA / "PROVENANCE.tsv", encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


def page_files() -> list[Path]:
    """Every saved HTML page in the test data (not the WARC samples)."""
    return sorted(p for p in WEB.rglob("*") if p.name.endswith((".html", ".html.gz")))


def warc_files() -> list[Path]:
    return sorted(WEB.rglob("*.warc.gz"))


def page_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def page_text(data: bytes) -> str:
    """The page as text: UTF-8, else the one legacy charset in the test data (windows-1251)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251")


def norm(text: str | None) -> str:
    """Whitespace collapsed, entities decoded (twice-escaped too), NFC: how both sides are compared."""
    return unicodedata.normalize("NFC", " ".join(unescape(text or "").split()))


_SPACES = "\t\n\x0b\f\r\x1c\x1d\x1e\x1f "
_GAP = re.compile(f"[{_SPACES},]*")
_URL = re.compile(f"[^{_SPACES}]+")
_SPACE_RUN = re.compile(f"[{_SPACES}]+")
_DESCRIPTORS = re.compile(r"(?:[^,(]|\([^)]*\)?)*")  # up to a comma outside parentheses


def _srcset_items(srcset: str):
    """The HTML standard's srcset candidates as word lists: a URL may hold commas (a CDN's crop parameters);
    commas ending it end the candidate."""
    pos = 0
    while True:
        pos = _GAP.match(srcset, pos).end()
        if pos >= len(srcset):
            return
        url = _URL.match(srcset, pos)
        pos = url.end()
        if url.group().endswith(","):
            yield [url.group().rstrip(",")]
            continue
        chunk = _DESCRIPTORS.match(srcset, pos)
        pos = chunk.end() + 1
        yield [url.group(), *(w for w in _SPACE_RUN.split(chunk.group()) if w)]


def _largest(srcset: str) -> tuple[float, float, str] | None:
    best = None
    for words in _srcset_items(srcset):
        w = x = None
        for d in words[1:]:
            if d.endswith("w") and d[:-1].replace(".", "", 1).isdigit():
                w = float(d[:-1])
            elif d.endswith("x") and d[:-1].replace(".", "", 1).isdigit():
                x = float(d[:-1])
        key = (w or 0.0, x or 1.0, words[0])
        if best is None or key[:2] > best[:2]:
            best = key
    return best


class ImgParser(HTMLParser):
    """Collects every <img> (first attribute wins, as in HTML5), <base href>, canonical/og:url, picture sources."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images: list[tuple[dict, list[str]]] = []
        self.base = None
        self.canonical = None
        self.og_url = None
        self._pictures: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        first: dict[str, str | None] = {}
        for name, value in attrs:
            first.setdefault(name, value)
        if tag == "img":
            sources = [s for p in self._pictures for s in p]
            self.images.append((first, sources))
        elif tag == "base" and self.base is None and first.get("href"):
            self.base = first["href"]
        elif tag == "picture":
            self._pictures.append([])
        elif tag == "source" and self._pictures and first.get("srcset"):
            self._pictures[-1].append(first["srcset"])
        elif tag == "link" and "canonical" in (first.get("rel") or "").lower().split() and self.canonical is None:
            self.canonical = first.get("href")
        elif tag == "meta" and (first.get("property") or "").lower() == "og:url" and self.og_url is None:
            self.og_url = first.get("content")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "picture":
            self._pictures.pop()

    def handle_endtag(self, tag):
        if tag == "picture" and self._pictures:
            self._pictures.pop()


def _raw_source(attrs: dict, picture_sets: list[str]) -> str:
    sets = [attrs.get(n) for n in SRCSETS] + picture_sets
    sets = [s for s in sets if s and not s.strip().lower().startswith("data:")]
    best = None
    for s in sets:
        cand = _largest(s)
        if cand and (best is None or cand[:2] > best[:2]):
            best = cand
    if best:
        return best[2]
    for name in LAZY:
        value = attrs.get(name)
        if value and value.strip() and not value.strip().lower().startswith("data:"):
            return value
    return (attrs.get("src") or "").strip()


def expected_images(data: bytes, page_url: str, infer_url: bool = False) -> tuple[str, list[tuple[str, str]]]:
    """(page URL, sorted [(absolute image URL, alt)]) for every <img> with a non-empty alt and a usable address."""
    parser = ImgParser()
    parser.feed(page_text(data))
    parser.close()
    if infer_url:
        for cand in (parser.canonical, parser.og_url):
            if cand and urljoin(page_url, cand.strip()).startswith(("http://", "https://")):
                page_url = urljoin(page_url, cand.strip())
                break
    base = page_url
    if parser.base:
        joined = urljoin(page_url, parser.base.strip())
        base = joined if joined.startswith(("http://", "https://", "file://")) else page_url
    out = []
    for attrs, pictures in parser.images:
        alt = attrs.get("alt")
        if not alt or not alt.strip():
            continue
        raw = _raw_source(attrs, pictures)
        if not raw or raw.strip().lower().startswith("data:"):
            continue
        url = urljoin(base, raw.strip().replace("\n", "").replace("\t", "").replace("\r", ""))
        if url.startswith(("http://", "https://", "file://")):
            out.append((url, norm(alt)))
    return page_url, sorted(out)


# -- writers (warcio) ---------------------------------------------------------------------

def build_warc(pages: list[tuple[str, bytes]], *, gzip_records: bool = True, headers=None,
               status: str = "200 OK") -> tuple[bytes, list[int]]:
    """A WARC of response records for ``(url, html bytes)`` pages; also the offset of each response."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip_records)
    offsets = []
    for url, body in pages:
        http = StatusAndHeaders(status, list(headers or [("Content-Type", "text/html")]), protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        offsets.append(buf.tell())
        writer.write_record(record)
    return buf.getvalue(), offsets


def wat_json(url: str, data: bytes, headers: dict | None = None) -> dict:
    """A WAT metadata envelope for one real page, in Common Crawl's layout (generated, not crawled)."""
    parser = ImgParser()
    parser.feed(page_text(data))
    parser.close()
    links = []
    for attrs, _ in parser.images:
        if attrs.get("src") is None:
            continue
        link = {"path": "IMG@/src", "url": attrs["src"]}
        for key in ("alt", "title"):
            if attrs.get(key) is not None:
                link[key] = attrs[key]
        links.append(link)
    links.insert(0, {"path": "A@/href", "url": "/", "text": "Home"})
    head = {"Title": _title(page_text(data)), "Metas": [{"property": "og:locale", "content": "xx_XX"}]}
    if parser.base:
        head["Base"] = parser.base
    return {"Envelope": {
        "WARC-Header-Metadata": {"WARC-Target-URI": url, "WARC-Type": "response"},
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Headers": headers or {"Content-Type": "text/html"},
            "Response-Message": {"Status": "200", "Version": "HTTP/1.1", "Reason": "OK"},
            "HTML-Metadata": {"Head": head, "Links": links},
        }},
    }}


def _title(text: str) -> str:
    lower = text.lower()
    start = lower.find("<title")
    if start < 0:
        return ""
    start = lower.find(">", start) + 1
    return unescape(text[start:lower.find("</title>", start)]).strip()


def build_wat(items: list[tuple[str, dict]], gzip_records: bool = True) -> tuple[bytes, list[int]]:
    """A WAT file: one metadata record (application/json) per ``(url, envelope)``."""
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip_records)
    offsets = []
    for url, envelope in items:
        payload = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        record = writer.create_warc_record(url, "metadata", payload=io.BytesIO(payload),
                                           warc_content_type="application/json")
        offsets.append(buf.tell())
        writer.write_record(record)
    return buf.getvalue(), offsets
