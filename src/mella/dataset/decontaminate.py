"""Benchmark decontamination for ``build --exclude-benchmark``: training images that are a benchmark's images.

A model scored on a benchmark must not have trained on its pictures. Web pages copy photos (an Open Images photo
of XM3600 may sit on a blog), so an annotated row whose image is a benchmark image yields no sample. Two images
are one when:

- their **sha256** is equal: fetch's ``sha256`` is of the bytes as downloaded, the benchmark's of its file;
- their **pHashes** are at most ``distance`` bits apart (build's ``--phash-distance``, default 4: the distance
  fetch and build already use to call two images one picture): a resized or re-encoded copy. The benchmark image
  is hashed as fetch hashes a download (:func:`mella.fetch.images.process_image` with the fetch run's resize
  options), so the same bytes give the same pHash on both sides.

The threshold was not fitted to anything; docs/dataset.md gives the reasoning (the chance that two unrelated
64-bit hashes fall within 4 bits is about 4e-14).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mella.dataset.groups import bands, parse_phash
from mella.errors import MellaError

log = logging.getLogger("mella")

BENCHMARKS = ("xm3600",)
CHUNK = 256  # candidate images compared with every benchmark hash at once (CHUNK x benchmark size uint64s)


@dataclass
class BenchmarkHashes:
    """The sha256 and pHash of every image of a benchmark's image folder, by the image's benchmark key."""

    benchmark: str
    keys: list[str] = field(default_factory=list)
    sha: dict[str, str] = field(default_factory=dict)      # sha256 -> key
    phash_keys: list[str] = field(default_factory=list)
    phash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    unhashed: list[str] = field(default_factory=list)      # keys of images fetch could not decode: sha256 only


def image_files(benchmark: str, folder: str | Path) -> list[Path]:
    """The image files of a benchmark's local image folder."""
    if benchmark == "xm3600":
        from mella.evaluate.xm3600 import image_files as xm3600_files

        return xm3600_files(folder)
    raise MellaError(f"--exclude-benchmark {benchmark!r}: unknown benchmark; known: {', '.join(BENCHMARKS)}")


def fetch_image_options(fetch_dir: str | Path | None):
    """The ImageOptions the training images were hashed under (the fetch folder's stats.json), never refusing a
    shape: a benchmark image is hashed whatever its size."""
    from mella.fetch.images import ImageOptions

    opts: dict[str, Any] = {}
    stats = Path(fetch_dir) / "stats.json" if fetch_dir else None
    if stats is not None and stats.is_file():
        try:
            opts = json.loads(stats.read_text(encoding="utf-8")).get("options") or {}
        except (OSError, ValueError, AttributeError):
            opts = {}
    base = ImageOptions()
    return ImageOptions(image_size=opts.get("image_size", base.image_size),
                        resize_mode=opts.get("resize_mode", base.resize_mode),
                        max_pixels=opts.get("max_pixels", base.max_pixels), min_side=1,
                        max_aspect_ratio=float("inf"))


def benchmark_hashes(benchmark: str, folder: str | Path, fetch_dir: str | Path | None = None) -> BenchmarkHashes:
    """Hash every image of the benchmark's folder as fetch hashes a downloaded image."""
    from mella.fetch.images import process_image

    options = fetch_image_options(fetch_dir)
    out = BenchmarkHashes(benchmark)
    hashes: list[str] = []
    for path in image_files(benchmark, folder):
        key = path.stem
        result = process_image(path.read_bytes(), options)
        out.keys.append(key)
        out.sha.setdefault(result.sha256, key)
        if result.phash:
            out.phash_keys.append(key)
            hashes.append(result.phash)
        else:
            out.unhashed.append(key)
            log.warning("build: benchmark image %s: %s; matched by sha256 only", path, result.error or result.status)
    out.phash, _ = parse_phash(hashes)
    return out


def find_matches(image_sha: list[str | None], image_phash: list[str | None], bench: BenchmarkHashes,
                 distance: int) -> dict[int, tuple[str, str, int]]:
    """Training image index -> (``sha256`` | ``phash``, benchmark key, pHash bits apart) of every training image
    that is a benchmark image; sha256 first, then pHash within ``distance`` bits (none when it is -1)."""
    found: dict[int, tuple[str, str, int]] = {}
    for i, sha in enumerate(image_sha):
        if sha and sha in bench.sha:
            found[i] = ("sha256", bench.sha[sha], 0)
    if distance < 0 or not len(bench.phash):
        return found
    hashes, ok = parse_phash(image_phash)
    candidates = np.zeros(len(hashes), dtype=bool)
    for shift, width in bands(distance):  # two hashes within `distance` bits agree on at least one band
        mask = np.uint64((1 << width) - 1)
        band = (hashes >> np.uint64(shift)) & mask
        candidates |= np.isin(band, (bench.phash >> np.uint64(shift)) & mask)
    candidates[list(found)] = False  # already matched by sha256
    todo = np.flatnonzero(candidates & ok)
    for start in range(0, len(todo), CHUNK):
        idx = todo[start:start + CHUNK]
        bits = np.bitwise_count(hashes[idx, None] ^ bench.phash[None, :])
        nearest = bits.argmin(axis=1)
        best = bits[np.arange(len(idx)), nearest]
        for i, j, d in zip(idx.tolist(), nearest.tolist(), best.tolist(), strict=True):
            if d <= distance:
                found[i] = ("phash", bench.phash_keys[j], int(d))
    return found
