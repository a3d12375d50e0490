"""WAT reading. No real WAT file with image links was found to copy, so the WAT records here are
generated from the real pages in tests/data/web (collectkit.wat_json), in Common Crawl's layout:
``Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata`` with ``Head`` and ``Links``."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from collectkit import build_wat, expected_images, norm, page_bytes, page_files, wat_json

from mella.collect.collect import CollectStage, detect_format
from mella.collect.wat import wat_rows
from mella.pipeline.shards import Shard


def run(path):
    stage = CollectStage()
    kept, dropped, counters = [], [], Counter()
    for batch in stage.read(Shard(str(path))):
        result = stage(batch)
        kept, dropped = kept + result.kept, dropped + result.dropped
        counters.update(result.counters)
    return kept, dropped, counters


def _plain_src_expectation(data: bytes, url: str) -> list[tuple[str, str]]:
    """WAT keeps only ``src``: the expected rows are those of the page with lazy/srcset attributes removed."""
    import re

    stripped = re.sub(rb'\s(?:data-[a-z-]+|srcset)\s*=\s*("[^"]*"|\'[^\']*\')', b" ", data)
    return expected_images(stripped, url)[1]


@pytest.fixture(scope="module")
def wat_file(tmp_path_factory):
    pages = page_files()
    items = [(f"https://wat.example.org/{i}/page", page_bytes(p)) for i, p in enumerate(pages)]
    envelopes = [(url, wat_json(url, body, {"Content-Type": "text/html", "Content-Language": "xx"}))
                 for url, body in items]
    request = ("https://wat.example.org/req", {"Envelope": {"Payload-Metadata": {"HTTP-Request-Metadata": {}}}})
    data, offsets = build_wat([request, *envelopes])
    path = tmp_path_factory.mktemp("wat") / "sample.warc.wat.gz"
    path.write_bytes(data)
    return path, items, offsets[1:]


def test_wat_rows_match_the_img_links_of_real_pages(wat_file):
    path, items, offsets = wat_file
    assert detect_format(str(path)) == "wat"
    kept, dropped, counters = run(path)
    assert dropped == []
    assert counters["records_skipped.not_a_response"] == 1
    for (url, body), offset in zip(items, offsets, strict=True):
        rows = [r for r in kept if r["source_offset"] == offset]
        assert sorted((r["image_url"], norm(r["alt"])) for r in rows) == _plain_src_expectation(body, url), url
        assert all(r["context"] == "" and r["figcaption"] == "" and r["html_lang"] == "" for r in rows)
        assert all(r["content_language"] == "xx" and r["og_locale"] == "xx_XX" for r in rows)
    assert len(kept) > 300


def test_wat_record_details():
    envelope = {"Envelope": {
        "WARC-Header-Metadata": {"WARC-Target-URI": "https://www.idnes.cz/zpravy/clanek"},
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Headers": {"content-language": "cs"},
            "HTML-Metadata": {
                "Head": {"Title": "  Zprávy \n dne ", "Base": "https://img.idnes.cz/"},
                "Links": [
                    {"path": "IMG@/src", "url": "foto/praha.jpg", "alt": "Praha v noci", "title": "Foto"},
                    {"path": "IMG@/src", "url": "data:image/gif;base64,R0l", "alt": "pixel"},
                    {"path": "IMG@/src", "url": "x.jpg", "alt": " "},
                    {"path": "A@/href", "url": "/a", "text": "odkaz"},
                    {"path": "IMG@/src", "alt": "bez src"},
                ]}}}}}
    result = wat_rows(json.dumps(envelope).encode(), "", "f.wat.gz", 1234)
    assert [(r["image_url"], r["alt"], r["img_title"]) for r in result.rows] == [
        ("https://img.idnes.cz/foto/praha.jpg", "Praha v noci", "Foto")]
    row = result.rows[0]
    assert (row["page_url"], row["page_title"], row["content_language"], row["domain"]) == (
        "https://www.idnes.cz/zpravy/clanek", "Zprávy dne", "cs", "idnes.cz")
    assert (row["source"], row["source_offset"]) == ("f.wat.gz", 1234)
    c = result.counters
    assert (c["images_seen"], c["images_with_alt"], c["images_skipped.data_uri"], c["images_skipped.no_src"]) == (4, 3, 1, 1)


def test_bad_wat_json_is_counted():
    assert wat_rows(b"{not json", "u").counters["records_skipped.bad_json"] == 1
    assert wat_rows(b'{"Envelope": {}}', "u").counters["records_skipped.not_a_response"] == 1
    assert wat_rows(b"\xff\xfe\x00", "u").counters["records_skipped.bad_json"] == 1


def test_truncated_wat_keeps_the_records_before(wat_file, tmp_path):
    path, items, offsets = wat_file
    data = path.read_bytes()
    cut = tmp_path / "cut.warc.wat.gz"
    cut.write_bytes(data[:offsets[5] + 200])
    kept, dropped, counters = run(cut)
    assert [d["drop_reason"] for d in dropped] == ["truncated"]
    assert {r["source_offset"] for r in kept} <= set(offsets[:5])
    assert counters["pages_read"] == 5 and counters["records_read"] == 6  # + the request record
