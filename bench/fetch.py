"""Fetch throughput on loopback: mella fetch vs img2dataset, same server, same images, same run.

A local server (the demo SiteServer, in its own process) serves a few thousand real images: the PNGs of
examples/sites with a few pixels changed per copy (distinct bytes, so exact dedup keeps them all).
Both tools resize to 256 px (keep ratio) and write JPEG q95 WebDataset shards with the same number
of processes. mella runs with robots.txt checked and the address guard on (the server's host:port
allowed, nothing else); img2dataset checks neither. img2dataset pins an old webdataset, so it gets its
own virtualenv under bench/_data/ (created on the first run, from PyPI).

    python bench/fetch.py [--images 2000] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "_data" / "fetch"
I2D_VENV = ROOT / "bench" / "_data" / "i2d-venv"
SITES = ROOT / "examples" / "sites"

SERVER = textwrap.dedent("""
    import sys, time
    from mella.demo.siteserver import SiteServer, SiteSpec
    with SiteServer([SiteSpec("imgs", __import__("pathlib").Path(sys.argv[1]), "en")]) as s:
        print(s.port, flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
""")

MELLA = textwrap.dedent("""
    import sys
    from mella.fetch.fetch import FetchStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    inputs, out, host, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    stage = FetchStage(allow_hosts=[host], near_duplicate_distance=-1, image_size=256, resize_mode="keep_ratio",
                       encode_format="jpg", encode_quality=95, min_side=1, max_aspect_ratio=100,
                       concurrency=64, per_host_concurrency=32)
    report = run_stage(stage, [inputs], out, LocalExecutor(workers, progress=False))
    print(report.rows)
""")

I2D = textwrap.dedent("""
    import sys
    from img2dataset import download
    url_list, out, workers, per_shard = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    download(url_list=url_list, input_format="parquet", url_col="image_url", output_folder=out,
             output_format="webdataset", processes_count=workers, thread_count=64, image_size=256,
             resize_mode="keep_ratio", resize_only_if_bigger=True, encode_format="jpg", encode_quality=95,
             number_sample_per_shard=per_shard, timeout=30, retries=0, distributor="multiprocessing",
             enable_wandb=False, compute_hash="sha256")
""")


def make_images(n: int) -> Path:
    """n distinct real images (cached): the example PNGs, each copy with a few pixels changed."""
    from PIL import Image

    site = DATA / f"site-{n}"
    if site.is_dir() and len(list(site.glob("*.png"))) == n:
        return site
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    bases = [Image.open(p).convert("RGB") for p in sorted(SITES.rglob("*.png"))]
    bases = [b for b in bases if min(b.size) >= 32]
    for i in range(n):
        img = bases[i % len(bases)].copy()
        for bit in range(16):
            img.putpixel((bit, 0), (255, 255, 255) if i >> bit & 1 else (0, 0, 0))
        img.save(site / f"img{i:05d}.png")
    return site


def write_inputs(base_url: str, n: int, workers: int, folder: Path) -> tuple[Path, Path]:
    """Pairs shards for mella (one per worker) and one URL parquet for img2dataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.records import PAIRS

    shutil.rmtree(folder, ignore_errors=True)
    (folder / "pairs").mkdir(parents=True)
    urls = [f"{base_url}/imgs/img{i:05d}.png" for i in range(n)]
    for w in range(workers):
        rows = [{**dict.fromkeys(PAIRS.names), "image_url": u, "alt": "x", "lang": "en"} for u in urls[w::workers]]
        pq.write_table(pa.Table.from_pylist(rows, schema=PAIRS), folder / "pairs" / f"{w:03d}.parquet")
    pq.write_table(pa.table({"image_url": urls}), folder / "urls.parquet")
    return folder / "pairs", folder / "urls.parquet"


def ensure_img2dataset() -> Path:
    """The img2dataset virtualenv's python, created on first use."""
    python = I2D_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(I2D_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "img2dataset"], check=True)
    return python


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; (wall seconds, CPU seconds of it and its children, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed:\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, out


def count_i2d(out: Path) -> int:
    return sum(json.loads(p.read_text())["successes"] for p in out.glob("*_stats.json"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    i2d_python = ensure_img2dataset()
    site = make_images(args.images)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(site)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        host = f"127.0.0.1:{port}"
        pairs, urls = write_inputs(f"http://{host}", args.images, args.workers, DATA / "inputs")
        results = {"mella": [], "img2dataset": []}
        for r in range(args.rounds):
            for tool in (("mella", "img2dataset") if r % 2 == 0 else ("img2dataset", "mella")):
                out = DATA / f"out-{tool}"
                shutil.rmtree(out, ignore_errors=True)
                if tool == "mella":
                    wall, cpu, stdout = timed([sys.executable, "-c", MELLA, str(pairs), str(out), host,
                                               str(args.workers)])
                    ok = int(stdout.split()[-1])
                else:
                    per_shard = -(-args.images // args.workers)
                    wall, cpu, _ = timed([str(i2d_python), "-c", I2D, str(urls), str(out), str(args.workers),
                                          str(per_shard)])
                    ok = count_i2d(out)
                results[tool].append((wall, cpu, ok))
                print(f"round {r + 1} {tool:12s} {ok} images in {wall:6.2f}s = {ok / wall:7.1f} images/s, "
                      f"CPU {cpu / max(ok, 1) * 1000:.2f} ms/image", flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    report(results, args)


def report(results: dict, args) -> None:
    import statistics

    best = {tool: max(runs, key=lambda r: r[2] / r[0]) for tool, runs in results.items()}
    rate = {tool: ok / wall for tool, (wall, _, ok) in best.items()}
    median = {tool: statistics.median(ok / wall for wall, _, ok in runs) for tool, runs in results.items()}
    print(f"\n{args.images} images, {args.workers} processes each, 256 px keep-ratio JPEG q95, loopback; best of "
          f"{args.rounds} rounds (mella: robots.txt + address guard on)")
    for tool, (_, cpu, ok) in best.items():
        print(f"  {tool:12s} {rate[tool]:7.1f} images/s (median {median[tool]:.1f})   "
              f"CPU {cpu / max(ok, 1):.4f} s/image   ({ok} ok)")
    print(f"  ratio mella / img2dataset: {rate['mella'] / rate['img2dataset']:.2f}x best, "
          f"{median['mella'] / median['img2dataset']:.2f}x median")


if __name__ == "__main__":
    main()
