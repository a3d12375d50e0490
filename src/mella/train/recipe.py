"""What the SFT and preference recipes share: placement, trainer arguments, per-part learning rates."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mella.errors import require
from mella.train.model import param_groups

log = logging.getLogger("mella.train")


def on_gpu(cfg) -> bool:
    """Train on CUDA when there is one, unless the config says cpu."""
    torch = require("torch", "train")
    return cfg.train.device != "cpu" and torch.cuda.is_available()


def precision_flags(cfg, gpu: bool) -> dict[str, bool]:
    """Trainer mixed-precision flags; weights already load in bf16 under ``auto`` on a GPU."""
    torch = require("torch", "train")
    p = cfg.train.precision
    bf16 = p == "bf16" or (p == "auto" and gpu and torch.cuda.is_bf16_supported())
    return {"bf16": bf16, "fp16": p == "fp16"}


def trainer_kwargs(cfg, out: Path, has_eval: bool, gpu: bool) -> dict[str, Any]:
    """``TrainingArguments`` fields common to both recipes (the recipe sets lr, epochs, batch size)."""
    t = cfg.train
    evaluate = "no" if not has_eval else ("steps" if t.eval_steps else "epoch")
    return dict(
        output_dir=str(out / "checkpoints"),
        lr_scheduler_type=cfg.optim.scheduler, optim=cfg.optim.optimizer, warmup_steps=cfg.optim.warmup_ratio,
        weight_decay=cfg.optim.weight_decay, max_grad_norm=cfg.optim.max_grad_norm,
        logging_steps=t.logging_steps, eval_strategy=evaluate, eval_steps=t.eval_steps,
        save_strategy="steps" if t.save_steps else "no", save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit, gradient_checkpointing=t.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if t.gradient_checkpointing else None,
        seed=t.seed, report_to=[], use_cpu=not gpu, dataloader_num_workers=t.dataloader_workers,
        # Rows carry image keys and texts; the collator turns them into tensors, so keep every column.
        remove_unused_columns=False, disable_tqdm=not log.isEnabledFor(logging.INFO),
        **precision_flags(cfg, gpu),
    )


def resume_point(cfg, out: Path) -> str | bool | None:
    """``resume_from_checkpoint`` for ``trainer.train``: the last checkpoint (auto), a path, or none."""
    resume = cfg.train.resume
    if resume is False:
        return None
    if resume in (True, "auto"):
        from transformers.trainer_utils import get_last_checkpoint

        folder = out / "checkpoints"
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        if last:
            log.info("resuming from %s", last)
        return last
    return resume


class PartLearningRates:
    """Trainer mixin: each model part (vision, projector, language) at its own learning rate."""

    lr_by_part: dict[str, float | None] = {}

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.model if model is None else model
        cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        groups = param_groups(opt_model, self.args.learning_rate, self.args.weight_decay, self.lr_by_part)
        self.optimizer = cls(groups, **kwargs)
        return self.optimizer


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def losses(log_history: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Training and evaluation losses from a trainer's log history."""
    return {"train": [h["loss"] for h in log_history if "loss" in h],
            "eval": [h["eval_loss"] for h in log_history if "eval_loss" in h]}
