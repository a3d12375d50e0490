"""Alt-text quality rules. The thresholds, patterns and word lists are data (``data/filter/``).

Every rule is a small function ``(alt, ...) -> reason | None``, in the spirit of datatrove's
filters returning ``(keep, reason)``; :meth:`Rules.check` runs them in order and returns the
first reason (``None`` keeps the alt). They all run before language ID: cheap rules first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.filter.kinds import Cues, merged_cues, read_alt
from mella.filter.text import dominant_script, letters, normalize_alt, words

# Scripts written without spaces between words: lengths count characters, not words.
NO_SPACES = {"Thai", "Hani", "Kana", "Laoo", "Khmr", "Mymr"}
_DIGIT_RX = re.compile(r"\d")
# "The caller did not say" (``None`` is a real script value: no letters).
_UNKNOWN = object()


@dataclass(frozen=True)
class WordList:
    """Boilerplate entries of one language: whole words, word prefixes (``icon*``) and phrases."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        # Phrases indexed by their first word, so an alt is matched in one pass over its words.
        index: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.phrases:
            index.setdefault(phrase[0], []).append(phrase)
        object.__setattr__(self, "_by_first", index)

    def covered(self, tokens: list[str]) -> int:
        """How many of ``tokens`` belong to a boilerplate word or phrase."""
        hit = [t in self.words or t.startswith(self.prefixes) for t in tokens]
        for i, t in enumerate(tokens):
            for phrase in self._by_first.get(t, ()):
                n = len(phrase)
                if tuple(tokens[i:i + n]) == phrase:
                    hit[i:i + n] = [True] * n
        return sum(hit)

    def contains(self, text: str) -> bool:
        """True when any entry occurs inside ``text`` (for scripts written without spaces)."""
        return any(w in text for w in self.words) or any(" ".join(p) in text for p in self.phrases)

    def merged(self, other: WordList) -> WordList:
        return WordList(self.words | other.words, self.prefixes + other.prefixes, self.phrases + other.phrases)


def parse_wordlist(text: str) -> WordList:
    """Parse a ``boilerplate/<lang>.txt`` file (see ``common.txt`` for the format)."""
    words_, prefixes, phrases = set(), [], []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().casefold()
        if not entry:
            continue
        if entry.endswith("*"):
            prefixes.append(entry[:-1])
        elif " " in entry or normalize_alt(entry) != entry:
            phrases.append(tuple(normalize_alt(entry).split()))
        else:
            words_.add(entry)
    return WordList(frozenset(words_), tuple(prefixes), tuple(p for p in phrases if p))


@lru_cache(maxsize=64)
def wordlists(langs: tuple[str, ...]) -> WordList:
    """Boilerplate entries of ``langs`` together, plus English and the common list."""
    base = resources.files("mella").joinpath("data/filter/boilerplate")
    out = WordList()
    for name in dict.fromkeys((*(lang.split("-")[0] for lang in langs), "en", "common")):
        path = base.joinpath(f"{name}.txt")
        if path.is_file():
            out = out.merged(parse_wordlist(path.read_text(encoding="utf-8")))
    return out


@lru_cache(maxsize=64)
def _run_cues(langs: tuple[str, ...]) -> Cues:
    """The marks of all of ``langs`` (base codes) together, with the common ones: before language ID any of
    them may be the alt's, and logo words of any language may appear."""
    return merged_cues(tuple(dict.fromkeys((*(lang.split("-")[0] for lang in langs), "common"))))


def _model_code(token: str) -> bool:
    """A Latin letters-and-digits token that is a model code: three digits or more (T535, RTX3080), or a
    letter right after a digit (SM-G991B, A52s). Short codes like S21, F-16 or COVID-19 are also ordinary
    names and are not read as products."""
    if not token.isascii() or token.isdigit() or token.isalpha():
        return False
    digits = sum(ch.isdigit() for ch in token)
    if digits >= 3 and any(ch.isalpha() for ch in token):
        return True
    return any(a.isdigit() and b.isalpha() for a, b in zip(token, token[1:], strict=False))


@lru_cache(maxsize=1)
def rules_data() -> dict[str, Any]:
    """The packaged rule thresholds and patterns (``data/filter/rules.yaml``)."""
    import yaml

    return yaml.safe_load(resources.files("mella").joinpath("data/filter/rules.yaml").read_text(encoding="utf-8"))


@dataclass
class Rules:
    """The quality rules with their thresholds (defaults from ``rules.yaml``; options override)."""

    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = {**rules_data(), **{k: v for k, v in self.overrides.items() if v is not None}}
        self.patterns = [(name, re.compile(rx, re.IGNORECASE)) for name, rx in self.cfg["patterns"].items()]
        # All patterns in one: most alts match none, and one search tells so.
        self._any_pattern = re.compile("|".join(f"(?:{rx})" for rx in self.cfg["patterns"].values()), re.IGNORECASE)
        self._units = re.compile(self.cfg["product"]["units"], re.IGNORECASE)
        self._digit_letter = re.compile(r'\d\s?[^\W\d_]|[^\W\d_]\d|\d\s?["″]')  # letter-digit, or inches
        # Whole words of the normalised alt (lowercase, single spaces): one search.
        stores = "|".join(re.escape(normalize_alt(s)) for s in self.cfg["store_names"])
        self._stores = re.compile(rf"(?:^| )(?:{stores})(?: |$)")
        self._domain = re.compile(rf"[^\W\d_]\.(?:{'|'.join(self.cfg['site_name_tlds'])})(?![^\W\d_])", re.IGNORECASE)

    def check(self, alt: str, langs: tuple[str, ...] = (), script: str | None | object = _UNKNOWN,
              norm: str | None = None) -> str | None:
        """The first rule ``alt`` breaks, or ``None``. Needs only the text, so it runs before
        language ID (which then sees fewer, longer alts): the length unit comes from the script,
        and the boilerplate words are those of every language in ``langs`` plus English.
        ``script`` (:func:`dominant_script`) and ``norm`` (:func:`normalize_alt`) may come from
        the caller, who needs them too.
        """
        if not alt:
            return "empty"
        if self._any_pattern.search(alt):
            for name, rx in self.patterns:
                if rx.search(alt):
                    return name
        reason = self._ratios(alt)
        if reason:
            return reason
        if script is _UNKNOWN:
            script = dominant_script(alt)
        spaces = script not in NO_SPACES
        tokens = words(alt)
        norm = normalize_alt(alt) if norm is None else norm
        return (self._length(alt, tokens, spaces)
                or self._boilerplate(norm, langs, spaces)
                or self._site_name(alt, tokens)
                or self._logo(tokens, langs)
                or self._store(norm)
                or self._product(alt, script, langs))

    def _ratios(self, alt: str) -> str | None:
        n = len(alt) - alt.count(" ")
        if not n:
            return "empty"
        n_letters = letters(alt)
        if not n_letters:
            return "no_letters"
        n_digits = len(_DIGIT_RX.findall(alt))
        if n_digits / n > self.cfg["max_digit_ratio"]:
            return "digits"
        return "symbols" if (n - n_letters - n_digits) / n > self.cfg["max_symbol_ratio"] else None

    def _length(self, alt: str, tokens: list[str], word_spaces: bool) -> str | None:
        if word_spaces:
            n, lo, hi = len(tokens), self.cfg["min_words"], self.cfg["max_words"]
        else:
            n, lo, hi = len(alt.replace(" ", "")), self.cfg["min_chars"], self.cfg["max_chars"]
        if n < lo:
            return "too_short"
        return "too_long" if n > hi else None

    def _boilerplate(self, norm: str, langs: tuple[str, ...], word_spaces: bool) -> str | None:
        entries = wordlists(langs)
        if not word_spaces:
            hit = len(norm.replace(" ", "")) <= self.cfg["boilerplate_short_chars"] and entries.contains(norm)
            return "boilerplate" if hit else None
        tokens = norm.split()
        covered = entries.covered(tokens)
        short = len(tokens) <= self.cfg["boilerplate_short_words"] and covered > 0
        return "boilerplate" if short or covered >= self.cfg["boilerplate_share"] * len(tokens) else None

    def _site_name(self, alt: str, tokens: list[str]) -> str | None:
        """``site_name``: a short alt with a web address in it ("Jófogás.hu-s apróhirdetések", "Suntech.cz
        klávesnice") names a website: its logo or a badge. Longer text may credit a site ("Foto: iDNES.cz")."""
        if len(tokens) > self.cfg["site_name_max_words"] or "." not in alt:
            return None
        return "site_name" if self._domain.search(alt) else None

    def _logo(self, tokens: list[str], langs: tuple[str, ...]) -> str | None:
        """``logo``: the alt opens or closes with a word that announces a logo ("Logo společnosti HS Flamingo
        s.r.o.", "логотип Сбербанка", "HS Flamingo logo"): it names the picture a logo, whatever follows."""
        if not tokens:
            return None
        marks = _run_cues(langs)
        return "logo" if marks.is_logo_word(tokens[0]) or marks.is_logo_word(tokens[-1]) else None

    def _store(self, norm: str) -> str | None:
        """``store_badge``: the alt names an app store ("Google Play", "App Store"): the store's badge."""
        return "store_badge" if self._stores.search(norm) else None

    def _product(self, alt: str, script: str | None, langs: tuple[str, ...]) -> str | None:
        """``product``: a name (every content word capitalised) that carries a model code (T535, SM-G991B,
        RTX3080) or a number with a unit (16GB, 10.1", 4K): a product or model string, which names no
        culture whatever page it is on. Text with a lowercase word of the language ("Новый Samsung S21
        поступил в продажу") is not a bare product string and passes."""
        if not self._digit_letter.search(alt):  # most alts: no letter-digit mix, nothing to read
            return None
        reading = read_alt(alt, _run_cues(langs).function, script, self.cfg["name_max_words"])
        if not reading.name_like:
            return None
        if self._units.search(alt) or any(_model_code(t) for t in words(alt)):
            return "product"
        return None

    def same_as(self, alt: str, other: str | None, reason: str) -> str | None:
        """``reason`` when the alt, normalised, equals ``other`` (the page title, the link text)."""
        return reason if other and normalize_alt(alt) == normalize_alt(other) else None
