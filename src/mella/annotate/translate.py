"""``mella translate``: captions into each row's language (``lang``), with an MT model or an LLM prompt.

Every output is checked (docs/annotate.md): the target language, a length ratio within bounds, no copy
of the source, no echo of the prompt. A row whose translation fails goes to ``_dropped/`` with the
reason. Raw model outputs are cached by (source text, languages, model, options), so a rerun
translates nothing twice; the checks run again (they are cheap and may have changed).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from mella.annotate.cache import cache_key
from mella.annotate.checks import CHECKS, TranslationChecker, instruction_fragments, to_target_script
from mella.annotate.common import GenerationOptions, ModelOptions, ModelStage
from mella.errors import MellaError
from mella.languages import get_language
from mella.pipeline.checks import languages, ordered, raise_problems
from mella.pipeline.stage import Emitter
from mella.records import ANNOTATIONS, PAIRS, TRANSLATE_READS, extend

SOURCES = {"caption": "translation", "caption_thick": "translation_thick"}
COLUMNS = ["translation", "translation_thick", "translation_lang", "translation_model"]
EXTRA_COLUMNS = [pa.field("translation_backend", pa.string())]

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

    @model_validator(mode="after")
    def _check(self):
        raise_problems(languages(self, "source_lang", detectors=False)
                       + ordered(self, "min_length_ratio", "max_length_ratio"))
        return self


class TranslateStage(ModelStage):
    """Translate captions into each row's language (MT model or LLM prompt) and check every output."""

    name = "translate"
    Options = TranslateOptions
    requires = TRANSLATE_READS
    _unpicklable = ModelStage._unpicklable + ("checker",)

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or PAIRS, *(ANNOTATIONS.field(c) for c in COLUMNS), *EXTRA_COLUMNS)

    def setup(self) -> None:
        super().setup()
        o = self.options
        self.checker = TranslationChecker(o.checks, o.min_length_ratio, o.max_length_ratio, o.max_copy_overlap)
        self._fragments: dict[tuple[str, str], list[str]] = {}

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        inputs: dict[str, tuple[str, str, str]] = {}  # cache key -> (source lang, target, text)
        plans: list[dict[str, str] | str] = []
        gen = self.options.gen_options().signature()
        for row in rows:
            plan = self._plan(row)
            if isinstance(plan, dict):
                for column, item in list(plan.items()):
                    key = cache_key("translate", self.model_sig, gen, *item)
                    inputs.setdefault(key, item)
                    plan[column] = key
            plans.append(plan)
        results = self.cached("translate", inputs, self._translate, out)
        for row, plan in zip(rows, plans, strict=True):
            if isinstance(plan, str):
                out.drop(row, plan)
            else:
                self._emit(row, {c: (inputs[k], results[k]) for c, k in plan.items()}, out)

    def _plan(self, row: dict[str, Any]) -> dict[str, tuple[str, str, str]] | str:
        """What to translate for one row ({column: (src, tgt, text)}), or the reason it cannot be."""
        target = row.get("lang")
        if not target:
            return "no_language"
        try:
            get_language(target)
        except MellaError:
            return "unknown_language"
        src = self.options.source_lang or row.get("caption_lang") or "en"
        plan = {c: (src, target, row[c]) for c in SOURCES if (row.get(c) or "").strip()}
        return plan or "no_caption"

    def _translate(self, items: list[tuple[str, str, str]]) -> list[str]:
        """Model outputs for (src, tgt, text) items: one backend call per language pair."""
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (src, tgt, _) in enumerate(items):
            groups[(src, tgt)].append(i)
        outputs: list[str] = [""] * len(items)
        for (src, tgt), idx in groups.items():
            texts = self.backend.translate([items[i][2] for i in idx], src, tgt, self.options.gen_options())
            for i, text in zip(idx, texts, strict=True):
                outputs[i] = text
        return outputs

    def _emit(self, row: dict[str, Any], done: dict[str, tuple[tuple[str, str, str], str]], out: Emitter) -> None:
        row = {**row, "translation_model": self.model_label, "translation_backend": self.backend.name}
        reason = None
        for column, ((src, tgt, text), raw) in done.items():
            translation = to_target_script((raw or "").strip(), tgt)
            row[SOURCES[column]] = translation
            row["translation_lang"] = tgt
            found = self.checker.check(text, translation, tgt, self.fragments(src, tgt))
            if found:
                out.count(f"checks.{column}.{found}")
            reason = reason or found
        if reason:
            out.drop(row, reason)
            return
        self.count_tiny(out, 1)
        out.keep(row)

    def fragments(self, src: str, tgt: str) -> list[str]:
        """Sentences of the LLM translation prompt for this pair, which an output must not repeat."""
        if (src, tgt) not in self._fragments:
            self._fragments[(src, tgt)] = instruction_fragments(self.backend.translate_prompt("", src, tgt))
        return self._fragments[(src, tgt)]
