"""Real stage outputs for the input-checking tests (issue 15 items 9, 10, 12), made once per session.

collect reads a real saved page (tests/data/web); fetch downloads real images of an example site from a local
server; build turns that fetch output into samples. Small on purpose: a few rows each, seconds in all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mella.records import PAIRS

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "tests" / "data" / "web" / "ru" / "TeamHG-Memex__autopager__page-95.html"
SITES = ROOT / "examples" / "sites"
SITE = "ru__raspberrypilearning__lost-in-space"
ALTS = ["Космический корабль среди звёзд", "Обезьяна в космосе летит", "Ракета над Землёй ночью"]

_MADE: dict[str, dict[str, Path]] = {}


def run(stage, inputs: list[str], out: Path):
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage

    return run_stage(stage, inputs, out, LocalExecutor(1, progress=False))


def make_outputs(root: Path) -> dict[str, Path]:
    """``{"collect": folder, "fetch": folder, "build": folder}``: real outputs of those stages under ``root``."""
    key = str(root)
    if key not in _MADE:
        _MADE[key] = {"collect": _collect(root), **_fetch_and_build(root)}
    return _MADE[key]


def _collect(root: Path) -> Path:
    from mella.collect.collect import CollectStage

    run(CollectStage(), [str(PAGE)], root / "collect")
    return root / "collect"


def _fetch_and_build(root: Path) -> dict[str, Path]:
    from mella.dataset.build import BuildStage
    from mella.demo.siteserver import SiteServer, load_sites
    from mella.fetch.fetch import FetchStage

    images = sorted((SITES / SITE).rglob("*.png"), key=lambda p: (-p.stat().st_size, p.as_posix()))[:3]
    with SiteServer(load_sites(SITES)) as server:
        rows = []
        for alt, path in zip(ALTS, images, strict=True):
            url = f"{server.base_url}/{SITE}/{path.relative_to(SITES / SITE).as_posix()}"
            row = dict.fromkeys(PAIRS.names)
            row.update(page_url=f"{server.base_url}/{SITE}/index.html", image_url=url, alt=alt, lang="ru",
                       lang_confidence=0.99, domain="127.0.0.1", source="test", source_offset=-1)
            rows.append(row)
        (root / "pairs").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=PAIRS), root / "pairs" / "pairs.parquet")
        run(FetchStage(allow_hosts=[server.host_port], min_side=16), [str(root / "pairs")], root / "fetch")
    run(BuildStage(test_size=0.34, validation_size=0.0), [str(root / "fetch")], root / "build")
    return {"fetch": root / "fetch", "build": root / "build"}


def copy_output(src: Path, dest: Path) -> Path:
    """A copy of a stage output folder (to damage without touching the shared one)."""
    shutil.copytree(src, dest)
    return dest


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))
