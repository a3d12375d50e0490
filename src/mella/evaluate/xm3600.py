"""Crossmodal-3600 (XM3600) from a local copy: its ``captions.jsonl`` and its image folder.

XM3600 (Thapliyal et al., EMNLP 2022; https://google.github.io/crossmodal-3600/) is 3,600 Open Images photos,
each captioned by native speakers in 36 languages. Its files, as distributed:

- ``captions.jsonl``: one JSON object per image, ``{"image/key": "<16 hex digits>", "image/locale": "<code>",
  "<lang>": {"caption": [...], "caption/tokenized": [...], "caption/tokenized/lowercase": [...]}, ...}`` with one
  entry per language code of :data:`LANGUAGES` (``image/locale``: the language region the photo was chosen for);
- ``images/<image/key>.jpg``: the photos.

mella reads only ``caption`` (the texts as written; the metrics tokenise per language themselves). Nothing is
downloaded: the caller names the local files. Of MELLA's eight languages XM3600 has seven (ar cs hu ko ru th vi);
it has no Serbian (its ``hr`` is Croatian, a different standard, and is never taken for Serbian).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.paths import is_safe_key

NAME = "xm3600"
KEY = "image/key"
LOCALE = "image/locale"
#: The 36 language codes XM3600 captions are written in (the keys of each JSON object besides image/*).
LANGUAGES = ("ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fil", "fr", "he", "hi", "hr", "hu", "id",
             "it", "ja", "ko", "mi", "nl", "no", "pl", "pt", "quz", "ro", "ru", "sv", "sw", "te", "th", "tr", "uk",
             "vi", "zh")
#: MELLA's default languages XM3600 covers, as mella tags (the codes are the same; Serbian is absent).
MELLA_LANGUAGES = ("ar", "cs", "hu", "ko", "ru", "th", "vi")


@dataclass(frozen=True)
class Item:
    """One image of XM3600 in one language: its key, image file and every reference caption."""

    key: str
    lang: str
    locale: str | None
    image: Path
    captions: tuple[str, ...]


def mella_tag(code: str) -> str | None:
    """The mella language tag of an XM3600 language code (the same code when the registry knows it), else None."""
    from mella.languages import is_known

    return code if code in LANGUAGES and is_known(code) else None


def image_path(images: str | Path, key: str) -> Path:
    """Where XM3600 keeps the photo of ``key``: ``<images>/<key>.jpg``."""
    return Path(images) / f"{key}.jpg"


def image_files(images: str | Path) -> list[Path]:
    """Every photo of an XM3600 image folder (``*.jpg``), sorted; an empty or missing folder is an error."""
    folder = Path(images)
    if not folder.is_dir():
        raise MellaError(f"{folder}: not a folder; name XM3600's image folder (its <image/key>.jpg files)")
    files = sorted(p for p in folder.glob("*.jpg") if p.is_file())
    if not files:
        raise MellaError(f"{folder}: no .jpg files; name XM3600's image folder (its <image/key>.jpg files)")
    return files


def row_key(row: dict[str, Any], where: str) -> str:
    """The row's ``image/key``; one line naming ``where`` when it is missing or could not be a file name."""
    key = row.get(KEY)
    if not is_safe_key(key):
        raise MellaError(f"{where}: {KEY} {key!r} is missing or not a safe key (XM3600 keys are 16 hex digits)")
    return key


def captions(row: dict[str, Any], code: str, where: str) -> list[str]:
    """The non-empty ``caption`` strings of language ``code`` in one captions.jsonl object ([] when absent)."""
    entry = row.get(code)
    if entry is None:
        return []
    texts = entry.get("caption") if isinstance(entry, dict) else None
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise MellaError(f"{where}: {code} is not {{\"caption\": [strings], ...}} as XM3600's captions.jsonl has it")
    return [t.strip() for t in texts if t.strip()]


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of a captions.jsonl."""
    from mella.pipeline.shards import jsonl_objects

    path = Path(path)
    if not path.is_file():
        raise MellaError(f"{path}: no such file; name XM3600's captions.jsonl")
    yield from jsonl_objects(path)


def load(captions_file: str | Path, images: str | Path, langs: list[str] | tuple[str, ...] = MELLA_LANGUAGES
         ) -> Iterator[Item]:
    """The :class:`Item` of every image and language of ``langs`` in a local XM3600 copy, in file order.

    An image whose photo is missing from ``images``, or a language with no caption for an image, yields nothing
    for it (``mella benchmark`` counts both).
    """
    unknown = [code for code in langs if code not in LANGUAGES]
    if unknown:
        raise MellaError(f"XM3600 has no captions in {', '.join(unknown)}; its languages: {', '.join(LANGUAGES)}")
    for lineno, row in read_rows(captions_file):
        where = f"{captions_file}:{lineno}"
        key = row_key(row, where)
        found = {code: captions(row, code, where) for code in langs}  # a malformed row is refused, image or not
        image = image_path(images, key)
        if not image.is_file():
            continue
        for code, texts in found.items():
            if texts:
                yield Item(key, code, row.get(LOCALE), image, tuple(texts))
