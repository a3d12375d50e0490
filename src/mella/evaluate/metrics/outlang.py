"""Output-language rate: the share of predictions written in the target language (0-1).

Every prediction first needs at least half of its letters in one of the language's scripts.
Then:

* **long enough to judge** (at least :data:`MIN_LETTERS` letters): the filter stage's language-ID
  cascade (:mod:`mella.filter.langid`) must name the target language. It tells Russian or
  Macedonian from Serbian Cyrillic and Czech from Slovak; in Latin script Serbian, Croatian,
  Bosnian and Montenegrin count as one (no detector tells them apart).
* **shorter** (a name, a word or two): the script rule alone, plus, for a target that shares the
  Latin script with English, at least as much target evidence (target stop words, words with
  non-ASCII letters) as English stop words. Detectors guess on a few letters.

The signature says which rule applied where: ``lid:cascade|min_letters:20|short:script``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import regex

from mella.evaluate.metrics.base import Item, Metric, mean_or_none
from mella.evaluate.textproc import Text, TextProcessor, stopwords
from mella.filter.langid import LanguageID, base_code, known_code, langid_data
from mella.filter.text import letters

#: Predictions with fewer letters are judged by script only. The same length from which the filter
#: cascade lets its fastText model decide alone (``fast_min_letters``): on fewer letters a detector
#: guesses (e.g. "Пас трчи по пољу." reads as Russian). A property of the detectors, not fitted to
#: any evaluation labels.
MIN_LETTERS: int = int(langid_data()["cascade"]["fast_min_letters"])

# ISO 15924 codes of the registry -> Unicode script names understood by `regex`.
_SCRIPT_NAMES = {
    "Arab": "Arabic", "Cyrl": "Cyrillic", "Latn": "Latin", "Hang": "Hangul", "Thai": "Thai",
    "Grek": "Greek", "Hebr": "Hebrew", "Deva": "Devanagari", "Hani": "Han", "Geor": "Georgian",
    "Armn": "Armenian", "Laoo": "Lao", "Khmr": "Khmer", "Beng": "Bengali", "Taml": "Tamil",
}
_LETTER = regex.compile(r"\p{L}")
_NON_ASCII_LETTER = regex.compile(r"[^\x00-\x7f]")


@cache
def _detector(code: str) -> LanguageID:
    """The cascade for one target (its confusers and English are candidates), loaded once."""
    lid = LanguageID(sorted({code, "en"}))
    lid.load()
    return lid


@cache
def _script_re(scripts: tuple[str, ...]) -> regex.Pattern | None:
    names = [_SCRIPT_NAMES.get(s) for s in scripts]
    if not scripts or None in names:
        return None
    return regex.compile("[" + "".join(rf"\p{{Script={n}}}" for n in names) + "]")


def in_script_share(text: str, scripts: tuple[str, ...]) -> float:
    """Share of the letters of ``text`` that belong to ``scripts`` (0 without letters)."""
    letters = len(_LETTER.findall(text))
    pattern = _script_re(scripts)
    return len(pattern.findall(text)) / letters if letters and pattern else 0.0


class OutputLanguage(Metric):
    """Item stats ``[in_language, counted]``; unregistered scripts count nothing (score None)."""

    outputs = ("output_lang_rate",)

    def __init__(self, proc: TextProcessor):
        super().__init__(proc)
        self.scripts = proc.lang.scripts
        self.usable = _script_re(self.scripts) is not None
        # Only Latin-script targets can be confused with English by script alone.
        self.check_english = "Latn" in self.scripts and proc.lang.code != "en"
        self.english = stopwords("en")
        self.code = base_code(proc.lang.code)
        self.use_lid = known_code(self.code)

    def _lid_says_target(self, text: str) -> bool:
        lid = _detector(self.code)
        found = base_code(lid.identify(text)[0])
        # Detectors cannot tell Serbian from Croatian/Bosnian in Latin script: the pool counts.
        pool = lid.shtokavian if self.code in lid.shtokavian else {self.code}
        return found == self.code or found in pool

    def _english_wins(self, hyp: Text) -> bool:
        english = sum(t in self.english for t in hyp.tokens)
        if not english:
            return False
        target = sum(t in self.proc.stopwords or bool(_NON_ASCII_LETTER.search(t)) for t in hyp.tokens)
        return english > target

    def is_target(self, hyp: Text) -> bool:
        """Whether one processed prediction passes the check."""
        # Script on the NFC text before script folding: Serbian in either script passes.
        raw_share = in_script_share(hyp.norm, self.scripts)
        if raw_share < 0.5:
            return False
        if self.use_lid and letters(hyp.raw) >= MIN_LETTERS:
            return self._lid_says_target(hyp.raw)
        return not (self.check_english and self._english_wins(hyp))

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        if not self.usable:
            return [[0.0, 0.0] for _ in items]
        return [[float(self.is_target(item.hyp)), 1.0] for item in items]

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {"output_lang_rate": (mean_or_none(total[0], total[1]), int(total[1]))}

    def settings(self, output: str) -> str:
        scripts = "+".join(self.scripts)
        english = "|english-check:stopwords" if self.check_english else ""
        lid = f"|lid:cascade|min_letters:{MIN_LETTERS}|short:script" if self.use_lid else "|lid:none"
        return f"scripts:{scripts}|min_share:0.5{lid}{english}|impl:mella-outlang"
