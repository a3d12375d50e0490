"""Issue 19: ``mella collect cc:<crawl>`` and ``mella cc-estimate`` against a local Common Crawl (tests/cccrawl.py)
served over loopback HTTP with Range requests and injected faults.

Expectations are computed from what the fixture wrote (its pages, the index parquet read locally with pyarrow),
not from mella's own selection code: a targeted harvest must give exactly the alts of the pages the index says
are in the wanted languages, byte for byte the rows the full-file harvest gives for those pages.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cccrawl import (
    CRAWL,
    CrawlPage,
    CrawlServer,
    LocalCrawl,
    build_crawl,
    corpus_pages,
    host_parts,
    replicate,
)
from mella.cli import main

CC = f"cc:{CRAWL}"
HTML = ("text/html", "application/xhtml+xml")
# What the registry says of the languages under test (languages.yaml: cc_languages, cc_tld_languages).
CODES = {"srp": "sr", "tha": "th"}
BOUND = {"rs": {"hrv": "sr", "bos": "sr", "hbs": "sr"}}


# -- the crawl ---------------------------------------------------------------------------------------------

def _pages() -> list[CrawlPage]:
    """The real pages, Serbian/Thai captures labelled as CLD2 labels them in the wild, and non-target filler."""
    corpus = corpus_pages()
    sr = next(p for p in corpus if p.url == "http://www.krstarica.com/")
    th = next(p for p in corpus if p.languages == "tha")
    variants = [
        CrawlPage("https://vesti.example.rs/latinica", sr.html, "hrv"),         # sr: Croatian on .rs
        CrawlPage("https://portal.example.rs/bosanski", sr.html, "bos,eng"),     # sr on .rs, primary too
        CrawlPage("https://news.example.rs/eng-first", sr.html, "eng,hbs"),      # sr on .rs, not primary
        CrawlPage("https://vijesti.example.hr/latinica", sr.html, "hrv"),        # not sr: Croatian off .rs
        CrawlPage("https://mixed.example.com/sr-second", sr.html, "eng,srp"),    # sr, not primary
        CrawlPage("https://xhtml.example.rs/strana", sr.html, "srp", "application/xhtml+xml"),
        CrawlPage("https://thai.example.com/third", th.html, "eng,fra,tha"),     # th, third detected
        CrawlPage("https://vesti.example.rs/gone", sr.html, "srp", "text/html", 404),       # not 200
        CrawlPage("https://vesti.example.rs/doc.pdf", b"%PDF-1.4\n%%EOF\n", "srp", "application/pdf"),
    ]
    filler = replicate([p for p in corpus if p.languages in ("rus", "kor", "vie", "ces")], 16, seed=3)
    return corpus + variants + filler


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> LocalCrawl:
    return build_crawl(tmp_path_factory.mktemp("cc"), _pages(), warc_files=5, row_group_size=4, seed=2)


@pytest.fixture(scope="module")
def shared(crawl):
    """One server for the runs that inject no fault (compared by path relative to the base)."""
    with CrawlServer(crawl.root) as srv:
        yield srv


@pytest.fixture
def server(crawl):
    """A fresh server for a test that injects faults or counts requests."""
    with CrawlServer(crawl.root) as srv:
        yield srv


# -- expectations from the fixture alone -------------------------------------------------------------------

def index_files(crawl) -> list[str]:
    return [p for p in crawl.index_paths if "/subset=warc/" in p]


def index_rows(crawl) -> list[dict]:
    return [dict(r, index_file=rel) for rel in index_files(crawl) for r in pq.read_table(crawl.root / rel).to_pylist()]


def language_of(row: dict, match: str = "any") -> str | None:
    """The language tag a row counts for under sr,th (the registry's codes), by hand."""
    if row["fetch_status"] != 200 or row["content_mime_detected"] not in HTML or not row["content_languages"]:
        return None
    codes = row["content_languages"].split(",")
    for code in codes[:1] if match == "primary" else codes:
        tag = CODES.get(code) or BOUND.get(row["url_host_tld"], {}).get(code)
        if tag:
            return tag
    return None


def selected(crawl, match: str = "any", tlds: set[str] | None = None) -> list[dict]:
    return [r for r in index_rows(crawl) if language_of(r, match) and (tlds is None or r["url_host_tld"] in tlds)]


def html_200(crawl) -> set[str]:
    return {p.url for p in crawl.pages if p.status == 200 and p.mime in HTML}


# -- running collect ------------------------------------------------------------------------------------

@dataclass
class Run:
    rc: int
    rows: list[dict]
    dropped: list[dict]
    stats: dict
    base: str

    @property
    def counters(self) -> dict:
        return self.stats.get("counters", {})

    def keys(self) -> Counter:
        """(page_url, image_url, alt, source relative to the base, source_offset) of every kept row."""
        return Counter((r["page_url"], r["image_url"], r["alt"], r["source"].removeprefix(self.base),
                        r["source_offset"]) for r in self.rows)

    def pages(self) -> set[str]:
        return {r["page_url"] for r in self.rows}

    def sources(self) -> set[str]:
        return {r["source"].removeprefix(self.base) for r in self.rows}


def _read(folder: Path) -> list[dict]:
    return [r for p in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]


def collect(out: Path, *args: str, srv: CrawlServer | None = None, base: str | None = None,
            inputs: tuple[str, ...] = (CC,)) -> Run:
    """``mella collect`` in this process, one worker; over ``srv`` or from the local ``base``."""
    where = ["--cc-base", srv.base_url, "--allow-hosts", srv.host_port] if srv else ["--cc-base", base]
    rc = main(["collect", *inputs, "--out", str(out), "--workers", "1", *where, *args])
    stats = json.loads((out / "stats.json").read_text()) if (out / "stats.json").exists() else {}
    prefix = srv.base_url if srv else str(Path(base).resolve()) + "/"
    return Run(rc, _read(out), _read(out / "_dropped"), stats, prefix)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mella: ")]


@pytest.fixture(scope="module")
def full(crawl, shared, tmp_path_factory) -> Run:
    run = collect(tmp_path_factory.mktemp("full") / "out", srv=shared)
    assert run.rc == 0
    return run


@pytest.fixture(scope="module")
def targeted(crawl, shared, tmp_path_factory) -> Run:
    run = collect(tmp_path_factory.mktemp("targeted") / "out", "--langs", "sr,th", srv=shared)
    assert run.rc == 0
    return run


def restricted(run: Run, pages: set[str]) -> Counter:
    return Counter({k: n for k, n in run.keys().items() if k[0] in pages})


# -- 1. what a targeted harvest yields ------------------------------------------------------------------

def test_the_crawl_has_what_the_tests_rely_on(crawl):
    rows = selected(crawl)
    assert len(index_files(crawl)) == 2 and len(crawl.warc_paths) == 5
    assert {language_of(r) for r in rows} == {"sr", "th"}
    assert 0 < len(rows) < len(html_200(crawl)) / 3  # the target is a small share
    assert {r["url"] for r in rows} == crawl.urls_in(set(CODES)) | crawl.urls_in(set(BOUND["rs"]), tlds={"rs"})


def test_full_mode_yields_the_rows_of_every_200_html_page(crawl, full):
    assert full.pages() == html_200(crawl)
    assert full.sources() == set(crawl.warc_paths)
    by_url = {r.url: r for r in crawl.records}
    for page_url, _, _, source, offset in full.keys():
        assert (source, offset) == (by_url[page_url].warc_filename, by_url[page_url].warc_record_offset)


def test_targeted_harvest_yields_exactly_the_selected_pages(crawl, targeted):
    want = crawl.urls_in(set(CODES)) | crawl.urls_in(set(BOUND["rs"]), tlds={"rs"})
    assert targeted.pages() == want
    assert "https://vijesti.example.hr/latinica" not in want and "https://vesti.example.rs/latinica" in want
    assert targeted.dropped == []


def test_targeted_rows_are_the_full_rows_of_those_pages(crawl, full, targeted):
    assert targeted.keys() == restricted(full, targeted.pages())
    by_url = {r.url: r for r in crawl.records}
    for row in targeted.rows:  # source is the WARC file, source_offset the index's record offset
        rec = by_url[row["page_url"]]
        assert row["source"] == targeted.base + rec.warc_filename
        assert row["source_offset"] == rec.warc_record_offset
    # and every other column too
    strip = [{**r, "source": r["source"].removeprefix(targeted.base)} for r in targeted.rows]
    full_rows = [{**r, "source": r["source"].removeprefix(full.base)} for r in full.rows
                 if r["page_url"] in targeted.pages()]
    assert sorted(map(repr, strip)) == sorted(map(repr, full_rows))


def test_primary_match_takes_only_the_first_detected_language(crawl, shared, full, tmp_path):
    run = collect(tmp_path / "out", "--langs", "sr,th", "--cc-match", "primary", srv=shared)
    want = {r["url"] for r in selected(crawl, "primary")}
    assert run.rc == 0 and run.pages() == want
    assert {"https://news.example.rs/eng-first", "https://mixed.example.com/sr-second",
            "https://thai.example.com/third"}.isdisjoint(want)
    assert "https://portal.example.rs/bosanski" in want
    assert run.keys() == restricted(full, want)


# -- 2. WAT files and refusals ---------------------------------------------------------------------------

def test_the_wat_files_of_a_crawl(crawl, shared, tmp_path):
    run = collect(tmp_path / "out", srv=shared, inputs=(f"{CC}/wat",))
    assert run.rc == 0 and len(run.rows) > 0
    assert run.sources() == set(crawl.wat_paths)
    assert all(r["source"].endswith(".warc.wat.gz") for r in run.rows)


def test_langs_with_wat_is_refused_in_one_line(shared, tmp_path, capsys):
    run = collect(tmp_path / "out", "--langs", "sr", srv=shared, inputs=(f"{CC}/wat",))
    lines = error_lines(capsys.readouterr().err)
    assert run.rc != 0 and len(lines) == 1
    assert "--langs" in lines[0] and f"cc:{CRAWL}" in lines[0]


def test_langs_with_a_file_input_is_refused(shared, tmp_path, capsys):
    page = Path(__file__).parents[1] / "data" / "web" / "sr" / "silverfoxy__JSCryptoMinerStudy__bg.ac.rs.html"
    run = collect(tmp_path / "out", "--langs", "sr", srv=shared, inputs=(CC, str(page)))
    lines = error_lines(capsys.readouterr().err)
    assert run.rc != 0 and len(lines) == 1 and str(page) in lines[0] and "--langs" in lines[0]


@pytest.mark.parametrize("name", ["cc:foo", "cc:CC-MAIN-2025-13/pages", "cc:CC-MAIN-25-13"])
def test_a_bad_crawl_name_is_refused_naming_the_form(name, server, tmp_path, capsys):
    run = collect(tmp_path / "out", srv=server, inputs=(name,))
    lines = error_lines(capsys.readouterr().err)
    assert run.rc != 0 and len(lines) == 1
    assert name in lines[0] and "cc:CC-MAIN-YYYY-WW" in lines[0]
    assert server.requests == []


def test_a_crawl_given_to_a_row_stage_is_refused(tmp_path, capsys):
    rc = main(["filter", CC, "--out", str(tmp_path / "out")])
    lines = error_lines(capsys.readouterr().err)
    assert rc != 0 and len(lines) == 1 and CC in lines[0] and "collect" in lines[0]


def test_a_bad_shard_is_refused_before_any_request(server, tmp_path, capsys):
    run = collect(tmp_path / "out", "--cc-shard", "2/2", srv=server)
    lines = error_lines(capsys.readouterr().err)
    assert run.rc != 0 and len(lines) == 1 and "2/2" in lines[0] and "i/n" in lines[0]
    assert server.requests == []


# -- 3. faults -------------------------------------------------------------------------------------------

def test_an_index_file_answering_503_twice_is_retried(crawl, server, targeted, tmp_path):
    first = index_files(crawl)[0]
    server.fail(first, times=2)
    run = collect(tmp_path / "out", "--langs", "sr,th", srv=server)
    assert run.rc == 0 and run.keys() == targeted.keys() and run.dropped == []
    assert sum(p == first for p, _ in server.requests) >= 3
    assert not any(k.startswith("inputs_skipped") for k in run.counters)


def _busiest_warc(crawl, rows: list[dict]) -> str:
    """The WARC file holding the most of these rows."""
    return Counter(r["warc_filename"] for r in rows).most_common(1)[0][0]


def test_a_warc_reset_mid_body_is_retried_in_full_mode(crawl, server, full, tmp_path):
    warc = crawl.warc_paths[1]
    server.reset(warc, times=1, after_bytes=100)
    run = collect(tmp_path / "out", srv=server)
    assert run.rc == 0 and run.keys() == full.keys() and run.dropped == []
    assert sum(p == warc for p, _ in server.requests) >= 2


def test_a_warc_reset_mid_body_is_retried_in_targeted_mode(crawl, server, targeted, tmp_path):
    warc = _busiest_warc(crawl, selected(crawl))
    server.reset(warc, times=1, after_bytes=100)
    run = collect(tmp_path / "out", "--langs", "sr,th", srv=server)
    assert run.rc == 0 and run.keys() == targeted.keys() and run.dropped == []
    ranges = [r for p, r in server.requests if p == warc]
    assert len(ranges) > len(set(ranges))  # the broken range was asked for again
    assert not any(k.startswith("records_unreachable") for k in run.counters)


def test_a_truncated_warc_in_targeted_mode_drops_only_the_records_past_the_cut(crawl, server, targeted, tmp_path):
    rows = selected(crawl)
    warc = _busiest_warc(crawl, rows)
    mine = sorted((r for r in rows if r["warc_filename"] == warc), key=lambda r: r["warc_record_offset"])
    assert len(mine) >= 3  # one kept, one cut in half, one past the end (416)
    keep = mine[1]["warc_record_offset"] + mine[1]["warc_record_length"] // 2
    server.truncate(warc, keep)
    run = collect(tmp_path / "out", "--langs", "sr,th", srv=server)
    lost = {r["url"] for r in mine[1:]}
    assert run.rc == 0
    assert run.keys() == restricted(targeted, targeted.pages() - lost)
    assert {d["page_url"] for d in run.dropped} == lost
    assert {d["drop_reason"] for d in run.dropped} == {"truncated"}
    assert run.counters.get("dropped.truncated") == len(lost)
    assert not any(k.startswith(("records_unreachable", "inputs_skipped")) for k in run.counters)


def test_a_truncated_warc_in_full_mode_keeps_every_other_page(crawl, server, full, tmp_path):
    warc = crawl.warc_paths[2]
    recs = sorted((r for r in crawl.records if r.warc_filename == warc), key=lambda r: r.warc_record_offset)
    responses = [r for r in recs if r.url in full.pages()]
    cut = responses[len(responses) // 2]
    keep = cut.warc_record_offset + cut.warc_record_length // 2
    server.truncate(warc, keep)
    run = collect(tmp_path / "out", srv=server)
    lost = {r.url for r in recs if r.warc_record_offset + r.warc_record_length > keep}
    assert run.rc == 0
    assert run.keys() == restricted(full, full.pages() - lost)
    assert run.dropped and {d["drop_reason"] for d in run.dropped} == {"truncated"}
    assert {d["source"].removeprefix(run.base) for d in run.dropped} == {warc}
    assert run.counters.get("dropped.truncated") == len(run.dropped)


def test_a_missing_warc_is_a_counted_skip(crawl, server, full, tmp_path):
    warc = crawl.warc_paths[1]
    server.missing(warc)
    run = collect(tmp_path / "out", srv=server)
    assert run.rc == 0
    assert run.counters.get("inputs_skipped.http_404") == 1
    [drop] = run.dropped
    assert drop["drop_reason"] == "input_http_404" and drop["source"] == server.url(warc)
    assert run.keys() == Counter({k: n for k, n in full.keys().items() if k[3] != warc})
    assert run.sources() == set(crawl.warc_paths) - {warc}


def test_a_missing_warc_with_strict_stops_in_one_line(crawl, server, tmp_path, capsys):
    warc = crawl.warc_paths[1]
    server.missing(warc)
    run = collect(tmp_path / "out", "--strict", srv=server)
    err = capsys.readouterr().err
    lines = error_lines(err)
    assert run.rc != 0 and len(lines) == 1
    assert server.url(warc) in lines[0] and "404" in lines[0]
    assert "Traceback" not in err


def test_a_missing_index_file_in_targeted_mode_keeps_the_other_files_pages(crawl, server, targeted, tmp_path):
    first, second = index_files(crawl)
    server.missing(first)
    run = collect(tmp_path / "out", "--langs", "sr,th", srv=server)
    assert run.rc == 0 and run.counters.get("inputs_skipped.http_404") == 1
    in_second = {r["url"] for r in selected(crawl) if r["index_file"] == second}
    assert in_second and run.pages() == in_second
    assert run.keys() == restricted(targeted, in_second)
    assert [d["drop_reason"] for d in run.dropped] == ["input_http_404"]


# -- 4. rerun --------------------------------------------------------------------------------------------

def _markers(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.glob("part-*._SUCCESS")}


def _rerun_reads_again(crawl, server, full, out: Path, warc: str) -> None:
    """Run with ``warc`` unreachable, lift the fault, rerun: only its part runs again, and its rows appear."""
    first = collect(out, srv=server)
    assert first.rc == 0 and first.sources() == set(crawl.warc_paths) - {warc}
    before = _markers(out)
    server.fail(warc, times=0)
    server.reset(warc, times=0)
    server.reset_stats()
    again = collect(out, srv=server)
    assert again.rc == 0 and again.keys() == full.keys() and again.stats["dropped"] == 0
    assert again.stats["parts_run"] == 1 and again.stats["parts_skipped"] == len(crawl.warc_paths) - 1
    warcs = {p for p, _ in server.requests if p.endswith(".warc.gz")}
    assert warcs == {warc}
    after = _markers(out)
    changed = {name for name in after if after[name] != before.get(name)}
    assert len(changed) == 1


def test_a_warc_whose_connection_keeps_breaking_is_read_again_on_rerun(crawl, server, full, tmp_path):
    warc = crawl.warc_paths[1]
    server.reset(warc, times=50, after_bytes=0)
    _rerun_reads_again(crawl, server, full, tmp_path / "out", warc)


def test_a_reopened_part_leaves_no_stale_dropped_rows(crawl, server, tmp_path):
    warc = crawl.warc_paths[1]
    out = tmp_path / "out"
    server.reset(warc, times=50, after_bytes=0)
    first = collect(out, srv=server)
    assert [d["drop_reason"] for d in first.dropped] == ["input_unreachable"]
    server.reset(warc, times=0)
    again = collect(out, srv=server)
    assert again.stats["dropped"] == 0
    assert again.dropped == []


def test_a_warc_answering_503_past_the_retries_is_read_again_on_rerun(crawl, server, full, tmp_path):
    warc = crawl.warc_paths[1]
    server.fail(warc, times=50)
    _rerun_reads_again(crawl, server, full, tmp_path / "out", warc)


def _index_of(crawl) -> dict[str, set[str]]:
    return {rel: {r["url"] for r in index_rows(crawl) if r["index_file"] == rel} for rel in index_files(crawl)}


def _one_owner(crawl) -> str:
    """A WARC file whose selected records all come from one index file while the other index file selects
    pages too: failing that WARC re-opens one part and not the other."""
    owners = _index_of(crawl)
    rows = selected(crawl)
    for warc in crawl.warc_paths:
        hit = {rel for rel, urls in owners.items() for r in rows if r["warc_filename"] == warc and r["url"] in urls}
        rest = {rel for rel, urls in owners.items() for r in rows if r["warc_filename"] != warc and r["url"] in urls}
        if len(hit) == 1 and rest - hit:
            return warc
    raise AssertionError("the test crawl has no WARC file whose selected records lie in one index file")


def test_records_that_stayed_unreachable_are_read_again_on_rerun(crawl, server, targeted, tmp_path):
    warc = _one_owner(crawl)
    args = ("--langs", "sr,th")
    rows = selected(crawl)
    lost = {r["url"] for r in rows if r["warc_filename"] == warc}
    want = {r["url"] for r in rows}
    out = tmp_path / "out"
    server.fail(warc, times=50)
    first = collect(out, *args, srv=server)
    assert first.rc == 0 and first.pages() == want - lost
    assert {d["page_url"] for d in first.dropped} == lost
    assert {d["drop_reason"] for d in first.dropped} == {"unreachable"}
    assert first.counters.get("records_unreachable.http_503") == len(lost)
    server.fail(warc, times=0)
    server.reset_stats()
    again = collect(out, *args, srv=server)
    assert again.rc == 0 and again.keys() == restricted(targeted, want) and again.stats["dropped"] == 0
    assert again.stats["parts_run"] == 1 and again.stats["parts_skipped"] == 1
    [owner] = {rel for rel, urls in _index_of(crawl).items() if lost & urls}
    assert {p for p, _ in server.requests if p.endswith(".parquet")} == {owner}
    assert {p for p, _ in server.requests if p.endswith(".warc.gz")} == {
        r["warc_filename"] for r in rows if r["index_file"] == owner}


def test_an_index_file_answering_503_past_the_retries_is_read_again_on_rerun(crawl, server, targeted, tmp_path):
    first_file = index_files(crawl)[0]
    out = tmp_path / "out"
    server.fail(first_file, times=50)
    first = collect(out, "--langs", "sr,th", srv=server)
    assert first.rc == 0 and first.counters.get("inputs_skipped.unreachable") == 1
    server.fail(first_file, times=0)
    server.reset_stats()
    again = collect(out, "--langs", "sr,th", srv=server)
    assert again.rc == 0 and again.keys() == targeted.keys()
    assert {p for p, _ in server.requests if p.endswith(".parquet")} == {first_file}


# -- 5. sampling and sharding ----------------------------------------------------------------------------

def _warcs_requested(srv: CrawlServer) -> set[str]:
    return {p for p, _ in srv.requests if p.endswith(".warc.gz")}


def test_cc_files_reads_a_seeded_sample_of_the_warc_files(crawl, server, full, tmp_path):
    run = collect(tmp_path / "a", "--cc-files", "2", "--cc-seed", "7", srv=server)
    sample = run.sources()
    assert run.rc == 0 and len(sample) == 2 and sample <= set(crawl.warc_paths)
    assert _warcs_requested(server) == sample
    assert run.keys() == Counter({k: n for k, n in full.keys().items() if k[3] in sample})
    server.reset_stats()
    same = collect(tmp_path / "b", "--cc-files", "2", "--cc-seed", "7", srv=server)
    assert same.keys() == run.keys() and _warcs_requested(server) == sample
    others = {frozenset(collect(tmp_path / f"s{seed}", "--cc-files", "2", "--cc-seed", str(seed),
                                srv=server).sources()) for seed in (1, 2, 3)}
    assert others - {frozenset(sample)}  # another seed, another sample


def test_cc_files_limits_a_targeted_harvest_to_the_sampled_files(crawl, server, targeted, tmp_path):
    sample = collect(tmp_path / "full", "--cc-files", "2", "--cc-seed", "5", srv=server).sources()
    server.reset_stats()
    run = collect(tmp_path / "out", "--langs", "sr,th", "--cc-files", "2", "--cc-seed", "5", srv=server)
    want = {r["url"] for r in selected(crawl) if r["warc_filename"] in sample}
    assert run.rc == 0 and want and run.pages() == want and want < targeted.pages()
    assert run.keys() == restricted(targeted, want)
    assert _warcs_requested(server) <= sample
    assert run.counters["index.records_selected"] == len(want)


@pytest.mark.parametrize("langs", [(), ("--langs", "sr,th")], ids=["full", "targeted"])
def test_shards_are_disjoint_and_make_up_the_whole(langs, crawl, shared, full, targeted, tmp_path):
    whole = targeted if langs else full
    parts = [collect(tmp_path / f"shard{i}", *langs, "--cc-shard", f"{i}/2", srv=shared) for i in range(2)]
    assert all(p.rc == 0 and p.rows for p in parts)
    assert not parts[0].pages() & parts[1].pages()
    if not langs:  # full mode shares out WARC files (targeted: index files, whose records may share a WARC)
        assert not parts[0].sources() & parts[1].sources()
    assert parts[0].keys() + parts[1].keys() == whole.keys()
    per_part = [set(p.stats["per_part"][k]["source"] for k in p.stats["per_part"]) for p in parts]
    assert not per_part[0] & per_part[1]


# -- 6. bytes --------------------------------------------------------------------------------------------

def test_targeted_reads_fewer_bytes_and_counts_them(crawl, server, tmp_path):
    collect(tmp_path / "full", srv=server)
    full_bytes = server.bytes_sent
    server.reset_stats()
    run = collect(tmp_path / "targeted", "--langs", "sr,th", srv=server)
    assert run.rc == 0
    assert server.bytes_sent < full_bytes / 2
    # what the parts counted is what the server sent them (the paths lists are read before the parts)
    parts_bytes = sum(n for p, n in server.bytes_by_path.items() if not p.endswith(".paths.gz"))
    parts_requests = sum(not p.endswith(".paths.gz") for p, _ in server.requests)
    assert run.counters["cc.bytes_read"] == parts_bytes
    assert run.counters["cc.requests"] == parts_requests
    assert all(r for p, r in server.requests if not p.endswith(".paths.gz"))  # all range requests
    want = selected(crawl)
    assert run.counters["index.records_selected"] == len(want)
    assert run.counters["records_read"] == len(want)
    assert run.counters["index.rows_scanned"] == len(index_rows(crawl))
    assert run.counters["index.row_groups"] == sum(pq.ParquetFile(crawl.root / rel).num_row_groups
                                                   for rel in index_files(crawl))
    # the WARC bytes read are no more than the selected records plus the gaps coalescing bridged
    warc_bytes = sum(n for p, n in server.bytes_by_path.items() if p.endswith(".warc.gz"))
    assert sum(r["warc_record_length"] for r in want) <= warc_bytes < sum(
        (crawl.root / w).stat().st_size for w in crawl.warc_paths)


# -- 7. row-group pruning --------------------------------------------------------------------------------

def test_cc_tlds_prunes_row_groups_by_their_statistics(crawl, shared, targeted, tmp_path):
    run = collect(tmp_path / "out", "--langs", "sr,th", "--cc-tlds", "rs", srv=shared)
    want = {r["url"] for r in selected(crawl, tlds={"rs"})}
    assert run.rc == 0 and want and run.pages() == want
    assert all(host_parts(u)["url_host_tld"] == "rs" for u in run.pages())
    assert run.keys() == restricted(targeted, want)
    assert run.counters["index.row_groups_pruned"] > 0
    assert run.counters["index.rows_scanned"] < len(index_rows(crawl))


def test_croatian_off_rs_is_not_serbian(crawl, shared, tmp_path):
    run = collect(tmp_path / "out", "--langs", "sr", "--cc-tlds", "hr", srv=shared)
    assert run.rc == 0 and run.rows == [] and run.counters["index.records_selected"] == 0
    assert "https://vijesti.example.hr/latinica" in html_200(crawl)


# -- 8. local base ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("langs", [(), ("--langs", "sr,th")], ids=["full", "targeted"])
def test_a_local_crawl_folder_gives_the_same_rows(langs, crawl, full, targeted, tmp_path):
    run = collect(tmp_path / "out", *langs, base=str(crawl.root))
    over_http = targeted if langs else full
    assert run.rc == 0 and run.keys() == over_http.keys()
    assert all(r["source"].startswith(str(crawl.root.resolve()) + "/crawl-data/") for r in run.rows)


# -- 9. cc-estimate --------------------------------------------------------------------------------------

def _estimate(srv, capsys, *args) -> dict:
    capsys.readouterr()
    rc = main(["cc-estimate", CC, "--langs", "sr,th", "--cc-base", srv.base_url, "--allow-hosts", srv.host_port,
               "--json", *args])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_cc_estimate_counts_what_the_index_selects(crawl, shared, capsys):
    result = _estimate(shared, capsys)
    assert (result["crawl"], result["index_files"], result["index_files_scanned"], result["scale"]) == (
        CRAWL, 2, 2, 1)
    rows = selected(crawl)
    for tag in ("sr", "th"):
        mine = [r for r in rows if language_of(r) == tag]
        lang = result["languages"][tag]
        assert lang["pages"] == len(mine) > 0
        assert lang["record_bytes"] == sum(r["warc_record_length"] for r in mine)
        assert lang["warc_files"] == len({r["warc_filename"] for r in mine})
        assert lang["sampled_pages"] == min(20, len(mine)) and lang["alts_per_page"] > 0
    assert result["rows_scanned"] == len(index_rows(crawl))


def test_cc_estimate_from_one_index_file_scales_up(crawl, shared, capsys):
    result = _estimate(shared, capsys, "--index-files", "1")
    assert result["index_files_scanned"] == 1 and result["index_files"] == 2 and result["scale"] == 2
    per_file = {rel: len({r["url"] for r in selected(crawl) if r["index_file"] == rel}) for rel in index_files(crawl)}
    pages = result["languages"]["sr"]["pages"] + result["languages"]["th"]["pages"]
    assert pages in {2 * n for n in per_file.values()}


def test_cc_estimate_prints_a_table(shared, capsys):
    rc = main(["cc-estimate", CC, "--langs", "sr,th", "--cc-base", shared.base_url, "--allow-hosts",
               shared.host_port])
    out = capsys.readouterr().out
    assert rc == 0 and CRAWL in out and "\nsr " in out and "\nth " in out


# -- 10. the cc extra ------------------------------------------------------------------------------------

def test_an_s3_base_without_s3fs_names_the_extra(tmp_path, capsys):
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed")
    rc = main(["collect", CC, "--out", str(tmp_path / "out"), "--cc-base", "s3://commoncrawl/"])
    lines = error_lines(capsys.readouterr().err)
    assert rc != 0 and len(lines) == 1 and "mella[cc]" in lines[0]
