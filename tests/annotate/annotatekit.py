"""Helpers of the annotate tests: pairs rows for real example-site images, fetched through the real stage."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mella.demo.siteserver import SiteServer, load_sites
from mella.fetch.fetch import FetchStage
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import PAIRS

EXAMPLE_SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
RU_SITE = "ru__raspberrypilearning__lost-in-space"
SR_SITE = "sr__raspberrypilearning__poetry-generator"


def site_images(site: str, n: int) -> list[str]:
    """The first ``n`` PNGs of an example site (sorted), as paths relative to the site folder; large ones first."""
    root = EXAMPLE_SITES / site
    files = sorted(root.rglob("*.png"), key=lambda p: (-p.stat().st_size, p.as_posix()))
    return [p.relative_to(root).as_posix() for p in files[:n]]


def pair(url: str, alt: str, lang: str, title: str) -> dict:
    """One pairs row."""
    row = dict.fromkeys(PAIRS.names)
    row.update(page_url=url.rsplit("/", 2)[0] + "/index.html", image_url=url, alt=alt, page_title=title,
               domain="127.0.0.1", source="test", source_offset=-1, lang=lang, lang_confidence=0.99)
    return row


def write_rows(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    """A parquet file of ``rows``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def read_rows(folder: Path, dropped: bool = False) -> list[dict]:
    """Rows of a stage output (or of its ``_dropped/``), part by part."""
    folder = folder / "_dropped" if dropped else folder
    return [r for f in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def run(stage, inputs, out):
    """Run a stage in this process (one worker) without a progress bar."""
    return run_stage(stage, [str(i) for i in (inputs if isinstance(inputs, list) else [inputs])], out,
                     LocalExecutor(1, progress=False))


def fetch_example_images(root: Path) -> Path:
    """Serve the example sites, fetch a few Russian and Serbian images into ``root/fetch`` (two parts)."""
    ru = [("Космический корабль летит среди звёзд", "Затерянные в космосе"),
          ("Обезьяна в скафандре на фоне космоса", "Затерянные в космосе"),
          ("Астероид и звёздное небо", "Затерянные в космосе")]
    sr = [("Генератор песама на екрану", "Генератор поезије"),
          ("Primer pesme na ekranu računara", "Generator poezije")]
    with SiteServer(load_sites(EXAMPLE_SITES)) as server:
        base = server.base_url
        ru_rows = [pair(f"{base}/{RU_SITE}/{rel}", alt, "ru", title)
                   for rel, (alt, title) in zip(site_images(RU_SITE, 3), ru, strict=True)]
        # One picture, two alt-texts: plain captions are made once per image, thick ones once per context.
        ru_rows.append(pair(ru_rows[0]["image_url"], "Ракета в космосе", "ru", "Затерянные в космосе"))
        sr_langs = ["sr-Cyrl", "sr-Latn"]
        sr_rows = [pair(f"{base}/{SR_SITE}/{rel}", alt, lang, title)
                   for rel, (alt, title), lang in zip(site_images(SR_SITE, 2), sr, sr_langs, strict=True)]
        write_rows(root / "pairs" / "a.parquet", ru_rows, PAIRS)
        write_rows(root / "pairs" / "b.parquet", sr_rows, PAIRS)
        run(FetchStage(allow_hosts=[server.host_port]), root / "pairs", root / "fetch")
    return root / "fetch"
