"""The backbone for training: loading, its parts (vision tower, projector, language model), LoRA, saving.

Vision-language models in transformers name their parts differently (Qwen2-VL: ``visual`` with the
projector ``visual.merger`` inside; Idefics3: ``vision_model`` + ``connector``; LLaVA and InternVL (-hf):
``vision_tower`` + ``multi_modal_projector``; InternVL2 remote code: ``vision_model`` + ``mlp1``).
:func:`parts` finds them by those names, so LoRA targets and freezing are computed from the model's own
structure rather than written per architecture.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mella.errors import MellaError, require

log = logging.getLogger("mella.train")

VISION_NAMES = ("visual", "vision_tower", "vision_model", "vision_encoder")
PROJECTOR_NAMES = ("merger", "multi_modal_projector", "connector", "mm_projector", "projector", "mlp1")
LANGUAGE_NAMES = ("language_model", "text_model")


@dataclass
class Parts:
    """Qualified module names of the three parts of a vision-language model."""

    language: str
    vision: list[str] = field(default_factory=list)
    projector: list[str] = field(default_factory=list)

    def of(self, name: str) -> str:
        """Which part a parameter or module name belongs to: vision, projector, language or other."""
        for part in ("projector", "vision"):   # the projector may sit inside the vision tower (Qwen)
            if any(name == p or name.startswith(p + ".") for p in getattr(self, part)):
                return part
        if self.language and (name == self.language or name.startswith(self.language + ".")):
            return "language"
        return "other"


def parts(model) -> Parts:
    """Find the vision tower, projector and language model of ``model`` by their usual names."""
    names = [n for n, _ in model.named_modules()]
    language = next((n for n in names if n.rsplit(".", 1)[-1] in LANGUAGE_NAMES), None)
    if language is None:
        raise MellaError(f"cannot find the language model in {type(model).__name__} "
                         f"(looked for modules named {', '.join(LANGUAGE_NAMES)})")

    def shortest(candidates: tuple[str, ...]) -> list[str]:
        found = [n for n in names if n.rsplit(".", 1)[-1] in candidates]
        return [n for n in found if not any(n.startswith(o + ".") for o in found if o != n)]

    return Parts(language=language, vision=shortest(VISION_NAMES), projector=shortest(PROJECTOR_NAMES))


def linear_names(model, under: str | None = None) -> list[str]:
    """Distinct last names of the linear layers (optionally only under one module)."""
    torch = require("torch", "train")
    found = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
             if isinstance(m, torch.nn.Linear) and (under is None or n.startswith(under + "."))}
    return sorted(found - {"lm_head"})


def lora_targets(model, targets: str | list[str]) -> str:
    """A PEFT ``target_modules`` regex: the language model's linear layers unless asked otherwise."""
    p = parts(model)
    if targets == "all-linear":
        return "all-linear"
    names = linear_names(model, p.language) if targets == "language" else list(targets)
    if not names:
        raise MellaError(f"no linear layers to put LoRA on under {p.language}")
    # A full-match regex anchored in the language model: the vision tower has q_proj/fc1 layers of the same names.
    return rf"{re.escape(p.language)}\..*\.({'|'.join(map(re.escape, names))})"


def lora_config(model, cfg) -> Any:
    """The PEFT LoRA config of a training config; unfrozen vision/projector parts are trained in full."""
    peft = require("peft", "train", "LoRA")
    p = parts(model)
    save = (p.vision if not cfg.freeze.vision else []) + (p.projector if not cfg.freeze.projector else [])
    return peft.LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                           target_modules=lora_targets(model, cfg.lora.targets), task_type="CAUSAL_LM",
                           modules_to_save=save or None)


def freeze(model, vision: bool, projector: bool) -> dict[str, int]:
    """Full fine-tuning: freeze the chosen parts; returns trainable parameters per part."""
    p = parts(model)
    counts: dict[str, int] = {}
    for name, param in model.named_parameters():
        part = p.of(name)
        param.requires_grad = not ((part == "vision" and vision) or (part == "projector" and projector))
        if param.requires_grad:
            counts[part] = counts.get(part, 0) + param.numel()
    return counts


def param_groups(model, lr: float, weight_decay: float, lr_by_part: dict[str, float | None]) -> list[dict]:
    """Optimizer groups: each part at its own learning rate, no weight decay on biases and norms."""
    p = parts(_unwrap(model))
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = p.of(_strip_peft(name))
        rate = lr_by_part.get(part) or lr
        decay = 0.0 if param.ndim < 2 else weight_decay
        groups.setdefault((rate, decay), []).append(param)
    return [{"params": ps, "lr": rate, "weight_decay": decay} for (rate, decay), ps in groups.items()]


def _unwrap(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _strip_peft(name: str) -> str:
    # PEFT names parameters "base_model.model.<name>" and adds ".base_layer" / ".modules_to_save.default".
    name = name.removeprefix("base_model.model.")
    return re.sub(r"\.(base_layer|modules_to_save\.default|original_module)(?=\.)", "", name)


def torch_dtype(precision: str, on_gpu: bool):
    """The dtype to load weights in: bf16 on a GPU that has it (auto), else fp32."""
    torch = require("torch", "train")
    if precision == "auto":
        return torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def load(cfg, on_gpu: bool):
    """Model and processor of ``cfg.model``; 4-bit weights for QLoRA."""
    from mella.models.hf import load_config
    from mella.models.hub import hub_errors
    from mella.models.internvl import is_remote_internvl

    tf = require("transformers", "train", "training")
    m = cfg.model
    config = load_config(m.name, m.revision, m.trust_remote_code, where="model.trust_remote_code: true")
    if is_remote_internvl(config):
        raise MellaError(f"model {m.name} is an InternVL remote-code checkpoint: mella trains the transformers-native "
                         f"InternVL (the -hf ids, e.g. OpenGVLab/InternVL3-8B-hf; see docs/models.md)")
    kwargs: dict[str, Any] = dict(revision=m.revision, trust_remote_code=m.trust_remote_code,
                                  dtype=torch_dtype(cfg.train.precision, on_gpu))
    if m.attn_implementation:
        kwargs["attn_implementation"] = m.attn_implementation
    if cfg.method == "qlora":
        torch = require("torch", "train")
        kwargs["quantization_config"] = tf.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
    with hub_errors(m.name):
        model = tf.AutoModelForImageTextToText.from_pretrained(m.name, **kwargs)
        processor = tf.AutoProcessor.from_pretrained(m.name, revision=m.revision,
                                                     trust_remote_code=m.trust_remote_code)
    if processor.tokenizer.pad_token is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    if cfg.method == "qlora":
        peft = require("peft", "train", "QLoRA")
        model = peft.prepare_model_for_kbit_training(model, cfg.train.gradient_checkpointing)
    return model, processor


def save_outputs(model, processor, out: Path, adapter: bool, merged: bool) -> dict[str, str]:
    """Write the adapter and/or the merged model (each loadable by ``from_pretrained``) with the processor."""
    written: dict[str, str] = {}
    is_peft = hasattr(model, "peft_config")
    if is_peft and adapter:
        model.save_pretrained(out / "adapter")
        processor.save_pretrained(out / "adapter")
        written["adapter"] = str(out / "adapter")
    if merged or not is_peft:
        folder = out / ("merged" if is_peft else "model")
        full = model.merge_and_unload() if is_peft else model
        full.save_pretrained(folder)
        processor.save_pretrained(folder)
        written["model"] = str(folder)
    return written
