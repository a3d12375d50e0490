"""Benchmark: caption throughput of the ``hf`` backend against a plain ``model.generate`` loop, in one run.

    .venv/bin/python bench/caption.py            # GPU: a Qwen2.5-VL-3B-sized random model, bf16
    .venv/bin/python bench/caption.py --tiny     # CPU: the tiny Qwen2.5-VL (checks the script, no figures)
    .venv/bin/python bench/caption.py --requests 256 --batch-size 32 --variants mella,static,compiled

Both sides load the same saved random model through ``from_pretrained`` and caption the same requests
(images of 224 to 896 px a side, the registry's English caption prompt), greedy, exactly
``--max-new-tokens`` new tokens each (the model's EOS is switched off so both count the same tokens).

* plain: the requests in input order, ``--batch-size`` at a time, processor + ``model.generate``.
* mella: ``HFBackend.generate`` with the same batch size (length-sorted batches, left padding, pixel limits,
  the next batch's preprocessing prefetched in a worker thread), i.e. the backend's defaults.
* static / compiled (``--variants``): the same with ``static_cache`` (and ``compile``) and
  ``pad_to_multiple_of`` 64, the backend's off-by-default switches (docs/models.md).

Every side is warmed up on its first ``--batch-size`` requests (compiled decoding compiles there), then timed
over all of them; tokens are counted from ``generate``'s output, peak memory is the GPU's peak allocation
during the timed run (``null`` on CPU).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import build_model  # noqa: E402  (the 3B-sized random Qwen2.5-VL of bench/train.py)

PROMPT = "Describe this image in detail."
# hf backend options per variant on top of its defaults (length sorting and prefetch are on by default).
VARIANTS = {
    "mella": {},
    "static": {"static_cache": True, "pad_to_multiple_of": 64},
    "compiled": {"static_cache": True, "compile": True, "pad_to_multiple_of": 64},
}


def make_images(n: int, tiny: bool, seed: int = 0):
    import numpy as np
    from PIL import Image

    rng = random.Random(seed)
    lo, hi = (28, 96) if tiny else (224, 896)
    return [Image.fromarray(np.random.default_rng(i).integers(0, 255, (rng.randint(lo, hi), rng.randint(lo, hi), 3),
                                                              dtype=np.uint8)) for i in range(n)]


def save_model(tiny: bool, device: str, folder: Path) -> None:
    model, processor = build_model(tiny, device)
    model.generation_config.eos_token_id = None  # random weights: fix the length so both sides count alike
    model.generation_config.do_sample = False
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    del model


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def start_timing(device: str) -> float:
    sync(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    return time.perf_counter()


def figures(t0: float, tokens: int, device: str) -> dict:
    """Seconds, generated tokens, tokens/s and peak GPU memory of a timed run started at ``t0``."""
    sync(device)
    seconds = time.perf_counter() - t0
    peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None
    return {"seconds": round(seconds, 2), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "peak_mem_gib": peak}


def run_plain(folder: Path, images, batch_size: int, new_tokens: int, device: str) -> dict:
    import transformers as tf

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = tf.AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype).to(device).eval()
    processor = tf.AutoProcessor.from_pretrained(folder)
    processor.tokenizer.padding_side = "left"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def batch_run(imgs):
        inputs = processor(text=[text] * len(imgs), images=imgs, padding=True, return_tensors="pt").to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        return out.shape[0] * (out.shape[1] - inputs["input_ids"].shape[1])

    batch_run(images[:batch_size])  # warm-up
    t0 = start_timing(device)
    tokens = sum(batch_run(images[i:i + batch_size]) for i in range(0, len(images), batch_size))
    return figures(t0, tokens, device)


def run_mella(folder: Path, images, batch_size: int, new_tokens: int, device: str, extra: dict) -> dict:
    from mella.models.base import GenOptions, GenRequest
    from mella.models.hf import HFBackend

    backend = HFBackend(model=str(folder), batch_size=batch_size, device=device, max_pixels=1280 * 28 * 28,
                        **extra)
    options = GenOptions(max_new_tokens=new_tokens)
    # Count what generate really produced (the decoded text of a random model is mostly special tokens).
    model, counted = backend.loaded.model, []
    generate = model.generate

    def counting_generate(*args, **kwargs):
        out = generate(*args, **kwargs)
        counted.append(out.shape[0] * (out.shape[1] - kwargs["input_ids"].shape[1]))
        return out

    model.generate = counting_generate
    backend.generate([GenRequest(prompt=PROMPT, image=img) for img in images[:batch_size]], options)  # warm-up
    counted.clear()
    t0 = start_timing(device)
    texts = backend.generate([GenRequest(prompt=PROMPT, image=img) for img in images], options)
    result = figures(t0, sum(counted), device)
    backend.close()
    assert len(texts) == len(images)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (checks the script)")
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--variants", default=None, help=(
        f"comma-separated hf backend variants to time after the plain loop ({', '.join(VARIANTS)}); "
        "default mella,compiled on a GPU, mella,static on CPU (compiling on CPU takes minutes)"))
    args = ap.parse_args()
    if not torch.cuda.is_available() and not args.tiny:
        print("no GPU: running with --tiny (the device check needs a GPU; figures below only check the script)")
        args.tiny = True
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    variants = (args.variants or ("mella,compiled" if device == "cuda" else "mella,static")).split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    folder = Path(tempfile.mkdtemp(prefix="mella-bench-caption-")) / "model"
    save_model(args.tiny, device, folder)
    if device == "cuda":
        torch.cuda.empty_cache()
    images = make_images(args.requests, args.tiny)
    results = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "tiny": args.tiny,
               "requests": args.requests, "batch_size": args.batch_size, "new_tokens": args.max_new_tokens}
    results["plain"] = run_plain(folder, images, args.batch_size, args.max_new_tokens, device)
    print("plain", results["plain"], flush=True)
    for name in variants:
        if device == "cuda":
            torch.cuda.empty_cache()
        results[name] = run_mella(folder, images, args.batch_size, args.max_new_tokens, device, VARIANTS[name])
        print(name, results[name], flush=True)
    ratios = {name: round(results[name]["tokens_per_s"] / results["plain"]["tokens_per_s"], 2) for name in variants}
    results["ratio"] = ratios.get("mella", max(ratios.values()))  # the backend's defaults against the plain loop
    results["ratios"] = ratios
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
