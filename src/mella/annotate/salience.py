"""What makes a span of an alt-text salient, offline: the rules and packaged resources behind ``mella keywords``.

A keyword is a span of the alt in its own surface form (attached particles and proclitics left out), of two kinds:

- ``entity``: a name. In scripts with letter case (Latin, Cyrillic, Greek) a capitalised word that does not
  start a sentence is a name, and so is a run of them ("Храм Светог Саве", "Trịnh Công Sơn"); a sentence's
  first word joins a name only with evidence (a following capitalised word, Russian morphology, a gazetteer
  hit, an acronym). A short quoted title is a name. Elsewhere names come from morphology (Korean proper nouns,
  ``kiwipiepy``), CLDR's localized country and city names (``babel``) and Thai name lists (``pythainlp``).
- ``rare``: a content term that is not a name: a run of content words (nouns and the adjectives before them,
  as morphology tells where a language has it: ``pymorphy3`` for Russian, ``kiwipiepy`` for Korean, pythainlp's
  tagger for Thai; elsewhere every word that is not a function word), without function words, numbers, verbs
  where morphology can tell, words that name the medium rather than the content ("screenshot", "sprite", "test":
  ``data/keywords/medium.yaml``), and words too common to say anything (a wordfreq Zipf frequency of
  ``common_zipf`` or more, counted over all forms of the word's Snowball stem).

Every resource is optional and loaded on first use per language; without any of them the case rules and the word
lists still run, and ``keyword_method`` says which resources a row's keywords came from
(``offline:wordfreq,babel,caps``). Nothing is downloaded: each resource reads only files inside its installed
package. docs/culture.md#keywords gives the reasons for each rule, and which settings were tuned on labelled rows.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from mella.errors import MellaError
from mella.languages import TRANSLITERATIONS, Language, cldr_places, get_language

log = logging.getLogger("mella")

#: Zipf frequency from which a content word is too common to be a keyword (6 = once per thousand words).
COMMON_ZIPF = 6.0
#: In an alt of this many words or more (a sentence, not a label) a content term must hold a word rarer than
#: SENTENCE_ZIPF: a label's every content word is its subject, a sentence's ordinary words are not.
SENTENCE_WORDS = 8
SENTENCE_ZIPF = 4.5
#: The longest content term, in words (Vietnamese: syllables, which it writes with spaces).
MAX_TERM_WORDS = {"vi": 6}
DEFAULT_MAX_TERM_WORDS = 4

# A word: letters, combining marks and digits, joined by inner hyphens and apostrophes ("Ростов-на-Дону",
# "d'Arc"). The standard library's re (regex is not a core dependency) has no \p{M}: the mark blocks of the
# scripts mella knows are listed, so that a Thai or vowelled Arabic word stays one word.
_MARKS = "\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0e31\u0e34-\u0e3a\u0e47-\u0e4e" \
         "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_CHAR = f"(?:[^\\W_]|[{_MARKS}])"
WORD_RE = re.compile(f"{_CHAR}+(?:[-‐‑'’]{_CHAR}+)*[+]?")
# What ends a sentence or opens a new segment: the next word's capital is orthography, not a name.
BOUNDARY_RE = re.compile(r"[.!?…:;|•·«»\"“”„‟()\[\]{}<>/\\–—]|(?:^|\s)-(?:\s|$)")
# A quotation: «...», „...“, “...”, "..." on one stretch of text.
QUOTED_RE = re.compile(r"[«„“\"]([^«»„“”\"]{1,80})[»“”\"]")
SENTENCE_PUNCT = re.compile(r"[.!?,;:…]")
# Photo credits and bylines: what the picture's source is, not what it shows ("[사진 출처 = 연합뉴스]",
# "<이종화 기자>", "사진=BTC미디어", "Foto: ČTK").
CREDIT_RE = re.compile(
    r"[\[(<][^\])>]*(?:사진|출처|제공|기자|=)[^\])>]*[\])>]"
    r"|(?:사진|출처)\s*=\s*\S+"
    r"|\S+\s+기자\s*$"
    r"|(?:^|(?<=[.!?]\s))(?:연합뉴스|뉴시스|뉴스1)\s*$"
    r"|\b(?:photo|foto|фото|ảnh|صورة|ภาพ)\s*[:=]\s*[^.;]*$",
    re.IGNORECASE)
CASED_SCRIPTS = {"Latn", "Cyrl", "Grek", "Armn", "Copt", "Glag"}
# Lower-case words that occur inside names written in these languages ("Ústí nad Labem", "Leonardo da Vinci").
NAME_JOINERS = {
    "*": frozenset({"da", "de", "del", "della", "di", "do", "dos", "du", "la", "le", "van", "von", "der", "den",
                    "bin", "ibn", "al", "el", "the", "of"}),
    "cs": frozenset({"nad", "pod"}),
}
# Russian morphology (pymorphy3's OpenCorpora grammemes): what marks a proper noun, and the parts of speech a
# content term is made of (nouns, adjectives; participles and verbs describe an action, not the thing shown).
PROPER_GRAMMEMES = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"})
RU_TERM_POS = frozenset({"NOUN", "ADJF", "ADJS", "COMP", None})
# What a verb's dictionary form ends with, where simplemma's lemmas tell verbs (infinitives) apart: a word whose
# lemma ends so is a verb form ("prenosi" -> "prenositi", "nalepila" -> "nalepit"). Czech nouns may end in -t as
# well (svět, sešit): a word that is its own lemma counts as a verb only with the longer infinitive endings.
VERB_LEMMAS = {"cs": ("at", "át", "et", "ět", "it", "ít", "ýt", "out", "ci"), "sr": ("ti", "ći")}
VERB_OWN_LEMMAS = {"cs": ("ovat", "nout", "ávat", "ívat"), "sr": ("ti", "ći")}
SIMPLEMMA_CODES = {"cs": "cs", "sr": "hbs"}
# Capitalised adjectives that name with the next noun ("Karlův most", "Skácelova ulice", "Pražský hrad"): endings
# of possessives made from a person's name, then of other adjectives (Serbian in Latin letters).
NAMED_ADJECTIVES = {
    "cs": (("ův", "ova", "ovo", "ovy", "ových", "ově", "ovou", "ovým", "ovu"),
           ("ský", "ská", "ské", "ského", "ském", "skou", "cký", "cká", "cké", "ckého", "ckém", "ckou", "ní")),
    "sr": (("ov", "ova", "ovo", "ove", "ovog", "ovoj", "ev", "eva", "evo", "in", "ina", "ino"),
           ("ski", "ska", "sko", "ske", "skog", "skoj", "čki", "čka", "čko", "čke")),
}
# Korean morpheme tags (kiwipiepy, Sejong tagset): parts of a noun phrase, and those that make it a name.
KO_NOUNISH = frozenset({"NNP", "NNG", "SL", "SH", "XPN", "XSN"})
KO_NAMES = frozenset({"NNP", "SL", "SH"})
# Thai (pythainlp's Universal Dependencies tagger): nouns, and the prefixes that make a noun of the verb after
# them (การจอง "booking", ตัวเชื่อมต่อ "connector", ผู้ดูแล "administrator").
TH_NOUNS = frozenset({"NOUN", "PROPN"})
TH_NOMINALIZERS = frozenset({"การ", "ความ", "ตัว", "ผู้", "นัก", "เครื่อง"})
TH_TITLES = frozenset({"นาย", "นาง", "นางสาว", "คุณ", "ดร.", "ด.ช.", "ด.ญ."})
# Arabic one-letter proclitics (and, so, with, for, like) and the article after them.
AR_PROCLITICS = "وفبلك"
AR_RELATIVES = frozenset({"الذي", "التي", "الذين", "اللذان", "اللتان", "اللواتي", "اللاتي"})
# CLDR region codes that are not places a picture shows (the world, unknown, outlying Oceania, the eurozone).
NOT_PLACES = frozenset({"001", "ZZ", "QO", "EZ", "UN", "XA", "XB"})
VOWELS = frozenset("aeiouyáéíóúýěůöőüűаеёиоуыэюяіїєaăâêôơư")


@dataclass(slots=True)
class Token:
    """One word of an alt: where it is, and what its case says."""

    start: int
    end: int
    text: str
    initial: bool  # the first word of the alt or of a sentence or segment
    joined: bool   # nothing but spaces between it and the word before
    case: str      # upper | lower | none (no letter case: digits, or a script without case)


@dataclass(slots=True)
class Span:
    start: int
    end: int
    kind: str  # entity | rare


def tokens_of(text: str) -> list[Token]:
    """The words of ``text`` with their offsets, sentence starts and case."""
    out: list[Token] = []
    prev_end = 0
    for m in WORD_RE.finditer(text):
        start = m.start()
        gap = text[prev_end:start]
        word = m.group()
        first = word[0] if word[0].isalpha() else next((c for c in word if c.isalpha()), "")
        case = "none" if not first or first.lower() == first.upper() else ("upper" if first.isupper() else "lower")
        if gap == " ":  # most gaps: one space
            out.append(Token(start, m.end(), word, not out, True, case))
        else:
            out.append(Token(start, m.end(), word, not out or bool(BOUNDARY_RE.search(gap)), not gap.strip(), case))
        prev_end = m.end()
    return out


def clean(alt: str | None) -> str:
    """The alt as keywords are taken from it (by rules or from a model's answer): NFC, whitespace runs as one
    space."""
    return unicodedata.normalize("NFC", " ".join((alt or "").split()))


def fold(text: str) -> str:
    """NFC and case-folded: how resources and spans are compared."""
    return unicodedata.normalize("NFC", text).casefold()


def letter_count(text: str) -> int:
    return sum(c.isalpha() for c in text)


def is_acronym(word: str) -> bool:
    """NATO, OEBS, ФК: two to six letters, every cased letter upper case."""
    letters = [c for c in word if c.isalpha()]
    return 2 <= len(letters) <= 6 and all(c.isupper() for c in letters if c.lower() != c.upper())


def camel_case(word: str) -> bool:
    """PyCon, dTest, iPhone: an upper-case letter after a lower-case one inside a word is a name's own spelling."""
    return any(a.islower() and b.isupper() for a, b in zip(word, word[1:], strict=False))


def shouting(tokens: list[Token]) -> bool:
    """Whether the alt is written in capitals (then its case says nothing about names)."""
    words = [t for t in tokens if t.case != "none" and letter_count(t.text) >= 3]
    caps = sum(t.text.isupper() for t in words)
    return caps >= 2 and caps * 2 >= len(words)


def mask(text: str, pattern: re.Pattern) -> str:
    """``text`` with the matches of ``pattern`` blanked out (same length, so offsets stay)."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


# -- word lists shipped with mella -----------------------------------------------------------------------
def _stopwords(code: str) -> frozenset[str]:
    """mella's stop words of a language (data/stopwords/<code>.txt), case-folded; empty when there are none."""
    path = resources.files("mella").joinpath(f"data/stopwords/{code}.txt")
    if not path.is_file():
        return frozenset()
    words = (fold(w.strip()) for w in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


@cache
def _medium_lists() -> dict[str, list[str]]:
    import yaml

    text = resources.files("mella").joinpath("data/keywords/medium.yaml").read_text(encoding="utf-8")
    return {code: [fold(str(w)) for w in words] for code, words in (yaml.safe_load(text) or {}).items()}


@dataclass(frozen=True)
class MediumWords:
    """Words that name the medium or a tutorial step (data/keywords/medium.yaml), for one language."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    pattern: re.Pattern | None  # for scripts without spaces: every entry, found anywhere

    @classmethod
    def of(cls, code: str, translit: dict[int, str] | None = None) -> MediumWords:
        entries = [e.translate(translit) if translit else e for e in _medium_lists().get(code, [])]
        singles = [e for e in entries if " " not in e]
        pattern = None
        if code in ("ko", "th") and entries:
            pattern = re.compile("|".join(re.escape(e.rstrip("*")) for e in sorted(entries, key=len, reverse=True)))
        return cls(frozenset(e for e in singles if not e.endswith("*")),
                   tuple(e[:-1] for e in singles if e.endswith("*")),
                   tuple(tuple(e.split()) for e in entries if " " in e), pattern)

    def word(self, key: str) -> bool:
        return key in self.exact or key.startswith(self.prefixes)

    def phrase_at(self, keys: list[str], i: int) -> int:
        """How many words from ``keys[i]`` on form a listed phrase (0: none)."""
        for phrase in self.phrases:
            n = len(phrase)
            if tuple(keys[i:i + n]) == phrase:
                return n
        return 0


# -- packaged resources ------------------------------------------------------------------------------------
def _wordfreq_zipf(code: str, stemmer: str | None) -> Callable[[str], float] | None:
    """Zipf frequency of a word from wordfreq's small list for ``code`` (words down to Zipf 3); None when
    wordfreq is missing or has no list for the language. Serbian reads the Serbo-Croatian list, Cyrillic
    transliterated by wordfreq's own preprocessing.

    With the language's Snowball stemmer (PyStemmer), the frequencies of all forms sharing a stem are added up:
    how common a word is, not one of its case forms ("sztárjának", "Москве")."""
    try:
        import wordfreq
        from wordfreq.preprocess import preprocess_text
    except ImportError:
        return None
    quiet = logging.getLogger("wordfreq")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "Using the nearest match, which is 'sh'" for Serbian
    try:
        table = wordfreq.get_frequency_dict(code, wordlist="small")
    except LookupError:
        return None
    finally:
        quiet.setLevel(level)
    stem = _snowball(stemmer)
    if stem is not None:
        words = list(table)
        stems: dict[str, float] = {}
        for word, key in zip(words, stem.stemWords(words), strict=True):
            stems[key] = stems.get(key, 0.0) + table[word]
        table = stems

    def zipf(word: str) -> float:
        key = preprocess_text(word, code)
        freq = table.get(stem.stemWord(key) if stem is not None else key)
        return math.log10(freq) + 9 if freq else 0.0

    return zipf


def _snowball(name: str | None):
    if not name:
        return None
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer(name) if name in Stemmer.algorithms() else None


def _thai_zipf() -> Callable[[str], float] | None:
    """Zipf frequency from the Thai National Corpus counts shipped with pythainlp (tnc_freq.txt)."""
    try:
        from pythainlp.corpus import tnc
    except ImportError:
        return None
    counts = dict(tnc.word_freqs())
    total = sum(counts.values()) or 1

    def zipf(word: str) -> float:
        n = counts.get(word)
        return math.log10(n / total) + 9 if n else 0.0

    return zipf


class Gazetteer:
    """Localized place names (CLDR's countries, regions and time-zone cities through babel), matched word by word;
    inflected forms of cased, inflecting languages match by stem (the name without a final vowel, at most three
    more letters: "Београд" finds "Београду", "Magyarország" finds "Magyarországon")."""

    def __init__(self, names: set[str], inflects: bool, min_stem: int = 4):
        self.inflects = inflects
        self.min_stem = min_stem
        self.exact: dict[str, list[tuple[str, ...]]] = {}
        self.stems: dict[str, list[tuple[str, ...]]] = {}
        self.whole: set[str] = set()  # each name as one string, for scripts without spaces
        for name in names:
            words = tuple(fold(w) for w in WORD_RE.findall(name))
            if words:
                self.whole.add("".join(words))
                self.exact.setdefault(words[0], []).append(words)
                stem = self.stem(words[0])
                if stem:
                    self.stems.setdefault(stem, []).append(words)

    def stem(self, word: str) -> str | None:
        if not self.inflects:
            return None
        stem = word[:-1] if word[-1:] in VOWELS else word
        return stem if len(stem) >= self.min_stem else None

    def word_matches(self, token: str, name_word: str) -> bool:
        if token == name_word:
            return True
        stem = self.stem(name_word)
        return bool(stem) and token.startswith(stem) and len(token) - len(stem) <= 3

    def candidates(self, token: str) -> list[tuple[str, ...]]:
        found = list(self.exact.get(token, ()))
        if self.inflects:
            for cut in range(0, 4):
                if len(token) - cut >= self.min_stem:
                    found += self.stems.get(token[:len(token) - cut], ())
        return found

    def match_at(self, words: list[str], i: int) -> int:
        """How many words from ``words[i]`` on form a name (0: none); the longest name wins."""
        best = 0
        for name in self.candidates(words[i]):
            n = len(name)
            if n > best and i + n <= len(words) and all(
                    self.word_matches(words[i + k], name[k]) for k in range(n)):
                best = n
        return best


def _babel_names(code: str, script: str | None) -> set[str] | None:
    """CLDR's names of countries, regions and cities in the language (None without babel or the locale)."""
    names: set[str] = set()
    locales = [f"{code}_{script}"] if script else []
    if code == "sr" and not script:
        locales.append("sr_Latn")  # digraphic: both alphabets
    locales.append(code)
    for ident in locales:
        places = cldr_places(ident)
        if places is None:
            continue
        territories, cities = places
        names.update(v for k, v in territories.items() if k not in NOT_PLACES)
        names.update(city for zone, city in cities.items() if "," not in city and not zone.startswith("Etc/"))
    return names or None


def thai_name_lists() -> tuple[set[str], frozenset[str], frozenset[str]] | None:
    """pythainlp's packaged Thai provinces and countries, and its first and family name lists."""
    try:
        from pythainlp.corpus import common
    except ImportError:
        return None
    places = set(common.provinces()) | set(common.countries())
    first = frozenset(common.thai_male_names()) | frozenset(common.thai_female_names())
    return places, first, frozenset(common.thai_family_names())


def _simplemma(code: str) -> Callable[[str], str] | None:
    """simplemma's lemma dictionary for the language (packaged, read on first use), as word -> lemma."""
    if code not in SIMPLEMMA_CODES:
        return None
    try:
        import simplemma
    except ImportError:
        return None
    lang = SIMPLEMMA_CODES[code]
    return lambda word: simplemma.lemmatize(word, lang=lang)


def pymorphy_analyzer(code: str):
    if code not in ("ru", "uk"):
        return None
    try:
        import pymorphy3

        return pymorphy3.MorphAnalyzer(lang=code)
    except (ImportError, ValueError, LookupError, OSError):  # the language's dictionary package is missing
        return None


def _kiwi():
    """Kiwi without its typo-correction and multi-word dictionaries: alts are copied as published (a typo is the
    alt's surface form), and they cost 190 MiB and 5 s of loading per worker."""
    try:
        from kiwipiepy import Kiwi

        return Kiwi(load_typo_dict=False, load_multi_dict=False)
    except Exception:  # ImportError, or kiwipiepy's own error when kiwipiepy_model is missing
        return None


@dataclass
class ThaiTools:
    segment: Callable[[str], list[str]]
    tag: Callable[[list[str]], list[tuple[str, str]]]
    vocabulary: frozenset[str]


def _thai_tools() -> ThaiTools | None:
    """pythainlp's dictionary segmenter (newmm) and its part-of-speech tagger (perceptron, UD tags); both read
    only files inside the package."""
    try:
        from pythainlp.corpus.common import thai_words
        from pythainlp.tag import pos_tag
        from pythainlp.tokenize import word_tokenize
    except ImportError:
        return None
    return ThaiTools(lambda text: word_tokenize(text, engine="newmm", keep_whitespace=True),
                     lambda words: pos_tag(words, engine="perceptron", corpus="orchid_ud"), frozenset(thai_words()))


# -- one language ------------------------------------------------------------------------------------
@dataclass
class LanguageKit:
    """The resources of one language tag, loaded on first use, and what they are called in keyword_method."""

    lang: Language
    common_zipf: float
    zipf: Callable[[str], float] | None = None
    stop: frozenset[str] = frozenset()
    medium: MediumWords | None = None
    gazetteer: Gazetteer | None = None
    morph: Any = None
    lemma: Callable[[str], str] | None = None
    kiwi: Any = None
    thai: ThaiTools | None = None
    thai_people: tuple[frozenset[str], frozenset[str]] | None = None
    translit: dict[int, str] | None = None
    used: list[str] = field(default_factory=list)
    _parses: dict[str, Any] = field(default_factory=dict)
    _verbs: dict[str, bool] = field(default_factory=dict)
    _zipf_cache: dict[str, float] = field(default_factory=dict)

    @property
    def cased(self) -> bool:
        return (self.lang.script or self.lang.scripts[0]) in CASED_SCRIPTS

    @property
    def method(self) -> str:
        return "offline:" + (",".join(self.used) or "rules")

    @classmethod
    def load(cls, lang: Language, common_zipf: float, hidden: frozenset[str] = frozenset()) -> LanguageKit:
        """The resources for ``lang`` that are installed and not in ``hidden`` (names as in keyword_method)."""
        code = lang.code
        translit = TRANSLITERATIONS.get(lang.extra.get("metrics_translit") or "")
        stop = _stopwords(code)
        kit = cls(lang, common_zipf, stop=frozenset(w.translate(translit) for w in stop) if translit else stop,
                  medium=MediumWords.of(code, translit), translit=translit)
        places: set[str] = set()
        if code == "ko" and "kiwipiepy" not in hidden:
            kit.kiwi = kit._use("kiwipiepy", _kiwi())
        if code == "th" and "pythainlp" not in hidden:
            kit.thai = kit._use("pythainlp", _thai_tools())
            people = thai_name_lists()
            if kit.thai is not None:
                kit.zipf = _thai_zipf()
            if people is not None:
                places, first, family = people
                kit.thai_people = (first, family)
        elif "wordfreq" not in hidden:
            stemmer = None if "pystemmer" in hidden else lang.stemmer
            kit.zipf = kit._use("wordfreq", _wordfreq_zipf(code, stemmer))
            if kit.zipf is not None and _snowball(stemmer) is not None:
                kit.used.append("pystemmer")
        if "babel" not in hidden:
            places |= kit._use("babel", _babel_names(code, lang.script)) or set()
        if places:
            kit.gazetteer = Gazetteer(places, inflects=kit.cased or code == "ko", min_stem=4 if kit.cased else 2)
        if "pymorphy3" not in hidden:
            kit.morph = kit._use("pymorphy3", pymorphy_analyzer(code))
        if "simplemma" not in hidden:
            kit.lemma = kit._use("simplemma", _simplemma(code))
        if kit.cased:
            kit.used.append("caps")
        return kit

    def _use(self, name: str, resource: Any) -> Any:
        """``resource``, recorded in keyword_method when it loaded."""
        if resource is not None and name not in self.used:
            self.used.append(name)
        return resource

    # -- lookups, cached per word -----------------------------------------------------------------------
    def key(self, word: str) -> str:
        """A word as the word lists hold it: case-folded; Serbian in Latin letters."""
        key = fold(word)
        return key.translate(self.translit) if self.translit else key

    def word_zipf(self, word: str) -> float | None:
        """Zipf frequency of a word (of its stem, with a stemmer); None: no frequency list."""
        if self.zipf is None:
            return None
        key = fold(word)
        found = self._zipf_cache.get(key)
        if found is None:
            found = self.zipf(key)
            if len(self._zipf_cache) > 200_000:
                self._zipf_cache.clear()
            self._zipf_cache[key] = found
        return found

    def parse(self, word: str):
        """Russian morphology's likeliest analysis of a word (None without pymorphy3)."""
        if self.morph is None:
            return None
        found = self._parses.get(word)
        if found is None:
            if len(self._parses) > 200_000:
                self._parses.clear()
            found = self._parses[word] = self.morph.parse(word)[0]
        return found

    def is_place(self, word: str) -> bool:
        """Whether the gazetteer holds a one-word name this word is a form of."""
        if self.gazetteer is None:
            return False
        return self.gazetteer.match_at([fold(word)], 0) == 1

    def is_proper(self, word: str) -> bool:
        """Russian morphology's word: a dictionary word whose likeliest analysis is a name, place, organisation."""
        p = self.parse(word)
        return p is not None and p.is_known and bool(PROPER_GRAMMEMES & set(p.tag.grammemes))

    def is_common_word(self, word: str) -> bool | None:
        """Russian morphology's word: a dictionary word whose likeliest analysis is not a name (None: no
        morphology)."""
        p = self.parse(word)
        if p is None:
            return None
        return p.is_known and not (PROPER_GRAMMEMES & set(p.tag.grammemes))

    @property
    def min_chars(self) -> int:
        return int(self.lang.extra.get("keyword_min_chars", 2))

    def too_common(self, word: str) -> bool:
        if self.lang.code == "vi":  # syllables: a frequent syllable says nothing about the word it is part of
            return False
        z = self.word_zipf(word)
        return z is not None and z >= self.common_zipf

    def ordinary(self, term: str) -> bool:
        """Whether every word of a term is at least SENTENCE_ZIPF frequent (False without a frequency list)."""
        found = [self.word_zipf(w) for w in WORD_RE.findall(term)]
        return bool(found) and all(z is not None and z >= SENTENCE_ZIPF for z in found)

    def is_term_word(self, word: str) -> bool:
        """Whether a word can be part of a content term: long enough, not a number, a function word, a medium
        word, a word too common to say anything; in Russian, a noun or adjective."""
        key = self.key(word)
        if letter_count(key) < self.min_chars or key in self.stop or self.medium.word(key):
            return False
        p = self.parse(word)
        if p is not None and p.tag.POS not in RU_TERM_POS:
            return False
        return not self.is_verb(key) and not self.too_common(word)

    def is_verb(self, key: str) -> bool:
        """Whether simplemma's lemma of a (case-folded) word is an infinitive (Czech, Serbian)."""
        if self.lemma is None:
            return False
        found = self._verbs.get(key)
        if found is None:
            lemma = self.lemma(key).casefold()
            code = self.lang.code
            found = lemma.endswith(VERB_LEMMAS[code]) if lemma != key else key.endswith(VERB_OWN_LEMMAS[code])
            if len(self._verbs) > 200_000:
                self._verbs.clear()
            self._verbs[key] = found
        return found


# -- the extractor ---------------------------------------------------------------------------------------
class Extractor:
    """Keywords of alts, offline; one per worker, each language's resources loaded when its first row comes."""

    def __init__(self, common_zipf: float = COMMON_ZIPF, hidden: frozenset[str] = frozenset()):
        self.common_zipf = common_zipf
        self.hidden = hidden
        self.kits: dict[str, LanguageKit | None] = {}

    def kit(self, tag: str | None) -> LanguageKit | None:
        if not tag:
            return None
        if tag not in self.kits:
            try:
                lang = get_language(tag)
            except MellaError:
                self.kits[tag] = None
                return None
            self.kits[tag] = LanguageKit.load(lang, self.common_zipf, self.hidden)
        return self.kits[tag]

    def extract(self, alt: str | None, tag: str | None) -> tuple[list[str], list[str], str]:
        """(keywords, their kinds, the method) of one alt in the language ``tag``."""
        text = clean(alt)
        kit = self.kit(tag)
        if kit is None:
            return [], [], "offline:none"
        masked = mask(text, CREDIT_RE)
        if kit.kiwi is not None:
            spans = korean_spans(masked, kit)
        elif kit.thai is not None:
            spans = thai_spans(masked, kit)
        else:
            spans = word_spans(masked, kit)
        if len(WORD_RE.findall(text)) >= SENTENCE_WORDS:
            spans = [s for s in spans if s.kind == "entity" or not kit.ordinary(text[s.start:s.end])]
        keywords, kinds, seen = [], [], set()
        for span in sorted(spans, key=lambda s: (s.start, -s.end)):
            surface = text[span.start:span.end].strip()
            key = fold(surface)
            if surface and key not in seen:
                seen.add(key)
                keywords.append(surface)
                kinds.append(span.kind)
        return keywords, kinds, kit.method


# -- languages written with spaces ---------------------------------------------------------------------
def word_spans(text: str, kit: LanguageKit) -> list[Span]:
    """Entities and content terms of an alt in a language written with spaces between words."""
    tokens = tokens_of(text)
    if not tokens:
        return []
    if kit.lang.code == "ko":
        tokens = _without_particles(tokens, kit.stop)
    taken = [False] * len(tokens)
    _take_medium(tokens, kit, taken)
    spans = quoted_spans(text, tokens, kit, taken)
    spans += case_spans(tokens, kit, taken, not shouting(tokens))
    spans += gazetteer_spans(tokens, kit, taken)
    spans += term_spans(tokens, kit, taken)
    if kit.lang.code == "ar":
        spans = [_without_proclitic(s, text, kit) for s in spans]
    return spans


def _take_medium(tokens: list[Token], kit: LanguageKit, taken: list[bool]) -> None:
    """Mark the medium words and phrases taken: they are never keywords nor part of one."""
    keys = [_lookup_key(t.text, kit) for t in tokens]
    for i, key in enumerate(keys):
        n = kit.medium.phrase_at(keys, i)
        for k in range(i, i + n):
            taken[k] = True
        if kit.medium.word(key):
            taken[i] = True


def term_spans(tokens: list[Token], kit: LanguageKit, taken: list[bool]) -> list[Span]:
    """Content terms: runs of words that can be part of one, joined by spaces only (punctuation, function words,
    names and medium words end a run), at most the language's term length."""
    most = MAX_TERM_WORDS.get(kit.lang.code, DEFAULT_MAX_TERM_WORDS)
    # Thai without pythainlp: a stretch of Thai between spaces is a phrase, not a word: no terms from it.
    unsegmented = kit.lang.code == "th"
    good = [not taken[i] and not tok.text.isdigit() and not (unsegmented and _is_thai(tok.text))
            and kit.is_term_word(_lookup_word(tok.text, kit)) for i, tok in enumerate(tokens)]
    starts = [False] * len(tokens)
    if kit.lang.code == "ar":
        # A proclitic (and, with, for...) opens a new phrase; the word after a relative pronoun is its verb.
        starts = [_proclitic_length(tok.text) > 0 for tok in tokens]
        for i in range(1, len(tokens)):
            if fold(tokens[i - 1].text) in AR_RELATIVES:
                good[i] = False
    spans: list[Span] = []
    i = 0
    while i < len(tokens):
        if not good[i]:
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and good[j] and tokens[j].joined and not tokens[j].initial and not starts[j] \
                and j - i < most:
            j += 1
        spans.append(Span(tokens[i].start, tokens[j - 1].end, "rare"))
        i = j
    return spans


def _without_particles(tokens: list[Token], stop: frozenset[str]) -> list[Token]:
    """Korean words without the particle or ending from mella's Korean stop list at their end ("서울에서" ->
    "서울", at least two syllables left): what is left of a word without Kiwi's morphology. A word that had one
    ends its phrase."""
    out: list[Token] = []
    cut_before = False
    for tok in tokens:
        new = Token(tok.start, tok.end, tok.text, tok.initial, tok.joined and not cut_before, tok.case)
        cut_before = False
        for cut in range(min(3, len(tok.text) - 2), 0, -1):
            if tok.text[-cut:] in stop:
                new = Token(tok.start, tok.end - cut, tok.text[:-cut], new.initial, new.joined, tok.case)
                cut_before = True
                break
        out.append(new)
    return out


def _proclitic_length(word: str) -> int:
    """How many letters of an Arabic word are a proclitic: "لل" (for the: للقرد), or one of و ف ب ك ل before the
    article (واليورو: and the euro). Without the article a first و or ب is as often part of the word (ووهان)."""
    if len(word) <= 3 or word[0] not in AR_PROCLITICS:
        return 0
    if word.startswith("لل"):
        return 2
    return 1 if word[1:].startswith("ال") else 0


def _lookup_word(word: str, kit: LanguageKit) -> str:
    """The word as the lists know it: Arabic without its proclitic."""
    return word[_proclitic_length(word):] if kit.lang.code == "ar" else word


def _lookup_key(word: str, kit: LanguageKit) -> str:
    return kit.key(_lookup_word(word, kit))


def _without_proclitic(span: Span, text: str, kit: LanguageKit) -> Span:
    n = _proclitic_length(text[span.start:span.end].split(" ")[0])
    return Span(span.start + n, span.end, span.kind) if n else span


def gazetteer_spans(tokens: list[Token], kit: LanguageKit, taken: list[bool]) -> list[Span]:
    """Place names of the gazetteer (marks their words taken)."""
    gaz = kit.gazetteer
    if gaz is None:
        return []
    words = [fold(_lookup_word(t.text, kit)) for t in tokens]
    if kit.lang.code == "ar":  # the gazetteer writes the article: "القدس" finds "بالقدس" and "القدس"
        words = [w if w.startswith("ال") or fold(t.text) == w else "ال" + w for w, t in zip(words, tokens,
                                                                                         strict=True)]
    spans: list[Span] = []
    i = 0
    while i < len(tokens):
        n = 0 if taken[i] else gaz.match_at(words, i)
        # In a cased script a lower-case word is not the name ("свет" is CLDR's "world", "most" is no place).
        if n and (not kit.cased or tokens[i].case != "lower"):
            spans.append(Span(tokens[i].start, tokens[i + n - 1].end, "entity"))
            for k in range(i, i + n):
                taken[k] = True
            i += n
        else:
            i += 1
    return spans


def quoted_spans(text: str, tokens: list[Token], kit: LanguageKit, taken: list[bool]) -> list[Span]:
    """Titles in quotation marks: news and shop alts quote the names of works, shows and firms ("звезды «Розовой
    пантеры»", «حارة القبة»). A short quote (at most four words, three in a script without case, no sentence
    punctuation) is a name; in a cased script only when its first word is capitalised (else it is a word used
    ironically: «солдат»)."""
    spans: list[Span] = []
    most = 4 if kit.cased else 3
    for m in QUOTED_RE.finditer(text):
        inner = [k for k, t in enumerate(tokens) if m.start(1) <= t.start and t.end <= m.end(1)]
        if not inner or len(inner) > most or any(taken[k] for k in inner) or SENTENCE_PUNCT.search(m.group(1)):
            continue
        if kit.cased and tokens[inner[0]].case != "upper":
            continue
        spans.append(Span(tokens[inner[0]].start, tokens[inner[-1]].end, "entity"))
        for k in inner:
            taken[k] = True
    return spans


def case_spans(tokens: list[Token], kit: LanguageKit, taken: list[bool], use_case: bool) -> list[Span]:
    """Names from letter case: runs of capitalised words (and acronyms) in cased scripts; in a language without
    case, the words of a cased script inside it ("KBO", "Samsung Galaxy")."""
    joiners = NAME_JOINERS["*"] | NAME_JOINERS.get(kit.lang.code, frozenset())
    spans: list[Span] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if taken[i] or not use_case or not (tok.case == "upper" or camel_case(tok.text)):
            i += 1
            continue
        j = i + 1  # the run: capitalised words joined by spaces, lower-case name joiners between them
        while j < len(tokens) and tokens[j].joined and not tokens[j].initial and not taken[j]:
            if tokens[j].case == "upper":
                j += 1
            elif (tokens[j].text in joiners and j + 1 < len(tokens) and tokens[j + 1].case == "upper"
                  and tokens[j + 1].joined and not tokens[j + 1].initial):
                j += 2
            else:
                break
        run = _trim_sentence_start(list(range(i, j)), tokens, kit)
        if not run and j == i + 1 and _named_adjective(tok.text, kit, initial=True):
            run = [i]  # "Karlův most", "Skácelova ulice": an adjective made from a name opens a name
        if run:
            end = run[-1]
            nxt = end + 1
            if nxt < len(tokens) and tokens[nxt].case == "lower" and tokens[nxt].joined and not taken[nxt] \
                    and _named_adjective(tokens[end].text, kit, initial=tokens[end].initial) \
                    and kit.is_term_word(tokens[nxt].text):
                end = nxt  # the noun a capitalised adjective names: "Pražský hrad", "Красной площади"
            if end + 1 < len(tokens) and tokens[end + 1].joined and tokens[end + 1].text.isdigit() \
                    and len(tokens[end + 1].text) <= 4 and not taken[end + 1]:
                end += 1  # "Galaxy Tab 4", "Windows 10"
            spans.append(Span(tokens[run[0]].start, tokens[end].end, "entity"))
            for k in range(run[0], end + 1):
                taken[k] = True
        i = j
    return spans


def _trim_sentence_start(run: list[int], tokens: list[Token], kit: LanguageKit) -> list[int]:
    """A sentence's first word is capitalised by orthography: it stays in a name only with evidence."""
    first = tokens[run[0]]
    if not first.initial or not kit.cased or foreign_script(first.text, kit):
        return run  # a Latin word in a Cyrillic alt is capitalised by its own language's rules: a name
    if is_acronym(first.text) or camel_case(first.text) or kit.is_proper(first.text) or kit.is_place(first.text):
        return run
    if len(run) >= 2:
        common = kit.is_common_word(first.text)
        if common is None:
            # Vietnamese lists syllables: a frequent first syllable says nothing about the word it belongs to.
            z = None if kit.lang.code == "vi" else kit.word_zipf(first.text)
            common = z is not None and z >= 3.0  # in wordfreq's small list: a word of the language
        return run[1:] if common else run
    return []  # one capitalised word opening a sentence: a name only if the gazetteer or morphology says so


def _named_adjective(word: str, kit: LanguageKit, initial: bool) -> bool:
    """A capitalised adjective that belongs to a name with the noun after it. Slavic languages capitalise only
    the first word of many names ("Karlův most", "Pražský hrad", "Красная площадь"): a possessive adjective made
    from a person's name (Karlův, Skácelova) anywhere, any adjective inside a sentence (Russian: by morphology,
    else by its ending); a plain adjective opening a sentence is capitalised by orthography ("Domácí úkol")."""
    p = kit.parse(word)
    if p is not None:  # Russian: morphology says adjective, and possessive at a sentence's start (Петров)
        return p.tag.POS == "ADJF" and (not initial or "Poss" in p.tag.grammemes)
    endings = NAMED_ADJECTIVES.get(kit.lang.code)
    if not endings:
        return False
    key = kit.key(word)
    if key.endswith(endings[0]):
        return True
    return not initial and key.endswith(endings[1])


def foreign_script(word: str, kit: LanguageKit) -> bool:
    """Whether ``word`` is written in another script than its language (Latin inside Cyrillic)."""
    script = kit.lang.script or kit.lang.scripts[0]
    latin = all(unicodedata.name(c, "").startswith("LATIN") for c in word if c.isalpha())
    if script == "Latn":
        return not latin
    return latin if kit.lang.code != "sr" or kit.lang.script else False


def _merge(first: list[Span], second: list[Span]) -> list[Span]:
    """``first`` and the spans of ``second`` that do not overlap any of it."""
    out = list(first)
    for s in second:
        if not any(s.start < f.end and f.start < s.end for f in out):
            out.append(s)
    return out


def _latin_names(text: str, kit: LanguageKit) -> list[Span]:
    """Names written in a cased script inside a language without case ("KBO", "Microsoft Azure", "Windows 10")."""
    tokens = [t for t in tokens_of(text) if t.case != "none" or t.text.isdigit()]
    for k, t in enumerate(tokens):
        if k and tokens[k - 1].end < t.start and text[tokens[k - 1].end:t.start].strip():
            t.joined = False
    return case_spans(tokens, kit, [False] * len(tokens), True)


# -- Korean (kiwipiepy) ----------------------------------------------------------------------------------
def korean_spans(text: str, kit: LanguageKit) -> list[Span]:
    """Noun phrases from Kiwi's morphemes: a run of nouns inside one word (the particle after it left out); with a
    proper noun or foreign letters an entity, else a content term. A noun that is the stem of a verb (발언하고,
    참가한, 연설 중인) is the action, not a thing. Two words of proper nouns make one name (foreign names are spaced:
    "데이비드 삭스"), two of common nouns one term ("홍보 영상"); a number after a name belongs to it
    ("비트코인 2025")."""
    text = mask(text, kit.medium.pattern) if kit.medium.pattern else text
    toks = [t for t in kit.kiwi.tokenize(text) if t.len]
    tags = [_ko_tag(toks, k) for k in range(len(toks))]
    chunks: list[list[int]] = []
    for k, tok in enumerate(toks):
        adjacent = chunks and chunks[-1][-1] == k - 1 and toks[k - 1].start + toks[k - 1].len == tok.start
        if tags[k] in KO_NOUNISH and (adjacent or tags[k] != "XSN"):
            if adjacent:
                chunks[-1].append(k)
            else:
                chunks.append([k])
    spans: list[Span] = []
    for chunk in chunks:
        first, last = toks[chunk[0]], toks[chunk[-1]]
        start, end = first.start, last.start + last.len
        if _ko_verbal(toks, tags, chunk[-1], text):
            continue
        kinds = {tags[k] for k in chunk}
        surface = text[start:end]
        if kinds & KO_NAMES:
            nxt = chunk[-1] + 1
            if nxt < len(toks) and tags[nxt] == "SN" and toks[nxt].start == end + 1:
                end = toks[nxt].start + toks[nxt].len
            spans.append(Span(start, end, "entity"))
        elif not kit.too_common(surface) and surface not in kit.stop:
            spans.append(Span(start, end, "rare"))
    places = _gazetteer_over_words(text, kit)
    spans = _join_words(_merge(places, _merge(_latin_names(text, kit), spans)), text, places)
    return spans


def _ko_tag(toks: list[Any], k: int) -> str:
    """Kiwi's tag; a determiner with no noun after it is a noun that Kiwi took for one ("별" alone)."""
    tag = toks[k].tag.split("-")[0]
    if tag == "MM" and (k + 1 == len(toks) or toks[k + 1].tag.split("-")[0] not in KO_NOUNISH):
        return "NNG"
    return tag


def _ko_verbal(toks: list[Any], tags: list[str], k: int, text: str) -> bool:
    """Whether the noun ending at token k is a verb's stem: 하다/되다 right after it, or "중" (in the course of)."""
    if k + 1 >= len(toks):
        return False
    nxt = toks[k + 1]
    if tags[k + 1] in ("XSV", "XSA") and nxt.start == toks[k].start + toks[k].len:
        return True
    return nxt.form == "중" and tags[k + 1] == "NNB"


def _join_words(spans: list[Span], text: str, places: list[Span]) -> list[Span]:
    """Two spans of the same kind that are whole words one space apart make one (Korean spaces foreign names and
    compound nouns), two words at most; a place name stays apart."""
    out: list[Span] = []
    joined = False
    for s in sorted(spans, key=lambda x: x.start):
        prev = out[-1] if out else None
        if prev and not joined and prev.kind == s.kind and s.start == prev.end + 1 and text[prev.end] == " " \
                and _whole_word(text, prev) and _whole_word(text, s) and prev not in places and s not in places:
            out[-1] = Span(prev.start, s.end, s.kind)
            joined = True
        else:
            out.append(s)
            joined = False
    return out


def _whole_word(text: str, span: Span) -> bool:
    """The span starts after a space (or the text's start) and ends before a space, a punctuation mark or the
    text's end: "에릭 트럼프." is two whole words, "시민단체들" holds none."""
    return (span.start == 0 or text[span.start - 1] == " ") and (span.end == len(text) or not text[span.end].isalnum())


def _gazetteer_over_words(text: str, kit: LanguageKit) -> list[Span]:
    if kit.gazetteer is None:
        return []
    tokens = _without_particles(tokens_of(text), kit.stop)
    return gazetteer_spans(tokens, kit, [False] * len(tokens))


# -- Thai (pythainlp) -------------------------------------------------------------------------------------
def thai_spans(text: str, kit: LanguageKit) -> list[Span]:
    """Thai words from pythainlp's dictionary segmenter and tagger: places and people from its packaged lists
    and CLDR's; runs of nouns (a verb made a noun by การ, ความ, ตัว... counts as one) as content terms; names
    written in a cased script inside the text by the case rules."""
    text = mask(text, kit.medium.pattern) if kit.medium.pattern else text
    words: list[tuple[int, int, str]] = []
    pos = 0
    for piece in kit.thai.segment(text):
        start = text.find(piece, pos)
        start = pos if start < 0 else start
        pos = start + len(piece)
        if piece.strip():
            words.append((start, pos, piece))
    tags = [tag for _, tag in kit.thai.tag([w for _, _, w in words])] if words else []
    used = [False] * len(words)
    spans = _thai_places(words, kit, used) + _thai_people(words, kit, used)
    spans = _merge(spans, _latin_names(text, kit))
    for k, (start, end, _) in enumerate(words):
        if any(s.start < end and start < s.end for s in spans):
            used[k] = True
    i = 0
    while i < len(words):
        if used[i] or not _thai_noun_at(words, tags, i):
            i += 1
            continue
        j = i + 1
        while j < len(words) and not used[j] and words[j][0] == words[j - 1][1] and _thai_noun_at(words, tags, j):
            j += 1
        term = text[words[i][0]:words[j - 1][1]]
        if j - i > 1 or (not kit.too_common(term) and term not in kit.stop):
            spans.append(Span(words[i][0], words[j - 1][1], "rare"))
        i = j
    return spans


def _thai_noun_at(words: list[tuple[int, int, str]], tags: list[str], i: int) -> bool:
    """A noun, or a verb right after a nominalizing prefix, or an adjective right before a noun; Thai letters."""
    piece = words[i][2]
    if not _is_thai(piece):
        return False
    if tags[i] in TH_NOUNS:
        return True
    if tags[i] == "VERB" and i and words[i - 1][2] in TH_NOMINALIZERS and words[i - 1][1] == words[i][0]:
        return True
    return tags[i] == "ADJ" and i + 1 < len(words) and tags[i + 1] in TH_NOUNS and words[i][1] == words[i + 1][0]


def _thai_places(words: list[tuple[int, int, str]], kit: LanguageKit, used: list[bool]) -> list[Span]:
    """Place names over adjacent pieces (a name may span several dictionary words)."""
    gaz = kit.gazetteer
    spans: list[Span] = []
    i = 0
    while i < len(words) and gaz is not None:
        n = next((k for k in range(min(4, len(words) - i), 0, -1)
                  if fold("".join(w[2] for w in words[i:i + k])) in gaz.whole), 0)
        if n:
            spans.append(Span(words[i][0], words[i + n - 1][1], "entity"))
            for k in range(i, i + n):
                used[k] = True
            i += n
        else:
            i += 1
    return spans


def _thai_people(words: list[tuple[int, int, str]], kit: LanguageKit, used: list[bool]) -> list[Span]:
    """A first name from pythainlp's lists followed by a family name, after a title (นาย, นาง, คุณ...) or where
    the first name is not also a word of the dictionary (the lists hold many names that are ordinary words)."""
    if not kit.thai_people:
        return []
    first, family = kit.thai_people
    spans = []
    for i in range(len(words) - 1):
        titled = i > 0 and words[i - 1][2] in TH_TITLES
        if not used[i] and not used[i + 1] and words[i][2] in first and words[i + 1][2] in family \
                and (titled or words[i][2] not in kit.thai.vocabulary):
            spans.append(Span(words[i][0], words[i + 1][1], "entity"))
            used[i] = used[i + 1] = True
    return spans


def _is_thai(word: str) -> bool:
    return any("\u0e00" <= c <= "\u0e7f" for c in word)
