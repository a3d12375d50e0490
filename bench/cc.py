"""Benchmark: a language-targeted Common Crawl harvest (index + range reads) against a full scan, same crawl, same run.

    .venv/bin/python bench/cc.py [--pages 2000] [--langs sr,th] [--target-share 0.05] [--workers 2] [--repeat 3]
                           [--workdir DIR] [--quick]

Issue 19's measure: on a local crawl where the target languages are about 5 % of the pages, the bytes read
and the wall time per kept target-language alt, targeted (``mella collect cc:<crawl> --langs ...``) against
a full scan (``mella collect cc:<crawl>``, every WARC file), in one run. Target: >= 10x fewer bytes.

The crawl (tests/cccrawl.py, Common Crawl's bucket layout) is built from the real pages of tests/data/web:
the pages the index would select for ``--langs`` (Common Crawl's language codes mapped through the language
registry, as ``collect`` maps them) are replicated to ``--target-share`` of ``--pages``, the other pages to
the rest, under distinct URLs, shuffled; about 100 pages per WARC file, 4 index files, 256-row row groups.
A loopback HTTP server with Range support serves it and counts the bytes and requests each run costs (the
index files included for the targeted run). Both modes run ``mella collect`` then ``mella filter --langs``
as a user would (subprocesses, the same ``--workers``); a "kept target-language alt" is a row of the
filter's output. Collect time and filter time are reported apart; the per-alt figures use collect time:
wall seconds, the median of ``--repeat`` interleaved rounds, and CPU seconds of mella and its workers.
Wall time includes the process and worker start (a second or two here) that a crawl of any size pays
once: at a few thousand pages it is most of the targeted run, so the seconds ratio grows with the crawl
while the bytes ratio (set by the target share) does not. The table also shows the time above a floor,
a targeted collect that selects nothing (``--cc-tlds invalid``), run in the same rounds.

The index files here (about 35 KB each) are smaller than the 64 KiB tail the range reader fetches first,
so each costs one request and is read whole (whatever row groups the selection prunes); on Common
Crawl's index files (hundreds of MB) the index cost is that tail plus the column chunks of the row
groups read, a far smaller share of the file.

The check: the targeted run must keep exactly the alts that the full run keeps on the pages the index
selects (compared as a multiset of (page_url, alt)); the count of differences should be 0. The full run
may keep more alts on other pages (an alt the filter finds Serbian on a Russian page): those are what the
index cannot see, reported as ``full_only_elsewhere``, not as differences.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import cccrawl  # noqa: E402 - tests/cccrawl.py, import-light by design

MELLA = Path(sys.executable).with_name("mella")
MODES = ("full", "targeted")
# A targeted run that selects nothing (no host of the crawl is under this reserved TLD): the start-up floor.
FLOOR_TLD = "invalid"


def target_predicate(langs: list[str]):
    """Whether a page is one the index selects for ``langs`` (match ``any``): its detected codes against
    the registry's ``cc_languages``, and ``cc_tld_languages`` on their TLD (hrv on .rs counts as Serbian)."""
    from mella.collect.ccindex import selection_for

    sel = selection_for(langs)

    def is_target(page: cccrawl.CrawlPage) -> bool:
        if page.status != 200 or page.mime not in cccrawl.HTML_MIMES or not page.languages:
            return False
        bound = sel.tld_languages.get(str(cccrawl.host_parts(page.url)["url_host_tld"]), {})
        return any(code in sel.languages or code in bound for code in page.languages.split(","))

    return is_target


def build(root: Path, pages: int, langs: list[str], share: float, seed: int) -> tuple[cccrawl.LocalCrawl, set[str]]:
    """The crawl under ``root`` and the URLs of its target-language pages."""
    is_target = target_predicate(langs)
    corpus = cccrawl.corpus_pages()
    targets = [p for p in corpus if is_target(p)]
    others = [p for p in corpus if not is_target(p)]
    if not targets:
        raise SystemExit(f"no page of tests/data/web is in {','.join(langs)} for the index")
    n_target = max(1, round(pages * share))
    chosen = cccrawl.replicate(targets, n_target, seed=seed) + cccrawl.replicate(others, pages - n_target,
                                                                                    seed=seed + 1)
    random.Random(seed).shuffle(chosen)
    urls = [p.url for p in chosen]
    assert len(set(urls)) == len(urls), "replicated URLs collide"
    crawl = cccrawl.build_crawl(root, chosen, warc_files=max(1, pages // 100), index_files=4,
                                row_group_size=256, seed=seed)
    return crawl, {p.url for p in chosen if is_target(p)}


def run(cmd: list[str]) -> tuple[float, float]:
    """Run a mella command; (wall seconds, CPU seconds of it and its worker processes). The process start
    is included, alike for both modes."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed ({os.waitstatus_to_exitcode(status)}):\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def rows(folder: Path, columns: list[str]) -> list[dict]:
    import pyarrow.parquet as pq

    return [r for part in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(part, columns=columns).to_pylist()]


def counters(folder: Path) -> dict:
    stats = json.loads((folder / "stats.json").read_text())
    return stats.get("counters", stats)


def collect(mode: str, crawl: cccrawl.LocalCrawl, server: cccrawl.CrawlServer, out: Path, args) -> dict:
    """One collect run of ``mode`` into ``out``: its times and what the server sent for it."""
    cmd = [str(MELLA), "collect", f"cc:{crawl.crawl}", "--cc-base", server.base_url,
           "--allow-hosts", server.host_port, "--out", str(out), "--workers", str(args.workers), "--overwrite"]
    if mode != "full":
        cmd += ["--langs", args.langs]
    if mode == "floor":
        cmd += ["--cc-tlds", FLOOR_TLD]
    server.reset_stats()
    wall, cpu = run(cmd)
    index = sum(n for p, n in server.bytes_by_path.items() if p.startswith("cc-index/"))
    return {"collect_s": wall, "collect_cpu_s": cpu, "bytes": server.bytes_sent, "requests": len(server.requests),
            "index_bytes": index}


def harvest(crawl: cccrawl.LocalCrawl, server: cccrawl.CrawlServer, work: Path, args) -> dict[str, dict]:
    """Both modes: ``--repeat`` collect rounds, interleaved (the order flips each round, so load from other
    jobs falls on both alike; the median time is kept), then the filter once over each output (timed apart)."""
    import statistics

    order = (*MODES, "floor")
    runs: dict[str, list[dict]] = {mode: [] for mode in order}
    for i in range(args.repeat):
        for mode in order if i % 2 == 0 else order[::-1]:
            runs[mode].append(collect(mode, crawl, server, work / f"{mode}-collect", args))
    floor = statistics.median(x["collect_s"] for x in runs.pop("floor"))
    res = {}
    for mode, rounds in runs.items():
        if len({(r["bytes"], r["requests"]) for r in rounds}) != 1:
            print(f"note: {mode} bytes/requests differ between rounds: "
                  f"{[(r['bytes'], r['requests']) for r in rounds]}")
        r = dict(rounds[-1])
        r["collect_s"] = statistics.median(x["collect_s"] for x in rounds)
        r["collect_cpu_s"] = statistics.median(x["collect_cpu_s"] for x in rounds)
        r["collect_s_rounds"] = [x["collect_s"] for x in rounds]
        r["floor_s"] = floor
        collect_out, filter_out = work / f"{mode}-collect", work / f"{mode}-filter"
        r["counters"] = counters(collect_out)
        r["alts_collected"], r["pages_read"] = len(rows(collect_out, ["page_url"])), r["counters"]["pages_read"]
        r["filter_s"], _ = run([str(MELLA), "filter", str(collect_out), "--langs", args.langs, "--out",
                                str(filter_out), "--workers", str(args.workers), "--overwrite"])
        r["kept_rows"] = rows(filter_out, ["page_url", "alt", "lang"])
        r["kept"] = len(r["kept_rows"])
        res[mode] = r
    return res


def compare(full: dict, targeted: dict, target_urls: set[str]) -> dict:
    """The targeted run's kept alts against the full run's on the target pages (multisets of (page_url, alt))."""
    mine = Counter((r["page_url"], r["alt"]) for r in targeted["kept_rows"])
    theirs = Counter((r["page_url"], r["alt"]) for r in full["kept_rows"] if r["page_url"] in target_urls)
    elsewhere = sum(1 for r in full["kept_rows"] if r["page_url"] not in target_urls)
    off_target = sum(1 for r in targeted["kept_rows"] if r["page_url"] not in target_urls)
    return {"only_targeted": sum((mine - theirs).values()), "only_full": sum((theirs - mine).values()),
            "full_only_elsewhere": elsewhere, "targeted_off_target_pages": off_target}


def report(res: dict, cmp: dict, n_target_pages: int, args) -> dict:
    """Print the table; return the figures for bench/results/cc.json."""
    for r in res.values():
        r["bytes_per_kept"] = r["bytes"] / max(r["kept"], 1)
        r["s_per_kept"] = r["collect_s"] / max(r["kept"], 1)
        r["s_per_kept_above_floor"] = max(r["collect_s"] - r["floor_s"], 0) / max(r["kept"], 1)
        r["bytes_per_target_page"] = r["bytes"] / n_target_pages
        r["requests_per_target_page"] = r["requests"] / n_target_pages
    print(f"\n{'':28s}{'full':>16s}{'targeted':>16s}")
    lines = [("pages read", "pages_read", "{:,}"), ("bytes read", "bytes", "{:,}"),
             ("  of which index", "index_bytes", "{:,}"), ("requests", "requests", "{:,}"),
             ("collect seconds (wall)", "collect_s", "{:.2f}"),
             ("collect CPU seconds", "collect_cpu_s", "{:.2f}"), ("filter seconds (wall)", "filter_s", "{:.2f}"),
             ("alts collected", "alts_collected", "{:,}"), ("kept target alts", "kept", "{:,}"),
             ("bytes per kept alt", "bytes_per_kept", "{:,.0f}"), ("ms per kept alt", "s_per_kept", None),
             ("  above start-up floor", "s_per_kept_above_floor", None)]
    for label, key, fmt in lines:
        cells = [f"{res[m][key] * 1000:.3f}" if fmt is None else fmt.format(res[m][key]) for m in MODES]
        print(f"{label:28s}" + "".join(f"{c:>16s}" for c in cells))
    full, tgt = res["full"], res["targeted"]
    ratios = {"bytes_per_kept": full["bytes_per_kept"] / tgt["bytes_per_kept"],
              "s_per_kept": full["s_per_kept"] / tgt["s_per_kept"],
              "s_per_kept_above_floor": full["s_per_kept_above_floor"] / max(tgt["s_per_kept_above_floor"], 1e-9),
              "bytes": full["bytes"] / tgt["bytes"], "collect_s": full["collect_s"] / tgt["collect_s"]}
    print(f"ratio full/targeted: bytes per kept alt {ratios['bytes_per_kept']:.1f}x, "
          f"seconds per kept alt {ratios['s_per_kept']:.1f}x, above the floor {ratios['s_per_kept_above_floor']:.1f}x  "
          f"(bytes {ratios['bytes']:.1f}x, collect time {ratios['collect_s']:.1f}x)")
    print(f"start-up floor: {full['floor_s']:.2f}s wall (a targeted collect that selects nothing: --cc-tlds "
          f"{FLOOR_TLD}; process and workers started, index files read)")
    met = ratios["bytes_per_kept"] >= 10
    print(f"target >= 10x fewer bytes per kept alt: {'met' if met else 'NOT met'}")
    print(f"cost model, per target-language page ({n_target_pages:,} selected):")
    for m in MODES:
        print(f"  {m:9s} {res[m]['bytes_per_target_page']:>12,.0f} bytes  "
              f"{res[m]['requests_per_target_page']:8.3f} requests")
    same = cmp["only_targeted"] == 0 and cmp["only_full"] == 0
    print(f"targeted kept alts vs full kept alts on target pages: {cmp['only_targeted']} only in targeted, "
          f"{cmp['only_full']} only in full ({'identical' if same else 'DIFFERENT'}); full run also kept "
          f"{cmp['full_only_elsewhere']} alts on non-target pages")
    c = tgt["counters"]
    print(f"targeted stats.json: cc.bytes_read {c.get('cc.bytes_read', 0):,}, cc.requests "
          f"{c.get('cc.requests', 0):,}, index.records_selected {c.get('index.records_selected', 0):,}, "
          f"index.row_groups {c.get('index.row_groups', 0)} ({c.get('index.row_groups_pruned', 0)} pruned)")
    for r in res.values():
        r.pop("kept_rows")
    return {"pages": args.pages, "langs": args.langs, "target_share": args.target_share,
            "target_pages": n_target_pages, "workers": args.workers, "modes": res, "ratios": ratios,
            "target_met": met, "compare": cmp}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000, help="pages in the crawl (subset=warc, HTML, status 200)")
    ap.add_argument("--langs", default="sr,th", help="target languages (mella tags), for collect and filter")
    ap.add_argument("--target-share", type=float, default=0.05, help="share of the pages in the target languages")
    ap.add_argument("--workers", type=int, default=2, help="--workers of every mella command (same for both modes)")
    ap.add_argument("--repeat", type=int, default=3, help="collect rounds per mode, interleaved (median time)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, help="build and run here (kept); default a temporary folder (removed)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 300 pages")
    args = ap.parse_args()
    if args.quick:
        args.pages, args.repeat = 300, 1
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mella-bench-cc-"))
    try:
        if args.workdir and work.exists():
            shutil.rmtree(work)
        t0 = time.perf_counter()
        crawl, target_urls = build(work / "crawl", args.pages, args.langs.split(","), args.target_share, args.seed)
        warc_mb = sum((crawl.root / p).stat().st_size for p in crawl.warc_paths) / 1e6
        print(f"crawl: {args.pages:,} pages ({len(target_urls):,} in {args.langs}), {len(crawl.warc_paths)} WARC "
              f"files ({warc_mb:.1f} MB), {len([p for p in crawl.index_paths if '/subset=warc/' in p])} index "
              f"files; built in {time.perf_counter() - t0:.1f}s", flush=True)
        with cccrawl.CrawlServer(crawl.root) as server:
            res = harvest(crawl, server, work, args)
        cmp = compare(res["full"], res["targeted"], target_urls)
        results = report(res, cmp, len(target_urls), args)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / ("cc-quick.json" if args.quick else "cc.json")).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
