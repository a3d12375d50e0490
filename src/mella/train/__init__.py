"""Training: supervised fine-tuning (LoRA, QLoRA, full) and culture-contrastive preference tuning of MLLMs.

``mella train CONFIG.yaml`` runs :func:`run_training`: the SFT recipe (:mod:`mella.train.sft`), then the
DPO recipe (:mod:`mella.train.preference`) when ``preference.enabled``. ``mella ablate`` trains the
dataset variants with the same settings and compares them (:mod:`mella.train.ablate`). Heavy libraries
(torch, transformers, trl, peft) are imported by the recipes, not here. See docs/train.md.
"""

from __future__ import annotations

from typing import Any


def run_training(cfg, sft: bool = True) -> dict[str, Any]:
    """SFT, then the preference stage when enabled (on the merged SFT model); returns both results."""
    from mella.train.preference import run_preference
    from mella.train.sft import run_sft

    result: dict[str, Any] = {}
    if sft:
        result["sft"] = run_sft(cfg)
    if cfg.preference.enabled:
        base = result.get("sft", {}).get("outputs", {}).get("model")
        result["preference"] = run_preference(cfg, base)
    return result
