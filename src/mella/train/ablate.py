"""Ablations in one command: train each dataset variant with the same settings, predict, evaluate, compare.

Variants (``ablation.variants``): ``mella`` (both sources of ``data.samples``, two-turn included), ``know-only`` and
``ling-only`` (one source of it), ``sdrrl`` and any other name (a samples folder given in
``ablation.datasets``). Every variant is scored on the same items: the ``ablation.eval_split`` rows of
``ablation.eval_samples`` (default ``data.samples``), so the table compares like with like.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mella.errors import ConfigError, MellaError
from mella.train import data as D
from mella.train.config import TrainConfig
from mella.train.recipe import write_json

log = logging.getLogger("mella.train")
DERIVED = {"mella": ["know", "ling", "both"], "know-only": ["know"], "ling-only": ["ling"]}


def variant_config(cfg: TrainConfig, name: str, out: Path) -> TrainConfig:
    """``cfg`` with the variant's samples and sources and its own output folder (no preference stage)."""
    a = cfg.ablation
    if name in a.datasets:
        data = cfg.data.model_copy(update={"samples": a.datasets[name]})
    elif name in DERIVED:
        data = cfg.data.model_copy(update={"sources": DERIVED[name]})
    else:
        raise MellaError(f"ablation variant {name!r} needs a samples folder: ablation.datasets.{name}: PATH")
    return cfg.model_copy(update={
        "data": data, "output": cfg.output.model_copy(update={"dir": str(out / name), "save_merged": True}),
        "preference": cfg.preference.model_copy(update={"enabled": False})})


def eval_rows(cfg: TrainConfig) -> list[dict[str, Any]]:
    a = cfg.ablation
    rows = D.select(D.read_rows(a.eval_samples or cfg.data.samples), a.eval_split, None, cfg.data.langs,
                    a.max_eval_samples)
    if not rows:
        raise MellaError(f"no {a.eval_split!r} rows to evaluate the ablation on")
    return rows


def evaluate_model(cfg: TrainConfig, model: str, rows: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Predict ``rows`` greedily with ``model`` and score them; writes predictions and scores under ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.evaluate import run_evaluation, write_results
    from mella.records import PREDICTIONS
    from mella.train.infer import predict

    a, d = cfg.ablation, cfg.data
    opener = D.image_opener(d.images, a.eval_samples or d.samples)
    preds = predict(model, rows, opener, max_new_tokens=a.max_new_tokens, batch_size=a.batch_size,
                    min_pixels=d.min_pixels, max_pixels=d.max_pixels, system=d.system,
                    device="cpu" if cfg.train.device == "cpu" else "auto")
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(preds, schema=PREDICTIONS), out / "predictions.parquet")
    evaluation = run_evaluation(preds)
    write_results(evaluation, out / "eval")
    return evaluation.scores


def comparison_table(scores: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (lang, source, metric), one column per variant."""
    table: dict[tuple[str, str, str], dict[str, Any]] = {}
    for variant, rows in scores.items():
        for s in rows:
            key = (s["lang"], s["source"], s["metric"])
            table.setdefault(key, {"lang": key[0], "source": key[1], "metric": key[2]})[variant] = s["score"]
    return [table[k] for k in sorted(table)]


def render_table(table: list[dict[str, Any]], variants: list[str]) -> str:
    """The comparison as a Markdown table (scores to 4 places; '-' where a variant has none)."""
    head = ["lang", "source", "metric", *variants]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        cells = [row["lang"], row["source"], row["metric"]]
        cells += ["-" if row.get(v) is None else f"{row[v]:.4f}" for v in variants]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_ablation(cfg: TrainConfig, out: str | Path | None = None) -> dict[str, Any]:
    """Train, predict and evaluate every variant; write ``ablation.json`` and ``ablation.md``."""
    from mella.train.sft import run_sft

    out = Path(out or cfg.output.dir)
    missing = [f"ablation.datasets.{n}: needed for variant {n!r} (a samples folder; or drop it from ablation.variants)"
               for n in cfg.ablation.variants if n not in DERIVED and n not in cfg.ablation.datasets]
    if missing:   # every problem before any training starts
        raise ConfigError(missing, "ablation")
    variants = [variant_config(cfg, name, out) for name in cfg.ablation.variants]
    rows = eval_rows(cfg)
    scores, runs = {}, {}
    for name, vcfg in zip(cfg.ablation.variants, variants, strict=True):
        log.info("ablation: training %s", name)
        runs[name] = run_sft(vcfg)
        scores[name] = evaluate_model(vcfg, runs[name]["outputs"]["model"], rows, out / name)
    table = comparison_table(scores)
    (out / "ablation.md").write_text(render_table(table, list(scores)), encoding="utf-8")
    write_json(out / "ablation.json", {"variants": list(scores), "eval_items": len(rows), "table": table,
                                       "losses": {k: v["losses"] for k, v in runs.items()}})
    return {"table": table, "markdown": out / "ablation.md", "runs": runs}
