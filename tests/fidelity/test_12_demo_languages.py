"""Item 12 of issue #16: `make demo` served 4 sites (ar, ko, ru, sr-Cyrl); the demo's funnel, samples and
report now cover all eight MELLA languages: ar, cs, hu, ko, ru, sr (Cyrillic and Latin), th and vi."""

from __future__ import annotations

import re
import urllib.request
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from mella.demo.siteserver import SiteServer, load_sites

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LANGS = {"ar", "cs", "hu", "ko", "ru", "sr-Cyrl", "sr-Latn", "th", "vi"}  # eight languages, Serbian in two scripts


def _rows(run_dir, stage, columns):
    return pq.read_table(sorted((run_dir / stage).glob("part-*.parquet")), columns=columns).to_pylist()


def test_example_sites_are_self_contained_with_provenance_and_licence():
    sites = load_sites(EXAMPLES / "sites")
    assert {s.lang for s in sites} == {"ar", "cs", "hu", "ko", "ru", "sr", "sr-Latn", "th", "vi"}
    readme = (EXAMPLES / "sites" / "README.md").read_text(encoding="utf-8")
    for site in sites:
        assert site.root.is_dir() and site.name in readme
        assert not any(p.is_symlink() for p in site.root.rglob("*"))  # nothing points into ../shared
    for name in ("th__raspberrypilearning__lost-in-space/LICENSE.md", "sr-Latn__reactjs__sr.react.dev/LICENSE-DOCS.md",
                 "vi__MicrosoftDocs__dynamics-365-project-operations/LICENSE"):
        assert (EXAMPLES / "sites" / name).is_file()


def test_react_dev_illustrations_are_served_as_images_with_their_serbian_latin_alt():
    site = "sr-Latn__reactjs__sr.react.dev"
    with SiteServer(load_sites(EXAMPLES / "sites")) as server:
        page = urllib.request.urlopen(server.site_url(site) + "src/content/learn/render-and-commit.html").read()
        imgs = re.findall(r'<img[^>]*alt="([^"]+)"[^>]*src="([^"]+)"', page.decode())
        assert len(imgs) >= 7 and any("konobar" in alt for alt, _ in imgs)
        local = [src for _, src in imgs if src.startswith(f"/{site}/images/")]
        body = urllib.request.urlopen(server.base_url + local[0]).read()  # public/ served at the site root
        assert body.startswith(b"\x89PNG")


def test_demo_funnel_samples_and_report_cover_all_eight_languages(demo_run):
    assert {r["lang"] for r in _rows(demo_run, "dedup", ["lang"])} == LANGS
    assert {r["lang"] for r in _rows(demo_run, "fetch", ["lang"])} == LANGS
    samples = Counter((r["lang"], r["source"]) for r in _rows(demo_run, "build", ["lang", "source"]))
    for lang in LANGS:
        assert samples[(lang, "know")] >= 3 and samples[(lang, "ling")] >= 3, (lang, samples)
    html = (demo_run / "report" / "report.html").read_text(encoding="utf-8")
    for lang in LANGS:
        assert f">{lang}<" in html, lang
