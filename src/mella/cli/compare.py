"""``mella compare A B --out DIR``: two prediction sets side by side with paired bootstrap CIs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mella.cli.verbose import verbose_option


@click.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--out", "-o", default=None, help="Folder for compare.json and compare.md (default: print only).")
@click.option("--n-bootstrap", type=click.IntRange(min=100), default=1000, show_default=True)
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option("--alpha", type=click.FloatRange(0.0, 0.5, min_open=True), default=0.05, show_default=True,
              help="1 - confidence level of the intervals.")
@click.option("--metrics", default=None, help="Comma-separated subset of metrics (default: all).")
@verbose_option
def command(baseline: str, candidate: str, out: str | None, n_bootstrap: int, seed: int, alpha: float,
            metrics: str | None) -> None:
    """Compare CANDIDATE predictions with BASELINE predictions: delta = candidate - baseline, per (lang, source).

    Items are paired by `id`; the confidence interval comes from a paired bootstrap over items.
    """
    from mella.evaluate.compare import compare_predictions
    from mella.evaluate.evaluate import EvaluateStep
    from mella.evaluate.io import read_predictions
    from mella.evaluate.report import format_score
    from mella.pipeline.inputs import check_input_columns

    chosen = [m.strip() for m in metrics.split(",")] if metrics else None
    check_input_columns(EvaluateStep, [baseline, candidate])  # predictions, as evaluate reads them
    rows = compare_predictions(read_predictions(baseline), read_predictions(candidate), n_bootstrap=n_bootstrap,
                               seed=seed, alpha=alpha, metrics=chosen)
    lines = ["| lang | source | metric | baseline | candidate | delta | CI | p | n |",
             "|---|---|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        def fmt(v, metric=r["metric"]):
            return format_score(metric, v)

        ci = f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"
        p = "-" if r["p_value"] is None else f"{r['p_value']:.3f}"
        lines.append(f"| {r['lang']} | {r['source']} | {r['metric']} | {fmt(r['a'])} | {fmt(r['b'])} | "
                     f"{fmt(r['delta'])} | {ci} | {p} | {r['n']} |")
    table = "\n".join(lines) + "\n"
    click.echo(table.rstrip())
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "compare.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n",
                                             encoding="utf-8")
        (folder / "compare.md").write_text(table, encoding="utf-8")
        click.echo(f"comparison: {folder / 'compare.json'}  table: {folder / 'compare.md'}")
