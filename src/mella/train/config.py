"""The training config: typed sections, loaded from YAML, every problem reported together.

``mella train CONFIG.yaml`` reads one file with the sections below; only ``model``, ``data`` and
``output`` are required. Each section is validated on its own and then checked against the others
and against this machine (paths, GPU, bitsandbytes), so one run of the command lists every problem.
See docs/train.md for an annotated example.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mella.errors import ConfigError
from mella.options import error_line, error_location, load_yaml, read_text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ModelSection(_Section):
    """The backbone: a Hugging Face id or a local folder."""

    name: str = Field(min_length=1)
    revision: str | None = None
    attn_implementation: str | None = None   # sdpa, flash_attention_2, eager
    trust_remote_code: bool = False


class DataSection(_Section):
    """Where the samples and their images are, and which of them to train on."""

    samples: str = Field(min_length=1)        # SAMPLES parquet parts, or an HF datasets save_to_disk folder
    images: str | None = None                 # fetch output (parquet + tar) or a folder of <key>.<ext> files
    train_split: str = "train"
    eval_split: str | None = "validation"     # None: no evaluation during training
    # both: a two-turn sample (build --conversation two_turn), trained as one chat on its `turns`
    sources: list[Literal["know", "ling", "both"]] = ["know", "ling", "both"]
    langs: list[str] | None = None
    max_samples: int | None = Field(None, ge=1)
    min_pixels: int | None = Field(None, ge=1)
    max_pixels: int | None = Field(512 * 28 * 28, ge=1)   # bounds the image tokens per sample
    max_length: int | None = Field(2048, ge=16)
    system: str | None = None                 # a system message, as `mella predict` would send it


class LoraSection(_Section):
    """LoRA adapter settings (``method: lora`` or ``qlora``)."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    # "language": every linear layer of the language model (not the vision tower, not the projector);
    # "all-linear": every linear layer; or a list of module-name suffixes inside the language model.
    targets: Literal["language", "all-linear"] | list[str] = "language"


class FreezeSection(_Section):
    """Which parts stay frozen. With LoRA an unfrozen part is trained in full next to the adapter."""

    vision: bool = True
    projector: bool = True


class OptimSection(_Section):
    """Optimizer and schedule; ``lr_vision`` / ``lr_projector`` give those modules their own rate."""

    lr: float = Field(2e-4, gt=0)
    lr_vision: float | None = Field(None, gt=0)
    lr_projector: float | None = Field(None, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    scheduler: str = "cosine"
    optimizer: str = "adamw_torch"
    max_grad_norm: float = Field(1.0, gt=0)


class TrainSection(_Section):
    """Steps, batches, precision, checkpoints."""

    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1                       # > 0 overrides epochs
    batch_size: int = Field(8, ge=1)
    eval_batch_size: int | None = Field(None, ge=1)
    grad_accum: int = Field(1, ge=1)
    gradient_checkpointing: bool = False
    # Samples of a batch in one row without padding, each attending only to itself (mella.train.packing); same
    # loss and gradients as unpacked. auto: on with flash attention (varlen), off with sdpa/eager (block mask).
    packing: bool | Literal["auto"] = "auto"
    # The answer-token loss through TRL's chunked LM head (no full-vocabulary logits); false: the model's own
    # loss over full logits. Same loss and gradients either way.
    chunked_loss: bool = True
    liger: bool = False                       # Liger's fused kernels (RMSNorm, RoPE, SwiGLU); needs liger-kernel
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"   # auto: bf16 on a GPU that has it, else fp32
    group_by_length: bool = True              # batches of similar length: less padding
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    eval_steps: int | None = Field(None, ge=1)   # None: once per epoch
    save_steps: int | None = Field(500, ge=1)    # None: no intermediate checkpoints
    save_total_limit: int | None = Field(2, ge=1)
    resume: bool | str = "auto"               # auto: the last checkpoint in output.dir; a path; or false
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dataloader_workers: int = Field(0, ge=0)


class OutputSection(_Section):
    """Where checkpoints, the adapter and the merged model go."""

    dir: str = Field(min_length=1)
    save_adapter: bool = True
    save_merged: bool = True


class PreferenceSection(_Section):
    """The culture-contrastive DPO stage: chosen = thick translated caption, rejected = plain one."""

    enabled: bool = False
    pairs: str | None = None                  # annotated rows (fetch + annotation columns) or a pairs file/folder
    build: str | None = None                  # build output whose train images pairs may use (default: data.samples)
    images: str | None = None                 # default: data.images
    instruction: str | None = None            # default: the language's caption instruction
    beta: float = Field(0.1, gt=0)
    loss_type: str = "sigmoid"
    lr: float = Field(5e-6, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_pairs: int | None = Field(None, ge=1)


class AblationSection(_Section):
    """``mella ablate``: the datasets to compare, each trained with the same settings."""

    variants: list[str] = ["mella", "know-only", "ling-only", "sdrrl"]
    datasets: dict[str, str] = {}             # name -> samples folder (sdrrl has no default)
    eval_samples: str | None = None           # default: data.samples
    eval_split: str = "test"
    max_eval_samples: int | None = Field(None, ge=1)
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(16, ge=1)


Method = Literal["lora", "qlora", "full"]
SECTIONS: dict[str, type[_Section]] = {
    "model": ModelSection, "data": DataSection, "lora": LoraSection, "freeze": FreezeSection,
    "optim": OptimSection, "train": TrainSection, "output": OutputSection,
    "preference": PreferenceSection, "ablation": AblationSection,
}
REQUIRED = ("model", "data", "output")


class TrainConfig(_Section):
    """The whole training config (see the module docstring)."""

    method: Method = "lora"
    model: ModelSection
    data: DataSection
    output: OutputSection
    lora: LoraSection = LoraSection()
    freeze: FreezeSection = FreezeSection()
    optim: OptimSection = OptimSection()
    train: TrainSection = TrainSection()
    preference: PreferenceSection = PreferenceSection()
    ablation: AblationSection = AblationSection()

    def resolved(self) -> dict[str, Any]:
        """Every setting with defaults filled in (written next to the trained model)."""
        return self.model_dump(mode="json")


def _pydantic_problems(where: str, exc: ValidationError) -> list[str]:
    """A section's pydantic errors in the wording of every option problem (mella.options.error_line)."""
    return [f"{error_location(err, where)}: unknown option" if err["type"] == "extra_forbidden"
            else error_line(err, where) for err in exc.errors()]


def _sections(doc: dict[str, Any]) -> tuple[dict[str, _Section], list[str]]:
    """Validate each section on its own, so one bad section does not hide another's problems."""
    problems, parsed = [], {}
    for key in doc:
        if key not in SECTIONS and key != "method":
            problems.append(f"{key}: unknown section; valid: method, {', '.join(SECTIONS)}")
    for name in REQUIRED:
        if name not in doc:
            problems.append(f"{name}: missing section")
    for name, cls in SECTIONS.items():
        raw = doc.get(name)
        if raw is None and name in REQUIRED:
            continue
        if raw is not None and not isinstance(raw, dict):
            problems.append(f"{name}: expected a mapping (got {type(raw).__name__})")
            continue
        try:
            parsed[name] = cls(**(raw or {}))
        except ValidationError as exc:
            problems += _pydantic_problems(name, exc)
    if doc.get("method", "lora") not in ("lora", "qlora", "full"):
        problems.append(f"method: {doc['method']!r} is not one of lora, qlora, full")
    return parsed, problems


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or "://" in path or Path(path).is_absolute():
        return path
    return str(base / path)


def _fix_paths(parsed: dict[str, _Section], base: Path) -> None:
    """Paths in the file are relative to the file's folder."""
    fields = {"data": ("samples", "images"), "output": ("dir",), "preference": ("pairs", "build", "images"),
              "ablation": ("eval_samples",)}
    for name, keys in fields.items():
        if name in parsed:
            for key in keys:
                setattr(parsed[name], key, _resolve(getattr(parsed[name], key), base))
    if "ablation" in parsed:
        parsed["ablation"].datasets = {k: _resolve(v, base) for k, v in parsed["ablation"].datasets.items()}
    resume = getattr(parsed.get("train"), "resume", None)
    if isinstance(resume, str) and resume != "auto":
        parsed["train"].resume = _resolve(resume, base)


def _exists(path: str | None, what: str) -> list[str]:
    if path and "://" not in path and not Path(path).exists():
        return [f"{what}: {path} does not exist"]
    return []


def _cross_problems(method: str, p: dict[str, _Section]) -> list[str]:
    """Checks that span sections or look at this machine."""
    problems: list[str] = []
    if "data" in p:
        problems += _exists(p["data"].samples, "data.samples") + _exists(p["data"].images, "data.images")
    pref = p.get("preference")
    if pref is not None and pref.enabled:
        if not pref.pairs:
            problems.append("preference.pairs: needed when preference.enabled is true")
        problems += (_exists(pref.pairs, "preference.pairs") + _exists(pref.build, "preference.build")
                     + _exists(pref.images, "preference.images"))
    train = p.get("train")
    resume = getattr(train, "resume", None)
    if isinstance(resume, str) and resume != "auto":
        problems += _exists(resume, "train.resume")
    gpu = _has_cuda() and getattr(train, "device", "auto") != "cpu"
    if train is not None and train.precision in ("bf16", "fp16") and not gpu:
        problems.append(f"train.precision: {train.precision} needs a CUDA GPU; use auto or fp32 on CPU")
    if train is not None and train.liger and importlib.util.find_spec("liger_kernel") is None:
        problems.append("train.liger: needs liger-kernel (pip install liger-kernel), which is not installed")
    if method == "qlora":
        if importlib.util.find_spec("bitsandbytes") is None:
            problems.append("method: qlora needs bitsandbytes (pip install bitsandbytes), which is not installed")
        if not gpu:
            problems.append("method: qlora needs a CUDA GPU (4-bit weights); use lora or full on CPU")
    if method != "full" and "optim" in p and p["optim"].lr_vision and p.get("freeze", FreezeSection()).vision:
        problems.append("optim.lr_vision: set, but freeze.vision is true (the vision tower is not trained)")
    return problems


def _has_cuda() -> bool:
    # torch is only asked when it is installed; without it there is no GPU to use anyway.
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def parse_config(doc: Any, source: str = "config", base: Path | None = None) -> TrainConfig:
    """Validate a config mapping; raise ConfigError listing every problem at once."""
    if not isinstance(doc, dict):
        raise ConfigError([f"expected a mapping of sections (got {type(doc).__name__})"], source)
    parsed, problems = _sections(doc)
    _fix_paths(parsed, base or Path.cwd())
    method = doc.get("method", "lora")
    problems += _cross_problems(method, parsed)
    if problems:
        raise ConfigError(problems, source)
    return TrainConfig(method=method, **parsed)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None,
                env: dict[str, str] | None = None) -> TrainConfig:
    """Read a YAML config (``${ENV}`` references expanded from the environment, then ``env``: the pipeline's
    train step passes ``MELLA_RUN_DIR``); relative paths are relative to its folder."""
    values = {**os.environ, **(env or {})}
    doc = load_yaml(read_text(path, "training config"), str(path), values)  # ${VAR} in values, never in comments
    for dotted, value in (overrides or {}).items():
        _set_dotted(doc, dotted, value)
    return parse_config(doc, str(path), Path(path).resolve().parent)


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """``train.max_steps=10`` style overrides from the command line."""
    *parents, last = dotted.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
