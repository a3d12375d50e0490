"""Supervised fine-tuning recipe: setup, train, save. LoRA, QLoRA or full fine-tuning with TRL's SFTTrainer.

Read top to bottom: :meth:`SFTRecipe.setup` loads the backbone and the samples and builds the trainer,
:meth:`SFTRecipe.train` runs it (resuming from the last checkpoint), :meth:`SFTRecipe.save` writes the adapter,
the merged model and ``train.json`` (resolved config, losses, what was trained).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mella.errors import MellaError, require
from mella.train import data as D
from mella.train import model as M
from mella.train.config import TrainConfig
from mella.train.packing import PackingCollator, packing_wanted, rope_index
from mella.train.recipe import (
    PartLearningRates,
    losses,
    on_gpu,
    resume_point,
    trainer_kwargs,
    write_json,
)

log = logging.getLogger("mella.train")


class SFTRecipe:
    """One supervised fine-tuning run of ``cfg``; see the module docstring."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.output.dir)
        self.trainer = None
        self.result: dict[str, Any] = {}

    # -- setup ---------------------------------------------------------------------------------------

    def setup(self, model=None, processor=None) -> SFTRecipe:
        """Load the backbone (unless given) and samples; build the collator, the datasets and the trainer."""
        require("trl", "train", "training")
        cfg = self.cfg
        self.gpu = on_gpu(cfg)
        if model is None:
            model, processor = M.load(cfg, self.gpu)
        self.processor = processor
        peft_config = None
        if cfg.method == "full":
            trained = M.freeze(model, cfg.freeze.vision, cfg.freeze.projector)
            log.info("full fine-tuning; trainable parameters per part: %s", trained)
        else:
            peft_config = M.lora_config(model, cfg)
        opener = D.image_opener(cfg.data.images, cfg.data.samples)
        train_ds, eval_ds = self._datasets(opener)
        collator = D.SFTCollator(self.processor, opener, cfg.data.min_pixels, cfg.data.max_pixels,
                                 cfg.data.system, cfg.data.max_length)
        attn = getattr(model.config, "_attn_implementation", None)
        self.result["packing"] = packing_wanted(cfg.train.packing, attn)
        if self.result["packing"]:
            collator = PackingCollator(collator, rope_index(model))
            log.info("sequence packing on (attention: %s)", attn)
        self.trainer = self._trainer(model, train_ds, eval_ds, collator, peft_config)
        return self

    def _datasets(self, opener):
        d = self.cfg.data
        rows = D.read_rows(d.samples)
        train = D.select(rows, d.train_split, d.sources, d.langs, d.max_samples)
        self.result["data"] = data_counts(rows, d)
        left = ", ".join(f"{k} {v}" for k, v in self.result["data"].items())
        if not train:
            raise MellaError(f"no {d.train_split!r} samples of sources {d.sources} in {d.samples}"
                             + (f" ({left})" if left else ""))
        evals = D.select(rows, d.eval_split, d.sources, d.langs, d.max_samples) if d.eval_split else []
        log.info("%d training samples, %d validation samples; %s", len(train), len(evals), left)
        tok = self.processor.tokenizer
        build = lambda rs: D.sft_dataset(rs, opener, tok, d.min_pixels, d.max_pixels)  # noqa: E731
        return build(train), (build(evals) if evals else None)

    def _trainer(self, model, train_ds, eval_ds, collator, peft_config):
        from trl import SFTConfig, SFTTrainer

        cfg, t = self.cfg, self.cfg.train

        class Trainer(LossChoice, PartLearningRates, SFTTrainer):
            lr_by_part = {"vision": cfg.optim.lr_vision, "projector": cfg.optim.lr_projector}
            chunked_loss = t.chunked_loss

        args = SFTConfig(
            **trainer_kwargs(cfg, self.out, eval_ds is not None, self.gpu),
            learning_rate=cfg.optim.lr, num_train_epochs=t.epochs, max_steps=t.max_steps,
            per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.eval_batch_size or t.batch_size,
            gradient_accumulation_steps=t.grad_accum, max_length=cfg.data.max_length,
            train_sampling_strategy="group_by_length" if t.group_by_length else "random",
            length_column_name="length", dataset_kwargs={"skip_prepare_dataset": True},
            use_liger_kernel=t.liger,
        )
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                          processing_class=self.processor, data_collator=collator, peft_config=peft_config)
        if hasattr(trainer.model, "print_trainable_parameters"):
            trainable, total = trainer.model.get_nb_trainable_parameters()
            log.info("LoRA: %d of %d parameters trainable (%.2f%%)", trainable, total, 100 * trainable / total)
        return trainer

    # -- train ---------------------------------------------------------------------------------------

    def train(self) -> SFTRecipe:
        """Run the trainer, from the last checkpoint when there is one (``train.resume``)."""
        if self.trainer is None:
            self.setup()
        start = time.perf_counter()
        out = self.trainer.train(resume_from_checkpoint=resume_point(self.cfg, self.out))
        self.result.update({"metrics": out.metrics, "seconds": round(time.perf_counter() - start, 2),
                            "losses": losses(self.trainer.state.log_history)})
        if self.trainer.eval_dataset is not None:
            self.result["eval"] = self.trainer.evaluate()
        return self

    # -- save ----------------------------------------------------------------------------------------

    def save(self) -> dict[str, Any]:
        """Write the adapter and merged model (or the full model), the processor and ``train.json``."""
        o = self.cfg.output
        model = self.trainer.model
        if self.cfg.method == "qlora" and o.save_merged:
            written = M.save_outputs(model, self.processor, self.out, adapter=True, merged=False)
            written["model"] = str(merge_adapter(self.cfg, Path(written["adapter"]), self.out / "merged"))
        else:
            written = M.save_outputs(model, self.processor, self.out, o.save_adapter, o.save_merged)
        self.result["outputs"] = written
        write_json(self.out / "train.json", {"stage": "sft", "config": self.cfg.resolved(), **self.result})
        log.info("saved %s", ", ".join(f"{k}: {v}" for k, v in written.items()))
        return self.result


class LossChoice:
    """SFTTrainer mixin: ``train.chunked_loss`` picks TRL's chunked LM-head loss or the model's own full-logits loss.

    Both are the answer tokens' cross-entropy summed and divided by their count (``num_items_in_batch`` under
    gradient accumulation), so they agree to float tolerance; the chunked one never holds the batch's
    full-vocabulary logits (152k columns on Qwen) and also logs entropy and token accuracy.
    """

    chunked_loss: bool = True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.chunked_loss:
            from transformers import Trainer

            inputs["use_cache"] = False
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
        out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        positions = inputs.get("position_ids")
        if self.model.training and positions is not None and positions.ndim == 3 and "attention_mask" not in inputs:
            # TRL counts a padding-free batch's tokens as position_ids.size(1): the rows of the 3D mrope layout.
            self._total_train_tokens += positions.shape[-1] * positions.shape[1] - positions.shape[1]
            self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        return out


def data_counts(rows: list[dict[str, Any]], d) -> dict[str, int]:
    """Training samples per source, and the samples of the split left out, by reason (never silently)."""
    from collections import Counter

    split = D.select(rows, d.train_split, None, d.langs)
    wanted = D.select(split, d.train_split, d.sources, None)
    counts = Counter(f"train.{r.get('source')}" for r in (wanted[:d.max_samples] if d.max_samples else wanted))
    counts.update(f"excluded.source_{r.get('source')}" for r in split if r.get("source") not in d.sources)
    if d.max_samples and len(wanted) > d.max_samples:
        counts["excluded.max_samples"] = len(wanted) - d.max_samples
    left_out = {k: v for k, v in counts.items() if k.startswith("excluded.source_")}
    if left_out:
        log.warning("samples left out by data.sources %s: %s", list(d.sources),
                    ", ".join(f"{k.removeprefix('excluded.source_')} {v}" for k, v in sorted(left_out.items())))
    return dict(sorted(counts.items()))


def merge_adapter(cfg: TrainConfig, adapter: Path, folder: Path) -> Path:
    """Merge a LoRA adapter into the backbone loaded in 16-bit (QLoRA trains against 4-bit weights)."""
    tf, peft = require("transformers", "train"), require("peft", "train")
    torch = require("torch", "train")
    base = tf.AutoModelForImageTextToText.from_pretrained(cfg.model.name, revision=cfg.model.revision,
                                                          dtype=torch.bfloat16,
                                                          trust_remote_code=cfg.model.trust_remote_code)
    merged = peft.PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(folder)
    tf.AutoProcessor.from_pretrained(str(adapter)).save_pretrained(folder)
    return folder


def run_sft(cfg: TrainConfig) -> dict[str, Any]:
    """Set up, train and save; returns losses, metrics and the written folders."""
    return SFTRecipe(cfg).setup().train().save()
