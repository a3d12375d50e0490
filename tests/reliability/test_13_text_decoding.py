"""Item 13 of issue 15: text decoding. A stray NUL does not make a text page binary; a page declared
UTF-8 that is mostly valid stays UTF-8 (with replacement characters) instead of being detected into
mojibake; control characters never reach alt, title, figcaption, context or page_title.

Both extraction engines (the C walk and the selectolax reference) are held to the same answers.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from mella.collect.accel import native
from mella.collect.collect import CollectStage
from mella.collect.decode import looks_binary
from mella.collect.html import available_engines, extract_page
from mella.collect.wat import wat_rows
from mella.pipeline.shards import Shard

DATA = Path(__file__).parents[1] / "data" / "web"
ARABIC = DATA / "ar" / "adbar__htmldate__test_set-1731695567.html"  # real UTF-8 page, 15 images with alt
URL = "https://news.example.org/a/page.html"
ENGINES = available_engines()


def extract(data: bytes, engine: str, **kw):
    return extract_page(data, URL, engine=engine, **kw)


def build_warc(pages: list[tuple[str, bytes]], headers: list[tuple[str, str]]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, body in pages:
        http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return buf.getvalue()


def collect(path: Path) -> tuple[list[dict], Counter]:
    stage = CollectStage()
    rows, counters = [], Counter()
    for batch in stage.read(Shard(str(path))):
        result = stage(batch)
        rows += result.kept
        counters.update(result.counters)
        counters.update(d["drop_reason"] for d in result.dropped)
    return rows, counters


# -- one NUL is not a binary file ------------------------------------------------------------------

def with_nul(data: bytes, at: int) -> bytes:
    cut = data.index(b">", at) + 1  # between two tags, inside the first 2 KB
    return data[:cut] + b"\x00" + data[cut:]


@pytest.mark.parametrize("engine", ENGINES)
def test_one_nul_in_the_first_2kb_of_a_valid_utf8_page_does_not_drop_it_as_binary(engine):
    page = ARABIC.read_bytes()
    damaged = with_nul(page, 1000)
    assert b"\x00" in damaged[:2048] and len(damaged) == len(page) + 1
    clean, got = extract(page, engine), extract(damaged, engine)
    assert got.skip_reason is None
    assert [(r["image_url"], r["alt"]) for r in got.rows] == [(r["image_url"], r["alt"]) for r in clean.rows]
    assert len(got.rows) == 15


def test_a_page_with_a_stray_nul_goes_through_collect_from_a_warc(tmp_path):
    path = tmp_path / "nul.warc.gz"
    path.write_bytes(build_warc([(URL, with_nul(ARABIC.read_bytes(), 500))], [("Content-Type", "text/html")]))
    rows, counters = collect(path)
    assert counters["binary"] == 0 and counters["candidates"] == 15 and len(rows) == 15


@pytest.mark.parametrize("engine", ENGINES)
def test_binary_payloads_are_still_dropped_as_binary(engine):
    rnd = random.Random(13)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rnd.randbytes(4000)
    utf16 = "<html><body><img src=a.jpg alt=cat></body></html>".encode("utf-16-le") * 20  # no BOM
    for data in (rnd.randbytes(5000), png, utf16, b"<html>" + b"\x00" * 64 + b"</html>"):
        assert looks_binary(data)
        assert extract(data, engine).skip_reason == "binary"


def test_the_binary_test_counts_nuls_the_same_in_c_and_python(monkeypatch):
    if native is None:
        pytest.skip("the C extension is not built")
    import mella.collect.decode as decode

    rnd = random.Random(7)
    cases = [rnd.randbytes(rnd.randrange(1, 3000)) for _ in range(200)]
    cases += [with_nul(ARABIC.read_bytes(), 100), b"a\x00", b"\x00" * 40 + b"x" * 3000, b"x" * 2000 + b"\x00" * 40]
    with_c = [looks_binary(d) for d in cases]
    monkeypatch.setattr(decode, "native", None)
    assert [looks_binary(d) for d in cases] == with_c


# -- a page declared UTF-8 that is mostly UTF-8 stays UTF-8 ---------------------------------------

ALT = "قطة جميلة على السطح"


def arabic_page(bad: int = 10, meta: bool = True) -> bytes:
    """A small page that says it is UTF-8, with valid Arabic and ``bad`` broken sequences (a cut character)."""
    head = b'<meta charset="utf-8">' if meta else b""
    return (b'<!DOCTYPE html><html lang="ar"><head>' + head + b"<title>" + "قطة".encode() + b"</title></head>"
            b"<body><p>" + b" \xd8" * bad + b'</p><img src="/a.jpg" alt="' + ALT.encode() + b'">'
            b"<p>Contact us at info@example.org. Copyright 2024. All rights reserved. Home | About</p></body></html>")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("declared", ["meta", "http"])
def test_a_mostly_valid_page_declared_utf8_is_not_detected_into_mojibake(engine, declared):
    page = arabic_page(meta=declared == "meta")
    headers = {"Content-Type": "text/html; charset=utf-8"} if declared == "http" else None
    assert page.decode("utf-8", "replace").count("\ufffd") == 10 and len(page) < 400
    got = extract(page, engine, headers=headers)
    assert [(r["alt"], r["page_title"]) for r in got.rows] == [(ALT, "قطة")]
    assert got.counters["decode.replaced_bytes"] == 1 and got.counters["decode.detected"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_legacy_page_mislabelled_utf8_is_still_detected(engine):
    text = "Фотография: Красная площадь в Москве зимой, вид с моста"
    page = (b'<html><head><meta charset="utf-8"><title>' + "Москва".encode("cp1251") + b"</title></head><body><p>"
            + ("Зимняя Москва. " * 20).encode("cp1251") + b'</p><img src="/m.jpg" alt="' + text.encode("cp1251")
            + b'"></body></html>')
    got = extract(page, engine)
    assert [r["alt"] for r in got.rows] == [text]


# -- control characters never reach a row ----------------------------------------------------------

CONTROL_PAGE = (
    "<!DOCTYPE html><!-- " + "an ordinary page around a few stray control characters " * 40 + "-->"
    "<html><head><title>Menu\x01 \x1b[1mToday\x1b[0m</title></head><body>"
    "<p>Before\x07 the \x9b picture</p>"
    '<figure><img src="/a.jpg" alt="\x01Red \x1b[31mcar\x1b[0m\x7f" title="A\x02 car">'
    "<figcaption>The\x1b car\x85 at night</figcaption></figure>"
    '<p>After\tthe\x00 picture</p><img src="/b.jpg" alt="&amp;#1;&#27;x &amp;amp; y"></body></html>'
).encode()


def has_controls(text: str) -> bool:
    return any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


@pytest.mark.parametrize("engine", ENGINES)
def test_control_characters_are_stripped_from_every_text_field(engine):
    got = extract(CONTROL_PAGE, engine)
    assert got.skip_reason is None and len(got.rows) == 2
    first = got.rows[0]
    assert first["alt"] == "Red [31mcar[0m"
    assert first["img_title"] == "A car"
    assert first["figcaption"] == "The car at night"
    assert first["page_title"] == "Menu [1mToday[0m"
    assert first["context"] == "Before the picture The car at night After the picture"
    assert got.rows[1]["alt"] == "x & y"
    for row in got.rows:
        for key in ("alt", "img_title", "figcaption", "context", "page_title"):
            assert not has_controls(row[key]), (key, row[key])


def test_both_engines_strip_controls_alike_on_random_control_soup():
    if len(ENGINES) < 2:
        pytest.skip("the C extension is not built")
    rnd = random.Random(15)
    soup = [chr(c) for c in (*range(0, 32), *range(0x7F, 0xA0))] + list("ab &;#  \u0627\u00e9")
    for _ in range(200):
        text = "".join(rnd.choice(soup) for _ in range(rnd.randrange(1, 40)))
        page = f"<title>{text}</title><p>{text}</p><figure><img src=/x.jpg alt='x{text}' title='{text}'>" \
               f"<figcaption>{text}</figcaption></figure><p>{text}</p>"
        data = page.encode("utf-8", "surrogatepass")
        ref, got = (extract(data, e, context_chars=c) for e, c in (("selectolax", 40), ("native", 40)))
        assert got.rows == ref.rows and got.skip_reason == ref.skip_reason
        for row in got.rows:
            assert not any(has_controls(row[k]) for k in ("alt", "img_title", "figcaption", "context"))


def test_control_characters_are_stripped_from_wat_rows():
    meta = {"Envelope": {"WARC-Header-Metadata": {"WARC-Target-URI": URL}, "Payload-Metadata": {
        "HTTP-Response-Metadata": {"Headers": {"Content-Type": "text/html"}, "HTML-Metadata": {
            "Head": {"Title": "T\x1b[2Jitle"},
            "Links": [{"path": "IMG@/src", "url": "/a.jpg", "alt": "\x01Red\x1b[31m car", "title": "x\x07y"}]}}}}}
    got = wat_rows(json.dumps(meta).encode(), URL)
    assert [(r["alt"], r["img_title"], r["page_title"]) for r in got.rows] == [("Red[31m car", "xy", "T[2Jitle")]
