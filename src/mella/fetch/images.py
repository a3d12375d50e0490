"""Decode, check, resize and re-encode one downloaded image; hash it (sha256 of the bytes, 64-bit pHash).

Stored images carry pixels only: no comment, EXIF, XMP or ICC payload survives the re-encoding (an ICC
profile is applied first, so the stored pixels are sRGB). Later stages decode stored images with
:func:`open_stored_image`, under the same limits. Pillow and numpy are imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

log = logging.getLogger("mella.fetch")

# Formats a web image can honestly be; Pillow is told to try only these decoders (less attack surface).
WEB_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "ICO")
# Pillow's own default limit (about 89.5 megapixels): a 4-byte-per-pixel image this size is ~360 MB.
DEFAULT_MAX_PIXELS = 89_478_485
# What a decoder may raise on hostile bytes (Pillow's plugins raise all of these).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error)
HASH_SIZE = 8  # pHash: 8x8 low-frequency DCT coefficients -> 64 bits
DCT_SIZE = 32

ResizeMode = Literal["keep_ratio", "center_crop", "none"]
EncodeFormat = Literal["jpg", "webp"]


@dataclass(frozen=True)
class ImageOptions:
    """What to accept and how to store it."""

    image_size: int = 1024  # keep_ratio: the longest side MLLM training uses; smaller images stay as they are
    resize_mode: ResizeMode = "keep_ratio"
    encode_format: EncodeFormat = "jpg"
    encode_quality: int = 95
    min_side: int = 32
    max_aspect_ratio: float = 4.0
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class ImageResult:
    """One image after processing: `status` is "ok" or why it was refused (with `error` in words)."""

    status: str
    error: str | None = None
    data: bytes | None = None          # the re-encoded image
    ext: str | None = None             # "jpg" or "webp"
    format: str | None = None          # the real format of the original bytes (JPEG, PNG, ...)
    width: int | None = None           # of the stored image
    height: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    sha256: str | None = None          # of the original bytes
    phash: str | None = None           # 16 hex digits


def sha256_hex(body: bytes) -> str:
    """sha256 of the bytes as downloaded."""
    return hashlib.sha256(body).hexdigest()


def process_image(body: bytes, options: ImageOptions) -> ImageResult:
    """Decode `body` under the pixel limit, check it, hash it, resize and re-encode it; never raises."""
    result = ImageResult(status="ok", sha256=sha256_hex(body))
    try:
        img, fmt = _open(body, options.max_pixels)
    except _Refused as exc:
        result.status, result.error = exc.status, exc.detail
        return result
    result.format = fmt
    result.original_width, result.original_height = img.size
    refusal = _check_shape(img.size, options)
    if refusal:
        result.status, result.error = refusal
        return result
    try:
        return _finish(img, options, result)
    except DECODE_ERRORS as exc:  # a body that breaks only when fully decoded
        return _decode_failure(result, exc)


class StoredImageError(ValueError):
    """A stored image a later stage cannot use; ``reason`` is the drop reason: image_too_large or image_unreadable."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def open_stored_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Decode stored image bytes under the fetch stage's limits: the loaded PIL image, or StoredImageError.

    Every later reader (annotation stages, predict, training, the report) opens images through this, so a
    hostile tar member (a 10^10-pixel PNG, garbage) is a counted skip there, never a crash.
    """
    try:
        img, _ = _open(data, max_pixels)
    except _Refused as exc:
        reason = "image_too_large" if exc.status == "decompression_bomb" else "image_unreadable"
        raise StoredImageError(reason, exc.detail) from None
    with stored_image_errors():  # a later frame of an animated image may still be a bomb
        img.load()
    return img


@contextmanager
def stored_image_errors() -> Iterator[None]:
    """Turn what a Pillow decode raises in the block into StoredImageError (image_too_large, image_unreadable)."""
    from PIL import Image

    try:
        yield
    except Image.DecompressionBombError as exc:
        raise StoredImageError("image_too_large", str(exc)) from None
    except DECODE_ERRORS as exc:
        raise StoredImageError("image_unreadable", f"{type(exc).__name__}: {exc}") from None


def check_pixels(img, max_pixels: int = DEFAULT_MAX_PIXELS):
    """``img`` when its pixel count is within ``max_pixels``, else StoredImageError (for images opened elsewhere)."""
    w, h = img.size
    if w * h > max_pixels:
        raise StoredImageError("image_too_large", f"{w}x{h} pixels is over the limit of {max_pixels}")
    return img


class _Refused(Exception):
    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _open(body: bytes, max_pixels: int):
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open reads the header only: the pixel count is known before any pixel is decoded.
        img = Image.open(io.BytesIO(body), formats=WEB_FORMATS)
    except UnidentifiedImageError:
        raise _Refused("not_an_image", f"not a {'/'.join(WEB_FORMATS)} image: starts {body[:16]!r}") from None
    except Image.DecompressionBombError as exc:
        raise _Refused("decompression_bomb", str(exc)) from None
    except DECODE_ERRORS as exc:
        raise _Refused("decode_error", f"{type(exc).__name__}: {exc}") from None
    w, h = img.size
    if w * h > max_pixels:
        raise _Refused("decompression_bomb", f"{w}x{h} pixels is over the limit of {max_pixels}")
    return img, img.format


def _check_shape(size: tuple[int, int], options: ImageOptions) -> tuple[str, str] | None:
    w, h = size
    if min(w, h) < options.min_side:
        return "too_small", f"{w}x{h}: a side is under {options.min_side}"
    if max(w, h) / max(1, min(w, h)) > options.max_aspect_ratio:
        return "bad_aspect_ratio", f"{w}x{h}: aspect ratio over {options.max_aspect_ratio}"
    return None


def _finish(img, options: ImageOptions, result: ImageResult) -> ImageResult:
    from PIL import ImageOps

    if img.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF says "rotate 90°": the shown image is h x w
        result.original_width, result.original_height = result.original_height, result.original_width
    _draft(img, options)
    img.load()  # the full decode: truncated and corrupt bodies fail here
    icc = img.info.get("icc_profile")
    img = _to_rgb(ImageOps.exif_transpose(img))
    img = resize(img, options.image_size, options.resize_mode)
    img = _to_srgb(img, icc)  # after the resize: far fewer pixels to convert
    # From the resized image: the same picture for a 32x32 hash, and far cheaper than from the original.
    result.phash = phash_hex(img)
    result.width, result.height = img.size
    result.data, result.ext = encode(img, options.encode_format, options.encode_quality), options.encode_format
    return result


def _draft(img, options: ImageOptions) -> None:
    # JPEG can decode at 1/2, 1/4, 1/8 scale directly: much faster, and the result is resized down anyway.
    if img.format == "JPEG" and options.resize_mode != "none":
        target = options.image_size
        w, h = img.size
        scale = target / min(w, h) if options.resize_mode == "center_crop" else target / max(w, h)
        if scale < 0.5:
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))


def _decode_failure(result: ImageResult, exc: Exception) -> ImageResult:
    text = f"{type(exc).__name__}: {exc}"
    result.status = "truncated_image" if "truncated" in str(exc).lower() else "decode_error"
    result.error = text
    return result


def _to_srgb(img, icc: bytes | None):
    """An RGB image with its ICC profile applied: the stored image carries none, so its pixels must be sRGB."""
    if not icc:
        return img
    try:
        from PIL import ImageCms

        return ImageCms.profileToProfile(img, io.BytesIO(icc), _srgb(), outputMode="RGB")
    except (ImportError, OSError, ValueError, TypeError) as exc:  # PyCMSError is an OSError
        # A broken profile, or one for other pixels (CMYK, grey: converted naively before): browsers skip it too.
        log.debug("ICC profile not applied: %s", exc)
        return img


@lru_cache(maxsize=1)
def _srgb():
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


def _to_rgb(img):
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels go on white, as a browser shows them on a plain page, not on black.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def resize(img, size: int, mode: ResizeMode):
    """Keep ratio (longest side <= size, never upscaled), centre crop to exactly size x size, or leave as is."""
    from PIL import Image

    if mode == "none":
        return img
    w, h = img.size
    if mode == "center_crop":
        side = min(w, h)
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        return img.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
    if max(w, h) <= size:
        return img
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(new, Image.Resampling.LANCZOS, reducing_gap=2.0)


def encode(img, fmt: EncodeFormat, quality: int) -> bytes:
    """Re-encode an RGB image as JPEG or WebP, pixels only: no comment, EXIF, XMP or ICC payload.

    Pillow's JPEG writer copies ``img.info["comment"]`` (a source JPEG's or GIF's comment) unless told
    otherwise, and metadata rides along ``convert`` and ``resize``: the info is emptied before saving.
    """
    img.info = {}
    buf = io.BytesIO()
    if fmt == "webp":
        img.save(buf, "WEBP", quality=quality, method=4)
    else:
        img.save(buf, "JPEG", quality=quality, optimize=False)
    return buf.getvalue()


# JPEG markers whose segments carry payloads, not pixels: APP1-APP15 (EXIF, XMP, ICC, Photoshop ...) and COM.
_PAYLOAD_MARKERS = frozenset(range(0xE1, 0xF0)) | {0xFE}


def strip_payloads(data: bytes) -> bytes:
    """A JPEG without its APP1-APP15 and comment segments (lossless); other bytes come back unchanged.

    For stored bytes that are not re-encoded (an earlier attempt's image reused on resume): what an older
    mella wrote may still carry a source image's comment.
    """
    if not data.startswith(b"\xff\xd8"):
        return data
    out, i = [data[:2]], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows, copied as is
            break
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker not in _PAYLOAD_MARKERS:
            out.append(data[i:end])
        i = end
    out.append(data[i:])
    return b"".join(out)


@lru_cache(maxsize=1)
def _dct_matrix():
    import numpy as np

    n = np.arange(DCT_SIZE)
    # DCT-II basis, as scipy.fftpack.dct(type=2) up to a constant factor (the median test ignores scale).
    return np.cos(np.pi * np.outer(n, 2 * n + 1) / (2 * DCT_SIZE))


def phash(img) -> int:
    """64-bit perceptual hash (imagehash's pHash recipe): 32x32 grey, 2-D DCT, 8x8 low block > its median."""
    import numpy as np
    from PIL import Image

    grey = img.convert("L").resize((DCT_SIZE, DCT_SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    pixels = np.asarray(grey, dtype=np.float64)
    m = _dct_matrix()
    low = (m @ pixels @ m.T)[:HASH_SIZE, :HASH_SIZE]
    bits = (low > np.median(low)).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def phash_hex(img) -> str:
    """pHash as 16 hex digits."""
    return f"{phash(img):016x}"


def hamming(a: int | str, b: int | str) -> int:
    """Bits that differ between two 64-bit hashes (ints or hex strings)."""
    a = int(a, 16) if isinstance(a, str) else a
    b = int(b, 16) if isinstance(b, str) else b
    return (a ^ b).bit_count()
