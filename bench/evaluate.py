"""Benchmark: all mella metrics on 10,000 prediction/reference pairs across the 8 default languages.

Pairs are built from the realistic captions in tests/evaluate/evalkit_sentences.py: each reference
joins one or two captions of the language, each prediction perturbs its reference (dropped,
swapped and foreign words, or a cut for unspaced Thai), so nearly every string is unique and no
cache flatters the numbers. The baseline is sacrebleu's corpus BLEU alone on the same pairs, in
the same process. Rates are per core: the work is single-threaded, so pairs / CPU second.

    .venv/bin/python bench/evaluate.py [--pairs 10000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import random
import time
from pathlib import Path

SENTENCES = Path(__file__).resolve().parents[1] / "tests" / "evaluate" / "evalkit_sentences.py"
LANGS = ["ar", "cs", "hu", "ko", "ru", "sr", "th", "vi"]


def _captions() -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location("evalkit_sentences", SENTENCES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {lang: [s for pair in pairs for s in pair] for lang, pairs in module.PAIRS.items()}


def _perturb_words(text: str, pool: list[str], rng: random.Random) -> str:
    words = text.split()
    out = [w for w in words if rng.random() > 0.15] or words[:1]
    for _ in range(rng.randint(0, 2)):
        i = rng.randrange(len(out))
        out[i] = rng.choice(rng.choice(pool).split())
    if len(out) > 2 and rng.random() < 0.5:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def _perturb_chars(text: str, rng: random.Random) -> str:
    # Thai has no spaces: cut a random span instead of dropping words.
    start = rng.randrange(len(text))
    return text[:start] + text[start + rng.randint(1, 8):]


def make_pairs(n: int, seed: int = 0) -> list[dict]:
    """``n`` prediction rows spread evenly over the languages (see the module docstring)."""
    rng = random.Random(seed)
    captions = _captions()
    rows = []
    for i in range(n):
        lang = LANGS[i % len(LANGS)]
        pool = captions[lang]
        ref = " ".join(rng.sample(pool, rng.randint(1, 2)))
        hyp = _perturb_chars(ref, rng) if lang == "th" else _perturb_words(ref, pool, rng)
        ref = _perturb_chars(ref, rng) if lang == "th" else _perturb_words(ref, pool, rng)
        rows.append({"id": str(i), "lang": lang, "source": "know" if i % 2 else "ling",
                     "prediction": hyp, "references": [ref]})
    return rows


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _warm_up() -> None:
    """Load the Thai and Korean models and the stemmers once, then empty the per-string caches."""
    from mella.evaluate import evaluate_predictions
    from mella.evaluate.textproc import processor

    evaluate_predictions([{"id": "w", "lang": lang, "prediction": "x", "references": ["y"]} for lang in LANGS])
    processor.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions of the all-metrics run")
    args = parser.parse_args()

    import sacrebleu

    from mella.evaluate import run_evaluation

    rows = make_pairs(args.pairs)
    unique = len({r["prediction"] for r in rows} | {r["references"][0] for r in rows})
    print(f"{len(rows)} pairs, {unique} distinct strings, languages: {' '.join(LANGS)}")
    _warm_up()

    hyps, refs = [r["prediction"] for r in rows], [r["references"][0] for r in rows]
    bleu, bleu_wall, bleu_cpu = _timed(lambda: sacrebleu.corpus_bleu(hyps, [refs]))

    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    evaluation, all_wall, all_cpu = _timed(lambda: run_evaluation(rows))
    if profiler:
        profiler.disable()

    n = len(rows)
    print(f"sacrebleu corpus BLEU alone (13a): {n / bleu_cpu:8.0f} pairs/s per core "
          f"(cpu {bleu_cpu:.2f}s, wall {bleu_wall:.2f}s, BLEU {bleu.score:.1f})")
    print(f"mella, all 8 metrics, 8 languages: {n / all_cpu:8.0f} pairs/s per core "
          f"(cpu {all_cpu:.2f}s, wall {all_wall:.2f}s, {len(evaluation.scores)} scores)")
    print(f"ratio all metrics / BLEU alone: {bleu_cpu / all_cpu:.2f} "
          f"(all metrics take {all_cpu / bleu_cpu:.1f}x the time of BLEU alone); target >= 2000 pairs/s per core")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
