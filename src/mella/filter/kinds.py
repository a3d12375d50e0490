"""What a kept alt is (``kind``: description | entity | other) and whether a name is written in the language.

Names carry culture: "Храм Светог Саве", "Собор Василия Блаженного", "경복궁", "Karlův most" are what D_know
is for. A name is kept when it is written IN the target language, which its script and orthography show:

- **script**: a language written in a non-Latin script (ru, sr-Cyrl, ar, ko, th) writes its names in it;
  language ID has already read the script, so a name in it is native;
- **orthography** (Latin-script languages): a letter of the language's alphabet beyond ASCII (Czech ř ů,
  Hungarian ő ű, Vietnamese ư ơ, Serbian đ ć), a lowercase function word of the language inside the name
  ("Most na Drini"), or a native ending (Serbian -ski/-og, Hungarian -ban/-ország);
- **gazetteer**: the language's own CLDR names of countries and cities (``babel``, when installed), where
  they differ from the English name ("Praha", "Csehország").

A name with none of these (a brand, a product, a handle, "Samsung Galaxy Tab") says nothing in the language
and is dropped. The cues are data (``data/filter/native.yaml``): alphabets and closed word classes, not
thresholds fitted to labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.filter.text import normalize_alt, words
from mella.languages import cldr_places

#: Scripts with letter case: only there does capitalisation say "name".
CASED = frozenset({"Latn", "Cyrl", "Grek", "Armn"})


@lru_cache(maxsize=1)
def native_data() -> dict[str, Any]:
    """The packaged cues (``data/filter/native.yaml``)."""
    import yaml

    return yaml.safe_load(resources.files("mella").joinpath("data/filter/native.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Cues:
    """One language's marks: its extra letters, function words, endings, logo words, clause markers and the
    words its photo credits start with."""

    code: str
    letters: frozenset[str] = frozenset()
    function: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    logo: frozenset[str] = frozenset()
    logo_prefixes: tuple[str, ...] = ()
    clause: tuple[str, ...] = ()
    clause_set: frozenset[str] = frozenset()
    credit: frozenset[str] = frozenset()
    credit_prefixes: tuple[str, ...] = ()

    def has_letter(self, folded: str) -> bool:
        """True when the case-folded text holds a letter of the language beyond ASCII."""
        return bool(self.letters) and not self.letters.isdisjoint(folded)

    def ending(self, token: str) -> bool:
        """True when the word ends in a native ending, with at least three letters before it."""
        t = token.casefold()
        if not t.endswith(self.suffixes):  # one C call settles most words
            return False
        return any(len(t) >= len(s) + 3 and t.endswith(s) for s in self.suffixes)

    def is_logo_word(self, token: str) -> bool:
        t = token.casefold()
        return t in self.logo or t.startswith(self.logo_prefixes)

    def is_credit_word(self, token: str) -> bool:
        """True when ``token`` (case-folded) is a word a photo credit starts with ("фото", "Foto", "사진")."""
        return token in self.credit or (bool(self.credit_prefixes) and token.startswith(self.credit_prefixes))


def _entries(values: list[str] | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """Whole words and ``prefix*`` entries of a word list, case-folded."""
    whole, prefixes = set(), []
    for v in values or ():
        v = str(v).casefold()
        if v.endswith("*"):
            prefixes.append(v[:-1])
        else:
            whole.add(v)
    return frozenset(whole), tuple(prefixes)


@lru_cache(maxsize=64)
def cues(code: str) -> Cues:
    """The cues of one language (base code: ``sr`` for sr-Latn and sr-Cyrl); ``common`` logo and credit words
    join in."""
    data = native_data()
    d = data.get(code) or {}
    logo, logo_prefixes = _entries([*(d.get("logo") or ()), *(data["common"].get("logo") or ())])
    credit, credit_prefixes = _entries([*(d.get("credit") or ()), *(data["common"].get("credit") or ())])
    clause = tuple(str(c) for c in d.get("clause") or ())
    return Cues(code=code, letters=frozenset(str(d.get("letters") or "")),
                function=frozenset(str(w).casefold() for w in d.get("function") or ()),
                suffixes=tuple(str(s).casefold() for s in d.get("suffixes") or ()),
                logo=logo, logo_prefixes=logo_prefixes, clause=clause, clause_set=frozenset(clause),
                credit=credit, credit_prefixes=credit_prefixes)


@lru_cache(maxsize=64)
def merged_cues(codes: tuple[str, ...]) -> Cues:
    """The marks of several languages as one: a run's, before language ID says which is the alt's (a word of
    any of them counts). Word sets are joined; endings, prefixes and markers are kept in order, once each."""
    parts = [cues(code) for code in codes]
    joined = {f: frozenset().union(*(getattr(p, f) for p in parts))
              for f in ("letters", "function", "logo", "clause_set", "credit")}
    ordered = {f: tuple(dict.fromkeys(x for p in parts for x in getattr(p, f)))
               for f in ("suffixes", "logo_prefixes", "clause", "credit_prefixes")}
    return Cues(code="+".join(codes), **joined, **ordered)


@lru_cache(maxsize=32)
def gazetteer(code: str, script: str | None = None) -> frozenset[str]:
    """The language's own CLDR names of countries and cities (normalised), from ``babel`` when installed.

    For a Latin-script language only the names that differ from English count: "Praha" is Czech, "Tirana" is
    everyone's. Without ``babel`` the set is empty and names need the other marks.
    """
    locale_id = f"{code}_{script}" if code == "sr" and script == "Latn" else code
    own, english = cldr_places(locale_id), cldr_places("en")
    if own is None or english is None:
        return frozenset()
    names = {k: v for k, v in own[0].items() if len(k) == 2 and k.isalpha()}
    names.update(own[1])
    english_names = {**english[0],
                     **{zone: english[1].get(zone) or zone.rsplit("/", 1)[-1].replace("_", " ") for zone in own[1]}}
    latin = script == "Latn"
    out = set()
    for key, name in names.items():
        if latin and normalize_alt(name) == normalize_alt(english_names.get(key, "")):
            continue
        out.add(normalize_alt(name))
    out.discard("")
    return frozenset(out)


@dataclass(frozen=True)
class Reading:
    """An alt read for names: its words without numbers, which of them carry content, and whether it is a name."""

    tokens: list[str]
    content: list[str]
    name_like: bool


def read_alt(alt: str, function: frozenset[str], script: str | None, name_max_words: int) -> Reading:
    """Split ``alt`` into words and decide whether it is name-like: in a cased script, every content word
    (not a function word, not a number) starts with a capital or a digit. ALL-CAPS text hides case: it is
    read as a name only when it is short (``name_max_words``), as titles are; a long one is a shouted headline.
    """
    tokens = [t for t in words(alt) if not t.isdigit()]
    content = [t for t in tokens if t.casefold() not in function]
    if not content or script not in CASED:
        return Reading(tokens, content, False)
    if alt.isupper():
        return Reading(tokens, content, len(content) <= name_max_words)
    return Reading(tokens, content, all(t[0].isupper() or t[0].isdigit() for t in content))


def kind_of(alt: str, reading: Reading, cue: Cues, script: str | None, gazetteer_names: frozenset[str],
            norm: str | None = None) -> str:
    """description (says what is shown: words beyond a name), entity (a name), or other (one common word).

    Cased scripts: a name-like alt is an entity, but one word with only its first letter capitalised is other
    (its capital is the sentence's); one lowercase content word is other; more is a description.
    Scripts without case: a clause marker of the language (ko endings, ar prepositions, th joining words) or
    four words or more make a description; a shorter phrase without one is a name. An alt that is exactly a
    gazetteer name is an entity in any script. ``norm`` is :func:`normalize_alt` of the alt, when known.
    """
    if gazetteer_names and (normalize_alt(alt) if norm is None else norm) in gazetteer_names:
        return "entity"
    if script in CASED:
        if reading.name_like:
            # An alt of one word: its capital is the capital any alt starts with, and says "name" only in the
            # word's own shape (an inner capital: PyCon, iPhone; an acronym). "Катушки", "Lekce", "Категория" are
            # common words. After a word ("U Dřeváka", "Na Příkopě") a capital is the name's own.
            if len(reading.tokens) == 1 and not any(c.isupper() for c in reading.tokens[0][1:]):
                return "other"
            return "entity"
        return "other" if len(reading.content) <= 1 else "description"
    tokens = reading.tokens
    if not tokens:
        return "other"
    if len(tokens) >= 4 or _has_clause(alt, tokens, cue):
        return "description"
    return "entity"


def _has_clause(alt: str, tokens: list[str], cue: Cues) -> bool:
    if not cue.clause:
        return False
    if cue.code == "th":
        return any(c in alt for c in cue.clause)
    if cue.code == "ko":
        return any(t.endswith(cue.clause) for t in tokens)
    return any(t in cue.clause_set for t in tokens)


def native_marks(alt: str, norm: str, reading: Reading, cue: Cues, gazetteer_names: frozenset[str]) -> bool:
    """True when a Latin-script alt shows the language: its letters, a lowercase function word (in an alt of
    two words or more), a native ending, or a gazetteer name among the words of ``norm`` (:func:`normalize_alt`)."""
    if cue.has_letter(alt.casefold()):
        return True
    tokens = reading.tokens
    if len(tokens) >= 2 and any(t.islower() and t in cue.function for t in tokens):
        return True
    if any(cue.ending(t) for t in tokens):
        return True
    if gazetteer_names:
        folded = norm.split()
        for n in (1, 2, 3):
            for i in range(len(folded) - n + 1):
                if " ".join(folded[i:i + n]) in gazetteer_names:
                    return True
    return False
