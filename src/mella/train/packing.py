"""Sequence packing: the samples of a batch in one row without padding, each sample attending only to itself.

A padded batch spends compute on pad tokens; packing drops them. The collator first builds the padded batch
exactly as without packing (same tokens, labels and images), then concatenates the real tokens of its rows
into one row. Nothing leaks between samples:

* **Positions restart at 0 for each sample.** Qwen2-VL / Qwen2.5-VL take 3D mrope positions; they are
  computed per sample by the model's own ``get_rope_index`` (on the padded batch) and concatenated, with the
  per-sample 1D text positions in front (the ``[4, 1, N]`` layout transformers reads as a packed batch).
* **Attention stays inside each sample.** No attention mask is passed; transformers finds the sample
  boundaries where the text positions restart: ``flash_attention_2`` turns them into ``cu_seqlens`` for
  varlen attention, sdpa and eager get a block-diagonal causal mask (exact, but the mask spans the whole
  row, so attention costs grow with the row's length squared: why packing is on by default only with
  flash attention).
* **Images in order.** ``pixel_values`` / ``image_grid_thw`` are the padded batch's, which already list the
  images sample after sample; per-row image tensors (Idefics3: ``[rows, images, ...]``) become one row.
* **No cache.** The batch carries ``use_cache: False``: with a KV cache transformers does not look for
  sample boundaries, and the samples would attend to each other.
* **No loss across a boundary.** The first token of every sample is a prompt token (label -100), so the
  last token of a sample never learns to predict the next sample.

The loss (summed over answer tokens, divided by their count) and its gradients are those of the padded
batch to float tolerance; ``tests/train/test_packing.py`` checks it on the tiny models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mella.errors import require

RopeIndex = Callable[[dict[str, Any]], Any]   # padded batch -> [3, rows, length] mrope positions
# Per-token tensors of a padded batch: their real tokens go into the packed row.
TOKEN_KEYS = ("input_ids", "labels", "mm_token_type_ids", "token_type_ids")


def rope_index(model) -> RopeIndex | None:
    """The model's 3D position function (Qwen2-VL family), or None for models with 1D positions."""
    owner = next((m for m in model.modules() if callable(getattr(m, "get_rope_index", None))), None)
    if owner is None:
        return None
    torch = require("torch", "train")

    def positions(batch: dict[str, Any]):
        keys = ("image_grid_thw", "video_grid_thw", "second_per_grid_ts", "mm_token_type_ids")
        extra = {k: batch[k] for k in keys if batch.get(k) is not None}
        with torch.no_grad():
            pos, _ = owner.get_rope_index(batch["input_ids"], attention_mask=batch["attention_mask"], **extra)
        return pos

    return positions


def pack(batch: dict[str, Any], rope: RopeIndex | None = None) -> dict[str, Any]:
    """One packed row (``[1, N]`` tokens, restarting positions, no attention mask) from a right- or left-padded batch."""
    torch = require("torch", "train")
    mask = batch["attention_mask"].bool()
    pixels = batch.get("pixel_values")
    per_row_images = torch.is_tensor(pixels) and pixels.ndim == 5   # Idefics3: [rows, images, C, H, W]
    # A KV cache turns transformers' packed-sequence detection off: a packed batch is for training only.
    out: dict[str, Any] = {"use_cache": False}
    for key, value in batch.items():
        if key == "attention_mask":
            continue
        if key in TOKEN_KEYS and torch.is_tensor(value) and value.shape == mask.shape:
            out[key] = value[mask].unsqueeze(0)
        elif per_row_images and key.startswith("pixel") and torch.is_tensor(value) and len(value) == len(mask):
            out[key] = value.flatten(0, 1).unsqueeze(0)   # per-row image tensors: all images in one row
        else:
            out[key] = value
    lengths = mask.sum(1).tolist()
    text = torch.cat([torch.arange(n) for n in lengths]).unsqueeze(0)
    if rope is None:
        out["position_ids"] = text
    else:
        spatial = rope(batch)[:, mask].unsqueeze(1)               # [3, 1, N], per sample as unpacked
        out["position_ids"] = torch.cat([text.unsqueeze(0), spatial.to(text.dtype)], 0)   # [4, 1, N]
    return out


def sample_lengths(batch: dict[str, Any]) -> list[int]:
    """Lengths of the samples of a packed row (where its text positions restart)."""
    pos = batch["position_ids"]
    text = (pos[0] if pos.ndim == 3 else pos)[0].tolist()
    starts = [i for i, p in enumerate(text) if p == 0] + [len(text)]
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]


class PackingCollator:
    """Wraps a padding collator: its batch, packed into one row (see the module docstring)."""

    def __init__(self, inner: Callable[[list], dict[str, Any]], rope: RopeIndex | None = None):
        self.inner, self.rope = inner, rope

    def __call__(self, rows):
        return pack(self.inner(rows), self.rope)


def packing_wanted(setting: bool | str, attn_implementation: str | None) -> bool:
    """``train.packing``: true/false as set; auto: on with flash attention (varlen kernels), off otherwise."""
    if setting != "auto":
        return bool(setting)
    return "flash" in (attn_implementation or "")
