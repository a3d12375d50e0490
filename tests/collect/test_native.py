"""The native extractor (one C walk of lexbor's tree) against the selectolax path, row for row.

The selectolax path is the reference (its rules are tested one by one in test_html.py and against
an independent parse); the C walk must give the same rows and counters on every real page and on
pages made to hit each rule and its corner cases.
"""

from __future__ import annotations

import os
import random
import unicodedata

import pytest
from collectkit import page_bytes, page_files, warc_files

from mella.collect import html as H
from mella.collect.accel import native
from mella.collect.urls import Resolver, registered_domain

if native is None:
    if os.environ.get("MELLA_REQUIRE_NATIVE") == "1":
        pytest.fail("mella.collect._native is not built (make install builds it)", pytrace=False)
    pytest.skip("mella.collect._native is not built in this installation", allow_module_level=True)


def both(data: bytes, url: str = "https://site.example.com/a/b/page.html", **kw):
    ref = H.extract_page(data, url, engine="selectolax", **kw)
    got = H.extract_page(data, url, engine="native", **kw)
    return ref, got


def assert_same(data: bytes, **kw) -> list[dict]:
    ref, got = both(data, **kw)
    assert got.rows == ref.rows
    assert got.counters == ref.counters
    assert got.skip_reason == ref.skip_reason
    return got.rows


def real_pages() -> list[bytes]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages = [page_bytes(p) for p in page_files()]
    for path in warc_files():
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
                if (rec.http_content_type or "") == "text/html":
                    pages.append(rec.reader.read())
    return pages


REAL = real_pages()


def test_the_default_engine_is_native_when_built(monkeypatch):
    assert H.default_engine() == "native" and H.available_engines() == ("native", "selectolax")
    monkeypatch.setenv("MELLA_COLLECT_ENGINE", "selectolax")
    assert H.default_engine() == "selectolax"
    with pytest.raises(ValueError, match="engine 'lxml'"):
        H.extract_page(b"<p>", "https://e.com/", engine="lxml")
    # Built from the lexbor that selectolax 1.0.2 is built with (tools/lexbor_source.py).
    assert native.LEXBOR_VERSION == "3.1.0"


@pytest.mark.parametrize("context_chars", [300, 41, 1, 0])
def test_every_real_page_gives_the_same_rows_both_ways(context_chars):
    assert len(REAL) >= 50
    total = 0
    for data in REAL:
        total += len(assert_same(data, context_chars=context_chars))
    assert total > 800


def test_saved_page_addresses_and_http_headers_give_the_same_rows_both_ways():
    for data in REAL[::4]:
        assert_same(data, url="file:///tmp/saved/page.html", infer_url=True)
        assert_same(data, headers={"Content-Type": "text/html; charset=windows-1251", "Content-Language": "sr"})


CASES = {
    "figures": '<figure><figure><img src="a.jpg" alt="inner"><figcaption>Inner <b>cap</b></figcaption></figure>'
               '<img src="b.jpg" alt="outer"><figcaption>Outer</figcaption></figure>'
               '<figure><img src="c.jpg" alt="no caption"></figure>'
               '<figure><figcaption>  </figcaption><img src="d.jpg" alt="empty caption"></figure>'
               '<figure><figcaption>first</figcaption><figure><img src="e.jpg" alt="e"></figure></figure>',
    "pictures": '<picture><source srcset="data:image/png;base64,xx"><source srcset="p1.jpg 300w, p2.jpg 900w">'
                '<img src="fallback.jpg" alt="pic"></picture>'
                '<picture><source srcset=""><img src="only.jpg" alt="empty sources"></picture>'
                '<picture><source srcset="outer.jpg 2x"><picture><img src="x.jpg" alt="nested"></picture></picture>',
    "sources": '<img src="placeholder.gif" data-src="lazy.jpg" alt="lazy">'
               '<img src="p.gif" data-original="orig.jpg" data-src="first.jpg" alt="rank">'
               '<img src="p.gif" data-src="  " data-lazy-src="data:x" data-original="o.jpg" alt="skip blank">'
               '<img srcset="a.jpg 1x, b.jpg 2x, c.jpg 1.5x" alt="density">'
               '<img srcset="w.jpg 100w, big.jpg 1000w 2x, small.jpg 50w" alt="width">'
               '<img srcset=" , spaced.jpg\t800w ,, " src="s.jpg" alt="odd srcset">'
               '<img srcset="a.jpg 10w, b.jpg 10w" alt="tie keeps the first">'
               '<img data-srcset="ds.jpg 5w" src="s.jpg" alt="data-srcset">'
               '<img srcset="x.jpg 1e3w, y.jpg 5w" alt="not a descriptor">'
               '<img src="  padded.jpg  " alt="padded">'
               '<img src="" alt="empty src"><img alt="no src"><img src="data:image/gif;base64,R0" alt="data">'
               '<img src=" DATA:x" alt="data upper">',
    "unicode srcset": '<img srcset="a.jpg ٣٠٠w, b.jpg 200w" alt="arabic digits">'
                      '<img srcset="a.jpg\u00a0300w, b.jpg 200w" src="c.jpg" alt="nbsp">'
                      '<picture><source srcset="ü.jpg 10w"><img src="x.jpg" alt="pic ü"></picture>'
                      '<img srcset="data:x 10w, é.jpg 5w" alt="unicode then">',
    "urls": '<img src="//cdn.example.org/x.jpg" alt="1"><img src="/root.jpg" alt="2"><img src="rel/x.jpg" alt="3">'
            '<img src="../up.jpg" alt="4"><img src="./dot.jpg" alt="5"><img src="?q=1" alt="6"><img src="#f" alt="7">'
            '<img src="mailto:a@b.c" alt="8"><img src="javascript:void(0)" alt="9"><img src="a:b/c.jpg" alt="10">'
            '<img src="x/y:z.jpg" alt="11"><img src="http://a.b/c\td.jpg" alt="12"><img src="HTTP://UP.ORG/x" alt="13">'
            '<img src="http://[::1" alt="14"><img src="a/./b.jpg" alt="15"><img src="%20sp ace.jpg" alt="16">'
            '<img src="https://ok.org/x.jpg" alt="17"><img src="ftp://f.org/x.jpg" alt="18">',
    "whitespace": '<img src="a.jpg" alt="  a\u00a0\u00a0b\u3000c\x1cd\u2028e\u200bf  ">'
                  '<img src="b.jpg" alt="\u00a0\u3000 "><img src="c.jpg" alt="x" title=" t\n i\tt ">'
                  '<p>text\u2003with\u2009spaces\u00a0and\u0085more</p>',
    "entities": '<img src="a.jpg" alt="Tom &amp;amp; Jerry &amp;quot;x&amp;quot;" title="a &amp;lt; b">'
                '<figure><img src="b.jpg" alt="b"><figcaption>' + "ž &amp;amp; " * 700 + '</figcaption></figure>'
                '<img src="c.jpg" alt="plain &amp; simple">',
    "long caption": '<figure><img src="a.jpg" alt="a"><figcaption>' + "Čeština " * 400 + '</figcaption></figure>',
    "nfc": '<img src="a.jpg" alt="Cafe\u0301 e\u0301" title="A\u030a"><p>Zu\u0308rich</p>',
    "head": '<html lang="sr-Latn"><head><title> Naslov  strane </title><base href="/base/dir/">'
            '<base href="https://ignored.example/">'
            '<link rel="alternate" href="/alt"><link rel="Shortcut CANONICAL" href="/canon">'
            '<meta property="OG:Locale" content="sr_RS"><meta property="og:url" content="https://og.example/x">'
            '<meta http-equiv="Content-Language" content="sr"><meta property="x" http-equiv="content-language" content="y">'
            '</head><body><img src="x.jpg" alt="x"></body></html>',
    "broken base": '<base href="http://[::1"><img src="a.jpg" alt="a"><img src="//x.org/b.jpg" alt="b">',
    "xml lang": '<html xml:lang="vi"><title></title><title>second</title><img src="x.jpg" alt="x">',
    "svg": '<svg><title>svg title</title><image href="i.png"/></svg><title>late</title><img src="x.jpg" alt="x">',
    "noscript head": '<head><noscript><img src="pixel.gif" alt="pixel"></noscript>'
                     '<link rel="canonical" href="https://canon.example/p"></head><body><img src="y.jpg" alt="y">',
    "template": '<template><img src="t.jpg" alt="in template"></template><img src="u.jpg" alt="outside">',
    "scripts": '<p>before</p><script>var a = "<img src=x alt=y>";</script><style>p { x: 1 }</style>'
               '<img src="a.jpg" alt="a"><script>after()</script><p>after</p>',
    "no body text": '<img src="a.jpg" alt="a"><img src="b.jpg" alt="b">',
    "gallery": "<p>" + "word " * 500 + "</p>" + "".join(f'<img src="{i}.jpg" alt="{i}">' for i in range(30))
               + "<p>" + "tail " * 500 + "</p>",
    "frameset": '<frameset><frame src="f.html"></frameset><noframes><img src="n.jpg" alt="nf"></noframes>',
    "literal fffd": '<img src="a.jpg" alt="bad \ufffd char"><p>text \ufffd</p>',
    "duplicate attrs": '<img alt="first" alt="second" src="a.jpg" src="b.jpg">',
    "attribute case": '<IMG SRC="A.JPG" ALT="Upper"><img Data-Src="lazy.jpg" src="p.gif" alt="mixed">',
    "deep-ish": "<div>" * 3000 + '<img src="d.jpg" alt="deep">' + "</div>" * 3000,
    "landmarks": '<header><nav><img src="a.jpg" alt="nav in header"></nav></header><main role="banner x">'
                 '<img src="b.jpg" alt="role over tag"></main><div role="\u00a0Contentinfo"><img src="c.jpg" alt="c">'
                 '</div><div role="\u212aain"><img src="d.jpg" alt="kelvin"></div><aside role="region">'
                 '<img src="e.jpg" alt="tag kept"></aside><svg><header><foreignObject><img src="f.jpg" alt="svg">'
                 '</foreignObject></header></svg><div role="\xff\x01banner"><img src="g.jpg" alt="g"></div>'
                 '<article role><img src="h.jpg" alt="empty role"></article>',
    "links": '<a href="https://o.org/x">t1<a href="/y"><img src="a.jpg" alt="adoption"></a></a>'
             '<a href="https://o.org/"><object><a name="n"><img src="b.jpg" alt="outer"></a></object></a>'
             '<a href="https://o.org/"><object><a href=" /in "><img src="c.jpg" alt="inner"></a></object></a>'
             '<a href="\t"><img src="d.jpg" alt="blank"></a><a href="java\nscript:x()"><img src="e.jpg" alt="js"></a>'
             '<a href="//cdn.site.example.com/x"><img src="f.jpg" alt="scheme-relative"></a>'
             '<a href="https://user@site.example.com:8443/p"><img src="g.jpg" alt="userinfo"></a>'
             '<a href="https://site.example.com\\evil.org/"><img src="h.jpg" alt="backslash"></a>'
             '<a href="https://site.example.com?q"><img src="i.jpg" alt="query"></a>'
             '<a href="HTTP://SITE.EXAMPLE.COM/"><img src="j.jpg" alt="upper"></a>'
             '<a href="?page=2"><img src="k.jpg" alt="query only"></a><a href="../../up"><img src="l.jpg" alt="up">'
             '</a><a href="https://münchen.de/"><img src="m.jpg" alt="idn"></a>'
             '<a href="https://[::1]/x"><img src="n.jpg" alt="ipv6"></a><a href="http://10.0.0.1/"><img src="o.jpg" '
             'alt="ip"></a><svg><a href="https://svg.org/"><foreignObject><img src="p.jpg" alt="svg a"></foreignObject>'
             '</a></svg><a href="/t">Text &amp;amp; more\x01 ' + "ü\u0308" * 150 + '<img src="q.jpg" alt="text"></a>',
    "sizes": "".join(f'<img src="{i}.jpg" alt="s{i}" width="{v}" height="{v}">' for i, v in enumerate(
        ["120", "120px", " 1.5PX ", "50%", "-1", "\u00a07\u2028", "100000", "100001", "9" * 5000, "\u0663", "\xff",
         "12\x00", "0x10", "1 2", "px", "12pxx"])),
    "base elsewhere": '<base href="https://www.other.example.net/b/"><a href="x"><img src="a.jpg" alt="a"></a>'
                      '<a href="https://site.example.com/"><img src="b.jpg" alt="b"></a>',
    "base with port": '<base href="https://u@site.example.com:8443/b/"><a href="x"><img src="a.jpg" alt="a"></a>',
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_gives_the_same_rows_both_ways(name):
    data = CASES[name].encode("utf-8")
    for context_chars in (300, 20, 3, 0):
        rows = assert_same(data, context_chars=context_chars)
        for row in rows:
            assert row["alt"] == unicodedata.normalize("NFC", row["alt"])


@pytest.mark.parametrize("url", ["https://site.example.com/a/b/page.html", "http://www.site.example.com:8080/",
                                 "https://other.example.net/x", "file:///tmp/saved/page.html", "https://10.0.0.1/p"])
@pytest.mark.parametrize("name", ["landmarks", "links", "sizes", "base elsewhere", "base with port", "figures"])
def test_the_structure_around_images_is_the_same_both_ways(name, url):
    rows = assert_same(CASES[name].encode("utf-8"), url=url)
    assert rows and all(isinstance(r["image_index"], int) for r in rows)


def test_the_cases_really_exercise_the_rules():
    rows = {r["alt"]: r for r in H.extract_page(CASES["sources"].encode(), "https://s.org/p/q.html").rows}
    assert rows["lazy"]["image_url"] == "https://s.org/p/lazy.jpg"
    assert rows["rank"]["image_url"] == "https://s.org/p/first.jpg"
    assert rows["density"]["image_url"].endswith("/b.jpg") and rows["width"]["image_url"].endswith("/big.jpg")
    assert rows["tie keeps the first"]["image_url"].endswith("/a.jpg")
    assert "data" not in rows and "no src" not in rows
    rows = {r["alt"]: r for r in H.extract_page(CASES["unicode srcset"].encode(), "https://s.org/").rows}
    assert rows["arabic digits"]["image_url"] == "https://s.org/a.jpg"  # \d is Unicode in Python
    rows = {r["alt"]: r for r in H.extract_page(CASES["figures"].encode(), "https://s.org/").rows}
    assert rows["inner"]["figcaption"] == "Inner cap" and rows["outer"]["figcaption"] == "Inner cap"
    assert rows["empty caption"]["figcaption"] == "" and rows["e"]["figcaption"] == "first"
    rows = H.extract_page(CASES["entities"].encode(), "https://s.org/").rows
    assert rows[0]["alt"] == 'Tom & Jerry "x"' and rows[0]["img_title"] == "a < b"
    assert len(rows[1]["figcaption"]) == 2000
    rows = H.extract_page(CASES["head"].encode(), "https://s.org/x", infer_url=True).rows
    assert rows[0]["page_url"] == "https://s.org/canon" and rows[0]["og_locale"] == "sr_RS"
    assert rows[0]["image_url"] == "https://s.org/base/dir/x.jpg" and rows[0]["content_language"] == "sr"
    rows = H.extract_page(CASES["scripts"].encode(), "https://s.org/").rows
    assert rows[0]["context"] == "before after"


def test_invalid_and_legacy_bytes_give_the_same_rows_both_ways():
    cyr = '<meta charset="windows-1251"><p>Привет мир</p><img src="a.jpg" alt="Кошка">'
    assert assert_same(cyr.encode("cp1251"))[0]["alt"] == "Кошка"
    # No declaration, legacy bytes: the U+FFFD in the output sends the page down the slow path.
    rows = assert_same('<p>Текст</p><img src="a.jpg" alt="Собака">'.encode("cp1251"))
    assert rows and "\ufffd" not in rows[0]["alt"]
    glued = '<p>Привет</p><img src="a.jpg" alt="Привет">'.encode() + b"\xff\xfe\xc3(" + '<img src="b.jpg" alt="мир">'.encode()
    assert [r["alt"] for r in assert_same(glued)] == ["Привет", "мир"]
    assert_same(b"\xef\xbb\xbf" + '<img src="bom.jpg" alt="ž">'.encode())
    assert_same('<img src="u16.jpg" alt="ž">'.encode("utf-16"))


def test_random_mutations_of_real_pages_give_the_same_rows_both_ways():
    rnd = random.Random(11)
    snippets = [b"<img", b" alt=", b"<figure>", b"</figure>", b"<figcaption>", b"<picture>", b"<source srcset=",
                b"<script>", b"</script>", b"<body>", b"<base href=x/>", b"\xc2\xa0", b"\xe3\x80\x80", b"\xff",
                b"&amp;", b"<template>", b"</p>", b"<svg>", b"</svg>", b'"', b">"]
    for data in REAL[::6]:
        for _ in range(3):
            buf = bytearray(data[:60_000])
            for _ in range(40):
                pos = rnd.randrange(len(buf) + 1)
                buf[pos:pos + rnd.randrange(3)] = rnd.choice(snippets)
            assert_same(bytes(buf), context_chars=rnd.choice([300, 50, 7]))


def test_collapse_is_str_split_for_every_whitespace_character():
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert len(spaces) == 29
    rnd = random.Random(3)
    alphabet = spaces + list("ab ž\u0301ᄀ\U0001f600\ufffd&")
    for _ in range(3000):
        s = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(12)))
        assert native.collapse(s) == " ".join(s.split()), repr(s)
    assert native.collapse("\u200b") == "\u200b"  # zero-width space is not whitespace


def test_utf8_and_tag_counts_match_python():
    rnd = random.Random(5)
    pieces = [b"a", b" ", b"<", b"</", b"/", b"\xc2", b"\xa0", b"\xe2", b"\x80", b"\x8a", b"\xed", b"\xa0",
              b"\xf0", b"\x90", b"\xf4", b"\x8f", b"\xbf", b"\xef", b"\xbd", b"\xff", b"\xc0", b"\xe0", b"\x9f"]
    for _ in range(20_000):
        d = b"".join(rnd.choice(pieces) for _ in range(rnd.randrange(14)))
        text = d.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        good = len(text) - len(text.encode("ascii", "ignore")) - bad
        assert native.utf8_counts(d) == (good, bad), d
        assert native.mostly_utf8(d) == (good >= 2 * bad), d
        assert native.mostly_utf8(d, 1) == (good >= bad), d  # a page that declares UTF-8
        assert native.tag_counts(d) == (d.count(b"<"), d.count(b"</")), d
    big = REAL[0] * 3
    assert native.tag_counts(big) == (big.count(b"<"), big.count(b"</"))
    for d in (b"\xe8\xe0" * 5000 + "ж".encode() * 100, "ж".encode() * 5000 + b"\xff" * 2400, b"\xff" * 9000):
        text = d.decode("utf-8", "replace")  # long inputs: the early stop of mostly_utf8
        bad = text.count("\ufffd")
        good = len(text) - len(text.encode("ascii", "ignore")) - bad
        assert native.mostly_utf8(d) == (good >= 2 * bad)
        assert native.mostly_utf8(d, 1) == (good >= bad)
    with pytest.raises(ValueError):
        native.mostly_utf8(b"x", 0)


def columns(srcs: list) -> tuple[list, ...]:
    """rows()'s columns for images with these sources, no text and no structure."""
    n = len(srcs)
    return (["a"] * n, list(srcs), [""] * n, [""] * n, [""] * n, *([None] * n for _ in range(5)), list(range(n)))


def test_rows_resolve_addresses_as_the_resolver_does():
    shapes = ["//cdn.org/x", "/a b", "a/b.jpg", "../x", "./x", "x/../y", "?q", "#f", "a:b", "x/y:z", " s.jpg ",
              "http://h/x\ty", "https://h.org/p", "file:///etc/x", "mailto:x", "", "é/ü.jpg", "\\\\srv\\x"]
    for base in ("https://h.org/dir/page.html", "https://h.org", "http://h.org/a;p/b", "file:///tmp/x/y.html"):
        resolver = Resolver(base)
        parts = (resolver.scheme, resolver.origin, resolver.directory) if resolver.origin else None
        n = len(shapes)
        rows, bad = native.rows({"k": 1}, parts, resolver, H.clean, registered_domain, columns(shapes))
        want = [u for u in map(resolver, shapes) if u.startswith(("http://", "https://", "file://"))]
        assert [r["image_url"] for r in rows] == want
        assert bad == n - len(want)
        assert all(r["k"] == 1 and r["context"] == "" for r in rows)


def test_bad_arguments_are_type_errors_not_crashes():
    with pytest.raises(TypeError):
        native.extract("not bytes", 300)
    with pytest.raises(TypeError):
        native.rows({}, "bad parts", None, None, None, columns([]))
    with pytest.raises(TypeError):
        native.rows({}, None, None, None, None, ([],) * 5)
    with pytest.raises(ValueError):
        native.rows({}, None, None, None, None, (["a"], *columns([])[1:]))
    with pytest.raises(TypeError):
        native.rows({}, None, Resolver("https://h.org/"), H.clean, None, (*columns(["a"])[:6], [3], *([None],) * 4))
    assert native.extract(b"", 300)[1] == (0, 0, 0, 0)
    assert native.extract(memoryview(b"<img src=a alt=b>"), 10)[1] == (1, 1, 0, 0)


def test_the_mostly_utf8_test_is_the_same_in_c_and_python(monkeypatch):
    from mella.collect import decode

    glued = "Привет мир ".encode() * 20 + b"\xff\xfe\xc3(" + "ž".encode()
    pages = [*REAL[::3], glued, glued * 2 + b"\xe8\xe0" * 200, "Текст".encode("cp1251") * 50]
    half = "قطة".encode() * 10 + b" \xd8" * 30  # as many broken sequences as good characters
    pages += [half, half + b"\xff"]
    with_c = [[decode._mostly_utf8(d, ratio) for d in pages] for ratio in (1, 2)]
    monkeypatch.setattr(decode, "native", None)
    assert [[decode._mostly_utf8(d, ratio) for d in pages] for ratio in (1, 2)] == with_c
    assert with_c[1][-5] is not None and with_c[1][-3] is None
    assert with_c[0][-2] is not None and with_c[1][-2] is None and with_c[0][-1] is None


def test_text_of_nfc_safe_characters_is_already_nfc():
    # The C side skips normalize() for text made only of these; check the claim on every character.
    import sys

    second_halves = set()
    for cp in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<") and len(decomposition.split()) == 2:
            second_halves.add(int(decomposition.split()[1], 16))
    safe = []
    for start, end in native.NFC_SAFE_RANGES:
        for cp in range(start, end + 1):
            c = chr(cp)
            assert unicodedata.category(c) != "Cn", hex(cp)  # assigned: normalisation is stable for it
            assert unicodedata.combining(c) == 0 and unicodedata.normalize("NFC", c) == c, hex(cp)
            assert cp not in second_halves, hex(cp)
            safe.append(c)
    rnd = random.Random(9)
    for _ in range(2000):
        s = "".join(rnd.choice(safe) for _ in range(8))
        assert unicodedata.is_normalized("NFC", s)
    # And text with anything else is still normalised.
    rows = H.extract_page('<img src="a.jpg" alt="Ко\u0306шка ก\u0e48า e\u0301">'.encode(), "https://e.org/").rows
    assert rows[0]["alt"] == unicodedata.normalize("NFC", "Ко\u0306шка ก\u0e48า e\u0301") != "Ко\u0306шка ก\u0e48า e\u0301"


def test_one_byte_codecs_transcode_to_utf8_as_python_decodes():
    from mella.collect import decode

    rnd = random.Random(13)
    codecs_seen = 0
    for name in ("cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
                 "cp874", "koi8-r", "koi8-u", "iso8859-2", "iso8859-5", "iso8859-6", "iso8859-11", "mac-cyrillic",
                 "cp866", "tis-620"):
        table = decode._charmap_table(name)
        assert table is not None, name
        codecs_seen += 1
        for k in range(300):
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
            if k % 3 == 0:  # long ASCII runs (markup) between the letters: the 8-byte path
                data = b"<p class='x'>" * rnd.randrange(4) + data + b"</p>\n" * rnd.randrange(9)
            try:
                want = data.decode(name).encode("utf-8")
            except UnicodeDecodeError:
                want = None
            assert native.charmap_utf8(data, table) == want, (name, data)
    assert codecs_seen == 19
    assert decode._charmap_table("gb18030") is None and decode._charmap_table("utf-8") is None
    with pytest.raises(ValueError):
        native.charmap_utf8(b"x", "short table")


def test_decoding_and_the_binary_test_are_the_same_with_and_without_c(monkeypatch):
    from mella.collect import decode

    rnd = random.Random(17)
    pages = [*REAL, "Текст страницы".encode("cp1251") * 40, "ข้อความ".encode("cp874") * 30, b"\x00binary",
             bytes(rnd.randrange(256) for _ in range(3000)), b"\xff\xfe<\x00p\x00>", b"", b"\x01\x02" * 300 + b"ok" * 900]
    charsets = [None, "windows-1251", "koi8-r", "iso-8859-1", "tis-620", "gb2312"]

    def run():
        out = []
        for i, data in enumerate(pages):
            d = decode.decode_html(data, charsets[i % len(charsets)])
            out.append((d.text, d.utf8, d.encoding, d.source, d.replaced, decode.looks_binary(data)))
        return out

    with_c = run()
    monkeypatch.setattr(decode, "native", None)
    assert run() == with_c


def test_a_reused_document_parses_as_a_new_one():
    # The C walk keeps one lexbor document from page to page. A page without a doctype puts it in
    # quirks mode, where a <table> does not close a <p>: the next page must not inherit that.
    quirks = b'<p>no doctype<img src="q.jpg" alt="q">'
    standard = b'<!DOCTYPE html><p>Bo<table>sch</table><img src="a.jpg" alt="a">'
    for _ in range(2):
        native.extract(quirks, 300)
        rows = assert_same(standard)
        assert rows[0]["context"] == "Bo sch"  # standards mode: the <p> closed, "sch" is a node of its own
    for data in REAL[:20]:  # every real page right after a quirks-mode one
        native.extract(quirks, 300)
        assert_same(data)
