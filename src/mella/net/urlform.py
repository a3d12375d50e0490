"""One written form for the parts of an address that a page may write in several ways.

A page may write an image's address with a raw space or letter (``/Фото 1.jpg``), another with its UTF-8
percent-escapes (``/%D0%A4%D0%BE%D1%82%D0%BE%201.jpg``), in upper- or lower-case hex, and a third may escape a
plain letter (``%41`` for ``A``). A browser (the WHATWG URL parser) and aiohttp's yarl request all of them as one
address, so the keys that say "same image" (dedup's, fetch's) must read them as one too. This is RFC 3986's
normalisation (section 6.2.2): escapes of unreserved characters decoded, hex in capitals, and every character a
request cannot carry raw (controls, space, ``"<>`{}``, anything outside ASCII) percent-encoded as UTF-8.
Escapes of other characters (``%2F``, ``%3F``) are kept: they mean something else than the character itself.
Hosts outside ASCII are written in IDNA (``пример.рф`` -> ``xn--e1afmkfd.xn--p1ai``).
"""

from __future__ import annotations

import re
from urllib.parse import quote

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# What a request carries raw: printable ASCII but the characters the WHATWG path and query sets encode.
_RAW_SAFE = "!#$%&'()*+,/:;=?@[\\]^|"
# One character class (an alternation is several times slower): anything but printable ASCII, and "%<>`{}.
_NEEDS_WORK = re.compile(r"[^\x21\x23\x24\x26-\x3b\x3d\x3f-\x5f\x61-\x7a\x7c\x7e]")


def _escape(m: re.Match) -> str:
    byte = int(m.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else "%" + m.group(1).upper()


def written_plainly(text: str) -> bool:
    """Whether ``text`` (a whole address, or a part) is already in its one form: printable ASCII, no escape and
    none of the characters a request cannot carry raw (one regex test, so that keys of plain addresses, nearly
    all of them, cost nothing more)."""
    return not _NEEDS_WORK.search(text)


def canonical_part(text: str) -> str:
    """A path or query in its one written form (see the module); plain ASCII comes back as it is."""
    if not _NEEDS_WORK.search(text):
        return text
    if "%" in text:
        text = _ESCAPE.sub(_escape, text)
    # A lone surrogate is no character of any address. One that text decoded with surrogateescape holds
    # (U+DC80-U+DCFF) stands for a byte: that byte, escaped. Any other is escaped as its own three bytes. Either
    # way the key is one per written form and never an error.
    try:
        return quote(text, safe=_RAW_SAFE, errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(text, safe=_RAW_SAFE, errors="surrogatepass")


def canonical_host(host: str) -> str:
    """A lower-case host name, in IDNA when it is written outside ASCII; a name IDNA refuses (an empty label, a
    label over 63 characters, a lone surrogate) has its non-ASCII characters percent-escaped instead, so the
    key is still ASCII: no browser can reach such a host, but its rows must not break a key."""
    host = host.lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return canonical_part(host)
