"""Item 7 of issue 15: a gzip (deflate, brotli) bomb inside a WARC record.

A small .warc.gz whose HTTP body says ``Content-Encoding: gzip`` and inflates to 256 MiB used to be
inflated whole before the page cap was checked. The body is now decoded in a stream that stops at
the cap: the page is dropped as ``too_large`` and memory stays small. Measured in a fresh process
(peak resident memory from ``getrusage``, before and after the bomb), with a real WARC file.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from mella.collect.collect import CollectStage
from mella.pipeline.shards import Shard

PAGE = Path(__file__).parents[1] / "data" / "web" / "cs" / "TeamHG-Memex__autopager__page-100.html"
BOMB_BYTES = 256 * 1024 * 1024  # what the bomb inflates to: 25 times the default 10 MiB page cap
URL = "https://bomb.example.org/page.html"


def zeros_compressed(coding: str, size: int) -> bytes:
    """``size`` zero bytes encoded with a Content-Encoding, built in 1 MiB steps (never held whole)."""
    chunk = bytes(1 << 20)
    if coding == "br":
        import brotli

        enc = brotli.Compressor(quality=1)
        return b"".join(enc.process(chunk) for _ in range(size // len(chunk))) + enc.finish()
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}[coding]
    enc = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(enc.compress(chunk) for _ in range(size // len(chunk))) + enc.flush()


def encode(coding: str, body: bytes) -> bytes:
    if coding == "br":
        import brotli

        return brotli.compress(body)
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}[coding]
    enc = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return enc.compress(body) + enc.flush()


def warc(records: list[tuple[str, bytes, str | None]]) -> bytes:
    """A gzipped WARC of response records ``(url, stored body, Content-Encoding or None)``."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, body, coding in records:
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if coding:
            headers.append(("Content-Encoding", "deflate" if coding == "raw-deflate" else coding))
        http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return buf.getvalue()


def collect(path: Path) -> tuple[list[dict], list[dict]]:
    stage = CollectStage()
    kept, dropped = [], []
    for batch in stage.read(Shard(str(path))):
        result = stage(batch)
        kept += result.kept
        dropped += result.dropped
    return kept, dropped


MEASURE = """
import json, resource, sys
from mella.collect.collect import CollectStage
from mella.pipeline.shards import Shard

def collect(path):
    stage, kept, dropped = CollectStage(), 0, []
    for batch in stage.read(Shard(path)):
        result = stage(batch)
        kept += len(result.kept)
        dropped += [(d["page_url"], d["drop_reason"]) for d in result.dropped]
    return kept, dropped

collect(sys.argv[2])  # warm-up on a normal page: imports, parser, caches
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kept, dropped = collect(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_kib": after - before, "kept": kept, "dropped": dropped}))
"""


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
def test_a_content_encoding_bomb_in_a_warc_record_is_too_large_without_inflating_it(tmp_path, coding):
    bomb = zeros_compressed(coding, BOMB_BYTES)
    page = PAGE.read_bytes()
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(warc([(URL, bomb, coding), ("https://ok.example.org/", page, None)]))
    normal = tmp_path / "normal.warc.gz"
    normal.write_bytes(warc([("https://warm.example.org/", page, None)]))
    assert path.stat().st_size < 1024 * 1024  # a small file ...
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(normal)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dropped"] == [[URL, "too_large"]]  # ... whose page passes the cap is dropped, counted
    assert got["kept"] > 0  # and the record after it is read as usual
    # The bomb inflates to 256 MiB; decoding stops at the 10 MiB page cap (plus the compressed body).
    assert got["grew_kib"] < 64 * 1024, got


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
def test_pages_with_a_content_encoding_still_decode(tmp_path, coding):
    page = PAGE.read_bytes()
    path = tmp_path / "enc.warc.gz"
    path.write_bytes(warc([("https://plain.example.org/", page, None), ("https://enc.example.org/", encode(coding, page),
                                                                        coding)]))
    kept, dropped = collect(path)
    assert dropped == []
    plain = [(r["image_url"], r["alt"]) for r in kept if r["page_url"] == "https://plain.example.org/"]
    decoded = [(r["image_url"], r["alt"]) for r in kept if r["page_url"] == "https://enc.example.org/"]
    assert plain and decoded == plain


def test_a_page_just_under_the_cap_decodes_and_just_over_is_too_large(tmp_path):
    page = PAGE.read_bytes()
    cap = len(page)
    path = tmp_path / "cap.warc.gz"
    over = page + b"<!-- one byte more -->"
    path.write_bytes(warc([("https://at.example.org/", encode("gzip", page), "gzip"),
                           ("https://over.example.org/", encode("gzip", over), "gzip")]))
    stage = CollectStage(max_page_bytes=cap)
    kept, dropped = [], []
    for batch in stage.read(Shard(str(path))):
        result = stage(batch)
        kept += result.kept
        dropped += result.dropped
    assert {r["page_url"] for r in kept} == {"https://at.example.org/"}
    assert [(d["page_url"], d["drop_reason"]) for d in dropped] == [("https://over.example.org/", "too_large")]


def test_a_gzip_body_cut_short_is_bad_content_encoding(tmp_path):
    page = PAGE.read_bytes()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(warc([("https://cut.example.org/", encode("gzip", page)[:-200], "gzip")]))
    kept, dropped = collect(path)
    assert kept == [] and [d["drop_reason"] for d in dropped] == ["bad_content_encoding"]
