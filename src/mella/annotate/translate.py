"""``mella translate``: captions into each row's language (``lang``), with an MT model or an LLM prompt.

Every output is checked (docs/annotate.md): the target language, a length ratio within bounds, no copy
of the source, no echo of the prompt. A row whose translation fails goes to ``_dropped/`` with the
reason. Captions are split into sentences (:mod:`mella.annotate.sentences`), all sentences of a batch go to
the model in one call per language pair, and the outputs are rejoined in order; ``translation_segments``
keeps the (source, target) alignment. Each kept row gets a quality estimate (:mod:`mella.annotate.qe`) in
``translation_qe``, named in ``translation_qe_method``. Raw model outputs are cached per sentence by (text,
languages, model, options), so a rerun translates nothing twice; the checks run again (they are cheap).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from mella.annotate.checks import CHECKS, TranslationChecker, instruction_fragments, to_target_script
from mella.annotate.qe import COMET_EXAMPLE, CometKiwiQE, Job, RoundTripQE
from mella.annotate.sentences import Sentence, join_sentences, split_sentences
from mella.errors import MellaError
from mella.languages import get_language
from mella.models.cache import cache_key
from mella.models.stage import (
    GenerationOptions,
    ModelOptions,
    ModelStage,
    backend_label,
    backend_signature,
)
from mella.pipeline.checks import languages, ordered, raise_problems
from mella.pipeline.stage import Emitter
from mella.records import PAIRS, TRANSLATE_READS, TRANSLATED, extend

SOURCES = {"caption": "translation", "caption_thick": "translation_thick"}

Check = Literal["echo", "copy", "length", "language"]


class TranslateOptions(ModelOptions, GenerationOptions):
    """Options of ``mella translate``."""

    model: str = Field("facebook/nllb-200-distilled-600M", min_length=1,
                       description="an MT model (NLLB, M2M100, MADLAD) or an LLM (translates through a prompt)")
    max_new_tokens: int = Field(512, ge=1)
    source_lang: str | None = Field(None, description="language of the captions (default: the row's caption_lang)")
    checks: list[Check] = Field(list(CHECKS), description="checks on every output: echo, copy, length, language")
    min_length_ratio: float = Field(0.25, gt=0, description="shortest output / source length (visible characters)")
    max_length_ratio: float = Field(4.0, gt=0, description="longest output / source length")
    max_copy_overlap: float = Field(0.8, gt=0, le=1, description="share of source words that makes an output a copy")
    split_sentences: bool = Field(True, description="translate captions sentence by sentence and rejoin them")
    qe: Literal["roundtrip", "cometkiwi", "none"] = Field(
        "roundtrip", description="quality estimate per row: roundtrip (chrF of the back-translation), cometkiwi "
                                 "(needs qe_model and the comet extra), none")
    qe_model: str | None = Field(None, min_length=1, description="roundtrip: the back-translating model (default: "
                                                                  f"model); cometkiwi: e.g. {COMET_EXAMPLE}")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(languages(self, "source_lang")
                       + ordered(self, "min_length_ratio", "max_length_ratio") + self._qe_problems())
        return self

    def _qe_problems(self) -> list:
        if self.qe == "cometkiwi" and not self.qe_model:
            return [(("qe_model",), f"qe_model: qe cometkiwi needs a COMET-Kiwi model, e.g. {COMET_EXAMPLE}")]
        if self.qe == "none" and self.qe_model:
            return [(("qe_model",), "qe_model: set, but qe is none (use qe: roundtrip or cometkiwi)")]
        return []


class TranslateStage(ModelStage):
    """Translate captions into each row's language (MT model or LLM prompt) and check every output."""

    name = "translate"
    Options = TranslateOptions
    requires = TRANSLATE_READS
    _unpicklable = ModelStage._unpicklable + ("checker", "qe", "qe_backend", "_qe_out")

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or PAIRS, *TRANSLATED)

    def setup(self) -> None:
        super().setup()
        o = self.options
        self.checker = TranslationChecker(o.checks, o.min_length_ratio, o.max_length_ratio, o.max_copy_overlap)
        self._fragments: dict[tuple[str, str], list[str]] = {}
        self.qe = self._qe_scorer()

    def _qe_scorer(self):
        """The QE of the ``qe`` option (None for ``none``); a roundtrip ``qe_model`` is loaded like ``model``."""
        o = self.options
        self.qe_backend = None
        if o.qe == "cometkiwi":
            gpus = 1 if self.backend.name == "hf" and getattr(self.backend, "device", "cpu").startswith("cuda") else 0
            return CometKiwiQE(o.qe_model, o.batch_size, gpus, cached=self._cached_qe_scores)
        if o.qe == "roundtrip":
            backend, sig, label = self.backend, self.model_sig, self.model_label
            if o.qe_model:
                from mella.models.base import load_backend

                backend = self.qe_backend = load_backend(o.backend, {"model": o.qe_model, "batch_size": o.batch_size})
                sig, label = backend_signature(backend), backend_label(backend)
            return RoundTripQE(lambda items: self._sentences(items, backend, sig, self._qe_out), label)
        return None

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        plans = [self._plan(row) for row in rows]
        jobs = [job for plan in plans if isinstance(plan, dict) for job in plan.values()]
        self._translate_jobs(jobs, out)
        kept: list[tuple[dict[str, Any], dict[str, Job]]] = []
        for row, plan in zip(rows, plans, strict=True):
            if isinstance(plan, str):
                out.drop(row, plan)
                continue
            row, reason = self._checked(row, plan, out)
            if reason:
                out.drop(row, reason)
            else:
                kept.append((row, plan))
        self._score(kept, out)
        for row, _ in kept:
            self.count_tiny(out, 1)
            out.keep(row)

    def _plan(self, row: dict[str, Any]) -> dict[str, Job] | str:
        """What to translate for one row ({column: Job}), or the reason it cannot be."""
        target = row.get("lang")
        if not target:
            return "no_language"
        try:
            get_language(target)
        except MellaError:
            return "unknown_language"
        src = self.options.source_lang or row.get("caption_lang") or "en"
        plan = {c: Job(c, src, target, row[c], self._split(row[c], src))
                for c in SOURCES if (row.get(c) or "").strip()}
        return plan or "no_caption"

    def _split(self, text: str, lang: str) -> list[Sentence]:
        if self.options.split_sentences:
            return split_sentences(text, lang)
        return [Sentence(text.strip())]

    def _translate_jobs(self, jobs: list[Job], out: Emitter) -> None:
        """Every sentence of every job through the model (one call per language pair), rejoined per job."""
        items = [(job.src, job.tgt, s.text) for job in jobs for s in job.sentences]
        raw = iter(self._sentences(items, self.backend, self.model_sig, out))
        for job in jobs:
            job.raw = [(next(raw) or "").strip() for _ in job.sentences]
            job.targets = [to_target_script(t, job.tgt) for t in job.raw]
            job.translation = join_sentences(job.targets, [s.gap for s in job.sentences], job.tgt)
            out.count(f"sentences.{job.column}", len(job.sentences))
            out.count(f"split.{job.column}", int(len(job.sentences) > 1))

    def _sentences(self, items: list[tuple[str, str, str]], backend, sig: str, out) -> list[str]:
        """Model outputs for (src, tgt, sentence) items, from the cache or computed in one batched pass."""
        gen = self.options.gen_options().signature()
        keys = [cache_key("translate", sig, gen, *item) for item in items]
        results = self.cached("translate", dict(zip(keys, items, strict=True)),
                              lambda todo: self._translate(todo, backend), out)
        return [results[k] for k in keys]

    def _translate(self, items: list[tuple[str, str, str]], backend=None) -> list[str]:
        """Model outputs for (src, tgt, text) items: one backend call per language pair."""
        backend = backend or self.backend
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (src, tgt, _) in enumerate(items):
            groups[(src, tgt)].append(i)
        outputs: list[str] = [""] * len(items)
        for (src, tgt), idx in groups.items():
            texts = backend.translate([items[i][2] for i in idx], src, tgt, self.options.gen_options())
            for i, text in zip(idx, texts, strict=True):
                outputs[i] = text
        return outputs

    def _checked(self, row: dict[str, Any], plan: dict[str, Job], out: Emitter) -> tuple[dict[str, Any], str | None]:
        """The row with its translation columns, and the first failed check's reason (per sample, then per
        sentence: a sentence left untranslated or translated to nothing fails the sample)."""
        row = {**row, "translation_model": self.model_label, "translation_backend": self.backend.name}
        reason = None
        for column, job in plan.items():
            name = SOURCES[column]
            row[name], row[f"{name}_segments"], row["translation_lang"] = job.translation, job.segments(), job.tgt
            found = (self.checker.check(job.text, job.translation, job.tgt, self.fragments(job.src, job.tgt))
                     or self.checker.check_sentences([s.text for s in job.sentences], job.targets))
            if found:
                out.count(f"checks.{column}.{found}")
            reason = reason or found
        return row, reason

    def _score(self, kept: list[tuple[dict[str, Any], dict[str, Job]]], out: Emitter) -> None:
        """The QE of every kept translation, in one pass (rows dropped by a check are not scored)."""
        if self.qe is None:
            return
        jobs = [job for _, plan in kept for job in plan.values()]
        self._qe_out = _Prefixed(out, "qe.")
        for job, score in zip(jobs, self.qe.scores(jobs) if jobs else [], strict=True):
            job.qe = round(score, 4)
        for row, plan in kept:
            row["translation_qe_method"] = self.qe.method
            for column, job in plan.items():
                row[f"{SOURCES[column]}_qe"] = job.qe

    def _cached_qe_scores(self, pairs: list[tuple[str, str]], compute) -> list[float]:
        keys = [cache_key("qe", self.qe.method, src, mt) for src, mt in pairs]
        found = self.cached("qe", dict(zip(keys, pairs, strict=True)), compute, self._qe_out)
        return [found[k] for k in keys]

    def fragments(self, src: str, tgt: str) -> list[str]:
        """Sentences of the LLM translation prompt for this pair, which an output must not repeat."""
        if (src, tgt) not in self._fragments:
            self._fragments[(src, tgt)] = instruction_fragments(self.backend.translate_prompt("", src, tgt))
        return self._fragments[(src, tgt)]


class _Prefixed:
    """An emitter's counters under a prefix (the QE's model calls and cache hits are counted apart)."""

    def __init__(self, out: Emitter, prefix: str):
        self.out, self.prefix = out, prefix

    def count(self, name: str, n: int = 1) -> None:
        self.out.count(self.prefix + name, n)

