"""Helpers of the fetch tests: pairs files, generated images and a misbehaving site folder."""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mella.records import PAIRS

EXAMPLE_SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"
REAL_SITE = "sr__raspberrypilearning__poetry-generator"


def real_images(site: str = REAL_SITE) -> list[Path]:
    """The real PNGs of one example site, sorted."""
    return sorted((EXAMPLE_SITES / site).rglob("*.png"))


def pair(image_url: str, alt: str = "слика", page_url: str = "http://127.0.0.1/page.html") -> dict:
    """One pairs row."""
    row = dict.fromkeys(PAIRS.names)
    row.update(page_url=page_url, image_url=image_url, alt=alt, domain="127.0.0.1", source="test",
               source_offset=-1, lang="sr", lang_confidence=0.99)
    return row


def write_pairs(path: Path, rows: list[dict]) -> Path:
    """A pairs parquet file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PAIRS), path)
    return path


def png_bomb(side: int = 20000) -> bytes:
    """A tiny PNG declaring side x side 1-bit pixels (400 megapixels for the default side), all zero."""
    raw = zlib.compress(b"\0" * (side // 8 + 1) * side, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def flatten(img: Image.Image) -> Image.Image:
    """Transparent pixels on white, as mella (and a browser) shows them."""
    rgba = img.convert("RGBA")
    out = Image.new("RGB", rgba.size, "white")
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def jpeg(img: Image.Image, quality: int = 90, exif=None) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buf.getvalue()


def variant(img: Image.Image, n: int) -> Image.Image:
    """`img` with a few pixels set from `n`: other bytes (sha256), the same look (pHash)."""
    out = img.convert("RGB")
    for bit in range(24):
        out.putpixel((bit, 0), (255, 255, 255) if n >> bit & 1 else (0, 0, 0))
    return out


def make_misbehaving_site(root: Path) -> Path:
    """A site folder of bad and tricky images, built from the real PNGs."""
    root.mkdir(parents=True, exist_ok=True)
    real = real_images()
    (root / "good.png").write_bytes(real[1].read_bytes())
    (root / "copy.png").write_bytes(real[1].read_bytes())          # exact duplicate of good.png
    (root / "near.jpg").write_bytes(jpeg(flatten(Image.open(real[1])), quality=70))  # re-encoded
    (root / "bomb.png").write_bytes(png_bomb())
    full = jpeg(flatten(Image.open(real[5])))
    (root / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (root / "page.jpg").write_bytes(b"<!DOCTYPE html><html><body>not an image</body></html>")
    (root / "tiny.png").write_bytes(_png(Image.new("RGB", (16, 16), "red")))
    (root / "banner.png").write_bytes(_png(Image.open(real[2]).convert("RGB").resize((900, 90))))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    (root / "rotated.jpg").write_bytes(jpeg(flatten(Image.open(real[3])).resize((300, 200)), exif=exif.tobytes()))
    (root / "private").mkdir(exist_ok=True)
    (root / "private" / "secret.png").write_bytes(real[4].read_bytes())
    return root


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def tar_members(out: Path) -> dict[str, bytes]:
    """Every member of every committed tar of a fetch output, by name; a repeated name fails."""
    found: dict[str, bytes] = {}
    for tar_path in sorted(out.glob("part-*.tar")):
        with tarfile.open(tar_path) as tar:
            for m in tar:
                assert m.name not in found, f"{m.name} is in two places"
                found[m.name] = tar.extractfile(m).read()
    return found
