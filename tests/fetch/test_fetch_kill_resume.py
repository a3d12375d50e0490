"""SIGKILL a fetch run part-way and rerun it: no image lost, none duplicated, committed parts untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow.parquet as pq
from fetchkit import pair, real_images, tar_members, variant, write_pairs
from PIL import Image

from mella.demo.siteserver import SiteServer, SiteSpec

SCRIPT = textwrap.dedent("""
    from mella.fetch.fetch import FetchStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage
    stage = FetchStage(allow_hosts=[{host!r}], near_duplicate_distance=-1, per_host_delay={delay})
    run_stage(stage, [{inputs!r}], {out!r}, LocalExecutor(2, progress=False))
""")
N_SHARDS, PER_SHARD = 8, 20


def make_site(root):
    """N_SHARDS * PER_SHARD distinct images: real pictures with a few pixels changed each."""
    root.mkdir(parents=True)
    bases = [Image.open(p) for p in real_images() if min(Image.open(p).size) >= 64]
    for n in range(N_SHARDS * PER_SHARD):
        variant(bases[n % len(bases)], n).save(root / f"img{n:04d}.png")
    return root


def start(inputs, out, host, delay):
    code = SCRIPT.format(host=host, inputs=str(inputs), out=str(out), delay=delay)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kept(out):
    table = pq.read_table(sorted(out.glob("part-*.parquet")), columns=["key", "sha256", "image_url"])
    return sorted(zip(table["key"].to_pylist(), table["sha256"].to_pylist(), strict=True))


def test_sigkill_then_rerun_loses_and_duplicates_no_image(tmp_path):
    site = make_site(tmp_path / "site")
    with SiteServer([SiteSpec("imgs", site, "en")]) as server:
        for s in range(N_SHARDS):
            urls = [f"{server.base_url}/imgs/img{s * PER_SHARD + i:04d}.png" for i in range(PER_SHARD)]
            write_pairs(tmp_path / "in" / f"{s}.parquet", [pair(u) for u in urls])
        reference = tmp_path / "reference"
        assert start(tmp_path / "in", reference, server.host_port, 0.0).wait(timeout=300) == 0

        out = tmp_path / "killed"
        proc = start(tmp_path / "in", out, server.host_port, 0.05)
        deadline = time.time() + 240
        while len(list(out.glob("part-*._SUCCESS"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "no part committed in time"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers
        proc.wait(timeout=30)
        committed = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("part-*.*")
                     if p.with_suffix("._SUCCESS").exists()}
        assert 2 <= len(list(out.glob("part-*._SUCCESS"))) < N_SHARDS, "the kill must land part-way"

        rerun = start(tmp_path / "in", out, server.host_port, 0.0)
        assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()

    for name, stamp in committed.items():  # committed parts were not written again
        assert ((out / name).stat().st_ino, (out / name).stat().st_mtime_ns) == stamp
    final = kept(out)
    assert final == kept(reference)
    assert len(final) == len({k for k, _ in final}) == len({s for _, s in final}) == N_SHARDS * PER_SHARD
    members = tar_members(out)  # fails on a name found twice
    assert sorted(members) == sorted(f"{k}.{ext}" for k, _ in final for ext in ("jpg", "json"))
    assert not list(out.rglob(".*.tmp")) and not list((out / "_dropped").glob("*.parquet"))
    assert (out / "_SUCCESS").exists()
