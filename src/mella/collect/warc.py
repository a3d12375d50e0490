"""WARC files (gzip per record or uncompressed, local or remote) -> HTML pages, with fastwarc.

:func:`iter_records` walks a WARC and survives damage: a record that fastwarc cannot read stops
its iterator, so we look for the next record start after the last good one and go on from there.
:func:`warc_pages` turns response (and resource) records into page records for :mod:`mella.collect.html`,
and everything it cannot use into ``skip``/``count`` records, each with a reason.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from mella.errors import InputError, MellaError
from mella.net.client import NetOptions

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/"
_SCAN_CHUNK = 1 << 20
_MAX_RESYNCS = 10_000
HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_url(uri: str) -> bool:
    """Whether ``uri`` is a URL (``scheme://...``) rather than a local path."""
    return bool(_URL.match(uri))


def open_input(uri: str, net: NetOptions | None = None) -> IO[bytes]:
    """Open a local path or a URL for binary reading.

    http(s) goes through the guarded client (:func:`mella.net.remote.open_remote`: address guard on every
    hop, ``net.allow_hosts``, user agent, retries); other protocols (s3, gs ...) through fsspec, except
    those fsspec itself reads over HTTP, which would bypass the guard.
    """
    try:
        if uri.lower().startswith(("http://", "https://")):
            from mella.net.remote import open_remote

            return open_remote(uri, net)
        if is_url(uri):
            import fsspec  # lazily: only remote inputs need it

            if _over_http(uri):
                raise MellaError(f"cannot read input {uri}: fsspec reads it over HTTP, outside the address "
                                 "guard; give the http(s) URL itself")
            if uri.lower().startswith("s3://"):
                from mella.errors import require

                require("s3fs", "cc", f"reading {uri}")
            return fsspec.open(uri, "rb").open()
        return open(uri, "rb")
    except MellaError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise MellaError(f"cannot read input {uri}: {exc.__class__.__name__}: {exc}") from None


def _over_http(uri: str) -> bool:
    """Whether fsspec would read any link of this (possibly chained) URL with its HTTP filesystem."""
    from fsspec import get_filesystem_class
    from fsspec.implementations.http import HTTPFileSystem

    for link in uri.split("::"):
        protocol = link.split("://", 1)[0].lower() if "://" in link else link.lower()
        try:
            if issubclass(get_filesystem_class(protocol), HTTPFileSystem):
                return True
        except (ValueError, ImportError):  # unknown protocol: fsspec.open says so itself
            continue
    return False


def _starts_record(chunk: bytes, compressed: bool) -> bool:
    if not compressed:
        return chunk.startswith(_WARC_MAGIC)
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(chunk, 16)
    except zlib.error:
        return False
    return head.startswith(_WARC_MAGIC)


def find_next_record(stream: IO[bytes], start: int, compressed: bool) -> int | None:
    """Offset of the first record start at or after ``start`` (a gzip member holding ``WARC/``), or None."""
    magic = _GZIP_MAGIC if compressed else _WARC_MAGIC
    pos = start
    while True:
        stream.seek(pos)
        chunk = stream.read(_SCAN_CHUNK + 4096)
        if len(chunk) < len(magic):
            return None
        i = chunk.find(magic)
        while 0 <= i < _SCAN_CHUNK:
            if _starts_record(chunk[i:i + 4096], compressed):
                return pos + i
            i = chunk.find(magic, i + 1)
        if len(chunk) <= _SCAN_CHUNK:
            return None
        pos += _SCAN_CHUNK


def iter_records(stream: IO[bytes], record_types: int) -> Iterator[tuple[Any, str | None]]:
    """``(record, None)`` for each record of ``record_types``; ``(None, error)`` where damage was skipped.

    After damage the walk resumes at the next record start (seekable inputs only; a remote stream
    that is not seekable ends at the damage).
    """
    from fastwarc.warc import ArchiveIterator

    seekable = stream.seekable()
    compressed = _peek(stream, 2) == _GZIP_MAGIC[:2]
    search_from = 0
    for _ in range(_MAX_RESYNCS):
        last = None
        try:
            for record in ArchiveIterator(stream, record_types=record_types, parse_http=False):
                last = record.stream_pos
                yield record, None
            return
        except OSError as exc:
            yield None, str(exc)
        if not seekable:
            return
        search_from = max(search_from, last if last is not None else search_from) + 1
        found = find_next_record(stream, search_from, compressed)
        if found is None:
            return
        search_from = found
        stream.seek(found)


def _peek(stream: IO[bytes], n: int) -> bytes:
    if stream.seekable():
        pos = stream.tell()
        head = stream.read(n)
        stream.seek(pos)
        return head
    peek = getattr(stream, "peek", None)
    return peek(n)[:n] if peek else b""


def target_uri(record) -> str:
    """The record's WARC-Target-URI (WARC 1.0 writers sometimes wrap it in angle brackets)."""
    uri = (record.headers.get("WARC-Target-URI") or "").strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1].strip()
    return uri


def is_truncated(record, declared: int, actual: int) -> bool:
    """Whether a record's block ended early: fewer bytes than declared, or cut inside its headers."""
    return actual < declared or record.headers.get("Content-Length") is None


def skip_record(reason: str, url: str, source: str, offset: int) -> dict[str, Any]:
    """A record that could not be used: the stage counts it and keeps a traceable dropped row."""
    return {"kind": "skip", "reason": reason, "url": url, "source": source, "offset": offset}


def _count(name: str) -> dict[str, Any]:
    return {"kind": "count", "name": name, "n": 1}


def read_records(uri: str, types, make: Callable[[Any], dict[str, Any]],
                 count: str | None = None, net: NetOptions | None = None) -> Iterator[dict[str, Any]]:
    """``make(record)`` for every record of ``types`` in one file; damage becomes a skip record, the file goes on.

    A file that holds no WARC record at all and does not start like one is refused (InputError):
    a text file given as a WARC is a mistake to name, not a file of damaged records.
    """
    stream = open_input(uri, net)
    try:
        head = _peek(stream, 4096)
        records = damaged = 0  # damage before the first record is held back until the file shows it is a WARC
        for record, error in iter_records(stream, types):
            if error is not None:
                damaged += 1
                if records:
                    yield skip_record("invalid_warc_data", "", uri, -1)
                continue
            if not records:
                yield from (skip_record("invalid_warc_data", "", uri, -1) for _ in range(damaged))
            records += 1
            if count:
                yield _count(count)
            yield make(record)
        if not records:
            if not looks_like_warc(head):
                raise not_a_warc(uri, head)
            yield from (skip_record("invalid_warc_data", "", uri, -1) for _ in range(damaged))
    except OSError as exc:  # the medium itself failed (not the content)
        raise MellaError(f"cannot read input {uri}: {exc}") from None
    finally:
        stream.close()


def looks_like_warc(head: bytes) -> bool:
    """Whether a file's first bytes are a WARC record's start (``WARC/``, or a gzip member holding one)."""
    return head.startswith(_WARC_MAGIC) or (head.startswith(_GZIP_MAGIC) and _starts_record(head, True))


def not_a_warc(uri: str, head: bytes) -> InputError:
    """The one-line error for a file that is not a WARC (no record found, no WARC start)."""
    if not head:
        return InputError(f"input {uri} is not a WARC file: it is empty (0 WARC records read)")
    return InputError(f"input {uri} is not a WARC file: 0 WARC records read, and it starts with "
                      f"{head[:32]!r} instead of b'WARC/' (or a gzip member holding it)")


def warc_pages(uri: str, max_page_bytes: int, net: NetOptions | None = None) -> Iterator[dict[str, Any]]:
    """Page records (``kind="page"``) from the HTML responses of one WARC, plus skip/count records.

    ``net``: the client settings for an http(s) ``uri`` (``allow_hosts``, user agent).
    """
    from fastwarc.warc import WarcRecordType

    types = WarcRecordType.response | WarcRecordType.resource
    yield from read_records(uri, types, lambda record: record_page(record, uri, max_page_bytes), "records_read",
                            net)


def record_page(record, source: str, max_page_bytes: int) -> dict[str, Any]:
    """A page record for one response/resource record, or a skip/count record saying why it is not a page."""
    from fastwarc.warc import WarcRecordType

    url, offset = target_uri(record), record.stream_pos
    declared = record.content_length
    if declared > max_page_bytes + 65536:
        return skip_record("too_large", url, source, offset)
    if record.headers.get("Content-Length") is None:  # cut inside its WARC headers
        return skip_record("truncated", url, source, offset)
    # A block cut short (a truncated file) shows as a payload shorter than its length says; reading the
    # whole block first (record.freeze()) would also tell, at a sixth of a page's parse in copies.
    if record.record_type == WarcRecordType.resource:
        content_type = (record.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in HTML_TYPES:
            return {"kind": "count", "name": "records_skipped.non_html", "n": 1}
        payload = record.reader.read()
        if len(payload) < declared:
            return skip_record("truncated", url, source, offset)
        return _page(url, payload, {}, source, offset)
    try:
        record.parse_http(auto_decode="none")
    except OSError:
        return skip_record("broken_http_headers", url, source, offset)
    headers = record.http_headers
    if headers is None or not headers.status_code:
        return skip_record("broken_http_headers", url, source, offset)
    if not 200 <= headers.status_code < 300:
        return {"kind": "count", "name": f"records_skipped.http_{headers.status_code // 100}xx", "n": 1}
    payload = record.reader.read()
    if len(payload) < record.content_length:  # (the payload's length, once the HTTP headers are parsed)
        return skip_record("truncated", url, source, offset)
    content_type = (record.http_content_type or "").lower()
    if content_type not in HTML_TYPES and not (not content_type and _sniff_html(payload)):
        return {"kind": "count", "name": "records_skipped.non_html", "n": 1}
    payload, problem = _decode_body(payload, headers, max_page_bytes)
    if problem:
        return skip_record(problem, url, source, offset)
    return _page(url, payload, _header_dict(headers), source, offset)


def _page(url: str, data: bytes, headers: dict[str, str], source: str, offset: int) -> dict[str, Any]:
    return {"kind": "page", "url": url, "data": data, "headers": headers, "source": source,
            "offset": offset, "infer_url": False}


def _header_dict(headers) -> dict[str, str]:
    # Only what extraction reads: keeps page records small when they cross process boundaries.
    out = {}
    for name in ("Content-Type", "Content-Language"):
        value = headers.get(name)
        if value:
            out[name] = value
    return out


def _sniff_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title"))


def _decode_body(payload: bytes, headers, limit: int) -> tuple[bytes, str | None]:
    """Undo chunked transfer and gzip/deflate/br content coding (Common Crawl stores them undone already).

    Decoding streams into at most ``limit`` + 1 bytes: a body that inflates past the page cap is
    ``too_large`` without being inflated (a 4 KB record can hold a gzip bomb of gigabytes).
    """
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        payload = _dechunk(payload)
        if payload is None:
            return b"", "bad_chunked_encoding"
    coding = (headers.get("Content-Encoding") or "").strip().lower()
    if coding in ("", "identity", "none", "utf-8"):
        return payload, None
    try:
        if coding in ("gzip", "x-gzip"):
            body = inflate(payload, 16 + zlib.MAX_WBITS, limit)
        elif coding == "deflate":
            try:
                body = inflate(payload, zlib.MAX_WBITS, limit)
            except zlib.error:  # servers send raw deflate as often as the zlib format the name means
                body = inflate(payload, -zlib.MAX_WBITS, limit)
        elif coding == "br":
            body = unbrotli(payload, limit)
        else:
            return b"", "unknown_content_encoding"
    except Exception:  # corrupt body, or a writer that stored it decoded but kept the header
        return (payload, None) if _sniff_html(payload) else (b"", "bad_content_encoding")
    return (body, None) if len(body) <= limit else (b"", "too_large")


def inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """zlib/gzip/raw-deflate ``data`` decoded to at most ``limit`` + 1 bytes (more means: over the limit).

    Concatenated gzip members are read in turn; a stream cut short raises ``zlib.error``.
    """
    out = b""
    while True:
        inflater = zlib.decompressobj(wbits)
        part = inflater.decompress(data, limit + 1 - len(out))
        out = out + part if out else part  # one member (the usual case): no copy
        if len(out) > limit:
            return out
        if not inflater.eof:
            raise zlib.error("compressed data ends early")
        data = inflater.unused_data
        if wbits < 16 + zlib.MAX_WBITS or not data.startswith(_GZIP_MAGIC[:2]):
            return out


def unbrotli(data: bytes, limit: int) -> bytes:
    """Brotli ``data`` decoded to at most ``limit`` + 1 bytes (more means: over the limit)."""
    import brotli  # comes with fastwarc

    decoder = brotli.Decompressor()
    try:
        out = decoder.process(data, output_buffer_limit=limit + 1)
    except TypeError:  # brotli < 1.2 has no output limit: feed a byte at a time, checking as it grows
        out = bytearray()
        for i in range(len(data)):
            out += decoder.process(data[i:i + 1])
            if len(out) > limit:
                break
        out = bytes(out)
    if len(out) <= limit and not decoder.is_finished():
        raise ValueError("brotli data ends early")
    return out


def _dechunk(payload: bytes) -> bytes | None:
    out, pos = [], 0
    while True:
        end = payload.find(b"\r\n", pos)
        if end < 0:
            return None
        try:
            size = int(payload[pos:end].split(b";")[0].strip() or b"0", 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        out.append(payload[end + 2:end + 2 + size])
        pos = end + 2 + size + 2
