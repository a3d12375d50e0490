"""The questions raters answer and their anchored scales, in the rater's language.

The texts live in ``mella/data/rate/<tag>.yaml`` (``ui``: the page's strings; ``scales``: per question a label,
a help text and one anchor per value). A language without its own file, or a file without some key, falls back to
English key by key, so a half-translated file still gives a complete page. ``sr-Latn`` without a file of its own
is the Serbian (Cyrillic) file transliterated with :data:`mella.languages.TRANSLITERATIONS` (the same
transliteration the metrics and MT output use).

The texts were written by mella's developers; a native speaker should review them before a study (docs/rate.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from mella.errors import MellaError

#: The questions of each task kind, in the order the page asks them.
QUESTIONS: dict[str, list[str]] = {
    "pairwise": ["preference"],
    "know": ["relevance", "correctness"],
    "ling": ["adequacy", "fluency"],
}

#: The values each question accepts, in scale order (low to high; the preference as shown on screen).
VALUES: dict[str, list[str]] = {
    "preference": ["A", "tie", "B"],
    **{q: ["1", "2", "3", "4", "5"] for q in ("relevance", "correctness", "adequacy", "fluency")},
}


def kind_of(question: str) -> str:
    """The task kind a question belongs to."""
    for kind, questions in QUESTIONS.items():
        if question in questions:
            return kind
    raise MellaError(f"unknown question {question!r}; known: {', '.join(VALUES)}")


@cache
def _file(tag: str) -> dict[str, Any] | None:
    import yaml

    path = resources.files("mella") / "data" / "rate" / f"{tag}.yaml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise MellaError(f"mella/data/rate/{tag}.yaml: expected a mapping with 'ui' and 'scales'")
    return data


def _translit(value: Any, table: dict[int, str]) -> Any:
    if isinstance(value, str):
        return value.translate(table)
    if isinstance(value, dict):
        return {k: _translit(v, table) for k, v in value.items()}
    return value


@cache
def texts(lang: str) -> dict[str, Any]:
    """The language's file (or the closest one: ``sr-Latn`` from ``sr`` transliterated, ``sr-Cyrl`` from ``sr``);
    ``{}`` when there is none (English then serves everything)."""
    found = _file(lang)
    if found is not None:
        return found
    code, _, script = lang.partition("-")
    base = _file(code) if code != lang else None
    if base is None:
        return {}
    if script == "Latn" and code == "sr":
        from mella.languages import transliteration

        return _translit(base, transliteration("cyrl-latn"))
    return base


def _merged(lang: str, section: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(English's section, the language's own section or {})."""
    english = (_file("en") or {}).get(section) or {}
    own = (texts(lang).get(section) or {}) if lang != "en" else {}
    return english, own


def scale(question: str, lang: str) -> dict[str, Any]:
    """``{"label", "help", "anchors": {value: text}}`` for ``question`` in ``lang`` (English where it has none).

    The anchors are ``"1"`` .. ``"5"`` for the rating questions and ``"A"``, ``"tie"``, ``"B"`` for the preference.
    """
    if question not in VALUES:
        raise MellaError(f"unknown question {question!r}; known: {', '.join(VALUES)}")
    english, own = _merged(lang, "scales")
    en_q, own_q = english.get(question) or {}, own.get(question) or {}
    en_anchors, own_anchors = en_q.get("anchors") or {}, own_q.get("anchors") or {}
    return {
        "label": own_q.get("label") or en_q.get("label") or question,
        "help": own_q.get("help") or en_q.get("help") or "",
        "anchors": {v: str(own_anchors.get(v) or en_anchors.get(v) or v) for v in VALUES[question]},
    }


def ui_strings(lang: str) -> dict[str, str]:
    """The page's strings (button labels, headings, messages) in ``lang``, English for any it lacks.

    Some hold ``{placeholders}`` (``progress``: ``{done}``, ``{total}``) for the page to fill in.
    """
    english, own = _merged(lang, "ui")
    return {k: str(own.get(k) or v) for k, v in english.items()}
