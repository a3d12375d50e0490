"""Benchmark: the whole filter (language ID, rules, dedup) against lingua alone, per core, same alts.

    .venv/bin/python bench/filter.py [--reps 10] [--mem-rows 200000]

The alts are the 482 labelled gold alts (tests/data/labels), repeated ``--reps`` times on distinct
page URLs. Both contenders are loaded and warmed up (one full untimed pass each) before timing;
then ``--passes`` timed passes of each, interleaved, and the median of each is reported; times are
CPU seconds of this process (one core). lingua runs in high-accuracy mode restricted to the targets
and their confusers, models preloaded. Accuracy is on the gold rows whose label is a language.
Dedup memory: the global pass runs in a subprocess over 1x and 10x ``--mem-rows`` rows with the
same rows per bucket, and reports its peak RSS (VmHWM). Also the filter alone over what collect gives for
the saved pages of tests/data/web (with the structure columns a run has), median of ``--passes``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "tests" / "data" / "labels"


def lingua_alone(rows, lid):
    """A timed pass of lingua over every alt (warm it first); returns (CPU seconds, predictions)."""
    from mella.filter.langid import build_lingua
    from mella.filter.text import dominant_script

    detector, _ = build_lingua(sorted(lid.universe))
    alts = [r["alt"] for r in rows]
    t0 = time.process_time()
    found = [detector.detect_language_of(a) for a in alts]
    seconds = time.process_time() - t0
    preds = []
    for a, lang in zip(alts, found, strict=True):
        code = lang.iso_code_639_1.name.lower() if lang else "und"
        preds.append(f"sr-{dominant_script(a)}" if code == "sr" else code)  # lingua's help: script tag
    return seconds, preds


def whole_filter(cands, stage):
    """A timed pass of the filter + the dedup global pass over ``cands``; returns CPU seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.filter import dedup_index as dedup
    from mella.filter.filter import FILTERED
    from mella.pipeline.stage import Emitter

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        kept = []
        for i in range(0, len(cands), stage.batch_size):
            out = Emitter()
            stage.process(cands[i:i + stage.batch_size], out)
            kept += out.result.kept
        part = Path(tmp) / "part-00000.parquet"
        pq.write_table(pa.Table.from_pylist(kept, schema=FILTERED), part)
        dedup.build_index([str(part)], Path(tmp) / "index", buckets=1)
        return time.process_time() - t0


def timed_passes(rows, stage, passes: int):
    """Both contenders, warmed up, then ``passes`` timed passes each, interleaved (filter, lingua,
    filter, ...) so that load from other jobs on the machine falls on both alike. Returns the
    median rates (alts/s), the per-pass ratios and lingua's predictions."""
    from mella.filter.langid import build_lingua
    from mella.records import CANDIDATES

    cands = [{k: r.get(k) for k in CANDIDATES.names} for r in rows]  # gold rows have no structure columns
    # Warm-up: one untimed pass of each over every alt. lingua loads models lazily; the filter
    # builds lingua detectors per candidate set and pyarrow initialises its writers on first use.
    whole_filter(cands, stage)
    detector, _ = build_lingua(sorted(stage.lid.universe))
    for r in rows:
        detector.detect_language_of(r["alt"])
    filter_s, lingua_s = [], []
    for _ in range(passes):
        filter_s.append(whole_filter(cands, stage))
        seconds, preds = lingua_alone(rows, stage.lid)
        lingua_s.append(seconds)
    ratios = [lt / ft for ft, lt in zip(filter_s, lingua_s, strict=True)]
    return len(rows) / statistics.median(filter_s), len(rows) / statistics.median(lingua_s), ratios, preds


def real_pages(stage, reps: int, passes: int) -> tuple[int, float]:
    """(rows, median alts/s) of the filter alone over what collect gives for the saved real pages of
    tests/data/web, ``reps`` times on distinct page URLs: rows as a run meets them, with the structure
    columns (chrome, badges and teasers are dropped before language ID asks)."""
    import pyarrow.parquet as pq

    from mella.collect.collect import CollectStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    from mella.pipeline.stage import Emitter

    pages = sorted(str(p) for p in (ROOT / "tests" / "data" / "web").rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        run_stage(CollectStage(), pages, Path(tmp) / "collect", LocalExecutor(1, progress=False))
        found = [r for f in sorted((Path(tmp) / "collect").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    rows = [{**r, "page_url": f"{r['page_url']}#{k}"} for k in range(reps) for r in found]
    stage.process(rows, Emitter())  # warm-up
    rates = []
    for _ in range(passes):
        t0 = time.process_time()
        for i in range(0, len(rows), stage.batch_size):
            stage.process(rows[i:i + stage.batch_size], Emitter())
        rates.append(len(rows) / (time.process_time() - t0))
    return len(rows), statistics.median(rates)


def filter_predictions(rows, lid):
    """The cascade's language for each gold row, with its page's evidence (as the stage does)."""
    alts = defaultdict(list)
    for r in rows:
        alts[r["page_url"]].append(r["alt"])
    evidence = {url: lid.evidence(next(r for r in rows if r["page_url"] == url), a) for url, a in alts.items()}
    return [lid.identify(r["alt"], evidence[r["page_url"]])[0] for r in rows]


def accuracy(rows, preds) -> tuple[float, dict]:
    from mella.filter import gold

    acc = gold.langid_accuracy(rows, preds)
    total = sum(n for _, n in acc.values())
    return sum(c for c, _ in acc.values()) / total, acc


# Peak RSS from /proc (VmHWM, kB): ru_maxrss of a child can carry the parent's peak across exec.
MEM_SCRIPT = """
import sys, time
from mella.filter import dedup_index as dedup
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
parts, work, buckets = sys.argv[3:], sys.argv[1], int(sys.argv[2])
base = hwm()
t0 = time.time()
dedup.build_index(parts, work, buckets=buckets)
print(base, hwm(), round(time.time() - t0, 1))
"""


def synthetic_parts(folder: Path, n: int, size: int = 50_000) -> list[str]:
    """``n`` filter-output rows over 997 domains with repeated alts and images, in parts of ``size``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.filter.filter import FILTERED

    parts = []
    for p in range(0, n, size):
        ids = range(p, min(n, p + size))
        cols = {name: pa.nulls(len(ids), FILTERED.field(name).type) for name in FILTERED.names}
        cols.update(page_url=pa.array([f"https://s{i % 997}.rs/p{i // 7}" for i in ids]),
                    image_url=pa.array([f"https://s{i % 997}.rs/i{i % (n // 3 + 1)}.jpg" for i in ids]),
                    alt=pa.array([f"alt text number {i % (n // 2 + 1)}" for i in ids]),
                    domain=pa.array([f"s{i % 997}.rs" for i in ids]))
        path = folder / f"part-{p // size:05d}.parquet"
        pq.write_table(pa.table(cols, schema=FILTERED), path)
        parts.append(str(path))
    return parts


def dedup_memory(rows: int, per_bucket: int) -> tuple[float, float, float]:
    """(MiB after imports, peak MiB, seconds) of the dedup global pass over ``rows`` synthetic rows."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = synthetic_parts(Path(tmp), rows)
        buckets = max(1, -(-rows // per_bucket))
        out = subprocess.run([sys.executable, "-c", MEM_SCRIPT, f"{tmp}/work", str(buckets), *parts],
                             check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024, float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--passes", type=int, default=5, help="timed passes of each contender (median)")
    ap.add_argument("--mem-rows", type=int, default=200_000)
    ap.add_argument("--rows-per-bucket", type=int, default=100_000)
    args = ap.parse_args()
    from mella.filter import gold
    from mella.filter.filter import FilterStage

    gold_rows = gold.candidate_rows(LABELS)
    rows = [{**r, "page_url": f"{r['page_url']}#{k}", "image_url": f"{r['image_url']}?{k}"}
            for k in range(args.reps) for r in gold_rows]
    stage = FilterStage()
    stage.ensure_setup()
    filter_rate, lingua_rate, ratios, lingua_preds = timed_passes(rows, stage, args.passes)
    real_rows, real_rate = real_pages(stage, args.reps, args.passes)
    acc_filter, per_filter = accuracy(gold_rows, filter_predictions(gold_rows, stage.lid))
    acc_lingua, per_lingua = accuracy(gold_rows, lingua_preds[: len(gold_rows)])
    print(f"alts: {len(rows)} ({len(gold_rows)} gold alts x {args.reps}), one core, CPU time, after warm-up, "
          f"median of {args.passes} interleaved passes")
    print(f"whole filter (langid + rules + dedup): {filter_rate:,.0f} alts/s")
    print(f"lingua alone (high accuracy, {len(stage.lid.universe)} langs): {lingua_rate:,.0f} alts/s")
    print(f"ratio filter/lingua: {filter_rate / lingua_rate:.2f}x (per pass: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"filter alone on collected real pages (tests/data/web x {args.reps}, {real_rows:,} rows): "
          f"{real_rate:,.0f} alts/s")
    print(f"gold language-ID accuracy: filter {acc_filter:.3f}, lingua alone {acc_lingua:.3f}")
    for lang in sorted(per_filter, key=lambda k: -per_filter[k][1]):
        (cf, n), (cl, _) = per_filter[lang], per_lingua.get(lang, (0, 0))
        if n >= 20:
            print(f"  {lang:8s} n={n:3d}  filter {cf / n:.3f}  lingua {cl / n:.3f}")
    mem = {}
    for scale in (1, 10):
        mem[scale] = dedup_memory(args.mem_rows * scale, args.rows_per_bucket)
        before, peak, secs = mem[scale]
        print(f"dedup global pass {scale:2d}x ({args.mem_rows * scale:,} rows, {args.rows_per_bucket:,} rows/bucket): "
              f"peak RSS {peak:.0f} MiB (after imports {before:.0f} MiB), {secs}s")
    print(f"dedup peak RSS 10x/1x: {mem[10][1] / mem[1][1]:.2f}")
    print(json.dumps({"filter_alts_s": round(filter_rate), "lingua_alts_s": round(lingua_rate),
                      "real_pages_alts_s": round(real_rate),
                      "ratios": [round(r, 2) for r in ratios],
                      "ratio": round(filter_rate / lingua_rate, 2), "acc_filter": round(acc_filter, 3),
                      "acc_lingua": round(acc_lingua, 3), "dedup_peak_mib": {k: round(v[1]) for k, v in mem.items()}}))


if __name__ == "__main__":
    main()
