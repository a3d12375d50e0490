"""Per-sample translation quality estimates (QE), with no reference translation.

- ``roundtrip``: translate the output back into the source language (the same MT model, or ``qe_model``) and
  score the back-translation against the source with chrF (0-100, :mod:`mella.evaluate.metrics.chrf`).
  Works offline with any model ``translate`` can use; it measures meaning kept *and* the back-translator's
  own errors, so compare figures only under one ``translation_qe_method``.
- ``cometkiwi``: a learned reference-free QE model (COMET-Kiwi, e.g. ``Unbabel/wmt22-cometkiwi-da``, 0-1) through
  the ``unbabel-comet`` package (``pip install 'mella[comet]'``). Scored per sentence; a sample's score is the
  mean of its sentences weighted by their source length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mella.annotate.sentences import Sentence, join_sentences
from mella.errors import require

QE_METHODS = ("roundtrip", "cometkiwi", "none")
COMET_EXAMPLE = "Unbabel/wmt22-cometkiwi-da"


@dataclass
class Job:
    """One caption to translate: its sentences, their model outputs, the rejoined translation and its QE."""

    column: str
    src: str
    tgt: str
    text: str
    sentences: list[Sentence]
    raw: list[str] = field(default_factory=list)       # model outputs, one per sentence
    targets: list[str] = field(default_factory=list)   # the same in the target's script
    translation: str = ""
    qe: float | None = None

    def segments(self) -> list[dict[str, str]]:
        """The alignment: one {source, target} per sentence, in order."""
        return [{"source": s.text, "target": t} for s, t in zip(self.sentences, self.targets, strict=True)]


@cache
def _chrf(lang: str):
    require("sacrebleu", "eval", "qe: roundtrip (chrF)")
    from mella.evaluate.metrics.chrf import ChrF
    from mella.evaluate.textproc import processor

    return ChrF(processor(lang))


def chrf(hyp: str, ref: str, lang: str) -> float:
    """Sentence-level chrF (0-100) of ``hyp`` against ``ref``, both in ``lang`` (the project's chrF)."""
    from mella.evaluate.metrics.base import Item

    metric = _chrf(lang)
    item = Item(metric.proc.process(hyp), [metric.proc.process(ref)])
    return float(metric.item_scores(metric.stats([item])[0])["chrf"])


class RoundTripQE:
    """chrF of the back-translation against the source; ``translate(items) -> outputs`` for (src, tgt, text)."""

    def __init__(self, translate: Callable[[list[tuple[str, str, str]]], list[str]], label: str):
        self.translate = translate
        self.method = f"roundtrip-chrf:{label}"

    def scores(self, jobs: list[Job]) -> list[float]:
        # What the model wrote (before any transliteration) goes back, all sentences of all jobs in one call.
        back = iter(self.translate([(job.tgt, job.src, raw) for job in jobs for raw in job.raw]))
        out = []
        for job in jobs:
            texts = [next(back) for _ in job.raw]
            out.append(chrf(join_sentences(texts, [s.gap for s in job.sentences], job.src), job.text, job.src))
        return out


class CometKiwiQE:
    """A COMET-Kiwi model (reference-free): ``model`` is a hub id or a local ``.ckpt`` / model folder."""

    def __init__(self, model: str, batch_size: int, gpus: int,
                 cached: Callable[[list[Any], Callable[[list[Any]], list[Any]]], list[Any]] = lambda xs, f: f(xs)):
        self.comet = require("comet", "comet", "qe: cometkiwi")
        self.model_id, self.batch_size, self.gpus, self.cached = model, batch_size, gpus, cached
        self.method = f"cometkiwi:{model}"
        self._model = None

    def _load(self):
        path = Path(self.model_id)
        if path.is_dir() and (path / "checkpoints" / "model.ckpt").is_file():
            path = path / "checkpoints" / "model.ckpt"
        if not path.is_file():  # a hub id: the gated Unbabel models need their licence accepted and a login
            path = Path(self.comet.download_model(self.model_id))
        return self.comet.load_from_checkpoint(str(path))

    def sentence_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """One score per (source sentence, translated sentence)."""
        if self._model is None:
            self._model = self._load()
        data = [{"src": s, "mt": t} for s, t in pairs]
        found: Any = self._model.predict(data, batch_size=self.batch_size, gpus=self.gpus, progress_bar=False)
        return [float(x) for x in found.scores]

    def scores(self, jobs: list[Job]) -> list[float]:
        pairs = [(s.text, t) for job in jobs for s, t in zip(job.sentences, job.targets, strict=True)]
        flat = iter(self.cached(pairs, self.sentence_scores))  # ``cached``: the stage's result cache
        out = []
        for job in jobs:
            weights = [max(len(s.text), 1) for s in job.sentences]
            values = [next(flat) for _ in job.sentences]
            out.append(sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights))
        return out
