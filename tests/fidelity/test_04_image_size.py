"""Item 4 of issue #16: fetch stored images at 256 px by default, so captioning and training saw thumbnails.

The default now keeps the original up to a longest side of 1024 px and never upscales; `image_size` keeps
small sizes one option away. Images go through the real fetch stage and a real loopback HTTP server.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mella.demo.siteserver import SiteServer, SiteSpec
from mella.fetch.fetch import FetchStage
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import PAIRS


def _photo_like(width: int, height: int, seed: int) -> Image.Image:
    # Smooth gradients and blobs plus sensor-like noise: compresses like a photo, not like a flat test card.
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 220], axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(50, 400)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None] * rng.uniform(-90, 90, 3)
        base += blob
    base += rng.normal(0, 6, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _site(folder):
    folder.mkdir(parents=True)
    _photo_like(2000, 1500, 1).save(folder / "large.jpg", quality=92)
    _photo_like(300, 200, 2).save(folder / "small.jpg", quality=92)
    return folder


def _pairs(path, urls):
    rows = []
    for url in urls:
        row = dict.fromkeys(PAIRS.names)
        row.update(page_url=url.rsplit("/", 1)[0] + "/", image_url=url, alt="фотографија", domain="127.0.0.1",
                   source="test", source_offset=-1, lang="sr", lang_confidence=0.99)
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows, schema=PAIRS), path)


def _stored(out):
    sizes = {}
    for shard in sorted(out.glob("part-*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".jpg"):
                    sizes[member.name[:-4]] = Image.open(io.BytesIO(tar.extractfile(member).read())).size
    rows = [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["image_url"].rsplit("/", 1)[-1]: (r, sizes[r["key"]]) for r in rows}


def _fetch(tmp_path, **options):
    site = _site(tmp_path / "site")
    with SiteServer([SiteSpec("photos", site, "sr")]) as server:
        urls = [f"{server.base_url}/photos/{name}" for name in ("large.jpg", "small.jpg")]
        _pairs(tmp_path / "in.parquet", urls)
        out = tmp_path / "out"
        stage = FetchStage(allow_hosts=[server.host_port], **options)
        run_stage(stage, [str(tmp_path / "in.parquet")], out, LocalExecutor(1, progress=False))
    return _stored(out)


def test_default_fetch_keeps_a_large_photo_at_1024_not_a_256_thumbnail(tmp_path):
    stored = _fetch(tmp_path)
    row, size = stored["large.jpg"]
    assert (row["original_width"], row["original_height"]) == (2000, 1500)
    assert size == (1024, 768) == (row["width"], row["height"])


def test_default_fetch_never_upscales_a_small_image(tmp_path):
    row, size = _fetch(tmp_path)["small.jpg"]
    assert size == (300, 200) == (row["width"], row["height"])


def test_small_thumbnails_stay_one_option_away(tmp_path):
    stored = _fetch(tmp_path, image_size=256)
    assert stored["large.jpg"][1] == (256, 192)
    assert stored["small.jpg"][1] == (256, 171)
