"""Benchmark: ``mella keywords`` (offline) against ``mella filter`` on the same alts, per core, same run.

    .venv/bin/python bench/keywords.py [--reps 6] [--passes 5]

The alts are the labelled gold alts (tests/data/labels: alt_gold.tsv and the site alts of keywords_gold.tsv),
repeated ``--reps`` times on distinct page URLs. Each row carries its labelled language, as filter's output
would. Both stages are set up and warmed (one full untimed pass each: the keywords stage loads each language's
resources on its first row; that first pass is reported separately), then ``--passes`` timed passes of each,
interleaved, and the median of each is reported; times are CPU seconds of this process (one core). The filter
side is its ``process`` (language ID and rules, per page), without dedup. Repeated alts warm the keywords
stage's per-word caches as a real corpus does for its frequent words; the alts themselves are not cached.
Target: keywords at least 1.0x the filter's rows/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "tests" / "data" / "labels"


def gold_rows() -> list[dict]:
    """alt_gold's rows as candidates, and keywords_gold's site rows, each with its labelled language."""
    from mella.filter import gold
    from mella.records import CANDIDATES

    rows = []
    for r in gold.candidate_rows(LABELS):
        rows.append({**{k: r.get(k) for k in CANDIDATES.names}, "lang": r["gold_lang"]})
    for i, g in enumerate(gold.read_tsv(LABELS / "keywords_gold.tsv")):
        if g["source"] == "sites_gold":
            url = f"https://sites.invalid/{g['file']}"
            row = dict.fromkeys(CANDIDATES.names)
            row.update(page_url=url, image_url=f"{url}/img/{i}.png", alt=g["alt"], source=g["file"],
                       source_offset=-1, lang=g["lang"])
            rows.append(row)
    return rows


def timed(stage, rows: list[dict]) -> float:
    """CPU seconds of one pass of ``stage.process`` over ``rows`` in its batches."""
    from mella.pipeline.stage import Emitter

    t0 = time.process_time()
    for i in range(0, len(rows), stage.batch_size):
        stage.process(rows[i:i + stage.batch_size], Emitter())
    return time.process_time() - t0


def peak_mib() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--passes", type=int, default=5, help="timed passes of each stage (median)")
    args = ap.parse_args()
    from mella.annotate.keywords import KeywordsStage
    from mella.filter.filter import FilterStage

    base = gold_rows()
    rows = [{**r, "page_url": f"{r['page_url']}#{k}", "image_url": f"{r['image_url']}?{k}"}
            for k in range(args.reps) for r in base]
    cands = [{k: v for k, v in r.items() if k != "lang"} for r in rows]
    before = peak_mib()
    keywords = KeywordsStage()
    keywords.ensure_setup()
    first = timed(keywords, rows)  # loads every language's resources
    after = peak_mib()
    filt = FilterStage()
    filt.ensure_setup()
    timed(filt, cands)
    kw_s, filter_s = [], []
    for _ in range(args.passes):
        kw_s.append(timed(keywords, rows))
        filter_s.append(timed(filt, cands))
    kw_rate, filter_rate = len(rows) / statistics.median(kw_s), len(rows) / statistics.median(filter_s)
    ratios = [f / k for k, f in zip(kw_s, filter_s, strict=True)]
    kits = {r["lang"]: keywords.extractor.kit(r["lang"]) for r in base}
    print(f"alts: {len(rows)} ({len(base)} gold alts x {args.reps}), one core, CPU time, after warm-up, "
          f"median of {args.passes} interleaved passes")
    print(f"keywords (offline): {kw_rate:,.0f} alts/s  (first pass, loading resources: {first:.1f}s; "
          f"peak RSS {before:.0f} -> {after:.0f} MiB)")
    print(f"filter (language ID + rules): {filter_rate:,.0f} alts/s")
    print(f"ratio keywords/filter: {kw_rate / filter_rate:.2f}x (per pass: {', '.join(f'{r:.2f}' for r in ratios)})")
    for tag, kit in sorted(kits.items()):
        if kit is not None and kit.lang.default:
            print(f"  {tag:8s} {kit.method}")
    print(json.dumps({"keywords_alts_s": round(kw_rate), "filter_alts_s": round(filter_rate),
                      "ratio": round(kw_rate / filter_rate, 2), "ratios": [round(r, 2) for r in ratios],
                      "first_pass_s": round(first, 1), "peak_rss_mib": round(after)}))


if __name__ == "__main__":
    main()
