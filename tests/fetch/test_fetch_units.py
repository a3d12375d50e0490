"""The pieces of the fetch stage: image checks and hashes, X-Robots-Tag, the duplicate index, tar shards."""

from __future__ import annotations

import io
import tarfile

import pytest
from fetchkit import flatten, jpeg, png_bomb, real_images
from PIL import Image

from mella.fetch.downloader import is_transient, refuses_ai
from mella.fetch.fetch import image_key, normalize_url
from mella.fetch.hashindex import HashIndex, bands
from mella.fetch.images import ImageOptions, hamming, phash, process_image
from mella.fetch.wds import TarWriter, read_at


@pytest.fixture(scope="module")
def pictures():
    return [flatten(Image.open(p)) for p in real_images() if min(Image.open(p).size) >= 100]


def test_phash_is_stable_under_reencoding_and_tells_pictures_apart(pictures):
    for img in pictures:
        again = Image.open(io.BytesIO(jpeg(img.resize((img.width // 2, img.height // 2)), quality=60)))
        assert hamming(phash(img), phash(again)) <= 4
    hashes = [phash(img) for img in pictures]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:]]
    # (two screenshots of one editor state may be near copies; nearly all pairs are far apart)
    assert sum(d <= 4 for d in distances) <= 2 and sum(distances) / len(distances) > 20


def test_real_format_not_extension_and_limits():
    png = real_images()[1].read_bytes()
    ok = process_image(png, ImageOptions())
    assert ok.status == "ok" and ok.format == "PNG" and ok.ext == "jpg" and ok.data[:3] == b"\xff\xd8\xff"
    assert process_image(b"GIF89a" + b"\0" * 20, ImageOptions()).status in ("decode_error", "not_an_image")
    assert process_image(b"%PDF-1.4 ...", ImageOptions()).status == "not_an_image"
    assert process_image(png_bomb(), ImageOptions()).status == "decompression_bomb"
    # under Pillow's own hard limit, over ours: refused from the header, before any pixel is decoded
    assert process_image(png, ImageOptions(max_pixels=1000)).status == "decompression_bomb"
    assert process_image(png, ImageOptions(min_side=500)).status == "too_small"
    assert process_image(png, ImageOptions(max_aspect_ratio=1.2)).status == "bad_aspect_ratio"


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 8
    body = jpeg(Image.new("RGB", (120, 60), "blue"), exif=exif.tobytes())
    res = process_image(body, ImageOptions())
    assert (res.original_width, res.original_height) == (60, 120) and (res.width, res.height) == (60, 120)


@pytest.mark.parametrize("value,token,refused", [
    ("noai", "mella", True), ("noimageai", "mella", True), ("none", "mella", True),
    ("noindex, NoAI", "mella", True), ("mella: noai", "mella", True), ("otherbot: noai", "mella", False),
    ("otherbot: noindex, mella: noimageai", "mella", True), ("unavailable_after: 2030-01-01", "mella", False),
    ("noindex, nofollow", "mella", False), (None, "mella", False),
])
def test_x_robots_tag(value, token, refused):
    assert refuses_ai(value, token) is refused


def test_transient_statuses():
    assert all(map(is_transient, ["timeout", "connection_error", "http_429", "http_500", "http_503"]))
    assert not any(map(is_transient, ["http_404", "http_403", "too_large", "noai", "blocked_address", None]))


def test_duplicate_index_exact_near_and_forget(tmp_path):
    assert sum(w for _, w in bands(4)) == 64 and len(bands(4)) == 5
    index = HashIndex(tmp_path / "i.sqlite", near_distance=4)
    h = 0xF0F0_F0F0_F0F0_F0F0
    assert index.claim("part-00000", "a", "sha-a", f"{h:016x}") is None
    assert index.claim("part-00001", "b", "sha-a", f"{h ^ 0xFFFF:016x}") == ("duplicate", "a")
    assert index.claim("part-00001", "c", "sha-c", f"{h ^ 0b10101:016x}") == ("near_duplicate", "a")
    assert index.claim("part-00001", "d", "sha-d", f"{h ^ 0b111111:016x}") is None  # 6 bits away
    assert index.forget_uncommitted({"part-00000"}) == 1 and len(index) == 1
    assert HashIndex(tmp_path / "i.sqlite", 4).claim("part-00002", "e", "sha-a", None) == ("duplicate", "a")
    assert HashIndex(near_distance=-1).claim("p", "x", "s", f"{h:016x}") is None


def test_tar_writer_offsets_and_append(tmp_path):
    path = tmp_path / "shard.tar"
    with TarWriter(path) as w:
        first = w.add("k1", "jpg", b"x" * 700, {"key": "k1"})
    with TarWriter(path) as w:  # a later batch appends to the same tar
        second = w.add("k2" * 60, "jpg", b"y" * 5, {"key": "k2", "alt": "тест"})
    assert read_at(path, *first) == b"x" * 700 and read_at(path, *second) == b"y" * 5
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["k1.jpg", "k1.json", "k2" * 60 + ".jpg", "k2" * 60 + ".json"]


def test_keys_follow_the_normalised_url():
    assert normalize_url("HTTP://Example.ORG:80/a.png#x") == "http://example.org/a.png"
    assert image_key("https://example.org:443/a.png") == image_key("https://EXAMPLE.org/a.png")
    assert image_key("https://example.org/a.png?s=1") != image_key("https://example.org/a.png?s=2")
    assert len(image_key("http://x/y")) == 20
