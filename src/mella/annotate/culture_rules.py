"""The offline cultural-relevance rating: a category from per-language word lists, a score from that category and
the evidence other stages left on the row (filter's ``kind``, the keywords stage's entity keywords, collect's
structure columns). Deterministic, packaged resources only; docs/culture.md#cultural-relevance gives the formula
and the reasons for each number (none was fitted to labels).

Word lists: ``mella/data/culture/<code>.yaml`` (one per language, English applied to every row besides), each
``categories: {category: [entries]}`` plus ``match`` (how an entry meets the text) and optional ``ignore`` (phrases
that hold a category word but mean something else, e.g. Vietnamese "hoa kỳ", the USA, holds "hoa", a flower).
An entry matches at the start of a word (``word_start``, the default: a stem finds its inflected forms), as a
whole word (``whole_word``), anywhere (``substring``, scripts without spaces) or after Arabic's clitics
(``arabic``); ``$`` at its end asks for the end of a word, ``~`` at its start lets it begin inside one.
Overlapping matches are resolved longest first, so "nhà thờ" (a church) is not also "nhà" (a house).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.errors import MellaError
from mella.filter.kinds import cues

CATEGORIES = ("landmark", "food", "clothing", "festival", "art", "person", "nature", "everyday_life", "product",
              "screenshot_ui", "other")
# Ties between categories with as many words go to the first here: a word of an interface or a shop says what
# the picture is whatever it names (a screenshot of a festival's site is a screenshot); an occasion before the
# place it is held in; a culture item before the people and scenery around it.
PRECEDENCE = ("screenshot_ui", "product", "festival", "landmark", "food", "clothing", "art", "person", "nature",
              "everyday_life")
MATCH_MODES = ("word_start", "whole_word", "substring", "arabic")
OFFLINE_VERSION = "3"  # 2: people named in the entity keywords count for person; 3: cs, hu, sr given names
OFFLINE_METHOD = f"offline:{OFFLINE_VERSION}"

# The score, on the rubric's scale (0-10 read as 0-1); docs/culture.md says why each number is what it is.
PRIOR = {"landmark": 0.6, "food": 0.6, "clothing": 0.6, "festival": 0.6, "art": 0.6, "person": 0.5,
         "nature": 0.4, "everyday_life": 0.4, "other": 0.3, "product": 0.1, "screenshot_ui": 0.05}
NO_CULTURE = frozenset({"product", "screenshot_ui"})  # evidence may lower these, never raise them
ENTITY_BONUS = 0.2   # named: kind entity, or an entity keyword
RARE_BONUS = 0.05    # a rare content word (the keywords stage's salient word)
KIND_OTHER = -0.2    # filter kept it but it neither describes nor names
CHROME = frozenset({"header", "nav", "footer", "aside"})
CHROME_PENALTY = -0.2
OTHER_SITE_PENALTY = -0.2
ICON_PX = 48
ICON_PENALTY = -0.3

# What Arabic writes onto the front of a word: و or ف, then لل (ل + ال) or one of ب ك ل and the article ال.
_ARABIC_CLITICS = tuple(sorted({a + b for a in ("", "و", "ف")
                                for b in ("لل", *(c + d for c in ("", "ب", "ك", "ل") for d in ("", "ال")))},
                               key=len, reverse=True))
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ـ": None,
                              **{chr(c): None for c in range(0x064B, 0x0653)}})
_WORD_START = re.compile(r"(?<!\w)\w")


def fold(text: str, arabic: bool = False) -> str:
    """The form text and entries are compared in: NFC, case-folded, one space between words; Arabic also without
    diacritics, tatweel and hamza on alef (writers leave them out or put them in at will)."""
    text = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return text.translate(_ARABIC_FOLD) if arabic else text


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


@dataclass(frozen=True)
class Entry:
    """One word-list entry, folded: where it may start and whether it must end a word."""

    stem: str
    category: str
    whole: bool


class Table:
    """Entries by their first two letters, one-letter entries (Korean 꽃, 숲) apart: at most places of a text one
    dict look-up finds that nothing starts there."""

    def __init__(self) -> None:
        self.by_two: dict[str, list[Entry]] = {}
        self.by_one: dict[str, list[Entry]] = {}

    def add(self, entry: Entry) -> None:
        (self.by_one if len(entry.stem) == 1 else self.by_two).setdefault(entry.stem[:2], []).append(entry)

    def found_at(self, text: str, places) -> list[tuple[int, int, str]]:
        """``(start, end, category)`` of the entries at each of ``places`` (ending a word where they must)."""
        n = len(text)
        found = []
        two, one = self.by_two.get, self.by_one.get if self.by_one else None
        for q in places:
            candidates = two(text[q:q + 2], ())
            if one is not None:
                candidates = [*candidates, *one(text[q:q + 1], ())]
            for e in candidates:
                end = q + len(e.stem)
                if text.startswith(e.stem, q) and (not e.whole or end >= n or not _word_char(text[end])):
                    found.append((q, end, e.category))
        return found


@dataclass
class WordRules:
    """One language's word lists (and English), ready to look up: entries that start a word, with the clitics
    their language writes before them, and entries found anywhere."""

    at_start: dict[tuple[str, ...], Table] = field(default_factory=dict)
    anywhere: Table = field(default_factory=Table)

    def add(self, entry: Entry, where: str, clitics: tuple[str, ...] = ("",)) -> None:
        (self.anywhere if where == "anywhere" else self.at_start.setdefault(clitics, Table())).add(entry)

    def hits(self, text: str) -> Counter:
        """Category words found in folded ``text``, counted; overlapping matches resolved longest first."""
        starts = [m.start() for m in _WORD_START.finditer(text)]
        spans: list[tuple[int, int, str]] = []
        for clitics, table in self.at_start.items():
            if clitics == ("",):
                spans += table.found_at(text, starts)
                continue
            for p in starts:
                for c in clitics:
                    if text.startswith(c, p):
                        spans += [(p, end, cat) for _, end, cat in table.found_at(text, (p + len(c),))]
        if self.anywhere.by_two or self.anywhere.by_one:
            spans += self.anywhere.found_at(text, range(len(text)))
        return _longest_first(spans)


def _longest_first(spans: list[tuple[int, int, str]]) -> Counter:
    spans.sort(key=lambda s: (s[0] - s[1], s[0]))
    taken: list[tuple[int, int]] = []
    found: Counter = Counter()
    for start, end, category in spans:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if category != "ignore":
            found[category] += 1
    return found


@lru_cache(maxsize=64)
def _load_doc(code: str) -> dict[str, Any] | None:
    """A language's word-list file as written, or None."""
    import yaml

    path = resources.files("mella").joinpath(f"data/culture/{code}.yaml")
    if not path.is_file():
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _load(code: str) -> dict[str, Any] | None:
    doc = _load_doc(code)
    if doc is None:
        return None
    where = f"mella/data/culture/{code}.yaml"
    mode = doc.get("match", "word_start")
    if mode not in MATCH_MODES:
        raise MellaError(f"{where}: match {mode!r} is not one of {', '.join(MATCH_MODES)}")
    groups = dict(doc.get("categories") or {})
    unknown = set(groups) - set(CATEGORIES[:-1])
    if unknown:
        raise MellaError(f"{where}: unknown categories {', '.join(sorted(unknown))}")
    if doc.get("ignore"):
        groups["ignore"] = doc["ignore"]
    entries = {c: _in_both_scripts(doc, words) for c, words in groups.items()}
    return {"mode": mode, "entries": entries}


def _in_both_scripts(doc: dict[str, Any], words: list | None) -> list[str]:
    """A word list of a language file as strings, each entry also in the other script where the file says
    ``transliterate`` (Serbian: written in Cyrillic, every entry also in Latin)."""
    found = [str(w) for w in words or ()]
    if not doc.get("transliterate"):
        return found
    from mella.languages import transliteration

    table = transliteration(doc["transliterate"])
    return list(dict.fromkeys(found + [w.translate(table) for w in found]))


@lru_cache(maxsize=64)
def word_rules(lang: str | None) -> WordRules:
    """The word lists for a row's language tag (``sr-Latn`` reads ``sr``), English besides; an unknown or missing
    language gets the English list alone."""
    code = (lang or "").split("-")[0].lower()
    rules = WordRules()
    for name in sorted({code, "en"} - {""}):
        data = _load(name) if name.isalpha() else None
        if data is None:
            continue
        mode = data["mode"]
        for category, words in data["entries"].items():
            for word in words:
                stem = fold(word.strip("~$"), arabic=mode == "arabic")
                if not stem:
                    continue
                entry = Entry(stem, category, word.endswith("$") or mode == "whole_word")
                inside = word.startswith("~") or mode == "substring"
                rules.add(entry, "anywhere" if inside else "start",
                          _ARABIC_CLITICS if mode == "arabic" else ("",))
    return rules


def category_hits(alt: str | None, lang: str | None) -> Counter:
    """The category words of an alt-text, counted (its language's list and English)."""
    if not alt:
        return Counter()
    return word_rules(lang).hits(fold(alt, arabic=(lang or "").split("-")[0].lower() == "ar"))


def icon_sized(row: dict[str, Any]) -> bool:
    """Whether the ``<img>`` declares a size no larger than an icon's (every declared side at most ICON_PX)."""
    sides = [s for s in (row.get("declared_width"), row.get("declared_height")) if isinstance(s, int) and s > 0]
    return bool(sides) and max(sides) <= ICON_PX


def choose_category(hits: Counter, row: dict[str, Any]) -> str:
    """The category with the most words (ties by PRECEDENCE); without words an icon-sized image is interface
    graphics and anything else ``other``."""
    if hits:
        best = max(hits.values())
        return next(c for c in PRECEDENCE if hits.get(c) == best)
    return "screenshot_ui" if icon_sized(row) else "other"


def _keyword_kinds(row: dict[str, Any]) -> set[str]:
    kinds = row.get("keyword_kinds")
    return {str(k) for k in kinds} if isinstance(kinds, list | tuple) else set()


def evidence(row: dict[str, Any]) -> float:
    """What the row's other columns add to its category's prior (absent columns add nothing)."""
    kinds = _keyword_kinds(row)
    total = 0.0
    if row.get("kind") == "entity" or "entity" in kinds:
        total += ENTITY_BONUS
    if "rare" in kinds:
        total += RARE_BONUS
    if row.get("kind") == "other":
        total += KIND_OTHER
    if row.get("landmark") in CHROME:
        total += CHROME_PENALTY
    if row.get("link_scope") == "other_site":
        total += OTHER_SITE_PENALTY
    if icon_sized(row):
        total += ICON_PENALTY
    return total


def score_for(category: str, row: dict[str, Any]) -> float:
    """The category's prior plus the row's evidence, within 0-1; product and interface graphics only go down."""
    extra = evidence(row)
    if category in NO_CULTURE:
        extra = min(extra, 0.0)
    return round(min(1.0, max(0.0, PRIOR[category] + extra)), 3)


def rate_offline(row: dict[str, Any]) -> tuple[float, str]:
    """``(culture_score, culture_category)`` of one row, from its alt-text, language and other columns: the
    category words, and each person the entity keywords name as one more ``person`` word."""
    hits = category_hits(row.get("alt"), row.get("lang"))
    people = person_names(row)
    if people:
        hits["person"] += people
    category = choose_category(hits, row)
    return score_for(category, row), category


def person_names(row: dict[str, Any]) -> int:
    """How many of the row's entity keywords (the keywords stage's) are people's names, by what a packaged
    resource says of their words: Russian first names, surnames and patronymics (pymorphy3's ``Name``, ``Surn``,
    ``Patr``; none of the words a place, ``Geox``), Thai first and family names (pythainlp's lists), Vietnamese
    surnames (``surnames`` in the word list), Czech, Hungarian and Serbian given names (``given_names`` in the word
    list, first or, Hungarian, last). A name has two words or more (three at most, four syllables in
    Vietnamese). A name right after a photo-credit word is the photographer's and does not count. Other
    languages, or a resource not installed: 0. Without it, "Виктор Коваленко и Аркадиуш Река на презентации"
    was nature (река: a river)."""
    keywords, kinds = row.get("keywords"), row.get("keyword_kinds")
    if not isinstance(keywords, list | tuple) or not isinstance(kinds, list | tuple):
        return 0
    names = [k for k, kind in zip(keywords, kinds, strict=False) if kind == "entity" and k]
    code = (row.get("lang") or "").split("-")[0].lower()
    test = _person_test(code) if names else None
    if test is None:
        return 0
    alt = row.get("alt") or ""
    return sum(1 for name in names if test(name) and not _credited(alt, name, code))


def _credited(alt: str, name: str, code: str) -> bool:
    """Whether ``name`` follows a photo-credit word in the alt ("..., фото Павел Гарковенко"): the photographer,
    not someone the picture shows (the credit words of filter's ``native.yaml``)."""
    at = alt.find(name)
    before = alt[:at].split() if at > 0 else []
    return bool(before) and cues(code).is_credit_word(before[-1].strip(":=.,;|()[]").casefold())


@lru_cache(maxsize=16)
def _person_test(code: str):
    """The person-name test of a language (see :func:`person_names`), or None."""
    if code == "ru":
        from mella.annotate.salience import pymorphy_analyzer

        morph = pymorphy_analyzer("ru")
        # Cached per name: a crawl names the same people on many pages, and a parse costs ~20 µs a word.
        return None if morph is None else lru_cache(maxsize=1 << 16)(lambda name: _russian_person(name, morph))
    if code == "th":
        from mella.annotate.salience import thai_name_lists

        lists = thai_name_lists()
        return None if lists is None else lambda name: _thai_person(name, lists[1], lists[2])
    data = _load_doc(code) or {}
    if code == "vi":  # a family name first, then up to three syllables
        listed, last, most = data.get("surnames"), False, 4
    else:  # a given name first, or last where the family name comes first (Hungarian)
        listed, last, most = data.get("given_names"), data.get("name_order") == "family_first", 3
    names = frozenset(fold(n) for n in _in_both_scripts(data, listed))
    return (lambda name: _listed_name(name, names, last, most)) if names else None


def _listed_name(name: str, listed: frozenset[str], last: bool, most: int) -> bool:
    """Two to ``most`` capitalised words whose first (or, ``last``, last) word is a listed name: a Vietnamese
    family name ("Trịnh Công Sơn"), a Czech or Serbian given name ("Tomáš Souček", "Никола Тесла"), a Hungarian
    given name after the family name ("Petőfi Sándor")."""
    words = name.split()
    if not 2 <= len(words) <= most or not all(w[:1].isupper() for w in words):
        return False
    return fold(words[-1] if last else words[0]) in listed


def _russian_person(name: str, morph) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 3:
        return False
    tags = [morph.parse(w)[0].tag for w in words]
    if any("Geox" in t or "Orgn" in t for t in tags):
        return False
    return "Name" in tags[0] or any("Surn" in t or "Patr" in t for t in tags)


# Thai forms of address before a given name (Mr, Mrs, Miss, Dr).
_THAI_TITLES = ("นางสาว", "นาง", "นาย", "ดร.")


def _thai_person(name: str, first: frozenset[str], family: frozenset[str]) -> bool:
    parts = name.split()
    if len(parts) != 2:
        return False
    given = next((parts[0][len(t):] for t in _THAI_TITLES if parts[0].startswith(t) and len(parts[0]) > len(t)),
                 parts[0])
    return given in first and parts[1] in family


@lru_cache(maxsize=1)
def wordlists_digest() -> str:
    """16 hex digits over every packaged word list: part of the stage fingerprint, so edited lists are not
    mixed with parts rated by the old ones."""
    folder = resources.files("mella").joinpath("data/culture")
    digest = hashlib.sha256(OFFLINE_VERSION.encode())
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
    return digest.hexdigest()[:16]
