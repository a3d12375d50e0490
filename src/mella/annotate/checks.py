"""Checks on every translation: the target language, a sane length, no copy of the source, no prompt echo.

Each check returns a drop reason or ``None``; :class:`TranslationChecker` runs the chosen ones in a fixed
order (cheap before expensive, and a copy is reported as a copy, not as the wrong language).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from mella.languages import default_tags, get_language

CHECKS = ("echo", "copy", "length", "language")
REASONS = {"echo": "translation_echo", "copy": "translation_copy", "length": "translation_length",
           "language": "translation_wrong_language"}
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")
MIN_COPY_WORDS = 3  # a shorter sentence ("Apollo 11.") may stay the same in a correct translation
MIN_FRAGMENT_CHARS = 15  # shorter pieces of an instruction ("Reply.") may occur in honest translations


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())


def words(text: str) -> list[str]:
    """Case-folded NFC words of ``text``."""
    return _WORD.findall(_norm(text))


def visible_chars(text: str) -> int:
    """Characters that are not white space (spacing differs between scripts, so it is not counted)."""
    return sum(not ch.isspace() for ch in text or "")


def is_copy(source: str, output: str, max_overlap: float = 0.8) -> bool:
    """True when ``output`` is ``source`` again: equal up to case and spacing, or mostly its words."""
    src, out = words(source), words(output)
    if not out:
        return False
    if out == src:
        return True
    known = set(src)
    return len(out) >= 3 and sum(w in known for w in out) / len(out) >= max_overlap


def length_ok(source: str, output: str, low: float, high: float) -> bool:
    """Whether the output's length over the source's lies within [low, high] (visible characters)."""
    n_src, n_out = visible_chars(source), visible_chars(output)
    if n_out == 0:
        return False
    return n_src == 0 or low <= n_out / n_src <= high


def instruction_fragments(instruction: str) -> list[str]:
    """The sentences of a prompt's fixed text, normalised, that are long enough to recognise in an output."""
    parts = (_norm(p) for p in _SENTENCE_END.split(instruction or ""))
    return [p for p in parts if len(p) >= MIN_FRAGMENT_CHARS]


def echoes(output: str, fragments: list[str]) -> bool:
    """True when the output repeats a sentence of the instruction it was given."""
    text = _norm(output)
    return any(f in text for f in fragments)


def to_target_script(text: str, tag: str) -> str:
    """MT output in the target's script: e.g. NLLB writes Serbian in Cyrillic only, so ``sr-Latn`` is
    transliterated (registry field ``mt_translit``; the deterministic table of mella.languages)."""
    lang = get_language(tag)
    name = (lang.extra.get("mt_translit") or {}).get(lang.script) if lang.script else None
    if not name:
        return text
    from mella.languages import transliteration

    return unicodedata.normalize("NFC", text).translate(transliteration(name))


class LanguageCheck:
    """Does a text read as the target language (and script)? The filter stage's detector, loaded once."""

    def __init__(self):
        self._lid = None
        self._targets: set[str] = set()

    def detect(self, text: str, target: str) -> str:
        """The detected tag of ``text``."""
        self._ensure(target)
        return self._lid.identify(text)[0]

    def matches(self, text: str, target: str) -> bool:
        from mella.filter.langid import base_code
        from mella.filter.text import dominant_script

        tag = self.detect(text, target)
        lang = get_language(target)
        if lang.script and dominant_script(text) != lang.script:
            return False
        found, wanted = base_code(tag), lang.code
        # Detectors cannot tell Serbian from Croatian/Bosnian in Latin script: the pool counts as Serbian.
        pool = set(self._lid.shtokavian) if wanted in self._lid.shtokavian else {wanted}
        return found == wanted or found in pool

    def _ensure(self, target: str) -> None:
        from mella.filter.langid import LanguageID, base_code

        code = base_code(target)
        if self._lid is None or code not in self._targets:
            # The default targets, English (the caption language) and whatever else rows ask for.
            self._targets |= {code, "en", *(base_code(t) for t in default_tags())}
            self._lid = LanguageID(sorted(self._targets))
            self._lid.load()


class TranslationChecker:
    """Runs the chosen checks on one (source, translation) pair; returns a drop reason or None."""

    def __init__(self, checks: list[str], min_ratio: float, max_ratio: float, max_overlap: float):
        self.checks = [c for c in CHECKS if c in checks]
        self.min_ratio, self.max_ratio, self.max_overlap = min_ratio, max_ratio, max_overlap
        self.language = LanguageCheck()

    def check(self, source: str, output: str, target: str, fragments: list[str]) -> str | None:
        tests: dict[str, Any] = {
            "echo": lambda: not echoes(output, fragments),
            "copy": lambda: not is_copy(source, output, self.max_overlap),
            "length": lambda: length_ok(source, output, self.min_ratio, self.max_ratio),
            "language": lambda: self.language.matches(output, target),
        }
        for name in self.checks:
            if not tests[name]():
                return REASONS[name]
        return None

    def check_sentences(self, sources: list[str], outputs: list[str]) -> str | None:
        """The per-sentence checks of a sample translated sentence by sentence: a sentence copied into the output
        (``copy``, sentences of at least MIN_COPY_WORDS words, as names and numbers may stay as they are) or
        translated to nothing (``length``). Echo, length ratio and language are judged on the whole sample: a
        detector and a ratio are unreliable on a few words."""
        if len(sources) < 2:
            return None  # one sentence: the sample checks said it all
        for source, output in zip(sources, outputs, strict=True):
            if "length" in self.checks and visible_chars(output) == 0:
                return REASONS["length"]
            if ("copy" in self.checks and len(words(source)) >= MIN_COPY_WORDS
                    and is_copy(source, output, self.max_overlap)):
                return REASONS["copy"]
        return None
