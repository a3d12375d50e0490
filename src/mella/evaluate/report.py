"""Markdown tables of scores: one row per (lang, source), one column per metric."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mella.evaluate.metrics import OUTPUTS

# BLEU and chrF are on sacrebleu's 0-100 scale; the others are shares (0-1).
_HUNDRED_SCALE = {"bleu", "chrf", "chrf++"}
# Metrics whose n is the number of scored items (keyword micro counts keywords instead).
_ITEM_COUNTED = _HUNDRED_SCALE | {"rougeL", "meteor"}


def format_score(metric: str, value: float | None) -> str:
    """A score as the table shows it (``-`` when it could not be computed)."""
    if value is None:
        return "-"
    return f"{value:.1f}" if metric in _HUNDRED_SCALE else f"{value:.3f}"


def render_markdown(scores: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table of score rows, followed by the signature of every number."""
    scores = list(scores)
    metrics = [m for m in OUTPUTS if any(s["metric"] == m for s in scores)]
    metrics += sorted({s["metric"] for s in scores} - set(metrics))
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for s in scores:
        table.setdefault((s["lang"], s["source"]), {})[s["metric"]] = s
    lines = [
        "| lang | source | n | " + " | ".join(metrics) + " |",
        "|---|---|---:|" + "---:|" * len(metrics),
    ]
    for (lang, source), row in table.items():
        n = max((s["n"] for m, s in row.items() if m in _ITEM_COUNTED), default="")
        cells = [format_score(m, row[m]["score"]) if m in row else "" for m in metrics]
        lines.append(f"| {lang} | {source} | {n} | " + " | ".join(cells) + " |")
    signatures = sorted({(s["metric"], s["signature"]) for s in scores}, key=lambda x: (metrics.index(x[0]), x[1]))
    lines += ["", "Signatures:", ""] + [f"- `{sig}`" for _, sig in signatures]
    return "\n".join(lines) + "\n"
