"""`mella build --exclude-benchmark xm3600`: training images that are benchmark images are dropped, counted, carded.

The training side is real: four photos served from a local site and fetched by the fetch stage (so sha256 and
pHash are what fetch computes), one of them the very bytes of a fixture benchmark image, one a resized,
re-encoded copy of another, two unrelated photos of the example sites. The benchmark side is the XM3600 fixture
(tests/data/xm3600, XM3600's file layout).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.demo.siteserver import SiteServer, SiteSpec
from mella.fetch.fetch import FetchStage, image_key
from mella.fetch.images import hamming
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import PAIRS

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "data" / "xm3600" / "images"
SITES = ROOT / "examples" / "sites"
SAME = "1f0e3d9c4b7a6e52"    # its file, byte for byte, is on the training site
COPIED = "5a9c2e7f0b3d8164"  # a resized, re-encoded copy of it is
UNRELATED = {"street.jpg": SITES / "cs__honzajavorek__honzajavorek.cz" / "images" / "mendlak.jpg",
             "map.jpg": SITES / "hu__SalsaBoy990__SalsaBoy990.github.io" / "assets" / "gee" / "keppiramisok.jpg"}
ALTS = {"bridge.jpg": "Most SNP v noci", "church.jpg": "Modrý kostel v Bratislavě",
        "street.jpg": "Mendlovo náměstí", "map.jpg": "Mapa z Google Earth Engine"}


def _training_site(folder: Path) -> None:
    from PIL import Image

    folder.mkdir()
    shutil.copyfile(BENCH / f"{SAME}.jpg", folder / "bridge.jpg")
    with Image.open(BENCH / f"{COPIED}.jpg") as img:
        w, h = img.size
        img.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.BICUBIC).save(folder / "church.jpg", "JPEG", quality=70)
    for name, src in UNRELATED.items():
        shutil.copyfile(src, folder / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A fetch of the training site, and two builds of it: with --exclude-benchmark xm3600 and without."""
    root = tmp_path_factory.mktemp("decontaminate")
    _training_site(root / "site")
    with SiteServer([SiteSpec("train", root / "site", "cs")]) as server:
        rows = [dict(dict.fromkeys(PAIRS.names), image_url=f"{server.base_url}/train/{name}", alt=alt, lang="cs",
                     page_url=f"{server.base_url}/train/", translation=f"Fotografie: {alt.lower()}")
                for name, alt in ALTS.items()]
        (root / "pairs").mkdir()
        schema = PAIRS.append(pa.field("translation", pa.string()))
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "pairs" / "p.parquet")
        run_stage(FetchStage(allow_hosts=[server.host_port], image_size=256), [str(root / "pairs")],
                  root / "fetch", LocalExecutor(1, progress=False))
    keys = {name: image_key(row["image_url"]) for name, row in zip(ALTS, rows, strict=True)}
    assert main(["build", str(root / "fetch"), "--out", str(root / "build"), "--exclude-benchmark", "xm3600",
                 "--benchmark-images", str(BENCH)]) == 0
    assert main(["build", str(root / "fetch"), "--out", str(root / "plain")]) == 0
    return root, keys


def _keys(build: Path) -> set[str]:
    return {k for part in sorted(build.glob("part-*.parquet")) for k in pq.read_table(part)["key"].to_pylist()}


def test_the_training_side_is_what_the_test_says(runs):
    root, keys = runs
    from mella.dataset.decontaminate import benchmark_hashes

    fetched = {r["key"]: r for part in sorted((root / "fetch").glob("part-*.parquet"))
               for r in pq.read_table(part).to_pylist()}
    assert set(fetched) == set(keys.values())  # all four were fetched and kept
    bench = benchmark_hashes("xm3600", BENCH, root / "fetch")
    assert len(bench.keys) == 4 and not bench.unhashed
    phash = dict(zip(bench.phash_keys, (f"{int(h):016x}" for h in bench.phash), strict=True))
    church = fetched[keys["church.jpg"]]
    assert church["sha256"] not in bench.sha  # another file ...
    assert hamming(church["phash"], phash[COPIED]) <= 4  # ... of the same picture
    assert fetched[keys["bridge.jpg"]]["sha256"] in bench.sha
    for name in UNRELATED:  # far from every benchmark image: not dropped by chance
        assert min(hamming(fetched[keys[name]]["phash"], h) for h in phash.values()) > 16


def test_build_drops_the_copy_and_the_resized_copy_and_counts_them(runs):
    root, keys = runs
    assert _keys(root / "plain") == set(keys.values())
    assert _keys(root / "build") == {keys["street.jpg"], keys["map.jpg"]}
    summary = json.loads((root / "build" / "_global" / "build" / "summary.json").read_text(encoding="utf-8"))
    info = summary["decontamination"]
    assert {k: info[k] for k in ("benchmark", "benchmark_images", "images_dropped", "by_sha256", "by_phash", "rows",
                                 "phash_distance")} == {
        "benchmark": "xm3600", "benchmark_images": 4, "images_dropped": 2, "by_sha256": 1, "by_phash": 1, "rows": 2,
        "phash_distance": 4}
    assert info["samples_dropped"] == {"know": 2, "ling": 2}
    assert sorted((m["key"], m["benchmark_key"], m["match"]) for m in info["matches"]) == sorted([
        (keys["bridge.jpg"], SAME, "sha256"), (keys["church.jpg"], COPIED, "phash")])
    counters = json.loads((root / "build" / "stats.json").read_text(encoding="utf-8"))["counters"]
    assert counters["dropped.know_benchmark_image"] == 2 and counters["dropped.ling_benchmark_image"] == 2
    assert "decontamination" not in json.loads(
        (root / "plain" / "_global" / "build" / "summary.json").read_text(encoding="utf-8"))


def test_the_card_reports_what_was_dropped_and_why(runs, tmp_path):
    from mella.dataset.card import write_card

    root, _ = runs
    texts = {}
    for name in ("build", "plain"):
        (tmp_path / name).mkdir()
        texts[name] = write_card(root / name, tmp_path / name, "llava", {"counts": {}}).read_text(encoding="utf-8")
    section = texts["build"].split("## Benchmark decontamination")[1].split("\n## ")[0]
    assert "the 4 images of **xm3600**" in section and "**2 images dropped**" in section
    assert "2 D_know and 2 D_ling samples not made" in section
    assert "same file (sha256): 1" in section and "(pHash at most 4 bits apart): 1" in section
    assert "know_benchmark_image: 2" in texts["build"]  # the funnel names the drop reason too
    assert "Not checked" in texts["plain"].split("## Benchmark decontamination")[1].split("\n## ")[0]


def test_the_options_go_together(tmp_path, capsys):
    for flags in (["--exclude-benchmark", "xm3600"], ["--benchmark-images", str(BENCH)]):
        assert main(["build", str(tmp_path), "--out", str(tmp_path / "b"), *flags]) == 2
    err = capsys.readouterr().err
    assert "--exclude-benchmark needs the benchmark's image folder" in err
    assert "--benchmark-images names no benchmark" in err


def test_builds_without_the_option_keep_their_fingerprint():
    import hashlib

    from mella.dataset.build import BuildStage

    plain = BuildStage()
    options = {k: v for k, v in plain.options.model_dump(mode="json").items()
               if k not in ("exclude_benchmark", "benchmark_images", "images")}  # what a build hashed before
    before = hashlib.sha256(json.dumps({"stage": "build", "options": options}, sort_keys=True).encode()).hexdigest()
    assert plain.fingerprint() == before[:16]
    assert BuildStage(exclude_benchmark="xm3600", benchmark_images=str(BENCH)).fingerprint() != plain.fingerprint()
