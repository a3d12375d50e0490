"""Native instruction templates per language (``data/templates/<tag>.yaml``) and script folding.

A language entry in the registry may carry its own ``templates: {know: [...], ling: [...]}`` (a user's
language file); otherwise the packaged file for the tag is used (``sr-Latn.yaml``, then ``sr.yaml``, then
the file of the language's first script). Each template is ``{text, en}``: ``en`` is a back-translation
kept for review.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from mella.errors import MellaError
from mella.filter.text import key64
from mella.languages import TRANSLITERATIONS, get_language

SOURCES = ("know", "ling")

TRANSLIT = TRANSLITERATIONS


def to_script(text: str, tag: str) -> str:
    """``text`` folded into the script of ``tag`` when the registry names a folding (``mt_translit``)."""
    lang = get_language(tag)
    name = (lang.extra.get("mt_translit") or {}).get(lang.script or "")
    return text.translate(TRANSLIT[name]) if name in TRANSLIT and text else text


def _candidates(tag: str) -> list[str]:
    lang = get_language(tag)
    names = [tag, lang.tag, lang.code]
    if lang.scripts:
        names.append(f"{lang.code}-{lang.scripts[0]}")
    return list(dict.fromkeys(names))


def _read_package(name: str) -> dict[str, Any] | None:
    import yaml

    path = resources.files("mella").joinpath(f"data/templates/{name}.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


@cache
def templates(tag: str) -> dict[str, tuple[str, ...]]:
    """``{"know": (...), "ling": (...)}`` for a language tag; a language without templates is an error."""
    lang = get_language(tag)
    data = lang.extra.get("templates") or next(
        (d for d in map(_read_package, _candidates(tag)) if d), None)
    if not data:
        raise MellaError(f"no instruction templates for {tag!r}: add data/templates/{tag}.yaml or a "
                         "'templates: {know: [...], ling: [...]}' entry to its language file")
    out = {}
    for source in SOURCES:
        items = [t["text"] if isinstance(t, dict) else str(t) for t in data.get(source) or ()]
        if not items:
            raise MellaError(f"instruction templates of {tag!r} have no {source!r} entries")
        out[source] = tuple(items)
    return out


def pick(tag: str, source: str, sample_id: str, seed: int) -> str:
    """The template for one sample: chosen by a stable hash of the seed and the sample id."""
    options = templates(tag)[source]
    return options[key64(str(seed), sample_id) % len(options)]
