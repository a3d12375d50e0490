"""``mella predict``: run any model backend on a split of the ``samples`` rows and write prediction rows.

Input rows follow ``mella.records.SAMPLES`` (``id, key, lang, source, instruction, response, split``, optional
``keywords``, ``keyword_kinds`` and ``references``); output rows follow ``PREDICTIONS``, which ``mella evaluate``
reads: the keywords travel with each prediction, so keyword and entity accuracy need nothing but this file. Each
sample's image comes from a fetch output by ``key``. Parts make it resumable (a rerun skips committed parts)
and outputs are cached like the annotation stages' (image sha256, model, instruction, options).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from mella.models.cache import cache_key
from mella.models.images import DecodedOnce, check_images, load_images
from mella.models.stage import GenerationOptions, ModelOptions, ModelStage
from mella.pipeline.stage import Emitter, runtime_option
from mella.records import PREDICT_IMAGE_READS, PREDICT_READS, PREDICT_SPLIT_READS, PREDICTIONS


class PredictOptions(ModelOptions, GenerationOptions):
    """Options of ``mella predict``."""

    model: str = Field(min_length=1, description="the model to evaluate (hub id, folder or served name)")
    split: str | None = Field("test", description="the split to predict (all: every row)")
    with_images: bool = Field(True, description="give the model the sample's image (off for text-only models)")
    system: str | None = Field(None, description="system message")
    model_name: str | None = Field(None, description="the model column's value (default: the model id)")
    images: str | None = runtime_option(None, description="fetch output folder holding the samples' images")

    @field_validator("split")
    @classmethod
    def _all_splits(cls, value: str | None) -> str | None:
        # The CLI cannot pass None: `--split all` (or an empty value) means every row.
        return None if value in ("", "all") else value


class PredictStage(ModelStage):
    """Run a model on a split of the samples; writes predictions that `mella evaluate` scores."""

    name = "predict"
    Options = PredictOptions
    schema = PREDICTIONS

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        """The samples columns; the image key with images, the split unless every split is predicted."""
        o = self.options
        return (PREDICT_READS + (PREDICT_IMAGE_READS if o.with_images else ())
                + (PREDICT_SPLIT_READS if o.split is not None else ()))

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        o = self.options
        chosen = [r for r in rows if o.split is None or r.get("split") == o.split]
        out.count("skipped_other_split", len(rows) - len(chosen))
        if not chosen:
            return
        store = DecodedOnce(self.image_store()) if o.with_images else None  # one decode per image
        gen = o.gen_options().signature()
        inputs: dict[str, tuple[str | None, str]] = {}  # cache key -> (image key, instruction)
        keys: list[str | None] = []
        problems = check_images(chosen, store) if store is not None else [(None, None)] * len(chosen)
        for row, (sha, problem) in zip(chosen, problems, strict=True):
            if problem:
                keys.append(None)
                continue
            item = (row["key"] if store is not None else None, row.get("instruction") or "")
            keys.append(cache_key("predict", self.model_sig, gen, sha, item[1], o.system))
            inputs.setdefault(keys[-1], item)
        results = self.cached("predict", inputs, lambda items: self._generate(items, store), out)
        for row, key, (_, problem) in zip(chosen, keys, problems, strict=True):
            if key is None:  # image_missing, image_too_large, image_unreadable
                out.drop(self._prediction(row, None), problem)
            else:
                self.count_tiny(out, 1)
                out.keep(self._prediction(row, results[key]))

    def _generate(self, items: list[tuple[str | None, str]], store) -> list[str]:
        from mella.models.base import GenRequest

        images = load_images([k for k, _ in items if k is not None], store) if store is not None else {}
        requests = [GenRequest(prompt=text, image=images.get(k), system=self.options.system) for k, text in items]
        return self.backend.generate(requests, self.options.gen_options())

    def _prediction(self, row: dict[str, Any], text: str | None) -> dict[str, Any]:
        refs = row.get("references") or ([row["response"]] if row.get("response") else [])
        return {"id": row.get("id"), "lang": row.get("lang"), "source": row.get("source"), "prediction": text,
                "references": list(refs), "keywords": row.get("keywords"),
                "keyword_kinds": row.get("keyword_kinds"), "model": self.options.model_name or self.model_label}
