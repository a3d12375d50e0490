"""Text helpers shared by language ID, rules and dedup: scripts, normalisation, words, URL keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from urllib.parse import urlsplit

from mella.net.urlform import canonical_host, canonical_part, written_plainly

# ISO 15924 script -> the characters that belong to it. Ranges are enough here: alt-texts only
# need the dominant script, not a full Unicode Script property lookup.
SCRIPT_RANGES: dict[str, str] = {
    "Latn": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff",
    "Cyrl": "\u0400-\u052f",
    "Arab": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "Hang": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "Thai": "\u0e00-\u0e7f",
    "Kana": "\u3040-\u30ff",
    "Hani": "\u3400-\u4dbf\u4e00-\u9fff",
    "Grek": "\u0370-\u03ff",
    "Hebr": "\u0590-\u05ff",
    "Deva": "\u0900-\u097f",
    "Beng": "\u0980-\u09ff",
    "Taml": "\u0b80-\u0bff",
    "Mymr": "\u1000-\u109f",
    "Geor": "\u10a0-\u10ff",
    "Armn": "\u0530-\u058f",
    "Ethi": "\u1200-\u137f",
    "Khmr": "\u1780-\u17ff",
    "Laoo": "\u0e80-\u0eff",
}
_SCRIPT_RX = {name: re.compile(f"[{chars}]") for name, chars in SCRIPT_RANGES.items()}
# Letter -> script, filled as letters are met: alts reuse a small alphabet, so each letter is
# looked up in the ranges once per process.
_CHAR_SCRIPT: dict[str, str] = {}
# Any character outside ASCII and the Latin letter blocks: without one, a text with letters is Latin.
_NON_LATIN_RX = re.compile("[^\x00-\x7f\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_WORD_RX = re.compile(r"\w+(?:[-'’]\w+)*")
_SPACE_RX = re.compile(r"\s+")
_NON_WORD_RX = re.compile(r"[\W_]+")
_LETTER_RX = re.compile(r"[^\W\d_]")
# scheme://host/path?query#fragment with a plain host (no user, port, IPv6 or tabs): split by one
# regex, as urlsplit would; any other URL goes through urlsplit (several times slower).
_PLAIN_URL_RX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#@\[\]:%\s]*)(/[^?#\t\r\n]*)?(?:\?([^#\t\r\n]*))?(?:#.*)?",
                           re.DOTALL)


def script_counts(text: str) -> dict[str, int]:
    """Letters per script in ``text`` (scripts with no letters are left out)."""
    counts: dict[str, int] = {}
    # Counter counts the characters in C; each distinct character is then looked up once.
    for ch, n in Counter(text).items():
        script = _CHAR_SCRIPT.get(ch)
        if script is None:
            script = _CHAR_SCRIPT[ch] = _script_of(ch)
        if script:
            counts[script] = counts.get(script, 0) + n
    return counts


def _script_of(ch: str) -> str:
    """The script of one character; ``""`` for non-letters and letters of unlisted scripts."""
    if not _LETTER_RX.match(ch):
        return ""
    return next((n for n, rx in _SCRIPT_RX.items() if rx.match(ch)), "")


def dominant_script(text: str) -> str | None:
    """The script the text is written in; ``None`` when it has no letters.

    A non-Latin script wins once it holds a quarter of the letters: Latin brand names inside
    Cyrillic or Arabic text ("Шампунь Mizon Scalp Clinic") must not make the alt look Latin.
    """
    if not _NON_LATIN_RX.search(text):  # most alts: one regex pass settles it
        return "Latn" if _LETTER_RX.search(text) else None
    counts = script_counts(text)
    if not counts:
        return None
    total = sum(counts.values())
    others = [(n, s) for s, n in counts.items() if s != "Latn"]
    if others:
        n, script = max(others)
        if n * 4 >= total:
            # Japanese mixes kanji and kana: any kana makes it Japanese.
            return "Kana" if script == "Hani" and "Kana" in counts else script
    return "Latn" if "Latn" in counts else max(others)[1]


def letters(text: str) -> int:
    """Number of letters (any script) in ``text``."""
    return len(_LETTER_RX.findall(text))


def words(text: str) -> list[str]:
    """Word tokens (letters/digits, with inner hyphens and apostrophes)."""
    return _WORD_RX.findall(text)


def normalize_alt(alt: str) -> str:
    """Case-, width- and space-folded alt-text: the form dedup and equality rules compare."""
    text = unicodedata.normalize("NFKC", alt or "").casefold()
    return _NON_WORD_RX.sub(" ", text).strip()


def clean_alt(alt: str) -> str:
    """Alt-text with whitespace collapsed and in NFC (what language ID and the rules see): alts published
    with combining marks (some Vietnamese docs) would otherwise split words and hide the language's letters."""
    text = _SPACE_RX.sub(" ", alt or "").strip()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def normalize_url(url: str) -> str:
    """Image URL without scheme, ``www.``, query tracking or fragment, its path and query in one written form
    (:mod:`mella.net.urlform`: ``/a b.jpg`` and ``/a%20b.jpg`` are one image): same image, same key."""
    if not url:
        return ""
    url = url.strip()
    m = _PLAIN_URL_RX.fullmatch(url)
    if m:
        host, path, query = m.group(1), m.group(2) or "", m.group(3)
    else:
        parts = urlsplit(url)
        host, path, query = parts.hostname or "", parts.path, parts.query
    if written_plainly(url):
        host = host.lower().removeprefix("www.")
    else:
        host = canonical_host(host).removeprefix("www.")
        path, query = canonical_part(path), canonical_part(query) if query else query
    # Query strings often carry the resize parameters of the same image; keep them, they can
    # also name different images (?id=...), and a duplicate missed is cheaper than a pair lost.
    return f"{host}{path}?{query}" if query else f"{host}{path}"


def url_parts(url: str) -> tuple[str, str]:
    """(lowercase host, path) of a URL: one regex for plain URLs, urlsplit for the rest."""
    url = (url or "").strip()
    m = _PLAIN_URL_RX.fullmatch(url)
    if m:
        return m.group(1).lower(), m.group(2) or ""
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.path
    except ValueError:  # an invalid IPv6 host
        return "", ""


def key64(*parts: str) -> int:
    """A stable signed 64-bit hash of ``parts`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def tld(domain: str) -> str:
    """The last label of a domain (``krstarica.com`` -> ``com``)."""
    return (domain or "").rstrip(".").rsplit(".", 1)[-1].lower()
