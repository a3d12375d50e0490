"""The demo site server and the tests' FaultSiteServer: pages, link conventions, files, sitemaps, safe paths."""

from __future__ import annotations

import gzip
import urllib.request
from urllib.error import HTTPError

import pytest

from mella.demo.render import rewrite_links, strip_rpi_markers
from mella.demo.siteserver import SiteServer, SiteSpec

SR = "sr__raspberrypilearning__poetry-generator"


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback test server
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_markdown_page_is_a_full_html_page_with_lang_and_nav(server):
    status, headers, body = fetch(server.site_url(SR) + "sr-SP/step_2.html")
    text = body.decode()
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert text.startswith("<!DOCTYPE html>") and '<html lang="sr">' in text
    assert f'href="/{SR}/sr-SP/step_1.html">previous' in text and f'href="/{SR}/sr-SP/step_3.html">next' in text
    assert "--- task ---" not in text and "\\---" not in text


def test_index_links_every_page_and_images_are_served_as_is(server, sites):
    _, _, index = fetch(server.site_url(SR))
    for page in server.sites[SR].pages:
        assert f'href="{page}"' in index.decode()
    status, headers, png = fetch(server.site_url(SR) + "sr-SP/images/poetry-final.png")
    source = next(s for s in sites if s.name == SR).root / "sr-SP/images/poetry-final.png"
    assert status == 200 and headers["content-type"] == "image/png" and png == source.read_bytes()


def test_missing_files_and_path_traversal_are_404(server):
    assert fetch(server.site_url(SR) + "nope.html")[0] == 404
    assert fetch(server.base_url + "/nosite/")[0] == 404
    assert fetch(server.site_url(SR) + "..%2F..%2F..%2Fpyproject.toml")[0] == 404
    assert fetch(server.base_url + "/_test/nothing")[0] == 404


def test_robots_and_sitemaps(server):
    assert fetch(server.base_url + "/robots.txt")[2] == b"User-agent: *\nAllow: /\n"
    status, headers, gz = fetch(server.site_url(SR) + "sitemap.xml.gz")
    xml = gzip.decompress(gz).decode()
    assert status == 200 and all(f"<loc>{u}</loc>" in xml for u in server.page_urls(SR))


def test_test_routes_are_off_by_default(sites):
    with SiteServer(sites) as srv:
        assert fetch(srv.base_url + "/_test/json")[0] == 404


@pytest.fixture
def convention_sites(tmp_path):
    # Small folders in the layouts of the corpus sites, to check each link convention is resolved.
    pel = tmp_path / "pel"
    (pel / "images").mkdir(parents=True)
    (pel / "images" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    (pel / "2013-01-01_post.md").write_text("Title: Příspěvek\nDate: 2013-01-01\n\n![Brno]({filename}/images/a.jpg)\n"
                                            "[jiný]({filename}/2013-02-02_other.md)\n", encoding="utf-8")
    wiki = tmp_path / "wiki"
    (wiki / "algo" / "graph").mkdir(parents=True)
    (wiki / "algo" / "graph-theory").mkdir(parents=True)
    (wiki / "algo" / "graph-theory" / "graph.md").write_text(
        "---\ntitle: Đồ thị\n---\n# Đồ thị\n![Hình 1](/algo/graph/graph1.png)\n[flow](/algo/graph-theory/graph)\n",
        encoding="utf-8")
    jek = tmp_path / "jek"
    (jek / "about").mkdir(parents=True)
    (jek / "about" / "index.html").write_text('<html lang="hu"><body><img src="http://localhost:4000/assets/x.jpg" '
                                              'alt="térkép"><a href="/about/">rólam</a></body></html>',
                                              encoding="utf-8")
    return [SiteSpec("pel", pel, "cs"), SiteSpec("wiki", wiki, "vi"), SiteSpec("jek", jek, "hu")]


def test_link_conventions(convention_sites):
    with SiteServer(convention_sites) as srv:
        pel = fetch(srv.site_url("pel") + "2013-01-01_post.html")[2].decode()
        assert "<title>Příspěvek</title>" in pel and 'src="/pel/images/a.jpg"' in pel
        assert 'href="/pel/2013-02-02_other.html"' in pel
        assert fetch(srv.base_url + "/pel/images/a.jpg")[1]["content-type"] == "image/jpeg"
        wiki = fetch(srv.site_url("wiki") + "algo/graph-theory/graph.html")[2].decode()
        assert '<html lang="vi">' in wiki and 'src="/wiki/algo/graph/graph1.png"' in wiki
        status, _, body = fetch(srv.site_url("wiki") + "algo/graph-theory/graph")  # extension-less wiki link
        assert status == 200 and body.decode() == wiki  # after a 301 to the .html page
        jek = fetch(srv.site_url("jek") + "about/")[2].decode()
        assert f'src="{srv.base_url}/jek/assets/x.jpg"' in jek and 'href="/jek/about/"' in jek
        assert fetch(srv.site_url("jek") + "about")[0] == 200  # redirected to the folder


def test_rpi_markers_keep_their_text():
    text = "--- task ---\nA\n--- /task ---\n\\--- no-print \\---\n## \\--- collapse \\---\n--- task --- Add it.\n"
    assert strip_rpi_markers(text) == "\nA\n\n\n\nAdd it.\n"


def test_rewrite_links_leaves_other_sites_alone():
    page = '<a href="https://other.example/x.md">x</a><a href="//cdn.example/y">y</a><a href="z.md#s">z</a>'
    assert rewrite_links(page, "/s", "http://h") == \
        '<a href="https://other.example/x.md">x</a><a href="//cdn.example/y">y</a><a href="z.html#s">z</a>'
