"""chrF and chrF++ (sacrebleu's definitions, 0-100), computed in one pass over the text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from operator import add

import sacrebleu
from sacrebleu.metrics import CHRF
from sacrebleu.metrics.helpers import extract_word_ngrams

from mella.evaluate.metrics.base import Item, Metric
from mella.evaluate.textproc import TextProcessor, segmenter_label

_match = CHRF._get_match_statistics


def char_ngrams(line: str, order: int) -> list[Counter]:
    """Character n-gram counts of orders 1..order, whitespace removed.

    Same result as sacrebleu's ``extract_all_char_ngrams``; n-grams are grown by ``map(add)``
    from the (n-1)-grams instead of sliced one by one, which is several times faster.
    """
    line = "".join(line.split())
    grams: list[str] = list(line)
    out = [Counter(grams)]
    for n in range(2, order + 1):
        grams = list(map(add, grams, line[n - 1:]))
        out.append(Counter(grams))
    return out


class ChrF(Metric):
    """chrF (char order 6, beta 2) and chrF++ (plus word order 2); each picks its best reference."""

    outputs = ("chrf", "chrf++")

    def __init__(self, proc: TextProcessor):
        super().__init__(proc)
        self._chrf = CHRF()
        self._chrfpp = CHRF(word_order=2)
        self._width = 3 * self._chrf.char_order

    def _ngrams(self, text: str) -> tuple[list[Counter], list[Counter]]:
        chars = char_ngrams(text, self._chrf.char_order)
        words = self._chrfpp._remove_punctuation(text)
        return chars, [extract_word_ngrams(words, n) for n in range(1, self._chrfpp.word_order + 1)]

    def _item(self, hyp: str, refs: list[str]) -> list[float]:
        hyp_chars, hyp_words = self._ngrams(hyp)
        best_c, best_cpp = (-1.0, []), (-1.0, [])
        for ref in refs:
            ref_chars, ref_words = self._ngrams(ref)
            char_stats = [x for h, r in zip(hyp_chars, ref_chars, strict=True) for x in _match(h, r)]
            word_stats = [x for h, r in zip(hyp_words, ref_words, strict=True) for x in _match(h, r)]
            # Strict '>' keeps the first best reference, as sacrebleu does.
            f = self._chrf._compute_f_score(char_stats)
            if f > best_c[0]:
                best_c = (f, char_stats)
            f = self._chrfpp._compute_f_score(char_stats + word_stats)
            if f > best_cpp[0]:
                best_cpp = (f, char_stats + word_stats)
        return best_c[1] + best_cpp[1]

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        counts = {len(item.refs) for item in items}
        # sacrebleu's signature convention: nrefs is the count, or "var" (-1) when it varies.
        self._chrf.num_refs = self._chrfpp.num_refs = counts.pop() if len(counts) == 1 else -1
        # `spaced` only differs from `norm` for unspaced scripts: Thai words feed chrF++'s word n-grams.
        return [self._item(item.hyp.spaced, [r.spaced for r in item.refs]) for item in items]

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        total = list(total)
        return {
            "chrf": (self._chrf._compute_f_score(total[:self._width]), n),
            "chrf++": (self._chrfpp._compute_f_score(total[self._width:]), n),
        }

    def settings(self, output: str) -> str:
        impl = self._chrf if output == "chrf" else self._chrfpp
        sig = impl.get_signature().format().replace(f"|version:{sacrebleu.__version__}", "")
        seg = "" if self.proc.lang.word_spaces else f"|seg:{segmenter_label(self.proc.lang.tokenizer)}"
        return f"{sig}|norm:{self.proc.norm_label}{seg}|impl:sacrebleu-{sacrebleu.__version__}+mella-ngrams"
