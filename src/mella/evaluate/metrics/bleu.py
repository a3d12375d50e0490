"""Corpus BLEU with sacrebleu and a language-appropriate tokenizer (0-100)."""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU as SacreBLEU

from mella.evaluate.metrics.base import Item, Metric
from mella.evaluate.textproc import TextProcessor, segmenter_label


def _reference_streams(items: Sequence[Item]) -> list[list[str | None]]:
    """sacrebleu's layout: one stream per reference slot, ``None`` where an item has fewer."""
    width = max((len(item.refs) for item in items), default=1)
    return [
        [item.refs[k].spaced if k < len(item.refs) else None for item in items]
        for k in range(width)
    ]


class BLEU(Metric):
    """sacrebleu corpus BLEU; per-item scores use effective order, as ``sentence_bleu`` does."""

    outputs = ("bleu",)

    def __init__(self, proc: TextProcessor):
        super().__init__(proc)
        self.tokenize = proc.lang.extra.get("bleu_tokenizer", "13a")
        # Scripts without word spaces are pre-segmented by the processor (Text.spaced), and a
        # segmented line legitimately ends in " .": silence sacrebleu's detokenisation warning.
        self.presegmented = not proc.lang.word_spaces
        self._bleu = SacreBLEU(tokenize=self.tokenize, force=self.presegmented)
        self._sentence_bleu = SacreBLEU(tokenize=self.tokenize, force=True, effective_order=True)

    def stats(self, items: Sequence[Item]) -> list[list[float]]:
        hyps = [item.hyp.spaced for item in items]
        return self._bleu._extract_corpus_statistics(hyps, _reference_streams(items))

    def compute(self, total: Sequence[float], n: int) -> dict[str, tuple[float | None, int]]:
        return {"bleu": (self._bleu._compute_score_from_stats(list(total)).score, n)}

    def item_scores(self, row: Sequence[float]) -> dict[str, float | None]:
        return {"bleu": self._sentence_bleu._compute_score_from_stats(list(row)).score}

    def settings(self, output: str) -> str:
        # sacrebleu's own signature (nrefs, case, eff, tok, smooth, version), then mella's parts.
        sig = self._bleu.get_signature().format()
        seg = f"|seg:{segmenter_label(self.proc.lang.tokenizer)}" if self.presegmented else ""
        return f"{sig}|norm:{self.proc.norm_label}{seg}"
