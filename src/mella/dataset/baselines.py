"""Baseline recipes and the code-switched variants of the SDRRL baseline.

Recipes (``mella build --recipe``): ``mella`` (D_know + D_ling), ``know-only``, ``ling-only`` (the
translation-only "thin" baseline) and ``sdrrl``: self-distillation, the backbone's own captions in the
high-resource language machine-translated into the target language (build it from annotation rows made with
the backbone as captioner), plus a code-switched variant of each sample.

Code-switching by a bilingual lexicon with alignment evidence: a target-language word (or run of words) that
is a lexicon form of an English entry is replaced by the English word only when that English word is in the
sample's source caption, so the switch follows the translation pair instead of guessing. A share
``rate`` of the matching spans is switched (at least one), chosen by a stable hash; a sample without a match
has no code-switched variant. Lexicons are data: ``data/templates/lexicon/<code>.yaml``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mella.dataset.templates import to_script
from mella.filter.text import key64
from mella.languages import get_language

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Lexicon:
    """English word -> target forms (tuples of words; a last word ending in ``*`` is a prefix)."""

    entries: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
    substring: bool = False
    proclitics: tuple[str, ...] = ()
    keep_suffix: bool = False


@cache
def lexicon(tag: str) -> Lexicon | None:
    """The packaged lexicon of a language (forms folded into the tag's script), or None."""
    import yaml

    lang = get_language(tag)
    path = resources.files("mella").joinpath(f"data/templates/lexicon/{lang.code}.yaml")
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = tuple((en, tuple(tuple(to_script(f, tag).lower().split()) for f in forms))
                    for en, forms in data["entries"].items())
    return Lexicon(entries, data.get("match") == "substring", tuple(data.get("proclitics") or ()),
                   lang.code == "ko")


def code_switch(text: str, source_caption: str, tag: str, rate: float, salt: str) -> str | None:
    """``text`` with some lexicon words switched to English, or None when nothing can be switched."""
    lex = lexicon(tag)
    if lex is None or not text or not source_caption:
        return None
    english = {w.lower() for w in _WORD.findall(source_caption)}
    allowed = [(en, forms) for en, forms in lex.entries if _in_caption(en, english)]
    spans = _substring_spans(text, allowed) if lex.substring else _word_spans(text, allowed, lex)
    if not spans:
        return None
    n = max(1, math.ceil(rate * len(spans)))
    chosen = sorted(sorted(spans, key=lambda s: key64(salt, str(s[0])))[:n])
    out, last = [], 0
    for start, end, replacement in chosen:
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def _in_caption(english: str, words: set[str]) -> bool:
    return all(w in words or w + "s" in words or w + "es" in words for w in english.split())


def _substring_spans(text: str, allowed) -> list[tuple[int, int, str]]:
    """Non-overlapping occurrences of the forms in ``text``, longest forms first (scripts without spaces)."""
    forms = sorted(((" ".join(f), en) for en, fs in allowed for f in fs), key=lambda x: -len(x[0]))
    taken = [False] * len(text)
    spans = []
    for form, en in forms:
        for m in re.finditer(re.escape(form), text):
            if not any(taken[m.start():m.end()]):
                taken[m.start():m.end()] = [True] * (m.end() - m.start())
                spans.append((m.start(), m.end(), f" {en} "))
    return sorted(spans)


def _word_spans(text: str, allowed, lex: Lexicon) -> list[tuple[int, int, str]]:
    """Left-to-right longest matches of the forms over the words of ``text``."""
    tokens = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    spans, i = [], 0
    while i < len(tokens):
        best = _best_match(tokens, i, allowed, lex)
        if best is None:
            i += 1
            continue
        length, en, head, tail = best
        spans.append((tokens[i][0] + head, tokens[i + length - 1][1] - tail, en))
        i += length
    return spans


def _best_match(tokens, i: int, allowed, lex: Lexicon):
    """(words matched, English word, proclitic chars kept, suffix chars kept) of the longest form at ``i``."""
    best = None
    first = tokens[i][2]
    for clitic in ("", *lex.proclitics):
        if clitic and not (first.startswith(clitic) and len(first) - len(clitic) >= 2):
            continue
        words = [first[len(clitic):]] + [t[2] for t in tokens[i + 1:]]
        for en, forms in allowed:
            for form in forms:
                rest = _match(form, words)
                if rest is not None and (best is None or len(form) > best[0]):
                    tail = len(rest) if lex.keep_suffix else 0
                    best = (len(form), en, _kept(clitic), tail)
    return best


def _kept(clitic: str) -> int:
    """Characters of a proclitic left before the English word: conjunctions and prepositions stay, the
    article goes ("والكلب" -> "و" + "dog"; "للكلب" -> "ل" + "dog")."""
    return 1 if clitic == "لل" else len(clitic.replace("ال", ""))


def _match(form: tuple[str, ...], words: list[str]) -> str | None:
    """The unmatched rest of the last word when ``form`` matches the start of ``words``, else None."""
    if len(words) < len(form):
        return None
    for f, w in zip(form[:-1], words, strict=False):
        if f != w:
            return None
    last, word = form[-1], words[len(form) - 1]
    if last.endswith("*"):
        return word[len(last) - 1:] if word.startswith(last[:-1]) else None
    return "" if word == last else None
