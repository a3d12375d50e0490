"""The collect stage end to end: saved pages, format detection, remote inputs, the local executor."""

from __future__ import annotations

import gzip
import http.server
import shutil
import threading
from collections import Counter
from functools import partial

import pyarrow.parquet as pq
import pytest
from collectkit import DATA, build_warc, page_bytes, page_files

from mella.collect.collect import CollectOptions, CollectStage, detect_format
from mella.errors import MellaError
from mella.pipeline.shards import Shard, resolve_inputs
from mella.records import CANDIDATES, with_drop_reason


def run(uri, **options):
    stage = CollectStage(**options)
    kept, dropped, counters = [], [], Counter()
    for batch in stage.read(Shard(str(uri))):
        result = stage(batch)
        kept, dropped = kept + result.kept, dropped + result.dropped
        counters.update(result.counters)
    return kept, dropped, counters


def test_options_are_the_cli_flags():
    opts = CollectOptions()
    assert (opts.format, opts.context_chars, opts.max_page_bytes) == ("auto", 300, 10 * 1024 * 1024)
    with pytest.raises(ValueError):
        CollectOptions(format="pdf")
    with pytest.raises(ValueError):
        CollectOptions(context_chars=-1)
    assert CollectStage(context_chars=10).options.context_chars == 10
    assert CollectStage.name == "collect" and CollectStage.reads == "files" and CollectStage.schema == CANDIDATES


def test_detect_format(tmp_path):
    page = DATA / "web/vi/silverfoxy__JSCryptoMinerStudy__bantre.com.vn.html"
    assert detect_format(str(page)) == "html"
    assert detect_format(str(DATA / "web/ko/flairNLP__fundus__kr-MBN_2025_05_29.html.gz")) == "html"
    assert detect_format(str(DATA / "web/other/allenai__dolma__sample-0000.warc.gz")) == "warc"
    odd = tmp_path / "download.bin"
    odd.write_bytes((DATA / "web/other/allenai__dolma__sample-0000.warc.gz").read_bytes())
    assert detect_format(str(odd)) == "warc"
    noext = tmp_path / "index"
    noext.write_bytes(page.read_bytes())
    assert detect_format(str(noext)) == "html"
    readme = tmp_path / "README.txt"
    readme.write_text("just notes")
    assert detect_format(str(readme)) is None
    kept, dropped, counters = run(readme)
    assert kept == [] and counters["files_skipped.unknown_format"] == 1


def test_saved_html_gz_page_takes_its_url_from_the_page():
    path = DATA / "web/ru/flairNLP__fundus__ru-Kommersant_2025_05_14.html.gz"
    kept, dropped, counters = run(path)
    assert dropped == [] and counters["pages_read"] == 1
    assert {r["page_url"] for r in kept} == {"https://www.kommersant.ru/doc/7715044"}
    assert all(r["source"] == str(path) and r["source_offset"] == -1 for r in kept)
    assert {r["domain"] for r in kept} == {"kommersant.ru"}


def test_saved_page_without_canonical_gets_a_file_url():
    path = DATA / "web/sr/silverfoxy__JSCryptoMinerStudy__bg.ac.rs.html"
    kept, _, _ = run(path)
    assert {r["page_url"] for r in kept} == {path.resolve().as_uri()}
    assert any(r["image_url"].startswith("file:///pic/") for r in kept)  # root-relative on a file URL


def test_saved_pages_bad_gzip_and_oversize(tmp_path):
    real = gzip.compress(page_bytes(DATA / "web/th/codelucas__newspaper__thai_article.html"))
    (tmp_path / "cut.html.gz").write_bytes(real[: len(real) // 2])
    kept, dropped, _ = run(tmp_path / "cut.html.gz")
    assert kept == [] and [d["drop_reason"] for d in dropped] == ["bad_gzip"]
    kept, dropped, _ = run(DATA / "web/th/codelucas__newspaper__thai_article.html", max_page_bytes=10_000)
    assert kept == [] and [d["drop_reason"] for d in dropped] == ["too_large"]
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(b"<p>" + b"a" * 30_000_000))
    kept, dropped, _ = run(bomb, max_page_bytes=1_000_000)
    assert [d["drop_reason"] for d in dropped] == ["too_large"]


def test_a_folder_of_saved_pages_through_the_local_executor(tmp_path):
    from mella.pipeline.local import run_part

    folder = tmp_path / "pages"
    folder.mkdir()
    for path in page_files()[:6]:
        shutil.copy(path, folder / path.name)
    warc, _ = build_warc([("https://e.com/bad", b"\x00\x01" * 1000),
                          ("https://e.com/ok", page_bytes(DATA / "web/ko/adbar__htmldate__test_set-1694328145.html"))])
    (folder / "crawl.warc.gz").write_bytes(warc)
    shards = resolve_inputs([str(folder)], reads="files")
    assert len(shards) == 7
    out = tmp_path / "run" / "collect"
    out.mkdir(parents=True)
    stage = CollectStage()
    markers = [run_part(stage, shard, i, str(out)) for i, shard in enumerate(shards)]
    tables = [pq.read_table(p) for p in sorted(out.glob("part-*.parquet"))]
    assert tables and all(t.schema.equals(CANDIDATES) for t in tables)
    assert sum(t.num_rows for t in tables) == sum(m["counters"].get("candidates", 0) for m in markers) > 0
    dropped = [pq.read_table(p) for p in sorted(out.rglob("_dropped/*.parquet"))]
    assert dropped and dropped[0].schema.equals(with_drop_reason(CANDIDATES))
    assert dropped[0].column("drop_reason").to_pylist() == ["binary"]
    assert {m["source"] for m in markers} == {s.uri for s in shards}  # per-input-file counts


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    handler = partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_warc_over_http(http_root):
    root, base = http_root
    shutil.copy(DATA / "web/other/allenai__dolma__sample-0000.warc.gz", root / "sample.warc.gz")
    allow = [base.removeprefix("http://")]  # the guard refuses loopback unless the server is named
    kept, dropped, counters = run(f"{base}/sample.warc.gz", allow_hosts=allow)
    assert len(kept) == 169 and dropped == []
    assert {r["source"] for r in kept} == {f"{base}/sample.warc.gz"}
    # A missing remote file is a counted skip (a crawl goes on without it); --strict makes it fatal.
    kept, dropped, counters = run(f"{base}/missing.warc.gz", allow_hosts=allow)
    assert kept == [] and counters["inputs_skipped.http_404"] == 1
    assert [d["drop_reason"] for d in dropped] == ["input_http_404"]
    with pytest.raises(MellaError, match=r"cannot read input http://127\.0\.0\.1:\d+/missing\.warc\.gz: http_404"):
        run(f"{base}/missing.warc.gz", allow_hosts=allow, strict=True)
    with pytest.raises(MellaError, match=r"cannot read input http://127\.0\.0\.1:\d+/sample\.warc\.gz: blocked_address"):
        run(f"{base}/sample.warc.gz")
