"""The local Common Crawl fixture (tests/cccrawl.py) is what it claims to be: Common Crawl's bucket layout, an
index whose every row points at exactly one gzip member holding that URL's response, the flat index schema,
and a server whose ranges and faults behave as documented. Checked with warcio, fastwarc and pyarrow, not
with cccrawl's own helpers."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import zlib
from collections import Counter
from pathlib import Path

import pytest
from collectkit import WEB, page_bytes

from cccrawl import (
    CRAWL,
    ISO3,
    CrawlServer,
    build_crawl,
    corpus_pages,
    parse_range,
    replicate,
    surt,
)

#: cc-index-table's src/main/resources/schema/cc-index-schema-flat.json, as arrow types, written out by hand.
FLAT_SCHEMA = [
    ("url_surtkey", "string"), ("url", "string"), ("url_host_name", "string"), ("url_host_tld", "string"),
    ("url_host_2nd_last_part", "string"), ("url_host_3rd_last_part", "string"),
    ("url_host_4th_last_part", "string"), ("url_host_5th_last_part", "string"),
    ("url_host_registry_suffix", "string"), ("url_host_registered_domain", "string"),
    ("url_host_private_suffix", "string"), ("url_host_private_domain", "string"),
    ("url_host_name_reversed", "string"), ("url_protocol", "string"), ("url_port", "int32"),
    ("url_path", "string"), ("url_query", "string"), ("fetch_time", "timestamp[us, tz=UTC]"),
    ("fetch_status", "int16"), ("fetch_redirect", "string"), ("content_digest", "string"),
    ("content_mime_type", "string"), ("content_mime_detected", "string"), ("content_charset", "string"),
    ("content_languages", "string"), ("content_truncated", "string"), ("warc_filename", "string"),
    ("warc_record_offset", "int32"), ("warc_record_length", "int32"), ("warc_segment", "string"),
]


@pytest.fixture(scope="module")
def pages():
    return corpus_pages()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, pages):
    return build_crawl(tmp_path_factory.mktemp("cc"), pages)


def paths_file(crawl, name: str) -> list[str]:
    return gzip.decompress((crawl.root / f"crawl-data/{crawl.crawl}/{name}").read_bytes()).decode().splitlines()


def index_table(crawl, subset: str = "warc"):
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = [p for p in crawl.index_paths if f"/subset={subset}/" in p]
    return pa.concat_tables([pq.read_table(crawl.root / p) for p in files])


def one_member(data: bytes) -> bytes:
    """The member decompressed; fails unless ``data`` is exactly one complete gzip member."""
    d = zlib.decompressobj(zlib.MAX_WBITS + 16)
    out = d.decompress(data) + d.flush()
    assert d.eof and d.unused_data == b""
    return out


def records(path: Path) -> list[tuple]:
    """(type, WARC headers, content) of every record, digests checked."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            out.append((rec.rec_type, rec.rec_headers, rec.content_stream().read()))
    return out


# -- pages -----------------------------------------------------------------------------------------------

def test_corpus_pages_are_the_real_pages_of_every_language_folder(pages):
    files = sorted(p for lang in ISO3 for p in (WEB / lang).iterdir() if p.name.endswith((".html", ".html.gz")))
    assert len(pages) == len(files) and {p.html for p in pages} == {page_bytes(f) for f in files}
    assert {p.languages for p in pages} == set(ISO3.values())
    assert all(p.url.startswith(("http://", "https://")) and p.status == 200 and p.mime == "text/html"
               for p in pages)
    assert len({p.url for p in pages}) == len(pages)
    urls = {p.url for p in pages}
    assert "https://www.kommersant.ru/doc/7715044" in urls  # its own canonical link
    assert "https://mella-sr.rs/silverfoxy__JSCryptoMinerStudy__bg.ac.rs" in urls  # no canonical: made up
    assert all(u.isascii() and "#" not in u for u in urls)


def test_replicate_makes_distinct_urls_with_the_same_pages(pages):
    copies = replicate(pages[:3], 10, seed=1)
    assert len({c.url for c in copies}) == 10 and all("/copy-" in c.url for c in copies)
    assert Counter(c.html for c in copies) == Counter({pages[0].html: 4, pages[1].html: 3, pages[2].html: 3})
    assert {c.languages for c in copies} == {p.languages for p in pages[:3]}
    assert replicate(pages[:3], 10, seed=1) == copies


def test_surt_keys():
    assert surt("https://www.Example.com/A/b.html?b=1&a=2") == "com,example)/a/b.html?a=2&b=1"
    assert surt("http://news.chosun.com/") == "com,chosun,news)/"
    assert surt("http://example.rs:8080") == "rs,example:8080)/"


# -- the files -------------------------------------------------------------------------------------------

def test_paths_files_list_files_that_exist(crawl):
    warcs, wats, index = (paths_file(crawl, n) for n in ("warc.paths.gz", "wat.paths.gz",
                                                           "cc-index-table.paths.gz"))
    assert warcs == crawl.warc_paths and len(warcs) == 4
    assert wats == crawl.wat_paths and [w.replace("/wat/", "/warc/").replace(".warc.wat.gz", ".warc.gz")
                                        for w in wats] == warcs
    assert index == crawl.index_paths
    assert sum("/subset=warc/" in p for p in index) == 2
    assert sum("/subset=crawldiagnostics/" in p for p in index) == 1
    for rel in warcs + wats + index + paths_file(crawl, "non200responses.paths.gz"):
        assert (crawl.root / rel).is_file(), rel
    for rel in warcs:
        assert rel.startswith(f"crawl-data/{CRAWL}/segments/") and "/warc/CC-MAIN-" in rel
    for rel in index:
        assert rel.startswith(f"cc-index/table/cc-main/warc/crawl={CRAWL}/subset=")
        assert rel.endswith(".c000.gz.parquet")


def test_every_index_row_points_at_one_gzip_member_holding_its_response(crawl):
    table = index_table(crawl).to_pylist()
    assert len(table) == len(crawl.pages) == len(crawl.records)
    by_url = {p.url: p for p in crawl.pages}
    from warcio.archiveiterator import ArchiveIterator

    for row, rec in zip(table, crawl.records, strict=True):
        assert (rec.url, rec.warc_filename, rec.warc_record_offset, rec.warc_record_length) == (
            row["url"], row["warc_filename"], row["warc_record_offset"], row["warc_record_length"])
        with open(crawl.root / row["warc_filename"], "rb") as fh:
            fh.seek(row["warc_record_offset"])
            member = fh.read(row["warc_record_length"])
        raw = one_member(member)
        found = [(r, r.content_stream().read()) for r in ArchiveIterator(io.BytesIO(raw), check_digests="raise")]
        [(record, payload)] = found
        page = by_url[row["url"]]
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        assert record.http_headers.get_statuscode() == str(row["fetch_status"]) == str(page.status)
        assert payload == page.html
        assert record.rec_headers.get_header("WARC-Identified-Content-Language") == row["content_languages"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == f"sha1:{row['content_digest']}"
        assert row["content_languages"] == page.languages and row["content_mime_detected"] == page.mime
        assert row["warc_segment"] in row["warc_filename"]


def test_warc_files_have_per_record_gzip_and_request_response_pairs(crawl):
    from fastwarc.warc import ArchiveIterator

    offsets = Counter()
    for rel in crawl.warc_paths:
        data = (crawl.root / rel).read_bytes()
        types, starts = [], []
        for rec in ArchiveIterator(io.BytesIO(data), parse_http=False):
            types.append(str(rec.record_type))
            starts.append(rec.stream_pos)
        assert types[0] == "warcinfo" and types[1:] == ["request", "response"] * ((len(types) - 1) // 2)
        members = 0
        for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
            one_member(data[start:end])  # each record is exactly one member
            members += 1
        assert members == len(types)
        offsets[rel] = len(types) // 2
        indexed = sorted(r.warc_record_offset for r in crawl.records if r.warc_filename == rel)
        assert indexed == [s for s, t in zip(starts, types, strict=True) if t == "response"]
    assert sum(offsets.values()) == len(crawl.pages) and min(offsets.values()) > 0


def test_wat_records_refer_to_the_responses(crawl):
    for warc_rel, wat_rel in zip(crawl.warc_paths, crawl.wat_paths, strict=True):
        responses = {h.get_header("WARC-Record-ID"): h.get_header("WARC-Target-URI")
                     for t, h, _ in records(crawl.root / warc_rel) if t == "response"}
        wat = records(crawl.root / wat_rel)
        assert wat[0][0] == "warcinfo"
        metadata = wat[1:]
        assert len(metadata) == len(responses)
        for rec_type, headers, body in metadata:
            assert rec_type == "metadata" and headers.get_header("Content-Type") == "application/json"
            target = responses[headers.get_header("WARC-Refers-To")]
            envelope = json.loads(body)["Envelope"]
            assert envelope["WARC-Header-Metadata"]["WARC-Target-URI"] == target == headers.get_header(
                "WARC-Target-URI")
            assert envelope["Container"]["Filename"] == warc_rel.rsplit("/", 1)[-1]


def test_the_index_has_the_flat_schema_sorted_rows_and_prunable_row_groups(crawl):
    import pyarrow.parquet as pq

    last = ""
    for rel in crawl.index_paths:
        f = pq.ParquetFile(crawl.root / rel)
        assert [(fld.name, str(fld.type)) for fld in f.schema_arrow] == FLAT_SCHEMA
        assert "crawl" not in f.schema_arrow.names and "subset" not in f.schema_arrow.names
        meta = f.metadata
        assert meta.row_group(0).column(0).compression == "GZIP"
        if "/subset=warc/" not in rel:
            continue
        assert meta.num_row_groups > 1 and meta.num_rows > 0
        tld = f.schema_arrow.names.index("url_host_tld")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(tld).statistics
            assert stats is not None and stats.has_min_max and meta.row_group(g).num_rows <= 8
        keys = f.read(columns=["url_surtkey"]).column(0).to_pylist()
        assert keys == sorted(keys) and keys[0] >= last  # files are contiguous runs of one sorted order
        last = keys[-1]


def test_the_index_carries_noise_that_a_harvest_must_skip(crawl):
    rows = index_table(crawl).to_pylist()
    assert any(r["fetch_status"] == 404 and r["content_languages"] for r in rows)
    assert any(r["content_mime_detected"] == "application/pdf" and r["content_languages"] is None for r in rows)
    diag = index_table(crawl, "crawldiagnostics").to_pylist()
    assert diag and {r["fetch_status"] for r in diag} == {301, 404}
    assert all(r["fetch_redirect"] for r in diag if r["fetch_status"] == 301)
    assert not {r["url"] for r in diag} & {r["url"] for r in rows}
    assert all("/crawldiagnostics/" in r["warc_filename"] for r in diag)


def test_urls_in_selects_by_language_status_mime_and_tld(crawl, pages):
    sr = {p.url for p in pages if p.languages == "srp"}
    assert crawl.urls_in({"srp"}) == sr and len(sr) == 2
    assert crawl.urls_in({"srp"}, tlds={"rs"}) == {u for u in sr if ".rs/" in u}
    assert crawl.urls_in(set(ISO3.values())) == {p.url for p in pages}  # not the 404 or the PDF
    rows = index_table(crawl).to_pylist()
    expected = {r["url"] for r in rows if r["fetch_status"] == 200 and r["content_mime_detected"] == "text/html"
                and "rus" in (r["content_languages"] or "").split(",") and r["url_host_tld"] == "ru"}
    assert crawl.urls_in({"rus"}, {"ru"}) == expected and expected


def test_a_replicated_crawl_without_extras_and_wat(tmp_path, pages):
    copies = replicate([p for p in pages if p.languages == "tha"], 5) + replicate(pages, 16, seed=2)
    crawl = build_crawl(tmp_path, copies, warc_files=2, index_files=3, row_group_size=3, wat=False,
                        extra_records=False)
    assert crawl.wat_paths == [] and not (tmp_path / f"crawl-data/{CRAWL}/wat.paths.gz").exists()
    assert len(crawl.records) == 21 and len(crawl.urls_in({"tha"})) == 6  # copy-15 of the 16 is Thai
    assert sum("/subset=warc/" in p for p in crawl.index_paths) == 3


# -- the server ------------------------------------------------------------------------------------------

@pytest.fixture
def server(crawl):
    with CrawlServer(crawl.root) as srv:
        yield srv


def get(server, rel: str, rng: str | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(server.host_port, timeout=10)
    try:
        conn.request(method, "/" + rel, headers={"Range": rng} if rng else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_server_serves_whole_files_and_byte_ranges(crawl, server):
    rel = crawl.warc_paths[0]
    data = (crawl.root / rel).read_bytes()
    assert server.base_url == f"http://{server.host_port}/" and server.host_port.startswith("127.0.0.1:")
    status, headers, body = get(server, rel)
    assert (status, body, headers["accept-ranges"], int(headers["content-length"])) == (200, data, "bytes",
                                                                                         len(data))
    status, headers, body = get(server, rel, "bytes=10-99")
    assert (status, body, headers["content-range"]) == (206, data[10:100], f"bytes 10-99/{len(data)}")
    status, headers, body = get(server, rel, "bytes=100-")
    assert (status, body) == (206, data[100:])
    status, headers, body = get(server, rel, "bytes=-50")
    assert (status, body, headers["content-range"]) == (206, data[-50:],
                                                        f"bytes {len(data) - 50}-{len(data) - 1}/{len(data)}")
    status, headers, body = get(server, rel, f"bytes={len(data) - 5}-{len(data) + 100}")
    assert (status, body) == (206, data[-5:])
    status, headers, _ = get(server, rel, f"bytes={len(data)}-")
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}"
    status, headers, body = get(server, rel, method="HEAD")
    assert (status, body, int(headers["content-length"])) == (200, b"", len(data))
    assert get(server, "crawl-data/nothing-here")[0] == 404
    assert get(server, "../" * 5 + "etc/passwd")[0] == 404


def test_a_record_read_by_range_is_the_indexed_response(crawl, server):
    from warcio.archiveiterator import ArchiveIterator

    rec = next(r for r in crawl.records if r.languages == "srp")
    end = rec.warc_record_offset + rec.warc_record_length - 1
    status, _, body = get(server, rec.warc_filename, f"bytes={rec.warc_record_offset}-{end}")
    assert status == 206
    found = [(r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
             for r in ArchiveIterator(io.BytesIO(body))]
    assert found == [(rec.url, next(p.html for p in crawl.pages if p.url == rec.url))]


def test_keep_alive_and_the_byte_counter(crawl, server):
    rel = crawl.warc_paths[1]
    conn = http.client.HTTPConnection(server.host_port, timeout=10)
    sizes = []
    for rng in ("bytes=0-999", "bytes=-200", "bytes=5-5"):
        conn.request("GET", "/" + rel, headers={"Range": rng})
        resp = conn.getresponse()
        sizes.append(len(resp.read()))
    conn.close()
    assert sizes == [1000, 200, 1]
    assert server.bytes_sent == 1201 and server.bytes_by_path == Counter({rel: 1201})
    assert server.requests == [(rel, "bytes=0-999"), (rel, "bytes=-200"), (rel, "bytes=5-5")]
    server.reset_stats()
    assert (server.bytes_sent, server.requests, dict(server.bytes_by_path)) == (0, [], {})


def test_fail_answers_the_status_the_given_number_of_times(crawl, server):
    rel = f"crawl-data/{CRAWL}/cc-index-table.paths.gz"
    server.fail(rel, times=2, status=503, retry_after="1")
    first, second = get(server, rel), get(server, rel)
    assert [first[0], second[0]] == [503, 503] and first[1]["retry-after"] == "1"
    status, _, body = get(server, rel)
    assert status == 200 and gzip.decompress(body).decode().splitlines() == crawl.index_paths
    server.fail(rel, times=1, status=429, retry_after=None)
    status, headers, _ = get(server, rel)
    assert status == 429 and "retry-after" not in headers
    assert server.bytes_by_path[rel] == len(body)  # the refusals carried no file bytes
    assert [r for r, _ in server.requests] == [rel] * 4


def test_reset_breaks_the_body_off_after_some_bytes(crawl, server):
    rel = crawl.warc_paths[2]
    data = (crawl.root / rel).read_bytes()
    server.reset(rel, times=1, after_bytes=300)
    conn = http.client.HTTPConnection(server.host_port, timeout=10)
    conn.request("GET", "/" + rel)
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(data)
    with pytest.raises(http.client.IncompleteRead) as broken:
        resp.read()
    conn.close()
    assert broken.value.partial == data[:300]
    assert server.bytes_sent == 300
    status, _, body = get(server, rel, "bytes=300-")  # the second request is whole
    assert (status, body) == (206, data[300:])


def test_truncate_serves_the_file_as_if_cut(crawl, server):
    rel = crawl.warc_paths[3]
    data = (crawl.root / rel).read_bytes()
    server.truncate(rel, 1000)
    status, headers, body = get(server, rel)
    assert (status, body, headers["content-length"]) == (200, data[:1000], "1000")
    status, headers, body = get(server, rel, "bytes=900-1999")
    assert (status, body, headers["content-range"]) == (206, data[900:1000], "bytes 900-999/1000")
    assert get(server, rel, "bytes=1000-1100")[0] == 416
    status, _, body = get(server, rel, "bytes=-10")
    assert (status, body) == (206, data[990:1000])


def test_missing_is_404_always(crawl, server):
    rel = crawl.wat_paths[0]
    server.missing(rel)
    assert [get(server, rel)[0] for _ in range(3)] == [404, 404, 404]
    assert get(server, rel, method="HEAD")[0] == 404
    assert server.bytes_sent == 0 and len(server.requests) == 4


def test_parse_range_edges():
    assert parse_range("", 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=-0", 10) == "unsatisfiable"
    assert parse_range("bytes=-20", 10) == (0, 10)
    assert parse_range("bytes=5-2", 10) is None  # invalid: ignored, whole file
    assert parse_range("bytes=0-1,4-5", 10) is None  # several ranges: whole file
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=0-", 0) == "unsatisfiable"
