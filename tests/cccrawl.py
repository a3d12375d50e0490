"""A local Common Crawl: the public bucket's layout built from the real pages in tests/data/web, and a loopback
HTTP server for it with Range requests and injected faults.

    crawl = build_crawl(tmp_path, corpus_pages())
    with CrawlServer(crawl.root) as server:
        server.fail("crawl-data/CC-MAIN-2025-13/cc-index-table.paths.gz", times=2)
        ...  # read server.base_url + path, as from https://data.commoncrawl.org/

What is written under ``root`` (paths relative to the bucket, as in the ``*.paths.gz`` listings):

- ``crawl-data/<crawl>/segments/<segment>/warc/CC-MAIN-<ts>-<ts>-<nnnnn>.warc.gz``: a ``warcinfo`` record, then a
  ``request`` and its ``response`` per capture, each record its own gzip member (Common Crawl's per-record gzip);
- ``.../wat/CC-MAIN-<ts>-<ts>-<nnnnn>.warc.wat.gz``: one JSON ``metadata`` record per response (WARC-Refers-To);
- ``.../crawldiagnostics/...warc.gz``: redirects and 404s, indexed in ``subset=crawldiagnostics`` only;
- ``crawl-data/<crawl>/{warc,wat,non200responses,cc-index-table}.paths.gz``;
- ``cc-index/table/cc-main/warc/crawl=<crawl>/subset=<subset>/part-<n>-<uuid>.c000.gz.parquet``: the columnar
  index in Common Crawl's flat schema (cc-index-table's ``cc-index-schema-flat.json``, before the 2026
  ``warc_record_id`` column), sorted by ``url_surtkey``, gzip, small row groups with statistics.

Kept import-light (no pytest, no mella; warcio and pyarrow imported when building) so a benchmark can use it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import io
import json
import random
import re
import socket
import sys
import threading
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

TESTS = Path(__file__).resolve().parent
WEB = TESTS / "data" / "web"

CRAWL = "CC-MAIN-2025-13"
ISO3 = {"ar": "ara", "cs": "ces", "hu": "hun", "ko": "kor", "ru": "rus", "sr": "srp", "th": "tha", "vi": "vie"}
#: The country-code TLD of the made-up host for a page without a canonical URL.
TLD = {"ar": "sa", "cs": "cz", "hu": "hu", "ko": "kr", "ru": "ru", "sr": "rs", "th": "th", "vi": "vn"}
#: Public suffixes of more than one label that the test hosts may use (a tiny stand-in for the PSL).
MULTI_SUFFIXES = {"co.kr", "or.kr", "ac.kr", "go.kr", "com.vn", "edu.vn", "gov.vn", "ac.rs", "co.rs", "org.rs",
                  "edu.rs", "com.sa", "edu.sa", "com.lb", "co.th", "ac.th", "or.th", "in.th", "go.th",
                  "com.ua", "co.uk", "com.ru", "co.hu", "com.eg", "co.cz"}
HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})
_URL_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _URL_SAFE + "?"


@dataclass(frozen=True)
class CrawlPage:
    """One capture: what the crawler fetched and what Common Crawl's index says about it."""

    url: str
    html: bytes
    languages: str | None  # content_languages: ISO-639-3 codes, primary first ("srp,eng"); None for non-HTML
    mime: str = "text/html"  # content_mime_detected
    status: int = 200  # fetch_status


@dataclass
class CrawlRecord:
    """One index row's location info, for assertions."""

    url: str
    warc_filename: str
    warc_record_offset: int
    warc_record_length: int
    languages: str | None
    mime: str
    status: int
    url_host_tld: str


@dataclass
class LocalCrawl:
    """What :func:`build_crawl` wrote. ``pages`` holds every capture of ``subset=warc`` (the given pages, then the
    extra non-HTML / 404 captures, also listed in ``extras``); ``records`` the ``subset=warc`` index rows in index
    order; ``diagnostics`` the ``subset=crawldiagnostics`` rows (never in ``pages``)."""

    root: Path
    crawl: str
    pages: list[CrawlPage]
    records: list[CrawlRecord]
    warc_paths: list[str]
    wat_paths: list[str]
    index_paths: list[str]  # every line of cc-index-table.paths.gz, other subsets included
    extras: list[CrawlPage] = field(default_factory=list)
    diagnostics: list[CrawlRecord] = field(default_factory=list)

    def urls_in(self, iso3: set[str], tlds: set[str] | None = None) -> set[str]:
        """Page URLs with any of their (up to three) CC languages in ``iso3``, status 200, an HTML mime type and,
        when ``tlds`` is given, a host TLD in it: what a harvest for those languages should find."""
        wanted_tlds = None if tlds is None else {t.lower().lstrip(".") for t in tlds}
        out = set()
        for page in self.pages:
            if page.status != 200 or page.mime not in HTML_MIMES or not page.languages:
                continue
            if not set(page.languages.split(",")[:3]) & set(iso3):
                continue
            if wanted_tlds is not None and host_parts(page.url)["url_host_tld"] not in wanted_tlds:
                continue
            out.add(page.url)
        return out

    def path(self, rel: str) -> Path:
        return self.root / rel


# -- pages ---------------------------------------------------------------------------------------------

def _kit():
    """tests/collect/collectkit.py, loaded by path: importable whether or not tests/collect is on sys.path."""
    kit = sys.modules.get("collectkit")
    if kit is None:
        spec = importlib.util.spec_from_file_location("collectkit", TESTS / "collect" / "collectkit.py")
        kit = importlib.util.module_from_spec(spec)
        sys.modules["collectkit"] = kit
        spec.loader.exec_module(kit)
    return kit


def normalize_url(url: str) -> str:
    """The URL as a crawler records it: scheme and host lower case, no fragment, non-ASCII percent-encoded."""
    p = urlsplit(url.strip())
    path = quote(p.path or "/", safe=_URL_SAFE)
    query = quote(p.query, safe=_QUERY_SAFE)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), path, query, ""))


def _page_url(html: bytes, lang: str, path: Path) -> str:
    kit = _kit()
    parser = kit.ImgParser()
    parser.feed(kit.page_text(html))
    parser.close()
    for cand in (parser.canonical, parser.og_url):
        if cand and cand.strip().lower().startswith(("http://", "https://")) and urlsplit(cand.strip()).hostname:
            return normalize_url(cand)
    stem = path.name.removesuffix(".gz").removesuffix(".html")
    return f"https://mella-{lang}.{TLD[lang]}/{quote(stem, safe=_URL_SAFE)}"


def corpus_pages() -> list[CrawlPage]:
    """Every real page under tests/data/web/<lang>/ ('other' left out), with its language's ISO-639-3 code.

    The URL is the page's own canonical or og:url when absolute http(s), else a made-up host with the
    language's country TLD (``https://mella-sr.rs/<file stem>``)."""
    kit = _kit()
    pages = []
    for lang in sorted(ISO3):
        for path in sorted((WEB / lang).iterdir()):
            if path.name.endswith((".html", ".html.gz")):
                html = kit.page_bytes(path)
                pages.append(CrawlPage(_page_url(html, lang, path), html, ISO3[lang]))
    return pages


def replicate(pages: list[CrawlPage], n: int, *, seed: int = 0) -> list[CrawlPage]:
    """``n`` pages cycled from ``pages`` (page i is ``pages[i % len(pages)]`` with ``/copy-<i>`` put before its
    path, so every URL is distinct), returned in an order shuffled with ``seed``."""
    if n and not pages:
        raise ValueError("replicate: no pages to copy")
    out = []
    for i in range(n):
        page = pages[i % len(pages)]
        p = urlsplit(page.url)
        out.append(replace(page, url=urlunsplit((p.scheme, p.netloc, f"/copy-{i}{p.path or '/'}", p.query, ""))))
    random.Random(seed).shuffle(out)
    return out


# -- URL columns --------------------------------------------------------------------------------------

def surt(url: str) -> str:
    """Common Crawl's SURT key: host labels reversed without ``www``, ``)`` then the lower-cased path and the
    query with its parameters sorted (``https://www.Example.com/A?b=1&a=2`` -> ``com,example)/a?a=2&b=1``)."""
    p = urlsplit(url)
    host = re.sub(r"^www\d*\.", "", (p.hostname or "").lower())
    key = ",".join(reversed(host.split(".")))
    if p.port and p.port != {"http": 80, "https": 443}.get(p.scheme.lower()):
        key += f":{p.port}"
    key += ")" + (p.path or "/").lower()
    if p.query:
        key += "?" + "&".join(sorted(p.query.lower().split("&")))
    return key


def host_parts(url: str) -> dict[str, object]:
    """The ``url_host_*``, ``url_protocol``, ``url_port``, ``url_path`` and ``url_query`` columns of one URL."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    labels = host.split(".")
    is_ip = all(label.isdigit() for label in labels) or ":" in host
    tail = ".".join(labels[-2:])
    suffix = tail if len(labels) > 2 and tail in MULTI_SUFFIXES else labels[-1]
    n = suffix.count(".") + 1
    domain = ".".join(labels[-n - 1:]) if len(labels) > n else None
    part = [labels[-i] if len(labels) >= i else None for i in range(1, 6)]
    return {
        "url_host_name": host, "url_host_tld": part[0], "url_host_2nd_last_part": part[1],
        "url_host_3rd_last_part": part[2], "url_host_4th_last_part": part[3], "url_host_5th_last_part": part[4],
        "url_host_registry_suffix": None if is_ip else suffix,
        "url_host_registered_domain": None if is_ip else domain,
        "url_host_private_suffix": None if is_ip else suffix,
        "url_host_private_domain": None if is_ip else domain,
        "url_host_name_reversed": None if is_ip else ".".join(reversed(labels)),
        "url_protocol": p.scheme.lower(), "url_port": p.port, "url_path": p.path or "/",
        "url_query": p.query or None,
    }


def index_schema():
    """Common Crawl's flat index schema (cc-index-schema-flat.json) as arrow types; required where it says
    ``nullable: false``. ``crawl`` and ``subset`` are partition directories, not columns in the files."""
    import pyarrow as pa

    s = pa.string()
    columns = [
        ("url_surtkey", s, False), ("url", s, False), ("url_host_name", s, False), ("url_host_tld", s, True),
        ("url_host_2nd_last_part", s, True), ("url_host_3rd_last_part", s, True),
        ("url_host_4th_last_part", s, True), ("url_host_5th_last_part", s, True),
        ("url_host_registry_suffix", s, True), ("url_host_registered_domain", s, True),
        ("url_host_private_suffix", s, True), ("url_host_private_domain", s, True),
        ("url_host_name_reversed", s, True), ("url_protocol", s, False), ("url_port", pa.int32(), True),
        ("url_path", s, False), ("url_query", s, True), ("fetch_time", pa.timestamp("us", tz="UTC"), False),
        ("fetch_status", pa.int16(), False), ("fetch_redirect", s, True), ("content_digest", s, True),
        ("content_mime_type", s, True), ("content_mime_detected", s, True), ("content_charset", s, True),
        ("content_languages", s, True), ("content_truncated", s, True), ("warc_filename", s, False),
        ("warc_record_offset", pa.int32(), False), ("warc_record_length", pa.int32(), False),
        ("warc_segment", s, False),
    ]
    return pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable in columns])


# -- building ------------------------------------------------------------------------------------------

def _crawl_start(crawl: str) -> datetime:
    """Monday of the crawl's ISO week (CC-MAIN-2025-13 -> 2025-03-24), else a fixed date."""
    m = re.fullmatch(r"CC-MAIN-(\d{4})-(\d{2})", crawl)
    day = datetime.fromisocalendar(int(m[1]), int(m[2]), 1) if m else datetime(2025, 3, 24)
    return day.replace(hour=3, minute=11, second=10, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")


def _warc_date(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_date(t: datetime) -> str:
    return t.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _charset(body: bytes) -> str:
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "windows-1251"  # the one legacy charset in the test pages


def _digest(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _extras(pages: list[CrawlPage]) -> list[CrawlPage]:
    """Noise every real ``subset=warc`` has: non-HTML captures and (here) a 404 page with a language."""
    first = urlsplit(pages[0].url) if pages else urlsplit("https://example.org/")
    last = urlsplit(pages[-1].url) if pages else first
    pdf = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
           b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    rss = (b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Feed</title>'
           b"<item><title>One</title><link>https://example.org/1</link></item></channel></rss>\n")
    missing = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>404</title></head><body>'
               "<h1>404</h1><p>Страница не найдена. Stranica nije pronađena.</p>"
               '<img src="/static/404.png" alt="Изгубљена страница"></body></html>').encode()
    return [
        CrawlPage(f"{first.scheme}://{first.netloc}/files/annual-report.pdf", pdf, None, "application/pdf"),
        CrawlPage(f"{last.scheme}://{last.netloc}/feed.xml", rss, None, "application/rss+xml"),
        CrawlPage(f"{last.scheme}://{last.netloc}/no-such-page", missing,
                  pages[-1].languages if pages else "rus", "text/html", 404),
    ]


def _diagnostics(pages: list[CrawlPage]) -> list[tuple[CrawlPage, str | None]]:
    """A few redirects and 404s for subset=crawldiagnostics: (capture, redirect target)."""
    out: list[tuple[CrawlPage, str | None]] = []
    for page in pages[:3]:
        p = urlsplit(page.url)
        old = urlunsplit(("http", p.netloc, "/old" + (p.path or "/"), p.query, ""))
        out.append((CrawlPage(old, b"", None, "text/html", 301), page.url))
        gone = urlunsplit((p.scheme, p.netloc, "/gone" + (p.path or "/"), "", ""))
        body = b"<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>"
        out.append((CrawlPage(gone, body, None, "text/html", 404), None))
    return out


class _WarcFile:
    """Writes one WARC (or WAT) file record by record, each record its own gzip member; knows the offsets."""

    def __init__(self, path: Path, rel: str, rng: random.Random):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.rel = rel
        self.rng = rng

    def record_id(self) -> str:
        return f"<urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}>"

    def write(self, record) -> tuple[int, int]:
        from warcio.warcwriter import WARCWriter

        buf = io.BytesIO()
        WARCWriter(buf, gzip=False).write_record(record)
        packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        member = packer.compress(buf.getvalue()) + packer.flush()
        offset = self.fh.tell()
        self.fh.write(member)
        return offset, len(member)

    def warcinfo(self, when: datetime, info: dict[str, str]) -> str:
        from warcio.warcwriter import WARCWriter

        rid = self.record_id()
        payload = "".join(f"{k}: {v}\r\n" for k, v in info.items()).encode()
        record = WARCWriter(io.BytesIO()).create_warc_record(
            "", "warcinfo", payload=io.BytesIO(payload), length=len(payload),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": rid, "WARC-Date": _warc_date(when),
                               "WARC-Filename": self.rel.rsplit("/", 1)[-1]})
        self.write(record)
        return rid

    def close(self) -> None:
        self.fh.close()


def _write_capture(out: _WarcFile, page: CrawlPage, when: datetime, info_id: str, ip: str) -> dict:
    """The request and response records of one capture; the response's location and WARC ids."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    builder = WARCWriter(io.BytesIO())
    p = urlsplit(page.url)
    target = (p.path or "/") + (f"?{p.query}" if p.query else "")
    request_id, response_id = out.record_id(), out.record_id()
    request_http = StatusAndHeaders(f"GET {target} HTTP/1.1", [
        ("Host", p.netloc), ("User-Agent", "CCBot/2.0 (https://commoncrawl.org/faq/)"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "br,gzip"), ("Connection", "Keep-Alive")],
        is_http_request=True)
    request = builder.create_warc_record(page.url, "request", http_headers=request_http, warc_headers_dict={
        "WARC-Record-ID": request_id, "WARC-Date": _warc_date(when), "WARC-Warcinfo-ID": info_id,
        "WARC-IP-Address": ip})
    out.write(request)
    charset = _charset(page.html) if page.mime in HTML_MIMES else None
    content_type = page.mime + (f"; charset={charset.lower()}" if charset else "")
    reason = HTTPStatus(page.status).phrase
    response_http = StatusAndHeaders(f"{page.status} {reason}", [
        ("Date", _http_date(when)), ("Server", "nginx"), ("Content-Type", content_type),
        ("Content-Length", str(len(page.html))), ("Connection", "keep-alive")], protocol="HTTP/1.1")
    headers = {"WARC-Record-ID": response_id, "WARC-Date": _warc_date(when), "WARC-Warcinfo-ID": info_id,
               "WARC-Concurrent-To": request_id, "WARC-IP-Address": ip,
               "WARC-Identified-Payload-Type": page.mime}
    if page.languages:
        headers["WARC-Identified-Content-Language"] = page.languages
    response = builder.create_warc_record(page.url, "response", payload=io.BytesIO(page.html),
                                          length=len(page.html), http_headers=response_http,
                                          warc_headers_dict=headers)
    offset, length = out.write(response)
    if offset > 2**31 - 1 or length > 2**31 - 1:
        raise ValueError(f"{out.rel}: record at {offset} does not fit the index's int32 columns; use more files")
    return {"offset": offset, "length": length, "id": response_id, "charset": charset,
            "content_type": content_type}


def _index_row(page: CrawlPage, loc: dict, rel: str, segment: str, when: datetime,
               redirect: str | None = None) -> dict:
    return {"url_surtkey": surt(page.url), "url": page.url, **host_parts(page.url), "fetch_time": when,
            "fetch_status": page.status, "fetch_redirect": redirect, "content_digest": _digest(page.html),
            "content_mime_type": page.mime, "content_mime_detected": page.mime,
            "content_charset": loc["charset"], "content_languages": page.languages, "content_truncated": None,
            "warc_filename": rel, "warc_record_offset": loc["offset"], "warc_record_length": loc["length"],
            "warc_segment": segment}


def _wat_envelope(page: CrawlPage, loc: dict, rel: str, when: datetime, cache: dict[tuple, str]) -> dict:
    """collectkit's WAT envelope for HTML pages (a bare one otherwise), with the container and WARC ids.

    The HTML part is parsed once per distinct page body (``cache``): replicated pages share it."""
    headers = {"Content-Type": loc["content_type"], "Content-Length": str(len(page.html))}
    if page.mime in HTML_MIMES:
        key = (hashlib.sha1(page.html).digest(), loc["content_type"])
        if key not in cache:
            cache[key] = json.dumps(_kit().wat_json(page.url, page.html, headers), ensure_ascii=False)
        envelope = json.loads(cache[key])
    else:
        envelope = {"Envelope": {"WARC-Header-Metadata": {}, "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Headers": headers, "Response-Message": {}}}}}
    env = envelope["Envelope"]
    env["Format"] = "WARC"
    env["Container"] = {"Filename": rel.rsplit("/", 1)[-1], "Compressed": True, "Offset": str(loc["offset"]),
                        "Gzip-Metadata": {"Deflate-Length": str(loc["length"])}}
    env["WARC-Header-Metadata"].update({
        "WARC-Type": "response", "WARC-Target-URI": page.url, "WARC-Record-ID": loc["id"],
        "WARC-Date": _warc_date(when), "WARC-Identified-Payload-Type": page.mime})
    if page.languages:
        env["WARC-Header-Metadata"]["WARC-Identified-Content-Language"] = page.languages
    env["Payload-Metadata"]["HTTP-Response-Metadata"]["Response-Message"] = {
        "Status": str(page.status), "Version": "HTTP/1.1", "Reason": HTTPStatus(page.status).phrase}
    return envelope


def _write_wat_record(out: _WarcFile, page: CrawlPage, loc: dict, warc_rel: str, when: datetime,
                      info_id: str, cache: dict[tuple, str]) -> None:
    from warcio.warcwriter import WARCWriter

    envelope = _wat_envelope(page, loc, warc_rel, when, cache)
    payload = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    record = WARCWriter(io.BytesIO()).create_warc_record(
        page.url, "metadata", payload=io.BytesIO(payload), length=len(payload),
        warc_content_type="application/json",
        warc_headers_dict={"WARC-Record-ID": out.record_id(), "WARC-Date": _warc_date(when),
                           "WARC-Refers-To": loc["id"], "WARC-Warcinfo-ID": info_id})
    out.write(record)


def _split(items: list, parts: int) -> list[list]:
    """``parts`` contiguous runs of nearly equal length (earlier runs one longer)."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        out.append(items[start:end])
        start = end
    return out


def _write_paths(root: Path, rel: str, lines: list[str]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode(), mtime=0))


def _write_index(root: Path, rel: str, rows: list[dict], row_group_size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = index_schema()
    table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size, compression="gzip", write_statistics=True)


def build_crawl(root: Path, pages: list[CrawlPage], *, crawl: str = CRAWL, warc_files: int = 4,
                index_files: int = 2, row_group_size: int = 8, seed: int = 0, wat: bool = True,
                extra_records: bool = True) -> LocalCrawl:
    """Write a crawl of ``pages`` under ``root`` in Common Crawl's bucket layout (see the module docstring).

    Captures are shuffled with ``seed`` and split into ``warc_files`` contiguous runs, two files per segment.
    The index rows of ``subset=warc`` (pages and extras) are sorted by ``url_surtkey`` and split into
    ``index_files`` contiguous parquet files of ``row_group_size``-row groups."""
    if warc_files < 1 or index_files < 1 or row_group_size < 1:
        raise ValueError("build_crawl: warc_files, index_files and row_group_size must be at least 1")
    root = Path(root)
    rng = random.Random(seed)
    start = _crawl_start(crawl)
    extras = _extras(pages) if extra_records else []
    captures = list(pages) + extras
    order = list(range(len(captures)))
    rng.shuffle(order)
    ms = int(start.timestamp() * 1000) + rng.randrange(10**6)
    segments = [f"{ms}.{s}" for s in range((warc_files + 1) // 2)]
    job = uuid.UUID(int=rng.getrandbits(128), version=4)

    warc_paths, wat_paths, rows = [], [], []
    wat_cache: dict[tuple, str] = {}
    clock = start
    for k, chunk in enumerate(_split(order, warc_files)):
        segment = segments[k // 2]
        name = f"CC-MAIN-{_ts(clock)}-{_ts(clock + timedelta(hours=3))}-{k:05d}"
        rel = f"crawl-data/{crawl}/segments/{segment}/warc/{name}.warc.gz"
        wat_rel = f"crawl-data/{crawl}/segments/{segment}/wat/{name}.warc.wat.gz"
        out = _WarcFile(root / rel, rel, rng)
        info_id = out.warcinfo(clock, _warcinfo(crawl))
        wat_out, wat_info = None, None
        if wat:
            wat_out = _WarcFile(root / wat_rel, wat_rel, rng)
            wat_info = wat_out.warcinfo(clock, _warcinfo(crawl, "WAT"))
        for i in chunk:
            page = captures[i]
            clock += timedelta(seconds=1 + rng.randrange(5))
            loc = _write_capture(out, page, clock, info_id, f"192.0.2.{1 + i % 250}")
            rows.append(_index_row(page, loc, rel, segment, clock))
            if wat_out:
                _write_wat_record(wat_out, page, loc, rel, clock, wat_info, wat_cache)
        out.close()
        warc_paths.append(rel)
        if wat_out:
            wat_out.close()
            wat_paths.append(wat_rel)
        clock += timedelta(hours=3)

    diag_rows = _write_diagnostics(root, crawl, pages, segments[0], clock, rng)
    rows.sort(key=lambda r: (r["url_surtkey"], r["fetch_time"]))
    diag_rows.sort(key=lambda r: (r["url_surtkey"], r["fetch_time"]))
    table = f"cc-index/table/cc-main/warc/crawl={crawl}"
    index_paths = []
    for n, part in enumerate(_split(rows, index_files)):
        rel = f"{table}/subset=warc/part-{n:05d}-{job}.c000.gz.parquet"
        _write_index(root, rel, part, row_group_size)
        index_paths.append(rel)
    diag_rel = f"{table}/subset=crawldiagnostics/part-00000-{job}.c000.gz.parquet"
    _write_index(root, diag_rel, diag_rows, row_group_size)
    index_paths = sorted([*index_paths, diag_rel])  # as listed by S3: crawldiagnostics before warc

    _write_paths(root, f"crawl-data/{crawl}/warc.paths.gz", warc_paths)
    if wat:
        _write_paths(root, f"crawl-data/{crawl}/wat.paths.gz", wat_paths)
    _write_paths(root, f"crawl-data/{crawl}/cc-index-table.paths.gz", index_paths)
    return LocalCrawl(root=root, crawl=crawl, pages=captures, records=[_record(r) for r in rows],
                      warc_paths=warc_paths, wat_paths=wat_paths, index_paths=index_paths, extras=extras,
                      diagnostics=[_record(r) for r in diag_rows])


def _warcinfo(crawl: str, kind: str = "WARC") -> dict[str, str]:
    return {"isPartOf": crawl, "publisher": "Common Crawl (local test copy)",
            "description": f"mella test fixture: a local {kind} file in Common Crawl's layout",
            "operator": "mella tests", "format": "WARC File Format 1.0",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/"}


def _write_diagnostics(root: Path, crawl: str, pages: list[CrawlPage], segment: str, clock: datetime,
                       rng: random.Random) -> list[dict]:
    """One crawldiagnostics WARC (listed in non200responses.paths.gz) and its index rows."""
    name = f"CC-MAIN-{_ts(clock)}-{_ts(clock + timedelta(hours=3))}-00000"
    rel = f"crawl-data/{crawl}/segments/{segment}/crawldiagnostics/{name}.warc.gz"
    out = _WarcFile(root / rel, rel, rng)
    info_id = out.warcinfo(clock, _warcinfo(crawl))
    rows = []
    for page, target in _diagnostics(pages):
        clock += timedelta(seconds=2)
        loc = _write_capture(out, page, clock, info_id, "192.0.2.251")
        rows.append(_index_row(page, loc, rel, segment, clock, redirect=target))
    out.close()
    _write_paths(root, f"crawl-data/{crawl}/non200responses.paths.gz", [rel])
    return rows


def _record(row: dict) -> CrawlRecord:
    return CrawlRecord(url=row["url"], warc_filename=row["warc_filename"],
                       warc_record_offset=row["warc_record_offset"],
                       warc_record_length=row["warc_record_length"], languages=row["content_languages"],
                       mime=row["content_mime_detected"], status=row["fetch_status"],
                       url_host_tld=row["url_host_tld"])


# -- the server ----------------------------------------------------------------------------------------

_UNSATISFIABLE = "unsatisfiable"


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as a half-open (start, end) within ``size``; ``"unsatisfiable"`` (416); None when
    there is no usable Range (absent, another unit, several ranges, malformed): then the whole file, 200."""
    unit, eq, spec = (header or "").partition("=")
    if not eq or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        n = int(last)
        return (max(0, size - n), size) if n > 0 and size > 0 else _UNSATISFIABLE
    start = int(first)
    if last and int(last) < start:
        return None  # last-pos before first-pos: invalid, ignored (RFC 9110 14.1.1)
    if start >= size:
        return _UNSATISFIABLE
    return start, min(int(last) + 1 if last else size, size)


def _rel(path: str) -> str:
    return path.lstrip("/")


class CrawlServer:
    """Serves the files under ``root`` on 127.0.0.1 (GET, HEAD, single byte ranges), with faults per path.

    Faults take effect in this order: ``missing`` (404 always), ``fail`` (the next ``times`` requests answer
    ``status``), ``reset`` (the next ``times`` requests break off after ``after_bytes`` of body), and
    ``truncate`` (the file looks cut at ``keep_bytes``). Every request, HEAD included, is logged in
    ``requests`` as (relative path, Range header or ""); ``bytes_sent`` and ``bytes_by_path`` count the file
    bytes written to sockets (the short bodies of 404/416/``fail`` answers are not counted)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.lock = threading.Lock()
        self.bytes_sent = 0
        self.bytes_by_path: Counter = Counter()
        self.requests: list[tuple[str, str]] = []
        self._fail: dict[str, list] = {}
        self._reset: dict[str, list] = {}
        self._truncate: dict[str, int] = {}
        self._missing: set[str] = set()
        handler = type("CrawlHandler", (_Handler,), {"crawl_server": self})
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.host_port = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host_port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def __enter__(self) -> CrawlServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base_url + _rel(path)

    def fail(self, path: str, times: int, status: int = 503, retry_after: str | None = "0") -> None:
        with self.lock:
            self._fail[_rel(path)] = [times, status, retry_after]

    def reset(self, path: str, times: int, after_bytes: int = 100) -> None:
        with self.lock:
            self._reset[_rel(path)] = [times, after_bytes]

    def truncate(self, path: str, keep_bytes: int) -> None:
        with self.lock:
            self._truncate[_rel(path)] = keep_bytes

    def missing(self, path: str) -> None:
        with self.lock:
            self._missing.add(_rel(path))

    def reset_stats(self) -> None:
        with self.lock:
            self.bytes_sent = 0
            self.bytes_by_path = Counter()
            self.requests = []

    def _take(self, rel: str, rng: str) -> tuple[str, object]:
        """Log the request and pick its fault: ("missing"|"fail"|"reset"|"ok", detail)."""
        with self.lock:
            self.requests.append((rel, rng))
            if rel in self._missing:
                return "missing", None
            for kind, table in (("fail", self._fail), ("reset", self._reset)):
                entry = table.get(rel)
                if entry and entry[0] > 0:
                    entry[0] -= 1
                    return kind, entry[1:]
            return "ok", None

    def _file(self, rel: str) -> tuple[Path, int] | None:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        size = path.stat().st_size
        with self.lock:
            keep = self._truncate.get(rel)
        return path, size if keep is None else min(size, keep)

    def _count(self, rel: str, n: int) -> None:
        with self.lock:
            self.bytes_sent += n
            self.bytes_by_path[rel] += n


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-body is part of the tests, not an error to print


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after this
    crawl_server: CrawlServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        srv = self.crawl_server
        rel = _rel(unquote(urlsplit(self.path).path))
        kind, detail = srv._take(rel, self.headers.get("Range", ""))
        if kind == "missing":
            return self._short(404, b"Not Found\n", head)
        if kind == "fail":
            status, retry_after = detail
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            return self._short(status, f"{status} {HTTPStatus(status).phrase}\n".encode(), head, extra)
        found = srv._file(rel)
        if found is None:
            return self._short(404, b"Not Found\n", head)
        path, size = found
        span = parse_range(self.headers.get("Range", ""), size)
        if span == _UNSATISFIABLE:
            return self._short(416, b"", head, {"Content-Range": f"bytes */{size}"})
        start, end = span if span else (0, size)
        self.send_response(206 if span else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        limit = end - start if kind == "ok" else min(end - start, detail[0])
        if not head:
            self._stream(path, rel, start, limit)
        if kind == "reset":
            self._hang_up()

    def _stream(self, path: Path, rel: str, start: int, length: int) -> None:
        with open(path, "rb") as fh:
            fh.seek(start)
            while length > 0:
                chunk = fh.read(min(length, 1 << 16))
                if not chunk:
                    break
                # Counted before the write: once the client has the bytes, a test may read the count at once
                # (counted after, the handler thread could still be on its way to it).
                self.crawl_server._count(rel, len(chunk))
                try:
                    self.wfile.write(chunk)
                except OSError:  # the client hung up: these were not sent
                    self.crawl_server._count(rel, -len(chunk))
                    self.close_connection = True
                    return
                length -= len(chunk)

    def _hang_up(self) -> None:
        """Close the connection with the body unfinished: the client sees EOF before Content-Length."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _short(self, status: int, body: bytes, head: bool, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body and not head:
            try:
                self.wfile.write(body)
            except OSError:
                self.close_connection = True
