"""Greedy predictions of a trained model through the hf backend, as PREDICTIONS rows.

A small stand-in for ``mella predict`` (``mella.evaluate.predict.PredictStage``) used by the ablation
driver and the overfitting check: it renders the prompt and fits the image exactly as training did.
"""

from __future__ import annotations

from typing import Any

from mella.models.base import GenOptions, GenRequest
from mella.train.data import ImageOpener


def predict(model: str, rows: list[dict[str, Any]], opener: ImageOpener, *, max_new_tokens: int = 128,
            batch_size: int = 16, min_pixels: int | None = None, max_pixels: int | None = None,
            system: str | None = None, device: str = "auto") -> list[dict[str, Any]]:
    """One PREDICTIONS row per SAMPLES row (``references`` = the sample's response)."""
    from mella.models.hf import HFBackend

    backend = HFBackend(model=model, batch_size=batch_size, min_pixels=min_pixels, max_pixels=max_pixels,
                        device=device)
    requests = [GenRequest(prompt=r["instruction"], image=opener(r["key"]), system=system) for r in rows]
    texts = backend.generate(requests, GenOptions(max_new_tokens=max_new_tokens))
    backend.close()
    return [{"id": str(r.get("id") or r["key"]), "lang": r.get("lang"), "source": r.get("source"),
             "prediction": text, "references": [r["response"]], "keywords": r.get("keywords") or [],
             "model": model} for r, text in zip(rows, texts, strict=True)]
