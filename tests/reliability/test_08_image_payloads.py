"""Item 8 (payloads): images fetched through the real loopback server are stored as pixels only.

A source JPEG with a comment segment carrying ``<script>``, EXIF, XMP and an ICC profile, a PNG with text
chunks and a GIF with a comment go through the real fetch stage; what lands in the tars carries none of
those bytes, whatever the output format and whether a resize was needed.
"""

from __future__ import annotations

import io
import struct

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from fetch.fetchkit import pair, tar_members, write_pairs
from mella.demo.siteserver import SiteServer, SiteSpec
from mella.fetch.fetch import FetchStage
from mella.fetch.images import open_stored_image, strip_payloads
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage

SCRIPT = b"<script>alert(document.cookie)</script>"
MARKERS = (b"<script", b"COMMENT-MARK", b"EXIF-MARK", b"XMP-MARK", b"PNG-TEXT-MARK", b"GIF-MARK", b"ICC_PROFILE",
           b"Exif\0\0", b"http://ns.adobe.com/xap")
PAYLOAD_JPEG_MARKERS = set(range(0xE1, 0xF0)) | {0xFE}  # APP1-APP15 (EXIF, XMP, ICC ...) and COM


def _picture(size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, (200, 30, 40))
    for x in range(size[0]):
        img.putpixel((x, x % size[1]), (20, 160, 220))  # not flat: a realistic JPEG
    return img


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def hostile_jpeg(size: tuple[int, int]) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "EXIF-MARK " + SCRIPT.decode()   # ImageDescription
    exif[0x013B] = "EXIF-MARK artist"               # Artist
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">XMP-MARK ' + SCRIPT + b"</x:xmpmeta>"
    buf = io.BytesIO()
    _picture(size).save(buf, "JPEG", quality=92, comment=b"COMMENT-MARK " + SCRIPT, exif=exif.tobytes(), xmp=xmp,
                        icc_profile=_srgb_icc())
    data = buf.getvalue()
    assert all(m in data for m in (SCRIPT, b"EXIF-MARK", b"XMP-MARK", b"ICC_PROFILE"))
    return data


def hostile_png(size: tuple[int, int]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "PNG-TEXT-MARK " + SCRIPT.decode())
    info.add_itxt("XML:com.adobe.xmp", "PNG-TEXT-MARK xmp " + SCRIPT.decode())
    buf = io.BytesIO()
    _picture(size).save(buf, "PNG", pnginfo=info, icc_profile=_srgb_icc())
    return buf.getvalue()


def hostile_gif(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    # Pillow reads a GIF comment into info["comment"], which its JPEG writer copies by default.
    _picture(size).convert("P", palette=Image.Palette.ADAPTIVE).save(buf, "GIF", comment=b"GIF-MARK " + SCRIPT)
    return buf.getvalue()


@pytest.fixture
def hostile_site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    files = {
        "big.jpg": hostile_jpeg((600, 400)),      # resized
        "small.jpg": hostile_jpeg((120, 100)),    # under image_size: no resize needed
        "big.png": hostile_png((500, 300)),
        "small.png": hostile_png((100, 90)),
        "small.gif": hostile_gif((110, 100)),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    with SiteServer([SiteSpec("hostile", root, "sr")]) as server:
        yield server, [f"{server.base_url}/hostile/{name}" for name in files]


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the start of scan (an independent little parser)."""
    assert data[:2] == b"\xff\xd8"
    found, i = [], 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        found.append(data[i + 1])
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return found


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    found, i = [], 12
    while i + 8 <= len(data):
        size = struct.unpack("<I", data[i + 4:i + 8])[0]
        found.append(data[i:i + 4])
        i += 8 + size + (size & 1)
    return found


def assert_pixels_only(data: bytes, ext: str) -> None:
    lowered = data.lower()
    for marker in MARKERS:
        assert marker.lower() not in lowered, marker
    if ext == "jpg":
        assert not PAYLOAD_JPEG_MARKERS & set(jpeg_segments(data)), [hex(m) for m in jpeg_segments(data)]
    else:
        assert set(webp_chunks(data)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}, webp_chunks(data)
    info = Image.open(io.BytesIO(data)).info
    assert not {"comment", "exif", "xmp", "icc_profile", "XML:com.adobe.xmp"} & set(info), info


@pytest.mark.parametrize("options", [
    {"encode_format": "jpg"},
    {"encode_format": "jpg", "resize_mode": "none"},
    {"encode_format": "webp"},
    {"encode_format": "jpg", "resize_mode": "center_crop", "image_size": 64},
])
def test_08_fetched_images_keep_no_comment_exif_xmp_or_icc(hostile_site, tmp_path, options):
    server, urls = hostile_site
    write_pairs(tmp_path / "in" / "a.parquet", [pair(u) for u in urls])
    out = tmp_path / "out"
    stage = FetchStage(allow_hosts=[server.host_port], near_duplicate_distance=-1, dedup_scope="all", **options)
    run_stage(stage, [str(tmp_path / "in")], out, LocalExecutor(1, progress=False))
    rows = pq.read_table(out / "part-00000.parquet").to_pylist()
    assert len(rows) == len(urls), [r["status"] for r in rows]  # every hostile image was kept, cleaned
    ext = options["encode_format"]
    members = tar_members(out)
    images = {name: data for name, data in members.items() if not name.endswith(".json")}
    assert len(images) == len(urls) and all(name.endswith("." + ext) for name in images)
    for data in images.values():
        assert_pixels_only(data, ext)
        # The sRGB profile was applied, then dropped: the colours are the source's.
        assert _near(open_stored_image(data).convert("RGB").getpixel((2, 40)), (200, 30, 40))


def _near(a, b, tolerance=12):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_08_strip_payloads_removes_segments_without_touching_pixels():
    # The resume path reuses an earlier attempt's stored bytes as they are: they are stripped losslessly.
    data = hostile_jpeg((300, 200))
    clean = strip_payloads(data)
    assert_pixels_only(clean, "jpg")
    assert Image.open(io.BytesIO(clean)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
    assert strip_payloads(b"RIFF not a jpeg") == b"RIFF not a jpeg"
