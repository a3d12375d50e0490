"""The language registry: languages are data (``data/languages.yaml``), not code.

A language tag is an ISO 639 code with an optional ISO 15924 script (``sr-Latn``). Users add
languages with a YAML file in the same format, named by the ``MELLA_LANGUAGES`` environment
variable (several files separated by ``os.pathsep``) or passed to :func:`load_file`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.errors import MellaError

_KNOWN_FIELDS = {
    "name", "native_name", "scripts", "direction", "word_spaces", "confusers", "tokenizer",
    "stemmer", "nllb_code", "m2m_code", "default",
}


@dataclass(frozen=True)
class Language:
    """One registry entry. ``script`` is set when the tag named one (``sr-Latn``)."""

    code: str
    name: str
    native_name: str = ""
    scripts: tuple[str, ...] = ("Latn",)
    direction: str = "ltr"
    word_spaces: bool = True
    confusers: tuple[str, ...] = ()
    tokenizer: str = "unicode"
    stemmer: str | None = None
    nllb_code: str | None = None
    m2m_code: str | None = None
    default: bool = False
    script: str | None = None
    # Per-language data added by later capabilities (stop words, templates, prompts, ...).
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def tag(self) -> str:
        """BCP-47-style tag: ``sr-Latn`` when a script was chosen, otherwise the code."""
        return f"{self.code}-{self.script}" if self.script else self.code

    @property
    def digraphic(self) -> bool:
        return len(self.scripts) > 1

    def with_script(self, script: str) -> Language:
        if script not in self.scripts:
            raise MellaError(f"{self.name} is not written in script {script!r} (known: {', '.join(self.scripts)})")
        return dataclasses.replace(self, script=script)


def _parse_entry(code: str, data: dict[str, Any], origin: str) -> Language:
    if not isinstance(data, dict) or "name" not in data:
        raise MellaError(f"{origin}: language {code!r} needs at least a 'name'")
    known = {k: v for k, v in data.items() if k in _KNOWN_FIELDS}
    for key in ("scripts", "confusers"):
        if key in known:
            known[key] = tuple(known[key] or ())
    extra = {k: v for k, v in data.items() if k not in _KNOWN_FIELDS}
    return Language(code=code, extra=extra, **known)


def _load_yaml(text: str, origin: str) -> dict[str, Language]:
    import yaml

    doc = yaml.safe_load(text) or {}
    entries = doc.get("languages", doc) if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise MellaError(f"{origin}: expected a mapping 'languages: {{code: {{...}}}}'")
    return {str(code): _parse_entry(str(code), data, origin) for code, data in entries.items()}


@lru_cache(maxsize=1)
def _registry() -> dict[str, Language]:
    text = resources.files("mella").joinpath("data/languages.yaml").read_text(encoding="utf-8")
    reg = _load_yaml(text, "mella/data/languages.yaml")
    for path in filter(None, os.environ.get("MELLA_LANGUAGES", "").split(os.pathsep)):
        reg.update(_read_file(path))
    return reg


def _read_file(path: str) -> dict[str, Language]:
    try:
        with open(path, encoding="utf-8") as fh:
            return _load_yaml(fh.read(), path)
    except OSError as exc:
        raise MellaError(f"cannot read language file {path}: {exc.strerror}") from exc


def load_file(path: str) -> list[str]:
    """Add (or override) languages from a YAML file; returns the codes it defined."""
    added = _read_file(path)
    _registry().update(added)
    return sorted(added)


def register(lang: Language) -> None:
    """Add or replace one language in the registry (for code that builds entries itself)."""
    _registry()[lang.code] = lang


def get_language(tag: str) -> Language:
    """The registry entry for ``tag`` (``ru``, ``sr-Latn``, ``sr_Cyrl`` ...); unknown tags list the known ones."""
    code, _, script = tag.replace("_", "-").partition("-")
    code = code.lower()
    reg = _registry()
    if code not in reg:
        close = difflib.get_close_matches(code, reg, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise MellaError(f"unknown language {tag!r}{hint}; known: {', '.join(sorted(reg))}")
    lang = reg[code]
    return lang.with_script(script.title()) if script else lang


# Serbian Cyrillic -> Latin: the official one-to-one mapping (Љ Њ Џ become title-case digraphs).
_SR_CYRL = "абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ"
_SR_LATN = "abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ"
TRANSLITERATIONS: dict[str, dict[int, str]] = {
    "cyrl-latn": str.maketrans({**dict(zip(_SR_CYRL, _SR_LATN, strict=True)),
                                "љ": "lj", "њ": "nj", "џ": "dž", "Љ": "Lj", "Њ": "Nj", "Џ": "Dž"}),
}


def transliteration(name: str) -> dict[int, str]:
    """A ``str.translate`` table by name (``cyrl-latn``); registry fields such as ``mt_translit`` name them."""
    if name not in TRANSLITERATIONS:
        raise MellaError(f"unknown transliteration {name!r}; known: {', '.join(TRANSLITERATIONS)}")
    return TRANSLITERATIONS[name]


def is_known(tag: str) -> bool:
    try:
        get_language(tag)
    except MellaError:
        return False
    return True


def unknown_tags(tags: list[str], known: Callable[[str], bool] | None = None) -> list[str]:
    """The entries of ``tags`` that name no language: ``known`` (default: the registry) rejects the code, or the
    registry knows the code but not the script (``sr-Grek``)."""
    reg = _registry()
    bad = []
    for tag in tags:
        code, _, script = tag.replace("_", "-").partition("-")
        ok = (known or is_known)(tag)
        if ok and script and code.lower() in reg:
            ok = script.title() in reg[code.lower()].scripts
        if not ok:
            bad.append(tag)
    return bad


def tag_list_problem(tags: list[str], required: bool = False,
                     known: Callable[[str], bool] | None = None, also: str = "") -> str | None:
    """One line on what is wrong with a list of language tags (an option such as ``--langs``), or None.

    ``required``: an empty list is a problem. Unknown tags are listed with the registry's codes, then ``also``
    (what else ``known`` accepts, e.g. "or any code the language detectors know").
    """
    codes = ", ".join(sorted(_registry()))
    if required and not tags:
        return f"name at least one language (known: {codes})"
    if any(not str(t).strip() for t in tags):
        return f"an empty language tag (got {tags!r})"
    bad = unknown_tags(tags, known)
    if not bad:
        return None
    more = f", {also}" if also else ""
    return f"unknown language{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; known: {codes}{more}"


def all_languages() -> list[Language]:
    return [reg for _, reg in sorted(_registry().items())]


def default_languages() -> list[Language]:
    """The default target languages (ar cs hu ko ru sr th vi)."""
    return [lang for lang in all_languages() if lang.default]


def default_tags(split_scripts: bool = False) -> list[str]:
    """Codes of the default targets; with ``split_scripts`` Serbian becomes ``sr-Cyrl`` and ``sr-Latn``."""
    tags: list[str] = []
    for lang in default_languages():
        if split_scripts and lang.digraphic:
            tags.extend(f"{lang.code}-{s}" for s in lang.scripts)
        else:
            tags.append(lang.code)
    return tags


def cldr_places(locale_id: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """CLDR's territory names and time-zone city names in the locale ``locale_id`` (``sr_Latn``, ``ko``), from
    ``babel``: ``(code -> name, zone -> city)``; None without babel or without the locale. The filter's name
    test and the keywords stage's gazetteer both start from these (each keeps the names its rules want, and each
    caches its own result: one read per language and worker)."""
    try:
        from babel import Locale, UnknownLocaleError
    except ImportError:
        return None
    try:
        locale = Locale.parse(locale_id)
    except (UnknownLocaleError, ValueError):
        return None
    cities: dict[str, str] = {}
    for zone, data in locale.time_zones.items():
        try:
            city = data["city"]
        except (KeyError, TypeError):
            continue
        if city:
            cities[zone] = city
    return dict(locale.territories), cities


def english_name(tag: str | None, with_script: bool = False) -> str:
    """How a prompt names a row's language: the registry's English name (``with_script``: and its script, for
    a language written in more than one, "Serbian (Latn script)"), else CLDR's English name (babel, when
    installed), else the tag as it is."""
    if not tag:
        return "an unknown language"
    try:
        lang = get_language(tag)
    except MellaError:
        try:
            from babel import Locale
        except ImportError:
            return tag
        return Locale("en").languages.get(tag.replace("-", "_").split("_")[0]) or tag
    return f"{lang.name} ({lang.script} script)" if with_script and lang.script else lang.name
