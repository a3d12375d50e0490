"""Decode the bytes of a web page to text, whatever its charset claims.

Order: a byte-order mark, then the HTTP charset, then UTF-8 when the bytes are valid UTF-8, then
``<meta charset>``, then detection (charset-normalizer). Every declared charset must decode the
bytes strictly to be used; otherwise the next source is tried. See docs/collect.md.
"""

from __future__ import annotations

import codecs
import importlib
import re
from functools import lru_cache

from mella.collect.accel import native

# The byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Browsers (WHATWG Encoding) read these labels as a superset; Python's codecs take them literally,
# so a "latin1" page with curly quotes from windows-1252 would otherwise decode to C1 controls.
_SUPERSETS = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "iso8859-9": "cp1254",
    "tis-620": "cp874", "iso8859-11": "cp874", "gb2312": "gb18030", "gbk": "gb18030",
    "euc_kr": "cp949", "shift_jis": "cp932", "big5": "big5hkscs",
}
# Labels Python does not know under these names.
_ALIASES = {"windows-874": "cp874", "x-sjis": "cp932", "win-1251": "cp1251", "x-cp1251": "cp1251",
            "x-mac-cyrillic": "mac-cyrillic", "unicode": "utf-16"}

# The WHATWG prescan looks at the first 1024 bytes; pages with long <head> scripts put it later.
_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]{1,40})""", re.I)


class Decoded:
    """A decoded page: its text (or its UTF-8 bytes), the codec used and where the choice came from
    (bom, http, ...). Either form is made from the other when asked for."""

    __slots__ = ("encoding", "source", "replaced", "_text", "_utf8")

    def __init__(self, encoding: str, source: str, replaced: bool = False, *,
                 text: str | None = None, utf8: bytes | None = None):
        self.encoding, self.source = encoding, source
        self.replaced = replaced  # undecodable bytes were replaced with U+FFFD
        self._text, self._utf8 = text, utf8

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._utf8.decode("utf-8")
        return self._text

    @property
    def utf8(self) -> bytes:
        if self._utf8 is None:
            self._utf8 = self._text.encode("utf-8", "replace")
        return self._utf8


def normalize_charset(label: str | None) -> str | None:
    """The Python codec for a charset label (browser supersets applied), or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


@lru_cache(maxsize=64)
def _charmap_table(encoding: str) -> str | None:
    """The decoding table of a one-byte codec (cp1251, koi8-r, iso8859-5 ...), else None."""
    try:
        module = importlib.import_module("encodings." + codecs.lookup(encoding).name.replace("-", "_"))
    except (ImportError, LookupError):
        return None
    table = getattr(module, "decoding_table", None)
    return table if isinstance(table, str) and len(table) == 256 else None


def _strict_decoded(data: bytes, encoding: str, source: str) -> Decoded | None:
    """``data`` decoded strictly with ``encoding``; one-byte codecs straight to UTF-8 in C."""
    table = _charmap_table(encoding) if native is not None else None
    if table is not None:
        utf8 = native.charmap_utf8(data, table)
        return Decoded(encoding, source, utf8=utf8) if utf8 is not None else None
    text = _strict(data, encoding)
    return Decoded(encoding, source, text=text) if text is not None else None


def _utf8(data: bytes) -> str | None:
    return _strict(data, "utf-8")


def _mostly_utf8(data: bytes, ratio: int = 2) -> str | None:
    """The text when the bytes are UTF-8 but for a few bad sequences (pages glued from two sources):
    at least ``ratio`` valid multi-byte characters for each invalid sequence."""
    if native is not None:  # the same counts in one C pass, without decoding a legacy page in vain
        return data.decode("utf-8", "replace") if native.mostly_utf8(data, ratio) else None
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    # A legacy charset read as UTF-8 yields almost no valid multi-byte characters: most become U+FFFD.
    # Each good one is two bytes or more and gives one character, so good <= len(data) - len(text):
    # enough to turn most legacy pages away without counting their ASCII.
    if len(data) - len(text) < ratio * bad:
        return None
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good >= ratio * bad else None


def meta_charset(data: bytes) -> str | None:
    """The codec named by a ``<meta charset>`` or ``http-equiv`` declaration near the top of the page."""
    match = _META_CHARSET.search(data, 0, _PRESCAN_BYTES)
    if not match:
        return None
    name = normalize_charset(match.group(1).decode("ascii", "replace"))
    # A page that reached us as bytes cannot really be UTF-16 without a BOM: browsers read it as UTF-8.
    if name and name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return name


def detect(data: bytes) -> str | None:
    """The codec charset-normalizer finds most likely, or None."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    return normalize_charset(best.encoding) if best is not None else None


def decode_html(data: bytes, http_charset: str | None = None) -> Decoded:
    """Decode page bytes to text; never raises on bad bytes (they become U+FFFD, flagged ``replaced``)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(encoding, "replace")
            return Decoded(encoding, "bom", "\ufffd" in text, text=text)

    utf8 = _utf8(data)
    http = normalize_charset(http_charset)
    if http and http not in ("utf-8", "utf-16", "utf-32"):
        # Valid UTF-8 with non-ASCII bytes is almost never a legacy charset by accident, so a server
        # default like "iso-8859-1" in front of a UTF-8 page loses to the bytes themselves.
        if not (utf8 is not None and not data.isascii()):
            decoded = _strict_decoded(data, http, "http")
            if decoded is not None:
                return decoded
    if utf8 is not None:
        return Decoded("utf-8", "http" if http == "utf-8" else "utf8", text=utf8)
    meta = meta_charset(data)
    # A page that says it is UTF-8 stays UTF-8 while its valid multi-byte characters are at least as
    # many as its broken sequences; a legacy page mislabelled UTF-8 has almost none, and goes on to
    # detection. Without a declaration the bytes alone must make the case twice over.
    declared = "utf-8" in (http, meta)
    repaired = _mostly_utf8(data, 1 if declared else 2)
    if repaired is not None:
        return Decoded("utf-8", "utf8", True, text=repaired)

    if meta and meta != "utf-8":
        decoded = _strict_decoded(data, meta, "meta")
        if decoded is not None:
            return decoded

    guess = detect(data)
    if guess:
        decoded = _strict_decoded(data, guess, "detected")
        if decoded is not None:
            return decoded
    # Nothing decodes cleanly: keep what we can read, mark the rest.
    encoding = meta or http or guess or "utf-8"
    return Decoded(encoding, "replaced", True, text=data.decode(encoding, "replace"))


_CONTROL_BYTES = bytes([*range(1, 9), 11, *range(14, 32)])
_KEEP_CONTROLS = bytes(b for b in range(256) if b not in _CONTROL_BYTES)


def looks_binary(data: bytes, sample: int = 2048) -> bool:
    """Whether the bytes look like a binary file rather than text, from the share of control bytes
    in the first ``sample`` bytes (see :func:`binary_share`)."""
    if not data or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if native is not None:  # the same counts in one pass in C, without copying the head
        nuls, controls = native.control_bytes(data, sample)
        return binary_share(min(len(data), sample), nuls, controls)
    head = data[:sample]
    # One C pass: delete every byte that is not a control byte and count what is left.
    return binary_share(len(head), head.count(0), len(head.translate(None, _KEEP_CONTROLS)))


def binary_share(n: int, nuls: int, controls: int) -> bool:
    """Binary when control bytes (NUL included) are over a tenth of ``n`` bytes, or over 1/64 of them
    with NULs among them. Random bytes hold about 11 % control bytes, NULs among them; a text page
    with a stray NUL or two (a form field, a template bug) holds almost none, and is kept."""
    suspicious = nuls + controls
    return suspicious > n // 10 or (nuls > 0 and suspicious > n // 64)


# Control characters other than whitespace (C0, DEL, C1 but NEL): never part of the text we keep.
# Whitespace controls (tab, newline ...) need no entry: collapsing whitespace turns them into spaces.
CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (terminal escapes, NULs ...); whitespace is left alone."""
    return CONTROLS.sub("", text) if CONTROLS.search(text) else text
