"""``mella score``: image-text relevance with a multilingual dual encoder (CLIP / SigLIP).

``relevance`` is the image against the row's plain translation and ``relevance_thick`` against its thick
translation (D_ling; build reads the one matching the ``--ling-field`` it puts in the sample), ``relevance_alt``
the image against its native alt-text (D_know): cosine similarities in [-1, 1]. Optional thresholds drop rows
below them.
Scores are cached by (image sha256, text, model).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import Field

from mella.models.cache import cache_key
from mella.models.images import DecodedOnce, check_images, load_images
from mella.models.stage import ModelOptions, ModelStage
from mella.pipeline.stage import Emitter, runtime_option
from mella.records import PAIRS, SCORE_READS, SCORED, extend

# score column -> text column it compares with the image
TEXTS = {"relevance": "translation", "relevance_thick": "translation_thick", "relevance_alt": "alt"}


class ScoreOptions(ModelOptions):
    """Options of ``mella score``."""

    model: str = Field("google/siglip-base-patch16-256-multilingual", min_length=1,
                       description="a CLIP or SigLIP model (multilingual for non-English text)")
    min_relevance: float | None = Field(None, ge=-1, le=1, description="drop rows whose translation scores lower")
    min_relevance_thick: float | None = Field(None, ge=-1, le=1,
                                              description="drop rows whose thick translation scores lower")
    min_relevance_alt: float | None = Field(None, ge=-1, le=1, description="drop rows whose alt-text scores lower")
    images: str | None = runtime_option(None, description="fetch output folder (default: found from the input)")


class ScoreStage(ModelStage):
    """Score image-text relevance (image vs each translation, image vs alt-text); optional thresholds."""

    name = "score"
    Options = ScoreOptions
    requires = SCORE_READS
    batch_size = 512

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or PAIRS, *SCORED)

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        store = DecodedOnce(self.image_store())  # checked and scored with one decode per image
        inputs: dict[str, tuple[str, str]] = {}  # cache key -> (image key, text)
        plans: list[dict[str, str] | str] = []  # per row: cache keys by column, or why its image is unusable
        for row, (sha, problem) in zip(rows, check_images(rows, store), strict=True):
            if problem:
                plans.append(problem)
                continue
            plan = {}
            for column, text_column in TEXTS.items():
                text = (row.get(text_column) or "").strip()
                if text:
                    plan[column] = cache_key("score", self.model_sig, sha, text)
                    inputs.setdefault(plan[column], (row["key"], text))
            plans.append(plan)
        results = self.cached("score", inputs, lambda items: self._score(items, store), out)
        for row, plan in zip(rows, plans, strict=True):
            self._emit(row, plan, results, out)

    def _score(self, items: list[tuple[str, str]], store) -> list[float]:
        images = load_images([key for key, _ in items], store)
        return self.backend.score([images[key] for key, _ in items], [text for _, text in items])

    def _emit(self, row: dict[str, Any], plan: dict[str, str] | str, results: dict[str, float],
              out: Emitter) -> None:
        if isinstance(plan, str):  # image_missing, image_too_large, image_unreadable
            out.drop(row, plan)
            return
        row = {**row, "relevance_model": self.model_label}
        row.update({column: results[key] for column, key in plan.items()})
        o = self.options
        thresholds = {"relevance": o.min_relevance, "relevance_thick": o.min_relevance_thick,
                      "relevance_alt": o.min_relevance_alt}
        for column, low in thresholds.items():
            # A row without the text (no translation yet) has no score and is not judged on it.
            if low is not None and row.get(column) is not None and row[column] < low:
                out.drop(row, f"low_{column}")
                return
        self.count_tiny(out, 1)
        out.keep(row)
