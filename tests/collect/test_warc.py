"""WARC reading: the two real samples, WARCs built from real pages, and damaged files."""

from __future__ import annotations

import gzip
import random
from collections import Counter

import pytest
from collectkit import DATA, build_warc, expected_images, norm, page_bytes, page_files

from mella.collect.collect import CollectStage
from mella.collect.warc import find_next_record, warc_pages
from mella.errors import InputError, MellaError
from mella.pipeline.shards import Shard

PAGES = page_files()


def run(path, **options) -> tuple[list[dict], list[dict], Counter]:
    """Read and process one input file through the collect stage, the way an executor does."""
    stage = CollectStage(**options)
    kept, dropped, counters = [], [], Counter()
    for batch in stage.read(Shard(str(path))):
        result = stage(batch)
        kept += result.kept
        dropped += result.dropped
        counters.update(result.counters)
    return kept, dropped, counters


@pytest.fixture(scope="module")
def real_pages() -> list[tuple[str, bytes]]:
    return [(f"https://pages.example.org/{i}/{p.name.replace('.gz', '')}", page_bytes(p)) for i, p in enumerate(PAGES)]


@pytest.mark.parametrize("name,with_alt", [("allenai__dolma__sample-0000.warc.gz", 169),
                                           ("chatnoir-eu__chatnoir-resiliparse__warcfile.warc.gz", 32)])
def test_real_warc_samples(name, with_alt):
    path = DATA / "web/other" / name
    kept, dropped, counters = run(path)
    assert counters["images_with_alt"] == with_alt  # the count PROVENANCE.tsv gives (html.parser)
    assert len(kept) == with_alt - counters["images_skipped.data_uri"] - counters["images_skipped.no_src"]
    assert dropped == []
    raw = path.read_bytes()
    for row in kept:
        assert row["source"] == str(path)
        # The offset points at the gzip member that holds the record.
        assert gzip.decompress(raw[row["source_offset"]:])[:5] == b"WARC/"
        assert row["page_url"].startswith("http") and not row["page_url"].startswith("<")


def test_real_warc_rows_match_an_independent_parse():
    path = DATA / "web/other/allenai__dolma__sample-0000.warc.gz"
    pages = [r for r in warc_pages(str(path), 10**7) if r["kind"] == "page"]
    kept, _, _ = run(path)
    for page in pages:
        _, expected = expected_images(page["data"], page["url"])
        got = sorted((r["image_url"], norm(r["alt"])) for r in kept if r["source_offset"] == page["offset"])
        assert got == expected


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_warc_built_from_real_pages(tmp_path, real_pages, gzip_records):
    data, offsets = build_warc(real_pages, gzip_records=gzip_records)
    path = tmp_path / ("built.warc.gz" if gzip_records else "built.warc")
    path.write_bytes(data)
    kept, dropped, counters = run(path)
    assert dropped == [] and counters["pages_read"] == len(real_pages)
    by_offset = {}
    for row in kept:
        by_offset.setdefault(row["source_offset"], []).append(row)
    assert sorted(by_offset) == [o for o, (_, body) in zip(offsets, real_pages, strict=True)
                                 if expected_images(body, "https://x.org/")[1]]
    for offset, (url, body) in zip(offsets, real_pages, strict=True):
        _, expected = expected_images(body, url)
        rows = by_offset.get(offset, [])
        assert sorted((r["image_url"], norm(r["alt"])) for r in rows) == expected
        assert all(r["page_url"] == url for r in rows)


def test_http_headers_give_charset_and_content_language(tmp_path):
    body = page_bytes(DATA / "web/ru/TeamHG-Memex__autopager__page-95.html")  # real windows-1251 bytes
    headers = [("Content-Type", "text/html; charset=windows-1251"), ("Content-Language", "ru")]
    data, _ = build_warc([("https://www.example.ru/forum", body)], headers=headers)
    (tmp_path / "a.warc.gz").write_bytes(data)
    kept, _, counters = run(tmp_path / "a.warc.gz")
    assert counters["decode.http"] == 1
    assert kept and all(r["content_language"] == "ru" for r in kept)
    assert all("\ufffd" not in r["alt"] for r in kept)


def test_non_html_and_error_responses_are_counted_and_skipped(tmp_path):
    html = page_bytes(DATA / "web/ko/adbar__htmldate__test_set-1694328145.html")
    png, _ = build_warc([("https://e.com/a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)], headers=[("Content-Type", "image/png")])
    e404, _ = build_warc([("https://e.com/404", html)], status="404 Not Found")
    ok, _ = build_warc([("https://e.com/ok", html)])
    (tmp_path / "m.warc.gz").write_bytes(png + e404 + ok)
    kept, dropped, counters = run(tmp_path / "m.warc.gz")
    assert counters["records_skipped.non_html"] == 1 and counters["records_skipped.http_4xx"] == 1
    assert counters["pages_read"] == 1 and len(kept) == 1 and dropped == []


def test_truncated_gzip_keeps_every_record_before_the_cut(tmp_path, real_pages):
    data, offsets = build_warc(real_pages)
    cut = offsets[-3] + (offsets[-2] - offsets[-3]) // 2  # in the middle of the third-last record
    (tmp_path / "t.warc.gz").write_bytes(data[:cut])
    kept, dropped, counters = run(tmp_path / "t.warc.gz")
    full, _, _ = run_built(tmp_path, data)
    assert counters["pages_read"] == len(real_pages) - 3
    assert [d["drop_reason"] for d in dropped] == ["truncated"]
    assert dropped[0]["source_offset"] == offsets[-3] and dropped[0]["page_url"] == real_pages[-3][0]
    def strip(rows):
        return [{k: v for k, v in r.items() if k != "source"} for r in rows]

    assert kept and strip(kept) == strip([r for r in full if r["source_offset"] < offsets[-3]])


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_a_file_cut_inside_a_payload_or_its_http_headers_drops_that_record(tmp_path, real_pages, gzip_records):
    plain, _ = build_warc(real_pages[:3], gzip_records=False)
    data, offsets = build_warc(real_pages[:3], gzip_records=gzip_records)
    record = plain.index(b"WARC/1.", plain.index(b"WARC/1.", 1) + 1)  # the third record in the plain file
    http = plain.index(b"HTTP/1.1 200", record)
    for cut_at in (plain.index(b"\r\n\r\n", http) + 104, http + 20):  # in the payload, in the HTTP headers
        if gzip_records:  # cut the third gzip member as far in as the plain cut is into its record
            member = gzip.decompress(data[offsets[2]:])
            cut = data[:offsets[2]] + gzip.compress(member)[: max(30, (cut_at - record) // 3)]
        else:
            cut = data[:cut_at]
        kept, dropped, _ = run_built(tmp_path, cut, "cut.warc.gz" if gzip_records else "cut.warc")
        assert [d["drop_reason"] for d in dropped] == ["truncated"] and dropped[0]["source_offset"] == offsets[2]
        assert {r["source_offset"] for r in kept} == {offsets[0], offsets[1]}


def run_built(tmp_path, data: bytes, name: str = "full.warc.gz"):
    (tmp_path / name).write_bytes(data)
    return run(tmp_path / name)


def test_broken_http_headers_skip_the_record_not_the_file(tmp_path, real_pages):
    pages = real_pages[:4]
    data, offsets = build_warc(pages, gzip_records=False)
    start = data.index(b"HTTP/1.1 200", offsets[1])
    broken = b"\x00\x01garbage\xff\xfe" + b"x" * 4
    data = data[:start] + broken + data[start + len(broken):]  # same length: the WARC framing stays valid
    kept, dropped, counters = run_built(tmp_path, data, "h.warc")
    assert [d["drop_reason"] for d in dropped] == ["broken_http_headers"]
    assert dropped[0]["source_offset"] == offsets[1]
    assert counters["pages_read"] == 3
    assert {r["source_offset"] for r in kept} == {offsets[0], offsets[2], offsets[3]}


def test_header_block_without_an_end_is_broken_http_headers(tmp_path, real_pages):
    data, offsets = build_warc(real_pages[:2], gzip_records=False)
    end = data.index(b"\r\n\r\n", data.index(b"HTTP/1.1 200", offsets[0]))
    data = data[:end] + b"XXXX" + data[end + 4:]
    kept, dropped, _ = run_built(tmp_path, data, "n.warc")
    assert [d["drop_reason"] for d in dropped] == ["broken_http_headers"]
    assert {r["source_offset"] for r in kept} == {offsets[1]}


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_binary_garbage_between_records_is_skipped_and_the_file_goes_on(tmp_path, real_pages, gzip_records):
    pages = real_pages[:6]
    data, offsets = build_warc(pages, gzip_records=gzip_records)
    garbage = random.Random(3).randbytes(50_000)
    data = data[:offsets[3]] + garbage + data[offsets[3]:]
    kept, dropped, counters = run_built(tmp_path, data, "g.warc.gz" if gzip_records else "g.warc")
    assert counters["pages_read"] == 6  # every record, the ones after the garbage too
    assert "invalid_warc_data" in {d["drop_reason"] for d in dropped}
    clean, _, _ = run_built(tmp_path, build_warc(pages, gzip_records=gzip_records)[0], "c.warc.gz")
    assert sorted((r["image_url"], r["alt"]) for r in kept) == sorted((r["image_url"], r["alt"]) for r in clean)
    shifted = {o if o < offsets[3] else o + len(garbage) for o in offsets}
    assert {r["source_offset"] for r in kept} <= shifted


def test_binary_payload_labelled_html_is_skipped_with_a_reason(tmp_path, real_pages):
    garbage = random.Random(5).randbytes(20_000)
    data, offsets = build_warc([("https://e.com/bin", garbage), real_pages[0]])
    kept, dropped, _ = run_built(tmp_path, data)
    assert [(d["drop_reason"], d["source_offset"]) for d in dropped] == [("binary", offsets[0])]
    assert kept and {r["source_offset"] for r in kept} == {offsets[1]}


def test_a_50_mb_page_is_skipped_and_the_next_one_kept(tmp_path, real_pages):
    big = b"<html><body>" + b"<p>filler text " * (50 * 1024 * 1024 // 15) + b'<img src="a.jpg" alt="x"></body></html>'
    data, offsets = build_warc([("https://e.com/huge", big), real_pages[0]])
    kept, dropped, _ = run_built(tmp_path, data)
    assert [(d["drop_reason"], d["page_url"]) for d in dropped] == [("too_large", "https://e.com/huge")]
    assert {r["source_offset"] for r in kept} == {offsets[1]}


def test_wrong_declared_charset_is_recovered(tmp_path):
    # A real windows-1251 page served with "charset=utf-8": the bytes are not UTF-8, the meta wins.
    body = page_bytes(DATA / "web/ru/TeamHG-Memex__autopager__page-95.html")
    data, _ = build_warc([("https://e.ru/p", body)], headers=[("Content-Type", "text/html; charset=utf-8")])
    kept, dropped, counters = run_built(tmp_path, data)
    assert counters["decode.meta"] == 1 and dropped == []
    assert kept and all("\ufffd" not in r["alt"] + r["context"] for r in kept)
    # A real UTF-8 page served as windows-1251: the bytes are valid UTF-8 with Cyrillic, UTF-8 wins.
    body = page_bytes(DATA / "web/ru/flairNLP__fundus__ru-Kommersant_2025_05_14.html.gz")
    data, _ = build_warc([("https://e.ru/k", body)], headers=[("Content-Type", "text/html; charset=windows-1251")])
    kept, _, counters = run_built(tmp_path, data, "k.warc.gz")
    assert counters["decode.utf8"] == 1
    assert any("Путина" in r["alt"] for r in kept)


def test_content_encoding_gzip_and_chunked_bodies(tmp_path):
    body = page_bytes(DATA / "web/ko/adbar__htmldate__test_set-1694328145.html")
    zipped, _ = build_warc([("https://e.kr/z", gzip.compress(body))],
                           headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000]) for i in range(0, len(body), 4000))
    chunked, _ = build_warc([("https://e.kr/c", chunks + b"0\r\n\r\n")],
                            headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
    kept, dropped, _ = run_built(tmp_path, zipped + chunked)
    assert dropped == []
    assert [r["page_url"] for r in kept] == ["https://e.kr/z", "https://e.kr/c"]
    assert kept[0]["alt"] == kept[1]["alt"] and kept[0]["alt"]


def test_find_next_record_skips_false_gzip_magic(tmp_path, real_pages):
    data, offsets = build_warc(real_pages[:3])
    blob = b"\x1f\x8b\x08junk" * 10 + data
    (tmp_path / "f.warc.gz").write_bytes(blob)
    with open(tmp_path / "f.warc.gz", "rb") as fh:
        assert find_next_record(fh, 0, True) == 70 + offsets[0]
        assert find_next_record(fh, 71, True) == 70 + offsets[1]
        assert find_next_record(fh, 70 + offsets[2] + 1, True) is None


def test_unreadable_input_is_one_clear_error(tmp_path):
    missing = tmp_path / "nope.warc.gz"
    with pytest.raises(MellaError, match=r"cannot read input .*nope\.warc\.gz"):
        list(warc_pages(str(missing), 10**6))
    folder = tmp_path / "dir.warc"
    folder.mkdir()
    with pytest.raises(MellaError, match="dir.warc"):
        run(folder)


def test_garbage_file_is_refused_as_not_a_warc(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(random.Random(9).randbytes(30_000))
    with pytest.raises(InputError, match=r"input .*junk\.warc\.gz is not a WARC file: 0 WARC records read"):
        run(path)


def test_garbage_before_the_first_record_is_counted_and_the_records_kept(tmp_path, real_pages):
    data, _ = build_warc(real_pages[:3], gzip_records=False)
    path = tmp_path / "late.warc"
    path.write_bytes(random.Random(9).randbytes(5000) + data)
    kept, dropped, counters = run(path)
    assert counters["records_read"] == 3 and kept
    assert {d["drop_reason"] for d in dropped} == {"invalid_warc_data"}
