"""Sentence splitting for translation: MT models are trained on sentences, so captions are translated one
sentence at a time and the sentences rejoined in the target language.

A rule-based splitter (no model, no download), with per-language data from the registry
(``sentence_abbreviations``, ``sentence_joiner``). A break is made after a sentence end and the white space
that follows it, unless a rule below says the period belongs to a word:

1. sentence ends are runs of ``. ! ? …`` (and ``؟ ۔ ।``), with any closing quotes or brackets after them; the
   full-width ``。！？`` end a sentence with or without a space after them;
2. a newline always breaks (paragraphs are kept: the gap is written back as it was);
3. no break where the next text starts with a lower-case letter (``approx. two metres``, ``Apple Inc. said``);
4. no break after a period that ends a listed abbreviation of the source language (``Dr.``, ``St.``,
   ``Fig.``; case-sensitive, registry field ``sentence_abbreviations``);
5. no break after an initial (one letter: ``J. R. R. Tolkien``) or a dotted abbreviation (``U.S.``,
   ``e.g.``, ``p.m.``);
6. numbers never break inside (``3.5 m``, ``1,200.75``, ``v2.1``): a period needs white space after it.

Rules 4-5 also keep sentences together where such a word really ends one (``... on Main St. The ...``): a
missed break costs less than a cut sentence. Scripts without sentence punctuation (Thai) break on newlines only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mella.errors import MellaError
from mella.languages import get_language

_BOUNDARY = re.compile(
    r"(?P<end>[.!?…؟۔।‼⁇⁈⁉]+)(?P<close>[\"'”’»)\]]*)(?P<gap>\s+)"   # a sentence end, then white space
    r"|(?P<wide>[。！？]+[」』）]*)(?P<wgap>\s*)"                          # full-width ends: space optional
    r"|(?P<nl>[^\S\n]*\n\s*)")                                          # a newline
_LAST_WORD = re.compile(r"(\S+)$")
_OPENERS = "\"'“‘«(["
_DOTTED = re.compile(r"^(?:\w\.)+\w$")  # U.S, e.g, p.m (the final period is the sentence-end candidate)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text and the white space that followed it there ("" for the last one)."""

    text: str
    gap: str = ""


@cache
def _abbreviations(tag: str) -> frozenset[str]:
    return frozenset(_registry_field(tag, "sentence_abbreviations") or ())


def _registry_field(tag: str, name: str):
    try:
        return get_language(tag).extra.get(name)
    except MellaError:  # a caption language the registry does not know: the generic rules only
        return None


def joiner(tag: str) -> str:
    """What goes between two sentences of one paragraph in ``tag`` (registry ``sentence_joiner``, default a space)."""
    value = _registry_field(tag, "sentence_joiner")
    return " " if value is None else value


def _keeps_period(before: str, tag: str) -> bool:
    """Rules 4-5: the period after ``before`` belongs to the word (an abbreviation or an initial)."""
    found = _LAST_WORD.search(before)
    if not found:
        return False
    word = found.group(1).lstrip(_OPENERS)
    if word in _abbreviations(tag):
        return True
    return (len(word) == 1 and word.isalpha()) or bool(_DOTTED.match(word))


def _breaks(text: str, m: re.Match, tag: str) -> bool:
    if m.group("end") is None or "\n" in m.group("gap"):  # a newline or a full-width end (rules 1-2)
        return True
    if text[m.end()].islower():  # rule 3 (uncased scripts are never lower case)
        return False
    end = m.group("end")
    return not (end == "." and _keeps_period(text[:m.start()], tag))


def split_sentences(text: str, tag: str) -> list[Sentence]:
    """The sentences of ``text`` (a caption in language ``tag``), in order, with the gaps between them."""
    text = (text or "").strip()
    out: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.end() >= len(text) or not _breaks(text, m, tag):
            continue
        gap_start = m.start("nl") if m.group("nl") is not None else (
            m.start("wgap") if m.group("wide") is not None else m.start("gap"))
        sentence = text[start:gap_start].strip()
        if sentence:
            out.append(Sentence(sentence, text[gap_start:m.end()]))
        start = m.end()
    last = text[start:].strip()
    if last:
        out.append(Sentence(last))
    return out


def join_sentences(texts: list[str], gaps: list[str], tag: str) -> str:
    """Sentences translated into ``tag`` as one text: paragraph breaks as in the source, else the joiner."""
    if len(texts) != len(gaps):
        raise ValueError(f"{len(texts)} sentences but {len(gaps)} gaps")
    sep = joiner(tag)
    parts: list[str] = []
    for i, text in enumerate(texts):
        if i:  # the gap before this sentence: a paragraph break is kept, any other becomes the joiner
            parts.append(gaps[i - 1] if "\n" in gaps[i - 1] else sep)
        parts.append(text.strip())
    return "".join(parts).strip()
