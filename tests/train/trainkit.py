"""Real samples for the training tests: alt-texts and images of the example sites, as SAMPLES parquet.

The responses are native alt-texts published on the example sites (see examples/sites/README.md for
provenance and licence); each image appears once, so every prompt has one right answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mella.fetch.wds import TarWriter
from mella.models.base import fit_pixels
from mella.records import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
SITES = ROOT / "examples" / "sites"
ALT = re.compile(r"!\[([^\]]+)\]\((images/[^)]+)\)")
MAX_PIXELS = 56 * 56   # 4 image tokens on the tiny Qwen2-VL: fast, and still one image per answer
INSTRUCTION = {"ar": "صف الصورة.", "ko": "이미지를 설명하세요.", "ru": "Опиши изображение.", "sr": "Опиши слику."}
# The four sites the training tests (and their measured figures) were written for; examples/sites holds more.
LANGS = ("ar", "ko", "ru", "sr")


def site_pairs(limit: int | None = None) -> list[dict]:
    """(lang, alt, image path) of the example sites: one per distinct image and distinct alt-text."""
    seen_images, seen_alts, out = set(), set(), []
    for md in sorted(SITES.glob("*/*/*.md")):
        lang = md.relative_to(SITES).parts[0].split("__")[0]
        if lang not in LANGS:
            continue
        for alt, rel in ALT.findall(md.read_text(encoding="utf-8")):
            path = md.parent / rel
            if not path.exists() or alt in ("alt", "showcase"):
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen_images or alt in seen_alts:
                continue
            seen_images.add(digest)
            seen_alts.add(alt)
            out.append({"lang": lang, "alt": alt, "path": path, "key": digest[:16]})
    # Languages interleaved, so that a short list still holds all four scripts.
    rank = {}
    order = []
    for p in out:
        rank[p["lang"]] = rank.get(p["lang"], -1) + 1
        order.append((rank[p["lang"]], p["lang"]))
    out = [p for _, p in sorted(zip(order, out, strict=True), key=lambda t: t[0])]
    return out[:limit] if limit else out


def sample_rows(pairs: list[dict], split_of=lambda i: "train") -> list[dict]:
    """SAMPLES rows (D_know: image -> native alt-text) for ``pairs``."""
    return [{"id": f"s{i:03d}", "key": p["key"], "lang": p["lang"], "source": "know",
             "instruction": INSTRUCTION[p["lang"]], "response": p["alt"], "split": split_of(i)}
            for i, p in enumerate(pairs)]


def write_samples(rows: list[dict], folder: Path) -> Path:
    """Rows as one parquet part of a dataset folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SAMPLES), folder / "part-00000.parquet")
    return folder


def small_image(path: Path, max_pixels: int | None = None) -> Image.Image:
    """The real image scaled down to the tests' pixel limit (decoding full screenshots each step is slow)."""
    return fit_pixels(Image.open(path), None, max_pixels or MAX_PIXELS)


def write_image_folder(pairs: list[dict], folder: Path, max_pixels: int | None = None) -> Path:
    """Images as ``<key>.png`` files (the simple image source)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in pairs:
        small_image(p["path"], max_pixels).save(folder / f"{p['key']}.png")
    return folder


def write_fetch_output(pairs: list[dict], folder: Path) -> Path:
    """A fetch stage output (parquet part + WebDataset tar + marker), written with the fetch stage's writer."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with TarWriter(folder / "part-00000.tar") as tar:
        for p in pairs:
            img = small_image(p["path"])
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=90)
            offset, size = tar.add(p["key"], "jpg", buf.getvalue(), {"key": p["key"]})
            rows.append({"key": p["key"], "status": "ok", "width": img.width, "height": img.height,
                         "tar_offset": offset, "tar_size": size})
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")
    (folder / "part-00000._SUCCESS").write_text(json.dumps({"rows": len(rows)}))
    return folder


def config(model: Path, samples: Path, images: Path, out: Path, **sections) -> dict:
    """A small training config mapping; ``sections`` override whole keys (``train={...}``)."""
    doc = {
        "method": "lora",
        "model": {"name": str(model)},
        "data": {"samples": str(samples), "images": str(images), "eval_split": None, "max_pixels": MAX_PIXELS},
        "output": {"dir": str(out)},
        "optim": {"lr": 5e-3, "warmup_ratio": 0.0, "scheduler": "constant"},
        "train": {"max_steps": 6, "batch_size": 4, "logging_steps": 1, "save_steps": None, "device": "cpu",
                  "resume": False},
    }
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    return doc
