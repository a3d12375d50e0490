"""Benchmark: filter + fetch under the local executor and under Ray on this machine; then 1 vs 2 Ray nodes.

    .venv/bin/python bench/ray.py [--copies 12] [--shards 8] [--rounds 3]

Work: the 482 labelled real alt-texts (tests/data/labels) repeated ``--copies`` times on distinct page
URLs, in ``--shards`` parquet shards; each row's image is one of 2000 distinct real PNGs served on
loopback by the demo SiteServer (in its own process). ``filter`` keeps the target-language alts, then
``fetch`` downloads, checks, dedups, resizes and writes their images to WebDataset tars.

Each configuration runs in a fresh process (cold workers for both executors: the filter's models
load once per worker). Ray's start-up (``ray.init`` / cluster start) is timed apart from the stages.
Configurations: ``local`` (2 processes), ``ray`` (a local Ray instance with 2 CPUs), ``node1`` and
``node2`` (a cluster simulated on this machine with one and two nodes of one CPU each). Rounds
alternate the order; the figures are medians with the spread (min-max) over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is called ray.py: take its folder off sys.path so `import ray` finds Ray, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
LABELS = ROOT / "tests" / "data" / "labels"
IMAGES = ROOT / "bench" / "_data" / "fetch"
N_IMAGES = 2000

# Ray's single-machine mode: every Ray service binds to 127.0.0.1 only.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

SERVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from mella.demo.siteserver import SiteServer, SiteSpec
    with SiteServer([SiteSpec("imgs", Path(sys.argv[1]), "en")]) as s:
        print(s.port, flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
""")


def make_inputs(folder: Path, base_url: str, copies: int, shards: int) -> int:
    """Candidate shards: the gold alts ``copies`` times on distinct pages; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.filter import gold
    from mella.records import CANDIDATES

    gold_rows = gold.candidate_rows(LABELS)
    rows = []
    for c in range(copies):
        for r in gold_rows:
            n = len(rows)
            rows.append({**r, "page_url": f"{r['page_url']}#copy{c}",
                         "image_url": f"{base_url}/imgs/img{n % N_IMAGES:05d}.png"})
    folder.mkdir(parents=True)
    per = -(-len(rows) // shards)
    for s in range(shards):
        table = pa.Table.from_pylist(rows[s * per:(s + 1) * per], schema=CANDIDATES)
        pq.write_table(table, folder / f"candidates-{s:02d}.parquet")
    return len(rows)


def image_site() -> Path:
    """2000 distinct real images (cached under bench/_data, shared with bench/fetch.py)."""
    site = IMAGES / f"site-{N_IMAGES}"
    if not (site.is_dir() and len(list(site.glob("*.png"))) == N_IMAGES):
        import importlib.util

        spec = importlib.util.spec_from_file_location("bench_fetch", ROOT / "bench" / "fetch.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.make_images(N_IMAGES)
    return site


# -- one configuration, in its own process -------------------------------------------------------
def start_executor(mode: str):
    """The executor of ``mode`` and what it needs stopped afterwards, with the start-up seconds."""
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.ray import RayExecutor

    t0 = time.perf_counter()
    if mode == "local":
        return LocalExecutor(2, progress=False), None, 0.0
    import ray

    if mode == "ray":
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        return RayExecutor(progress=False), None, time.perf_counter() - t0
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(int(mode[-1]) - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    return RayExecutor(progress=False), cluster, time.perf_counter() - t0


def child(mode: str, inputs: str, out: str, host: str) -> None:
    """Run filter then fetch under ``mode``; print one JSON line of timings and counts."""
    from mella.fetch.fetch import FetchStage
    from mella.filter.filter import FilterStage
    from mella.pipeline.runner import run_stage

    executor, cluster, startup = start_executor(mode)
    fetch = FetchStage(allow_hosts=[host], near_duplicate_distance=-1, image_size=256, resize_mode="keep_ratio",
                       encode_format="jpg", encode_quality=95, min_side=1, max_aspect_ratio=100, concurrency=64,
                       per_host_concurrency=32)
    t0 = time.perf_counter()
    filtered = run_stage(FilterStage(), [inputs], Path(out) / "filter", executor)
    t1 = time.perf_counter()
    fetched = run_stage(fetch, [str(Path(out) / "filter")], Path(out) / "fetch", executor)
    t2 = time.perf_counter()
    print(json.dumps({"startup": startup, "filter": t1 - t0, "fetch": t2 - t1, "kept": filtered.rows,
                      "images_ok": fetched.counters.get("images.ok", 0), "fetched_rows": fetched.rows}))
    if cluster is not None:
        import ray

        ray.shutdown()
        cluster.shutdown()


# -- the driver ---------------------------------------------------------------------------------
def run_config(mode: str, inputs: Path, work: Path, host: str) -> dict:
    out = work / f"out-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(inputs), str(out), host],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rounds(modes: list[str], n: int, inputs: Path, work: Path, host: str) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for r in range(n):
        for mode in (modes if r % 2 == 0 else modes[::-1]):
            res = run_config(mode, inputs, work, host)
            results[mode].append(res)
            print(f"  round {r + 1} {mode:6s} filter {res['filter']:6.2f}s  fetch {res['fetch']:6.2f}s  "
                  f"(start-up {res['startup']:4.1f}s, kept {res['kept']}, images ok {res['images_ok']})", flush=True)
    return results


def summary(runs: list[dict], rows: int, startup: bool = False) -> tuple[float, float, float]:
    """Median rows/s over rounds (stage time, start-up excluded unless ``startup``) and the min and max."""
    rates = [rows / (r["filter"] + r["fetch"] + (r["startup"] if startup else 0)) for r in runs]
    return statistics.median(rates), min(rates), max(rates)


def report(results: dict[str, list[dict]], rows: int, args) -> None:
    s = {mode: summary(runs, rows) for mode, runs in results.items()}
    kept = {mode: {(r["kept"], r["fetched_rows"]) for r in runs} for mode, runs in results.items()}
    print(f"\n{rows} candidates in {args.shards} shards -> filter -> fetch (2000 distinct images on loopback); "
          f"median of {args.rounds} rounds, [min-max]; 2 cores shared with other jobs")
    for mode, (med, lo, hi) in s.items():
        startup = statistics.median(r["startup"] for r in results[mode])
        print(f"  {mode:6s} {med:8.1f} rows/s  [{lo:.1f}-{hi:.1f}]   start-up {startup:.1f}s   "
              f"(kept, fetched) {sorted(kept[mode])}")
    if "ray" in s:
        with_startup = summary(results["ray"], rows, startup=True)[0]
        print(f"  Ray / local throughput: {s['ray'][0] / s['local'][0]:.2f}x  "
              f"(time overhead {100 * (s['local'][0] / s['ray'][0] - 1):+.1f}%); counting Ray's start-up: "
              f"{with_startup / s['local'][0]:.2f}x ({100 * (s['local'][0] / with_startup - 1):+.1f}%)")
    if "node2" in s:
        print(f"  2 nodes / 1 node (1 CPU each): {s['node2'][0] / s['node1'][0]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=12)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=4, metavar=("MODE", "INPUTS", "OUT", "HOST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    site = image_site()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(site)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    work = Path(tempfile.mkdtemp(prefix="mella-bench-ray-"))
    try:
        host = f"127.0.0.1:{int(server.stdout.readline())}"
        rows = make_inputs(work / "in", f"http://{host}", args.copies, args.shards)
        print("local executor vs Ray on one machine (2 CPUs each):", flush=True)
        report(rounds(["local", "ray"], args.rounds, work / "in", work, host), rows, args)
        print("\nRay cluster simulated on this machine, 1 vs 2 nodes of 1 CPU:", flush=True)
        report(rounds(["node1", "node2"], args.rounds, work / "in", work, host), rows, args)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
