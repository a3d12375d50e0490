"""Culture-contrastive preference recipe (DPO): prefer the culturally grounded caption over the plain one.

For one image and one prompt, the *chosen* answer is the translated ``thick`` caption (written with the
native alt-text and page title as context, column ``translation_thick``) and the *rejected* answer the
translated ``plain`` caption (image only, column ``translation``). Pairs come from annotated rows (fetch rows
plus annotation columns) or from a pairs file with ``key, prompt, chosen, rejected`` columns. The recipe
starts from the SFT model (the merged one when SFT ran first) and trains a LoRA adapter with TRL's
DPOTrainer, whose reference model is the same network with the adapter switched off.

Pairs come only from images the build put in the train split (``preference.build``, default the build the
SFT stage trains on): a thick caption was written with the alt-text in its prompt, and the alt-text of a
held-out image is a test reference. Every row left out is counted with its reason.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mella.errors import MellaError, require
from mella.languages import get_language, is_known
from mella.train import data as D
from mella.train import model as M
from mella.train.config import TrainConfig
from mella.train.recipe import losses, on_gpu, resume_point, trainer_kwargs, write_json

log = logging.getLogger("mella.train")
DEFAULT_INSTRUCTION = "Describe this image in {language}."


def _instruction(template: str, lang: str | None) -> str:
    if lang and is_known(lang):
        name = get_language(lang).native_name or get_language(lang).name
    else:
        name = "its language"
    return template.replace("{language}", name)


@dataclass(frozen=True)
class BuildSplits:
    """The image keys a build put in the train split, and those it held out (validation, test)."""

    source: str
    train: frozenset[str]
    held_out: frozenset[str]

    def why_not(self, key: str) -> str | None:
        """None for a train image; ``not_train`` for a held-out one; ``no_split`` for one the build has not."""
        if key in self.held_out:   # held out anywhere wins: its alt-text is a reference there
            return "not_train"
        return None if key in self.train else "no_split"


def build_splits(path: str | Path, train_split: str = "train") -> BuildSplits:
    """The split of every image of a build output (parts with ``key`` and ``split``); refuses anything else."""
    rows = D.read_rows(path, ["key", "split"])
    if not rows or any(not r.get("key") or not r.get("split") for r in rows):
        raise MellaError(f"preference.build: {path} is not a build output (every row needs key and split); "
                         "give the build folder whose splits the pairs must respect")
    train = {r["key"] for r in rows if r["split"] == train_split}
    if not train:
        raise MellaError(f"preference.build: {path} has no {train_split!r} samples to take pairs from")
    return BuildSplits(str(path), frozenset(train), frozenset(r["key"] for r in rows if r["split"] != train_split))


def pair_rows(rows: list[dict[str, Any]], splits: BuildSplits,
              instruction: str | None = None) -> tuple[list[dict[str, Any]], Counter]:
    """Preference pairs (``image`` = key, ``prompt``, ``chosen``, ``rejected``) of train images, and why rows left.

    Annotated rows give chosen = ``translation_thick``, rejected = ``translation``; a pairs file gives them
    as columns. Left out, counted under ``excluded.<reason>``: images outside the build's train split
    (``not_train``, ``no_split``), rows without an image key (``no_key``) or without both texts (``no_pair``),
    and rows whose two texts are the same (``same_text``: they teach nothing).
    """
    out, stats = [], Counter(rows=len(rows))
    for r in rows:
        if "chosen" in r:
            chosen, rejected = r.get("chosen"), r.get("rejected")
        else:
            chosen, rejected = r.get("translation_thick"), r.get("translation")
        reason = _unusable(r, splits, chosen, rejected)
        if reason:
            stats[f"excluded.{reason}"] += 1
            continue
        lang = r.get("translation_lang") or r.get("lang")
        prompt = r.get("prompt") or r.get("instruction") or _instruction(instruction or DEFAULT_INSTRUCTION, lang)
        out.append({"image": r["key"], "prompt": prompt, "chosen": chosen, "rejected": rejected})
    stats["pairs"] = len(out)
    return out, stats


def _unusable(row: dict[str, Any], splits: BuildSplits, chosen: str | None, rejected: str | None) -> str | None:
    if not row.get("key"):
        return "no_key"
    reason = splits.why_not(row["key"])
    if reason:
        return reason
    if not chosen or not rejected:
        return "no_pair"
    return "same_text" if chosen.strip() == rejected.strip() else None


class PreferenceRecipe:
    """One DPO run of ``cfg.preference`` on top of ``base`` (the SFT model folder, or the config's model)."""

    def __init__(self, cfg: TrainConfig, base: str | None = None):
        self.cfg = cfg
        self.base = base or cfg.model.name
        self.out = Path(cfg.output.dir) / "preference"
        self.trainer = None
        self.result: dict[str, Any] = {}

    def setup(self) -> PreferenceRecipe:
        """Load the base model and the pairs; build the DPO trainer."""
        from datasets import Dataset

        require("trl", "train", "preference tuning")
        cfg, pref = self.cfg, self.cfg.preference
        self.gpu = on_gpu(cfg)
        model, self.processor = M.load(cfg.model_copy(update={"model": cfg.model.model_copy(
            update={"name": self.base})}), self.gpu)
        pairs = self._pairs()
        opener = D.image_opener(pref.images or cfg.data.images, pref.pairs)
        collator = D.PreferenceCollator(self.processor, opener, cfg.data.min_pixels, cfg.data.max_pixels,
                                        cfg.data.system, cfg.data.max_length)
        self.trainer = self._trainer(model, Dataset.from_list(pairs), collator)
        return self

    def _pairs(self) -> list[dict[str, Any]]:
        """Pairs of train images only; ``result["pairs"]`` says how many rows were left out and why."""
        pref = self.cfg.preference
        splits = build_splits(pref.build or self.cfg.data.samples, self.cfg.data.train_split)
        pairs, stats = pair_rows(D.read_rows(pref.pairs), splits, pref.instruction)
        if pref.max_pairs and len(pairs) > pref.max_pairs:
            stats["excluded.max_pairs"] = len(pairs) - pref.max_pairs
            pairs = pairs[:pref.max_pairs]
        stats["pairs"] = len(pairs)
        self.result["pairs"] = {"build": splits.source, **dict(sorted(stats.items()))}
        summary = ", ".join(f"{k} {v}" for k, v in sorted(stats.items()))
        log.info("preference pairs: %s", summary)
        if not pairs:
            raise MellaError(f"no usable preference pairs in {pref.pairs} of train images of {splits.source} "
                             f"({summary})")
        return pairs

    def _trainer(self, model, dataset, collator):
        from trl import DPOConfig, DPOTrainer

        cfg, pref = self.cfg, self.cfg.preference
        args = DPOConfig(
            **trainer_kwargs(cfg, self.out, False, self.gpu),
            learning_rate=pref.lr, num_train_epochs=pref.epochs, max_steps=pref.max_steps,
            per_device_train_batch_size=pref.batch_size, gradient_accumulation_steps=pref.grad_accum,
            beta=pref.beta, loss_type=[pref.loss_type], max_length=cfg.data.max_length,
        )
        return DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=self.processor,
                          data_collator=collator, peft_config=M.lora_config(model, cfg))

    def train(self) -> PreferenceRecipe:
        """Run DPO (resuming like SFT); records losses and reward margins."""
        if self.trainer is None:
            self.setup()
        start = time.perf_counter()
        out = self.trainer.train(resume_from_checkpoint=resume_point(self.cfg, self.out))
        history = self.trainer.state.log_history
        self.result.update({"metrics": out.metrics, "seconds": round(time.perf_counter() - start, 2),
                            "losses": losses(history),
                            "reward_margins": [h["rewards/margins"] for h in history if "rewards/margins" in h]})
        return self

    def save(self) -> dict[str, Any]:
        """Write the DPO adapter and merged model under ``output.dir/preference``."""
        o = self.cfg.output
        written = M.save_outputs(self.trainer.model, self.processor, self.out, o.save_adapter, o.save_merged)
        self.result["outputs"] = written
        write_json(self.out / "train.json", {"stage": "preference", "base": self.base,
                                             "config": self.cfg.resolved(), **self.result})
        return self.result


def run_preference(cfg: TrainConfig, base: str | None = None) -> dict[str, Any]:
    """Set up, train and save the preference stage."""
    return PreferenceRecipe(cfg, base).setup().train().save()
