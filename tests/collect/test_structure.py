"""The structure around each image (landmark, link, declared size, index): each rule on small real HTML, in
both engines, and on a real page. test_native.py holds the two engines to the same rows on everything else."""

from __future__ import annotations

import json

import pytest
from collectkit import WEB, page_bytes, wat_json

from mella.collect import html as H
from mella.collect.structure import STRUCTURE_COLUMNS, declared_size, role_landmark
from mella.collect.wat import wat_rows
from mella.records import CANDIDATES

ENGINES = H.available_engines()
PAGE = "https://www.site.example.com/a/page.html"


def rows(html: str, engine: str, url: str = PAGE) -> dict[str, dict]:
    """The rows of a page, by alt (the alts below are unique)."""
    result = H.extract_page(html.encode(), url, engine=engine)
    return {r["alt"]: r for r in result.rows}


def test_the_columns_are_the_schemas():
    assert set(STRUCTURE_COLUMNS) <= set(CANDIDATES.names)
    assert CANDIDATES.names[-len(STRUCTURE_COLUMNS):] == list(STRUCTURE_COLUMNS)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_nearest_landmark_element_or_role(engine):
    got = rows('<header><div><img src="a.jpg" alt="in header"></div></header>'
               '<nav><img src="a.jpg" alt="in nav"></nav><footer><img src="a.jpg" alt="in footer"></footer>'
               '<aside><img src="a.jpg" alt="in aside"></aside>'
               '<main><article><p><img src="a.jpg" alt="article in main"></p></article>'
               '<img src="a.jpg" alt="in main"><figure><img src="a.jpg" alt="figure in main"></figure></main>'
               '<section><div><img src="a.jpg" alt="section is not one"></div></section>'
               '<div role="banner"><img src="a.jpg" alt="banner"></div>'
               '<div role="navigation"><img src="a.jpg" alt="navigation"></div>'
               '<div role="contentinfo"><img src="a.jpg" alt="contentinfo"></div>'
               '<div role="complementary"><img src="a.jpg" alt="complementary"></div>'
               '<div role="main"><img src="a.jpg" alt="role main"></div>'
               '<div role="article"><img src="a.jpg" alt="role article"></div>'
               '<div role="figure"><img src="a.jpg" alt="role figure"></div>'
               '<span role="  BANNER  region"><img src="a.jpg" alt="first token, any case"></span>'
               '<div role="region banner"><img src="a.jpg" alt="only the first token"></div>'
               '<nav role="contentinfo"><img src="a.jpg" alt="the role decides"></nav>'
               '<header role="presentation"><img src="a.jpg" alt="a role that names none leaves the tag"></header>'
               '<footer><div role="navigation"><img src="a.jpg" alt="the nearest wins"></div></footer>'
               '<img role="banner" src="a.jpg" alt="the image itself is not an ancestor">', engine)
    want = {"in header": "header", "in nav": "nav", "in footer": "footer", "in aside": "aside",
            "article in main": "article", "in main": "main", "figure in main": "figure", "section is not one": None,
            "banner": "header", "navigation": "nav", "contentinfo": "footer", "complementary": "aside",
            "role main": "main", "role article": "article", "role figure": "figure", "first token, any case": "header",
            "only the first token": None, "the role decides": "footer",
            "a role that names none leaves the tag": "header", "the nearest wins": "nav",
            "the image itself is not an ancestor": None}
    assert {alt: r["landmark"] for alt, r in got.items()} == want


@pytest.mark.parametrize("engine", ENGINES)
def test_the_nearest_link_with_an_href(engine):
    got = rows('<a href="https://partner.example.org/x?y=1"><img src="a.jpg" alt="other site"> Partner</a>'
               '<a href="/news/1"><span><img src="a.jpg" alt="relative"></span></a>'
               '<a href="https://cdn.site.example.com/x"><img src="a.jpg" alt="subdomain"></a>'
               '<a href="HTTPS://WWW.SITE.EXAMPLE.COM/up"><img src="a.jpg" alt="upper case"></a>'
               '<a href="HTTP://Site.Example.COM/"><img src="a.jpg" alt="upper scheme"></a>'
               '<a href="#top"><img src="a.jpg" alt="fragment"></a>'
               '<a href="  "><img src="a.jpg" alt="blank href is no link"></a>'
               '<a name="anchor"><img src="a.jpg" alt="no href"></a>'
               # <object> puts a marker among the formatting elements: the inner <a> nests in the outer one
               '<a href="https://outer.example.net/"><object><a name="x"><img src="a.jpg" alt="outer link">'
               '</a></object></a>'
               '<a href="https://outer.example.net/"><object><a href="inner.html"><img src="a.jpg" alt="inner link">'
               '</a></object></a>'
               '<img src="a.jpg" alt="no link">', engine)
    assert got["other site"]["link_url"] == "https://partner.example.org/x?y=1"
    assert got["other site"]["link_scope"] == "other_site" and got["other site"]["link_text"] == "Partner"
    assert got["relative"]["link_url"] == "https://www.site.example.com/news/1"
    assert got["relative"]["link_scope"] == "same_site" and got["relative"]["link_text"] == ""
    assert got["subdomain"]["link_scope"] == "same_site"  # same registered domain
    assert got["upper case"]["link_scope"] == "same_site"
    # urljoin keeps a scheme other than the page's as written; it is still a web address
    assert got["upper scheme"]["link_url"] == "HTTP://Site.Example.COM/" and got["upper scheme"]["link_scope"] == "same_site"
    assert got["fragment"]["link_url"] == PAGE + "#top" and got["fragment"]["link_scope"] == "same_site"
    assert got["outer link"]["link_url"] == "https://outer.example.net/"
    assert got["inner link"]["link_url"] == "https://www.site.example.com/a/inner.html"
    for alt in ("blank href is no link", "no href", "no link"):
        assert (got[alt]["link_url"], got[alt]["link_scope"], got[alt]["link_text"]) == (None, None, None), alt


@pytest.mark.parametrize("engine", ENGINES)
def test_links_that_lead_to_no_web_page_keep_their_text_only(engine):
    got = rows('<a href="javascript:openGallery(3)"><img src="a.jpg" alt="script"> Gallery</a>'
               '<a href="mailto:info@site.example.com"><img src="a.jpg" alt="mail"></a>'
               '<a href="data:text/html,hi"><img src="a.jpg" alt="data"></a>'
               '<a href="tel:+381111"><img src="a.jpg" alt="phone"> Call us</a>', engine)
    for alt, text in (("script", "Gallery"), ("mail", ""), ("data", ""), ("phone", "Call us")):
        assert (got[alt]["link_url"], got[alt]["link_scope"], got[alt]["link_text"]) == (None, None, text), alt


@pytest.mark.parametrize("engine", ENGINES)
def test_links_resolve_like_image_addresses(engine):
    page = ('<base href="https://static.other.example.net/base/">'
            '<a href="x.html"><img src="a.jpg" alt="through the base"></a>'
            '<a href="https://www.site.example.com/"><img src="a.jpg" alt="back home"></a>'
            '<a href="http://[::1"><img src="a.jpg" alt="broken"></a>')
    got = rows(page, engine)
    assert got["through the base"]["image_url"] == "https://static.other.example.net/base/a.jpg"
    assert got["through the base"]["link_url"] == "https://static.other.example.net/base/x.html"
    assert got["through the base"]["link_scope"] == "other_site"  # the page's domain decides, not the base's
    assert got["back home"]["link_scope"] == "same_site"
    # Kept as image addresses are (an absolute http address is taken as written); no registered domain to share.
    assert got["broken"]["link_url"] == "http://[::1" and got["broken"]["link_scope"] == "other_site"
    # A saved page without an address of its own: relative links resolve to file:// and are no web link.
    saved = rows('<a href="/x"><img src="a.jpg" alt="relative"></a>'
                 '<a href="https://site.example.com/"><img src="a.jpg" alt="absolute"></a>', engine,
                 url="file:///tmp/saved/page.html")
    assert saved["relative"]["link_url"] is None and saved["relative"]["link_text"] == ""
    assert saved["absolute"]["link_scope"] == "other_site"  # the page has no domain to share


@pytest.mark.parametrize("engine", ENGINES)
def test_link_text_is_cleaned_and_cut(engine):
    got = rows('<a href="/1"><img src="a.jpg" alt="spaces">\n  Read\u00a0<b>more</b>\t\x01<i>now</i>  </a>'
               '<a href="/2"><img src="a.jpg" alt="entities">Tom &amp;amp; Jerry</a>'
               '<a href="/3"><img src="a.jpg" alt="long">' + "Čeština " * 60 + '</a>'
               '<a href="/4"><img src="a.jpg" alt="nfc">Cafe\u0301</a>'
               '<a href="/5"><img src="a.jpg" alt="one"><img src="b.jpg" alt="two">Both</a>', engine)
    assert got["spaces"]["link_text"] == "Read more now"
    assert got["entities"]["link_text"] == "Tom & Jerry"
    assert got["long"]["link_text"] == ("Čeština " * 60)[:200]
    assert got["nfc"]["link_text"] == "Café"
    assert got["one"]["link_text"] == got["two"]["link_text"] == "Both"


@pytest.mark.parametrize("engine", ENGINES)
def test_alt_is_link_text_when_a_link_to_another_page_says_it(engine):
    got = rows(
        # a listing's teaser: the picture, then its headline as a link (real pages: binarymarket.ru, pravda.com.ua)
        '<article><img src="a.jpg" alt="Денежный поток"><h2><a href="/strategy/1">Денежный  поток</a></h2></article>'
        # the headline link comes first; spacing, markup, entities and Unicode normalisation do not matter
        '<a href="https://other.example.org/x">Tom &amp; <b>Jerry</b></a><img src="a.jpg" alt="Tom &#38; Jerry">'
        '<a href="/c">Café</a><img src="b.jpg" alt="Café">'
        # the same words, case and punctuation aside (pravda.com.ua quotes a word in the link only)
        '<img src="c.jpg" alt="Как археологи строят правильное прошлое">'
        '<a href="/rus/articles/1/"> Как археологи строят "правильное" прошлое. </a>'
        '<a href="/m">МЕНЮ / Каталог</a><img src="d.jpg" alt="меню каталог">'
        # the image's own link, with the headline beside the picture inside it
        '<a href="/news/2"><img src="a.jpg" alt="Запад Украины замело снегом"> Запад Украины замело снегом</a>'
        # not a link to another page: a heading, a table of contents entry, a link without href, a blank href
        '<h2>Chế độ kết hợp</h2><img src="a.jpg" alt="Chế độ kết hợp">'
        '<a href=" #assign">Gán giấy phép</a><img src="a.jpg" alt="Gán giấy phép">'
        '<a name="x">Named anchor</a><img src="a.jpg" alt="Named anchor">'
        '<a href="  ">Blank href</a><img src="a.jpg" alt="Blank href">'
        # a caption, and a link whose text only contains the alt
        '<figure><img src="a.jpg" alt="Modrý kostel"><figcaption>Modrý kostel</figcaption></figure>'
        '<a href="/p">Bratislava: Modrý kostel v zimě</a><img src="a.jpg" alt="Bratislava"><img src="a.jpg" alt="no link">',
        engine)
    assert {alt: r["alt_is_link_text"] for alt, r in got.items()} == {
        "Денежный поток": True, "Tom & Jerry": True, "Café": True, "Запад Украины замело снегом": True,
        "Как археологи строят правильное прошлое": True, "меню каталог": True,
        "Chế độ kết hợp": False, "Gán giấy phép": False, "Named anchor": False, "Blank href": False,
        "Modrý kostel": False, "Bratislava": False, "no link": False}


DECLARED = {"120": 120, " 120 ": 120, "120px": 120, "120PX": 120, "120Px": 120, "12.9": 12, "12.5px": 12,
            "\u00a064\u3000": 64, "007": 7, "0": 0, "100000": 100000, "100001": None, "9" * 30: None,
            "": None, " ": None, "50%": None, "auto": None, "-3": None, "+3": None, "12.": None, ".5": None,
            "1e3": None, "12 px": None, "1,5": None, "\u0663\u0660": None, "12em": None, "px": None}


def test_declared_size_rules():
    assert {value: declared_size(value) for value in DECLARED} == DECLARED
    assert declared_size(None) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_declared_width_and_height_from_the_attributes(engine):
    items = list(DECLARED.items())
    html = "".join(f'<img src="a.jpg" alt="w{i}" width="{value}" height="{value}">' for i, (value, _) in enumerate(items))
    got = rows(html + '<img src="a.jpg" alt="absent"><img src="a.jpg" alt="no value" width height>', engine)
    for i, (value, want) in enumerate(items):
        assert (got[f"w{i}"]["declared_width"], got[f"w{i}"]["declared_height"]) == (want, want), repr(value)
    assert got["absent"]["declared_width"] is None and got["no value"]["declared_height"] is None


def test_role_tokens():
    assert role_landmark("Banner") == "header" and role_landmark("\u2028navigation x") == "nav"
    assert role_landmark("") is role_landmark(None) is role_landmark("   ") is role_landmark("region main") is None
    assert role_landmark("\u212aain") is None  # KELVIN SIGN lowers to k, and no role has one


@pytest.mark.parametrize("engine", ENGINES)
def test_image_index_counts_every_img(engine):
    html = ('<img src="a.jpg">'                                  # 0: no alt
            '<img src="b.jpg" alt="one">'                        # 1
            '<img alt="no src">'                                 # 2: no row
            '<picture><source srcset="p.jpg"><img src="c.jpg" alt="in picture"></picture>'  # 3
            '<noscript><img src="d.jpg" alt="in noscript"></noscript>'  # 4
            '<template><img src="t.jpg" alt="template content is not in the page"></template>'
            '<img src="data:image/gif;base64,R0" alt="data">'    # 5: no row
            '<svg><image href="i.png"/></svg>'
            '<img src="e.jpg" alt="last">')                      # 6
    got = rows(html, engine)
    assert {alt: r["image_index"] for alt, r in got.items()} == {"one": 1, "in picture": 3, "in noscript": 4,
                                                                  "last": 6}
    assert H.extract_page(html.encode(), PAGE, engine=engine).counters["images_seen"] == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_a_real_page_footer_badge_links_elsewhere(engine):
    # lbcgroup.tv (Arabic news): site logos in the header link home; the footer carries the developer's badge and
    # the social network icons, each linking to another site.
    data = page_bytes(WEB / "ar" / "flairNLP__fundus__lb-LBCGroup_2026_01_08.html.gz")
    result = H.extract_page(data, "file:///saved/lbc.html", infer_url=True, engine=engine)
    assert result.rows[0]["page_url"].startswith("https://www.lbcgroup.tv/")
    by_index = {r["image_index"]: r for r in result.rows}
    badge = next(r for r in result.rows if r["alt"] == "SoftImpact")
    assert (badge["landmark"], badge["link_url"], badge["link_scope"]) == ("footer", "https://www.softimpact.net/",
                                                                           "other_site")
    facebook = [r for r in result.rows if r["link_url"] == "https://www.facebook.com/LBCILebanon"]
    assert {r["landmark"] for r in facebook} == {None, "footer"} and {r["link_scope"] for r in facebook} == {"other_site"}
    header = [r for r in result.rows if r["landmark"] == "header"]
    assert header and all(r["link_scope"] in ("same_site", None) for r in header)
    home = next(r for r in result.rows if r["landmark"] == "nav" and r["link_url"] == "https://www.lbcgroup.tv/")
    assert home["link_text"] == "الرئيسية" and home["declared_width"] == 17
    assert len(by_index) == len(result.rows) and sorted(by_index) == [r["image_index"] for r in result.rows]


def test_wat_rows_have_no_structure():
    data = b'<header><a href="https://o.org/"><img src="a.jpg" alt="logo" width="10"></a></header>'
    record = json.dumps(wat_json("https://s.org/p", data, {"Content-Type": "text/html"})).encode()
    got = wat_rows(record, "https://s.org/p").rows
    assert len(got) == 1 and set(got[0]) == set(CANDIDATES.names)
    assert all(got[0][c] is None for c in STRUCTURE_COLUMNS)


@pytest.mark.skipif("native" not in ENGINES, reason="the C extension is not built")
def test_words_key_is_the_same_in_c_on_every_code_point():
    """alt_is_link_text compares keys made in C (native engine) and in Python (selectolax engine): the two
    key functions must agree on every character, alone and among others (lowercase, NFC, word breaks)."""
    import random

    import mella.collect.html  # noqa: F401  (configures the extension: unicodedata.normalize for NFC)
    from mella.collect import _native
    from mella.collect.reference import words_key

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert [c for c in chars if _native.words_key(c) != words_key(c)] == []
    rnd = random.Random(7)
    mixed = ["".join(rnd.choice(chars) if rnd.random() < 0.3 else rnd.choice("aé\u0301 Σς.İ«»Ж_9") for _ in range(20))
             for _ in range(5000)]
    assert [t for t in mixed if _native.words_key(t) != words_key(t)] == []
    assert words_key("ΟΔΟΣ İstanbul «Ця́» e\u0301 x_1.") == "οδοσ i stanbul ця é x_1"
