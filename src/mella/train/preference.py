"""Culture-contrastive preference recipe (DPO): prefer the culturally grounded caption over the plain one.

For one image and one prompt, the *chosen* answer is the translated ``thick`` caption (written with the
native alt-text and page title as context, column ``translation_thick``) and the *rejected* answer the
translated ``plain`` caption (image only, column ``translation``). Pairs come from annotated rows (fetch rows
plus annotation columns) or from a pairs file with ``key, prompt, chosen, rejected`` columns. The recipe
starts from the SFT model (the merged one when SFT ran first) and trains a LoRA adapter with TRL's
DPOTrainer, whose reference model is the same network with the adapter switched off.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mella.errors import MellaError, require
from mella.languages import get_language, is_known
from mella.train import data as D
from mella.train import model as M
from mella.train.common import losses, on_gpu, resume_point, trainer_kwargs, write_json
from mella.train.config import TrainConfig

log = logging.getLogger("mella.train")
DEFAULT_INSTRUCTION = "Describe this image in {language}."


def _instruction(template: str, lang: str | None) -> str:
    if lang and is_known(lang):
        name = get_language(lang).native_name or get_language(lang).name
    else:
        name = "its language"
    return template.replace("{language}", name)


def pair_rows(rows: list[dict[str, Any]], instruction: str | None = None) -> list[dict[str, Any]]:
    """Preference pairs (``image`` = key, ``prompt``, ``chosen``, ``rejected``) from a pairs file or annotated rows.

    Annotated rows give chosen = ``translation_thick``, rejected = ``translation``; rows missing either, or
    where both are the same text, teach nothing and are skipped.
    """
    out = []
    for r in rows:
        if "chosen" in r:
            chosen, rejected = r.get("chosen"), r.get("rejected")
        else:
            chosen, rejected = r.get("translation_thick"), r.get("translation")
        if not r.get("key") or not chosen or not rejected or chosen.strip() == rejected.strip():
            continue
        lang = r.get("translation_lang") or r.get("lang")
        prompt = r.get("prompt") or r.get("instruction") or _instruction(instruction or DEFAULT_INSTRUCTION, lang)
        out.append({"image": r["key"], "prompt": prompt, "chosen": chosen, "rejected": rejected})
    return out


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
        pairs = pair_rows(D.read_rows(pref.pairs), pref.instruction)[:pref.max_pairs]
        if not pairs:
            raise MellaError(f"no usable preference pairs in {pref.pairs} (need chosen != rejected)")
        log.info("%d preference pairs", len(pairs))
        opener = D.image_opener(pref.images or cfg.data.images, pref.pairs)
        collator = D.PreferenceCollator(self.processor, opener, cfg.data.min_pixels, cfg.data.max_pixels,
                                        cfg.data.system, cfg.data.max_length)
        self.trainer = self._trainer(model, Dataset.from_list(pairs), collator)
        return self

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
        self.result = {"metrics": out.metrics, "seconds": round(time.perf_counter() - start, 2),
                       "losses": losses(history),
                       "reward_margins": [h["rewards/margins"] for h in history if "rewards/margins" in h]}
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
