"""Benchmark: training throughput of ``mella train``'s path against a plain transformers + PEFT loop, in one run.

    .venv/bin/python bench/train.py            # GPU: a Qwen2.5-VL-3B-sized random model, bf16
    .venv/bin/python bench/train.py --tiny     # CPU: the tiny Qwen2.5-VL (checks the script, no figures)

Both sides train the same random-initialised model with LoRA (r=16) on the same realistic samples: image
sizes from 224 to 896 px a side (pixel limit 1280*28*28, as the hf backend uses), answers of 8 to 400
tokens, as in a built dataset.

* plain: what a naive user writes: batches in random order padded to their longest sample, LoRA on every
  ``*_proj`` module (vision tower included), labels on the whole sequence, one AdamW loop.
* mella: :class:`mella.train.sft.SFTRecipe` (TRL's SFTTrainer): length-grouped batches packed into one row
  without padding (``train.packing``; flash_attention_2 varlen where flash-attn is installed, else sdpa with a
  block-diagonal mask), LoRA on the language model only, frozen vision tower, answer-only labels, the chunked
  LM-head loss (``train.chunked_loss``). ``--no-packing`` runs it with padded batches instead.

Reported: real (non-padding) tokens per second, and an MFU estimate: 6 * (language-model parameters) FLOPs
per real token plus 6 * (vision parameters) per image patch, over the card's bf16 dense peak. The same
formula on both sides, so the ratio of MFUs is the ratio of useful throughput. Peak GPU memory per side
(``peak_mem_gib``, torch's max allocated) is reported too; on CPU it is null.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "train"))
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
TEXT_3B = dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
               num_key_value_heads=2, max_position_embeddings=32768, vocab_size=151936, initializer_range=0.02,
               rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6})
VISION_3B = dict(depth=32, hidden_size=1280, out_hidden_size=2048, intermediate_size=3420, num_heads=16,
                 patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                 fullatt_block_indexes=[7, 15, 23, 31])


def build_model(tiny: bool, device: str, attn: str = "sdpa"):
    """(model, processor): the tiny Qwen2.5-VL, or a 3B-sized one with the tiny processor's special tokens."""
    import transformers as tf

    from mella.models import tiny as T

    folder = T.make_tiny("qwen2.5-vl", Path(tempfile.mkdtemp()) / "tiny")
    processor = tf.AutoProcessor.from_pretrained(folder)
    processor.image_processor.max_pixels = 1280 * 28 * 28
    processor.image_processor.size = {"shortest_edge": 56 * 56, "longest_edge": 1280 * 28 * 28}
    if tiny:
        return tf.AutoModelForImageTextToText.from_pretrained(folder, attn_implementation=attn).to(device), processor
    tok = processor.tokenizer
    text = dict(TEXT_3B, bos_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = tf.Qwen2_5_VLConfig(text_config=text, vision_config=VISION_3B, **T._qwen_ids(tok))
    config.text_config._attn_implementation = config._attn_implementation = attn
    with torch.device(device):
        model = tf.Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    return model, processor


def make_samples(n: int, tiny: bool, folder: Path, seed: int = 0) -> list[dict]:
    """Random images of varied sizes and answers of varied lengths (words from real alt-texts)."""
    import numpy as np
    from PIL import Image
    from trainkit import site_pairs

    rng = random.Random(seed)
    words = " ".join(p["alt"] for p in site_pairs()).split()
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        side = (lambda: rng.randint(28, 96)) if tiny else (lambda: rng.randint(224, 896))
        w, h = side(), side()
        pixels = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"k{i:05d}.png")
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(4, 24 if tiny else 200)))
        rows.append({"id": f"s{i}", "key": f"k{i:05d}", "lang": "sr", "source": "know", "split": "train",
                     "instruction": "Опиши слику.", "response": answer})
    return rows


def flops_per_batch(model, batch) -> float:
    """6 x LM parameters per real token + 6 x vision parameters per patch (same formula for both sides)."""
    n_vis = sum(p.numel() for n, p in model.named_parameters() if ".visual." in n or n.startswith("visual"))
    n_lm = sum(p.numel() for p in model.parameters()) - n_vis
    patches = int(batch["image_grid_thw"].prod(-1).sum()) if "image_grid_thw" in batch else 0
    return 6.0 * n_lm * real_tokens(batch) + 6.0 * n_vis * patches


def real_tokens(batch) -> int:
    """Non-padding tokens: the attention mask's ones, or every token of a packed (padding-free) batch."""
    return int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())


def run_plain(model, processor, rows, images: Path, steps: int, batch_size: int, device: str) -> dict:
    """The naive loop: random batches padded to the longest, LoRA on every *_proj, full-sequence labels."""
    import peft
    from PIL import Image

    model = peft.get_peft_model(model, peft.LoraConfig(r=16, lora_alpha=32, target_modules=r".*_proj"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rng, tokens, flops = random.Random(1), 0, 0.0
    model.train()
    for step in range(steps + 2):
        batch_rows = rng.sample(rows, batch_size)
        msgs = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": r["instruction"]}]},
                 {"role": "assistant", "content": [{"type": "text", "text": r["response"]}]}] for r in batch_rows]
        texts = [processor.apply_chat_template(m, tokenize=False) for m in msgs]
        imgs = [Image.open(images / f"{r['key']}.png") for r in batch_rows]
        batch = processor(text=texts, images=imgs, padding=True, return_tensors="pt").to(device)
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        if step == 2:   # two warm-up steps
            _sync(device)
            start, tokens, flops = time.perf_counter(), 0, 0.0
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        flops += flops_per_batch(model, batch)
    _sync(device)
    return _rates(tokens, flops, time.perf_counter() - start, steps)


def run_mella(model, processor, rows, images: Path, steps: int, batch_size: int, out: Path, device: str,
              packing: bool = True) -> dict:
    """``mella train``'s SFT recipe on the same model and samples, timed after two warm-up steps."""
    import transformers as tf
    from trainkit import write_samples

    from mella.train.config import parse_config
    from mella.train.sft import SFTRecipe

    samples = write_samples(rows, out / "samples")
    doc = {"model": {"name": "bench"}, "data": {"samples": str(samples), "images": str(images), "eval_split": None,
                                                "max_pixels": 1280 * 28 * 28, "max_length": None},
           "output": {"dir": str(out / "mella"), "save_adapter": False, "save_merged": False},
           "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
           "train": {"max_steps": steps + 2, "batch_size": batch_size, "logging_steps": 1, "save_steps": None,
                     "resume": False, "device": "cpu" if device == "cpu" else "auto", "dataloader_workers": 0,
                     "packing": packing, "chunked_loss": True}}
    recipe = SFTRecipe(parse_config(doc)).setup(model, processor)
    meter = _Meter(device)
    recipe.trainer.add_callback(meter.callback)
    recipe.trainer.data_collator = meter.wrap(recipe.trainer.data_collator, model)
    tf.logging.set_verbosity_error()
    recipe.trainer.train()
    timed = meter.batches[2:steps + 2]   # batches come in step order, whatever the loader prefetches
    return _rates(sum(t for t, _ in timed), sum(f for _, f in timed), meter.end - meter.start, steps)


class _Meter:
    """Records real tokens and FLOPs of every collated batch; times the steps after the first two."""

    def __init__(self, device: str):
        from transformers import TrainerCallback

        self.device, self.batches, self.start, self.end = device, [], None, None
        meter = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                _sync(meter.device)
                if state.global_step == 2:
                    meter.start = time.perf_counter()
                meter.end = time.perf_counter()

        self.callback = Callback()

    def wrap(self, collate, model):
        def counted(rows):
            batch = collate(rows)
            self.batches.append((real_tokens(batch), flops_per_batch(model, batch)))
            return batch
        return counted


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _rates(tokens: int, flops: float, seconds: float, steps: int) -> dict:
    peak = next((v for k, v in PEAK_BF16.items() if torch.cuda.is_available() and k in torch.cuda.get_device_name()),
                None)
    memory = round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None
    return {"steps": steps, "seconds": round(seconds, 2), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "mfu": round(flops / seconds / peak, 4) if peak else None, "peak_mem_gib": memory}


def mella_attention(device: str) -> str:
    """flash_attention_2 (varlen attention over the packed row) where flash-attn is installed on a GPU, else sdpa."""
    import importlib.util

    return "flash_attention_2" if device == "cuda" and importlib.util.find_spec("flash_attn") else "sdpa"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (checks the script)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--no-packing", action="store_true", help="mella side with padded batches (packing off)")
    args = ap.parse_args()
    if not torch.cuda.is_available() and not args.tiny:
        # A 3B-sized model on a CPU would run for hours: say so and check the script with the tiny one instead.
        print("no GPU: running with --tiny (the device check needs a GPU; figures below only check the script)")
        args.tiny = True
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    steps = args.steps or (4 if args.tiny else 20)
    work = Path(tempfile.mkdtemp(prefix="mella-bench-train-"))
    rows = make_samples(args.samples if not args.tiny else 32, args.tiny, work / "images")
    attn = mella_attention(device)
    results = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "tiny": args.tiny,
               "batch_size": args.batch_size, "packing": not args.no_packing, "mella_attention": attn}
    for name in ("plain", "mella"):
        torch.manual_seed(0)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        model, processor = build_model(args.tiny, device, "sdpa" if name == "plain" else attn)
        if name == "plain":
            results[name] = run_plain(model, processor, rows, work / "images", steps, args.batch_size, device)
        else:
            results[name] = run_mella(model, processor, rows, work / "images", steps, args.batch_size, work, device,
                                      packing=not args.no_packing)
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
        print(name, results[name], flush=True)
    results["speedup"] = round(results["mella"]["tokens_per_s"] / results["plain"]["tokens_per_s"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
