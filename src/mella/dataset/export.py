"""``mella export BUILD_DIR --format hf|llava|sharegpt|swift|wds --out DIR``: samples in the formats trainers read.

The samples come from the build stage's committed parts; the images from the fetch folder the build
recorded (``_global/build/summary.json``), read by key with :class:`mella.fetch.wds.ImageStore`. Every
export writes a dataset card (``README.md``, :mod:`mella.dataset.card`) next to the data.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mella.errors import MellaError

log = logging.getLogger("mella")

FORMATS = {
    "hf": "mella.dataset.formats:write_hf",
    "llava": "mella.dataset.formats:write_llava",
    "sharegpt": "mella.dataset.formats:write_sharegpt",
    "swift": "mella.dataset.formats:write_swift",
    "wds": "mella.dataset.formats:write_wds",
}
SPLIT_ORDER = ("train", "validation", "test")
USER_IMAGE = "<image>"  # the image placeholder LLaVA, LLaMA-Factory and ms-swift all expect in the user turn


def build_summary(build_dir: str | Path) -> dict[str, Any]:
    """The build's plan summary (counts, options, the fetch folder), or {} for a build made elsewhere."""
    import json

    path = Path(build_dir) / "_global" / "build" / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def iter_samples(build_dir: str | Path, split: str | None = None) -> Iterator[dict[str, Any]]:
    """The kept samples of a build folder, part by part (optionally one split)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mella.runstore import StageDir

    for part in StageDir(build_dir).committed_part_files(strict=True):
        table = pq.read_table(part)
        if split is not None:
            table = table.filter(pc.equal(table["split"], split))
        yield from table.to_pylist()


def splits_of(build_dir: str | Path) -> list[str]:
    """The splits a build holds, in train / validation / test order."""
    import pyarrow.parquet as pq

    from mella.runstore import StageDir

    found = set()
    for part in StageDir(build_dir).committed_part_files(strict=True):
        found.update(pq.read_table(part, columns=["split"])["split"].to_pylist())
    return [s for s in SPLIT_ORDER if s in found] + sorted(found - set(SPLIT_ORDER) - {None})


def messages(sample: dict[str, Any]) -> list[dict[str, str]]:
    """Chat turns of a sample (role/content), the image placeholder at the start of the first user turn."""
    out = []
    for i, turn in enumerate(sample.get("turns") or [sample]):
        prefix = USER_IMAGE + "\n" if i == 0 else ""
        out.append({"role": "user", "content": prefix + turn["instruction"]})
        out.append({"role": "assistant", "content": turn["response"]})
    return out


def image_ext(data: bytes) -> str:
    """File extension of encoded image bytes (the fetch stage stores JPEG or WebP)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return "jpg"


class Images:
    """Images by key from the fetch folder; ``save`` writes each key once under ``folder``."""

    def __init__(self, fetch_dir: str | Path):
        from mella.fetch.wds import ImageStore

        self.fetch_dir = Path(fetch_dir)
        self.store = ImageStore(fetch_dir)
        self.saved: dict[str, str] = {}

    def __getitem__(self, key: str) -> bytes:
        try:
            return self.store[key]
        except KeyError:
            raise MellaError(f"image {key} is not in the fetch folder; pass the right one with --images") from None

    def save(self, key: str, folder: Path, base: Path) -> str:
        """Write image ``key`` under ``folder`` once; its path relative to ``base``."""
        if key not in self.saved:
            data = self[key]
            path = folder / f"{key}.{image_ext(data)}"
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.saved[key] = path.relative_to(base).as_posix()
        return self.saved[key]


def export(build_dir: str | Path, fmt: str, out: str | Path, images: str | Path | None = None,
           overwrite: bool = False, name: str = "mella") -> dict[str, Any]:
    """Write the build in format ``fmt`` to ``out`` with a dataset card; returns what was written."""
    import importlib

    if fmt not in FORMATS:
        raise MellaError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    build_dir, out = Path(build_dir), Path(out)
    fetch_dir = images or build_summary(build_dir).get("images_dir")
    if not fetch_dir or not Path(fetch_dir).is_dir():
        raise MellaError(f"cannot find the images of {build_dir}; pass the fetch folder with --images")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise MellaError(f"{out} is not empty; use another --out or --overwrite")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    module, _, attr = FORMATS[fmt].partition(":")
    writer = getattr(importlib.import_module(module), attr)
    result = writer(build_dir, out, Images(fetch_dir), name=name)
    from mella.dataset.card import write_card

    result["card"] = str(write_card(build_dir, out, fmt, result, name=name))
    log.info("export %s: %s -> %s", fmt, result.get("counts"), out)
    return result
