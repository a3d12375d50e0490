"""HTML extraction: real pages checked against an independent parse, then each rule on small inputs."""

from __future__ import annotations

from collections import Counter

import pytest
from collectkit import DATA, expected_images, norm, page_bytes, page_files, provenance

from mella.collect.html import absolute_url, extract_page, image_source, registered_domain
from mella.records import CANDIDATES

PAGES = page_files()


def test_the_test_data_is_real_and_documented():
    prov = provenance()
    assert len(PAGES) >= 15
    langs = {p.parent.name for p in PAGES}
    assert {"ar", "cs", "hu", "ko", "ru", "sr", "th", "vi"} <= langs
    assert any(p.name.endswith(".html.gz") for p in PAGES)
    for path in [*PAGES, *DATA.glob("web/*/*.warc.gz")]:
        assert str(path.relative_to(DATA)) in prov, path


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name[:60])
def test_every_img_with_alt_becomes_exactly_one_row(path):
    data = page_bytes(path)
    url = "https://example.org/section/page.html"
    result = extract_page(data, url, source=str(path))
    page_url, expected = expected_images(data, url)
    got = sorted((row["image_url"], norm(row["alt"])) for row in result.rows)
    assert got == expected
    assert len(result.rows) == len(expected) > 0
    for row in result.rows:
        assert list(row) == CANDIDATES.names or set(row) == set(CANDIDATES.names)
        assert row["image_url"].startswith(("http://", "https://"))
        assert row["page_url"] == url and row["source"] == str(path) and row["source_offset"] == -1
        assert row["alt"] == row["alt"].strip() and "  " not in row["alt"]
        assert "\ufffd" not in row["alt"]
    c = result.counters
    assert c["images_with_alt"] == len(result.rows) + c["images_skipped.data_uri"] + c["images_skipped.no_src"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name[:60])
def test_saved_page_urls_come_from_the_page_or_the_file(path):
    data = page_bytes(path)
    file_url = path.resolve().as_uri()
    result = extract_page(data, file_url, infer_url=True)
    page_url, expected = expected_images(data, file_url, infer_url=True)
    assert {row["page_url"] for row in result.rows} == {page_url}
    assert sorted((row["image_url"], norm(row["alt"])) for row in result.rows) == expected


def test_counts_match_the_provenance_file_where_html_parser_agrees():
    # PROVENANCE counts come from html.parser with last-wins attributes; vnexpress has duplicate
    # alt attributes (alt="Print" ... alt="") where HTML5 keeps the first, so it is the one exception.
    prov = provenance()
    for path in PAGES:
        row = prov[str(path.relative_to(DATA))]
        got = extract_page(page_bytes(path), "https://example.org/").counters
        assert got["images_seen"] == int(row["n_img_tags"]), path.name
        if "vnexpress" in path.name:
            assert got["images_with_alt"] == int(row["n_img_with_nonempty_alt"]) + 2
        else:
            assert got["images_with_alt"] == int(row["n_img_with_nonempty_alt"]), path.name


def test_real_pages_keep_their_language_and_script():
    cyr = page_bytes(DATA / "web/sr/silverfoxy__JSCryptoMinerStudy__bg.ac.rs.html")
    rows = extract_page(cyr, "https://bg.ac.rs/").rows
    assert "Универзитет у Београду" in {r["alt"] for r in rows}
    assert rows[0]["page_title"] == "Универзитет у Београду"
    thai = extract_page(page_bytes(DATA / "web/th/codelucas__newspaper__thai_article.html"), "https://x.th/")
    assert [r["alt"] for r in thai.rows] == ["drupal analytics"]
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in thai.rows[0]["page_title"])


def test_windows_1251_page_without_utf8_is_decoded_from_its_meta_charset():
    data = page_bytes(DATA / "web/ru/TeamHG-Memex__autopager__page-95.html")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = extract_page(data, "https://example.ru/")
    assert result.counters["decode.meta"] == 1
    text = " ".join(r["alt"] + r["context"] + r["page_title"] for r in result.rows)
    assert "\ufffd" not in text
    assert sum(1 for ch in text if "\u0400" <= ch <= "\u04ff") > 100


def test_utf8_page_with_a_stale_legacy_meta_charset_reads_as_utf8():
    # Saved pages re-encoded to UTF-8 that still say iso-8859-2 / windows-1251 / euc-kr.
    for name in ("hu/TeamHG-Memex__Formasaurus__www.jofogas.hu-2.html", "ru/TeamHG-Memex__Formasaurus__molypoly.ru-0.html"):
        data = page_bytes(DATA / "web" / name)
        assert b"charset=windows-1251" in data.lower() or b"iso-8859-2" in data.lower()
        rows = extract_page(data, "https://example.org/").rows
        assert rows and all("\ufffd" not in r["alt"] for r in rows)
    rows = extract_page(page_bytes(DATA / "web/ru/TeamHG-Memex__Formasaurus__molypoly.ru-0.html"), "https://m.ru/").rows
    assert any("\u0400" <= ch <= "\u04ff" for r in rows for ch in r["alt"])


def test_context_is_a_bounded_window_around_the_image():
    data = page_bytes(DATA / "web/ru/flairNLP__fundus__ru-Kommersant_2025_05_14.html.gz")
    rows = extract_page(data, "https://www.kommersant.ru/doc/1", context_chars=120).rows
    assert rows and all(0 < len(r["context"]) <= 121 for r in rows)
    assert all("function(" not in r["context"] and "{" not in r["context"] for r in rows)
    assert extract_page(data, "https://k.ru/", context_chars=0).rows[0]["context"] == ""


def test_context_windows_are_the_same_whether_collapsed_whole_or_per_image():
    # Two ways to the same windows (the cheaper one is picked per page): check them against each other.
    from selectolax.lexbor import LexborHTMLParser

    from mella.collect.context import _MARK, _windows_dense, _windows_sparse

    for path in PAGES[::3]:
        tree = LexborHTMLParser(page_bytes(path))
        images = [img for img in tree.css("img") if (img.attributes.get("alt") or "").strip()]
        for img in images:
            img.insert_before(_MARK)
        pieces = tree.body.text(separator=" ", skip_empty=True).split(_MARK)
        for half in (1, 60, 150):
            dense, sparse = _windows_dense(pieces, half), _windows_sparse(pieces, half)
            assert dense == sparse, path.name
            assert all(len(w) <= 2 * half + 1 and "  " not in w for w in dense)


# -- the rules, one at a time ---------------------------------------------------------------

def one(html: str, url: str = "https://site.example.com/a/b/page.html", **kw) -> list[dict]:
    return extract_page(html.encode("utf-8"), url, **kw).rows


def test_relative_urls_resolve_against_base_href():
    rows = one('<head><base href="https://cdn.example.net/img/"></head><img src="x.jpg" alt="X">'
               '<img src="/root.png" alt="R"><img src="//other.org/p.gif" alt="P">')
    assert [r["image_url"] for r in rows] == [
        "https://cdn.example.net/img/x.jpg", "https://cdn.example.net/root.png", "https://other.org/p.gif"]
    rows = one('<img src="../up.jpg" alt="U">')
    assert rows[0]["image_url"] == "https://site.example.com/a/up.jpg"


def test_a_base_or_page_address_that_is_not_a_url_loses_no_page():
    # An IPv6 host left open ("http://[::1") makes urlsplit raise: the base is ignored, as browsers do.
    html = '<base href="http://[::1"><img src="a.jpg" alt="a"><img src="https://ok.org/b.jpg" alt="b">'
    assert [r["image_url"] for r in one(html)] == ["https://site.example.com/a/b/a.jpg", "https://ok.org/b.jpg"]
    # A page whose own address is broken keeps its absolute images and counts the rest as bad.
    result = extract_page(html.encode(), "http://[::1/x.html")
    assert [r["image_url"] for r in result.rows] == ["https://ok.org/b.jpg"]
    assert result.counters["images_skipped.bad_url"] == 1


def test_lazy_load_attributes_beat_a_placeholder_src():
    rows = one('<img src="blank.gif" data-src="real.jpg" alt="a">'
               '<img src="data:image/gif;base64,R0lGOD" data-lazy-src="lazy.jpg" alt="b">'
               '<img data-original="orig.jpg" alt="c">')
    assert [r["image_url"].rsplit("/", 1)[1] for r in rows] == ["real.jpg", "lazy.jpg", "orig.jpg"]


def test_srcset_takes_the_largest_candidate():
    rows = one('<img src="s.jpg" srcset="m.jpg 640w, l.jpg 1280w, xs.jpg 320w" alt="w">'
               '<img src="s.jpg" srcset="a.jpg, b.jpg 2x, c.jpg 1.5x" alt="x">'
               '<img src="s.jpg" data-srcset="d1.jpg 100w, d2.jpg 900w" alt="d">')
    assert [r["image_url"].rsplit("/", 1)[1] for r in rows] == ["l.jpg", "b.jpg", "d2.jpg"]


def test_a_srcset_url_may_hold_commas():
    # aktualne.cz's CDN puts its crop and resize parameters in the path: "extract=67,0,1867,1050". The HTML
    # standard's srcset parser reads a URL as a run of non-space characters; splitting at every comma took
    # "765_.jpg?hash=..." for the largest candidate and resolved it against the page.
    img = ('<img src="//cdn.xsd.cz/resize/9b6b_extract=67,0,1867,1050_resize=680,383_.jpg?hash=a5" '
           'srcset="//cdn.xsd.cz/resize/9b6b_extract=67,0,1867,1050_resize=226,127_.jpg?hash=c9 226w, '
           '//cdn.xsd.cz/resize/9b6b_extract=67,0,1867,1050_resize=1360,765_.jpg?hash=0a 1360w" '
           'alt="Spokojený Tomáš Souček po vítězství ve Villa Parku.">')
    # commas that end a URL end its candidate; descriptors run to a comma outside parentheses
    more = ('<img srcset="a.jpg,, b,c.jpg 2x" alt="y"><img srcset="a.jpg,b.jpg" alt="z">'
            '<img srcset="p.jpg 1x (q, r) 3x, s.jpg 2x" alt="p">')
    for engine in ("native", "selectolax"):
        rows = extract_page((img + more).encode(), "https://sport.aktualne.cz/fotbal/x/r~1/", engine=engine).rows
        assert [r["image_url"] for r in rows] == [
            "https://cdn.xsd.cz/resize/9b6b_extract=67,0,1867,1050_resize=1360,765_.jpg?hash=0a",
            "https://sport.aktualne.cz/fotbal/x/r~1/b,c.jpg", "https://sport.aktualne.cz/fotbal/x/r~1/a.jpg,b.jpg",
            "https://sport.aktualne.cz/fotbal/x/r~1/p.jpg"], engine


def test_picture_sources_count_as_candidates():
    rows = one('<picture><source srcset="big.webp 2000w" type="image/webp">'
               '<source srcset="mid.jpg 1000w"><img src="small.jpg" alt="pic"></picture>'
               '<img src="alone.jpg" alt="alone">')
    assert [r["image_url"].rsplit("/", 1)[1] for r in rows] == ["big.webp", "alone.jpg"]


def test_data_uris_and_missing_sources_are_counted_not_kept():
    result = extract_page(b'<img src="data:image/png;base64,iVBOR" alt="inline"><img alt="nothing">'
                          b'<img src="javascript:void(0)" alt="js"><img src="ok.png" alt="ok"><img src="n.png">',
                          "https://e.com/")
    assert [r["alt"] for r in result.rows] == ["ok"]
    assert result.counters == Counter({
        "images_seen": 5, "images_with_alt": 4, "images_skipped.data_uri": 1, "images_skipped.no_src": 1,
        "images_skipped.bad_url": 1, "candidates": 1, "pages_parsed": 1, "decode.utf8": 1})


def test_alt_title_and_figcaption_are_cleaned():
    rows = one('<figure><a><img src="f.jpg" alt="  Praha &amp;\n  Brno " title="T&eacute;ma"></a>'
               '<figcaption> Karlův\n most <b>v noci</b> </figcaption></figure>'
               '<img src="g.jpg" alt="Cafe&#769; &amp;quot;double&amp;quot;">')
    assert rows[0]["alt"] == "Praha & Brno"
    assert rows[0]["img_title"] == "Téma"
    assert rows[0]["figcaption"] == "Karlův most v noci"
    assert rows[1]["alt"] == 'Café "double"'  # NFC composed, twice-escaped entity decoded
    assert len(rows[1]["alt"]) == len('Café "double"')
    assert rows[1]["figcaption"] == ""


def test_page_metadata():
    html = ('<html lang="sr-Latn"><head><title> Naslov  strane </title>'
            '<meta property="og:locale" content="sr_RS"></head><body><img src="a.jpg" alt="a"></body></html>')
    row = extract_page(html.encode(), "https://www.b92.net/x", {"Content-Language": "sr"}).rows[0]
    assert (row["page_title"], row["html_lang"], row["og_locale"], row["content_language"]) == (
        "Naslov strane", "sr-Latn", "sr_RS", "sr")
    assert row["domain"] == "b92.net"


def test_head_metadata_after_a_noscript_image_is_still_found():
    # HTML5 closes <head> at an <img> inside <noscript>; later <meta>/<base> land in <body>.
    html = ('<html><head><noscript><img src="px.gif" alt=""></noscript>'
            '<base href="https://static.example.com/"><meta property="og:locale" content="vi_VN"></head>'
            '<body><img src="a.jpg" alt="Ảnh"></body></html>')
    row = one(html)[0]
    assert row["image_url"] == "https://static.example.com/a.jpg" and row["og_locale"] == "vi_VN"


def test_registered_domain_is_offline_and_handles_odd_hosts():
    assert registered_domain("https://news.bbc.co.uk/a") == "bbc.co.uk"
    assert registered_domain("http://www.krstarica.com/") == "krstarica.com"
    assert registered_domain("http://192.168.0.1/x") == "192.168.0.1"
    assert registered_domain("file:///tmp/x.html") == ""


def test_absolute_url_and_image_source_helpers():
    assert absolute_url(" a b.jpg\n", "https://e.com/d/") == "https://e.com/d/a b.jpg"
    assert absolute_url("https://x.org/i.png", "https://e.com/") == "https://x.org/i.png"
    assert absolute_url("//[::1/x.png", "https://e.com/") == ""  # invalid IPv6 host
    assert image_source({"src": "s.jpg", "srcset": "data:image/png;base64,AA 2x"}) == "s.jpg"


def test_pathological_nesting_is_skipped_fast_and_moderate_nesting_parses():
    import time

    html = "<div>" * 200_000 + '<img src="deep.jpg" alt="deep">' + "</div>" * 200_000
    t0 = time.perf_counter()
    result = extract_page(html.encode(), "https://e.com/")
    assert result.skip_reason == "too_deep" and result.rows == []
    assert result.counters["pages_skipped.too_deep"] == 1
    assert time.perf_counter() - t0 < 2  # lexbor itself needs about a minute for this page
    html = "<div><span>" * 2_000 + '<img src="deep.jpg" alt="deep">' + "</span></div>" * 2_000
    assert [r["image_url"] for r in one(html)] == ["https://site.example.com/a/b/deep.jpg"]
    # Many unclosed elements whose end tag is optional are flat, not deep.
    html = "<ul>" + "<li><p>item " * 30_000 + '<img src="li.jpg" alt="li"></ul>'
    assert len(one(html)) == 1
    html = "<table><tr><td>" * 2_000 + '<img src="t.jpg" alt="t">'
    assert len(one(html)) == 1


def test_the_start_tag_bound_is_the_same_in_c_with_numpy_and_without(monkeypatch):
    from mella.collect import nesting

    pages = [page_bytes(p) for p in PAGES[:6]]
    pages += [b"<div>" * 6000, b"<div></div>" * 6000, b"<a" * 5001 + b"</", b"</" * 6000, b"x<" * 5001]
    expected = [d.count(b"<") - d.count(b"</") > 5000 for d in pages]
    assert [nesting.could_nest_deeper(d, 5000) for d in pages] == expected
    monkeypatch.setattr(nesting, "native", None)  # numpy
    assert [nesting.could_nest_deeper(d, 5000) for d in pages] == expected
    monkeypatch.setattr(nesting, "_NUMPY", [None])  # bytes.count
    assert [nesting.could_nest_deeper(d, 5000) for d in pages] == expected


def test_a_page_over_the_size_cap_is_skipped_with_a_reason():
    big = b"<html><body>" + b"<p>" + b"x" * (50 * 1024 * 1024) + b'<img src="a.jpg" alt="a"></body></html>'
    result = extract_page(big, "https://e.com/")
    assert result.rows == [] and result.skip_reason == "too_large"
    assert result.counters["pages_skipped.too_large"] == 1
    small = extract_page(big[:1000] + b'<img src="a.jpg" alt="a">', "https://e.com/", max_page_bytes=2000)
    assert len(small.rows) == 1


def test_binary_garbage_is_skipped_and_invalid_bytes_do_not_crash():
    import random

    rnd = random.Random(7)
    garbage = bytes(rnd.randrange(256) for _ in range(100_000))
    result = extract_page(garbage, "https://e.com/")
    assert result.skip_reason == "binary" and result.rows == []
    # UTF-8 with a few broken sequences (glued from two sources) stays UTF-8; the bad bytes become U+FFFD.
    mixed = '<p>Привет всем</p><img src="a.jpg" alt="Привет">'.encode() + b"\xff\xfe\xc3(" + '<img src="b.jpg" alt="мир">'.encode()
    result = extract_page(mixed, "https://e.com/")
    assert [r["alt"] for r in result.rows] == ["Привет", "мир"]
    assert result.counters["decode.replaced_bytes"] == 1
