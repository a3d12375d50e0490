"""`collect` on live sites: crawl, sitemap and URL list against a real local server serving real sites."""

from __future__ import annotations

import urllib.request
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.collect.collect import CollectStage
from mella.demo.siteserver import SiteServer, load_sites
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage

SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
SR = "sr__raspberrypilearning__poetry-generator"
RU = "ru__raspberrypilearning__lost-in-space"


class _Imgs(HTMLParser):
    """Independent reading: every <img> with a non-empty alt, resolved against the page (and <base>)."""

    def __init__(self, url):
        super().__init__(convert_charrefs=True)
        self.base, self.found = url, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "base" and a.get("href"):
            self.base = urljoin(self.base, a["href"])
        if tag == "img" and (a.get("alt") or "").strip() and a.get("src") and not a["src"].startswith("data:"):
            self.found.append((urljoin(self.base, a["src"].strip()), " ".join(a["alt"].split())))


def expected_rows(urls):
    out = Counter()
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
            parser = _Imgs(resp.url)
            parser.feed(resp.read().decode("utf-8"))
        out.update((resp.url, img, alt) for img, alt in parser.found)
    return out


@pytest.fixture(scope="module")
def server():
    with SiteServer(load_sites(SITES)) as srv:
        yield srv


def collect(inputs, out, server, **opts):
    stage = CollectStage(allow_hosts=[server.host_port], per_host_delay=0.0, **opts)
    return run_stage(stage, inputs, out, LocalExecutor(1, progress=False))


def rows_of(out):
    return pq.read_table(sorted(Path(out).glob("part-*.parquet"))).to_pylist()


def test_crawl_finds_every_image_with_alt_on_every_page(server, tmp_path):
    report = collect([server.site_url(SR)], tmp_path / "c", server)
    rows = rows_of(tmp_path / "c")
    got = Counter((r["page_url"], r["image_url"], r["alt"]) for r in rows)
    assert got == expected_rows(server.page_urls(SR))  # one row per <img alt>: none missing, none twice
    assert len(rows) > 10
    assert {r["html_lang"] for r in rows} == {"sr"}
    assert all(r["source"] == server.site_url(SR) and r["source_offset"] == -1 for r in rows)
    assert any("ада" in r["alt"].lower() for r in rows)  # real Serbian Cyrillic alt-text
    assert report.counters["crawl.pages_ok"] == len(server.page_urls(SR))
    assert not any(p.startswith(f"/{RU}") for p in server.requested_paths())  # same site only
    assert not any(p.endswith(".png") for p in server.requested_paths())  # pages only, no images


def test_page_limit_and_no_crawl(server, tmp_path):
    collect([server.site_url(SR)], tmp_path / "one", server, crawl=False)
    assert {r["page_url"] for r in rows_of(tmp_path / "one")} <= {server.site_url(SR)}
    report = collect([server.site_url(RU)], tmp_path / "three", server, max_pages=3)
    assert report.counters["crawl.pages_fetched"] == 3


def test_sitemap_and_url_list(server, tmp_path):
    collect([f"{server.base_url}/{SR}/sitemap.xml"], tmp_path / "sm", server)
    from_sitemap = {r["page_url"] for r in rows_of(tmp_path / "sm")}
    assert from_sitemap and all(u.startswith(server.site_url(SR)) for u in from_sitemap)
    listing = tmp_path / "pages.urls"
    listing.write_text("# two pages\n" + "\n".join(server.page_urls(RU)[1:3]) + "\n\n")
    collect([str(listing)], tmp_path / "list", server)
    assert {r["page_url"] for r in rows_of(tmp_path / "list")} <= set(server.page_urls(RU)[1:3])
    assert rows_of(tmp_path / "list")


def test_robots_txt_disallow_is_obeyed(tmp_path):
    robots = f"User-agent: *\nDisallow: /{RU}/ru-RU/\n"
    with SiteServer(load_sites(SITES), robots_txt=robots) as srv:
        report = collect([srv.site_url(RU)], tmp_path / "r", srv)
        assert not any(p.startswith(f"/{RU}/step_") for p in srv.requested_paths())
    assert report.counters["crawl.robots_disallowed"] >= 10
    assert all("/ru-RU/" not in r["page_url"] for r in rows_of(tmp_path / "r"))


def test_cli_collect_site_without_allowlist_is_guarded(server, tmp_path, capsys):
    out = tmp_path / "guarded"
    assert main(["collect", server.site_url(SR), "--out", str(out), "--per-host-delay", "0"]) == 0
    assert rows_of(out) == []  # 127.0.0.1 is a loopback address: refused unless allowlisted
    assert '"crawl.error_blocked_address": 1' in (out / "stats.json").read_text()
