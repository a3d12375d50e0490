"""``mella evaluate PREDICTIONS --out DIR``: scores per (lang, source) with signatures."""

from __future__ import annotations

import click

from mella.cli.verbose import verbose_option


@click.command("evaluate")
@click.argument("predictions", nargs=-1, required=True)
@click.option("--out", "-o", required=True, help="Folder for scores.json, scores.md and items.parquet.")
@click.option("--metrics", default=None,
              help="Comma-separated subset of: bleu, chrf, rougeL, meteor, keyword_accuracy, entity_accuracy, "
                   "output_lang_rate "
                   "(default: all).")
@verbose_option
def command(predictions: tuple[str, ...], out: str, metrics: str | None) -> None:
    """Score PREDICTIONS (parquet, JSONL, or folders of parts) with keyword accuracy, BLEU, chrF, ROUGE-L, METEOR.

    Rows need `id, lang, source, prediction, references` (a list of strings) and optionally `keywords`.
    """
    from mella.cli._stage import build_options
    from mella.evaluate.evaluate import EvaluateStep
    from mella.evaluate.io import read_predictions, write_results
    from mella.evaluate.scoring import run_evaluation
    from mella.pipeline.inputs import check_input_columns

    # The pipeline step's options check the names: an unknown metric is one line and exit 2, before reading.
    chosen = [m.strip() for m in metrics.split(",")] if metrics else []
    options = build_options(EvaluateStep, {"metrics": chosen})
    check_input_columns(EvaluateStep, list(predictions))  # rows without predictions would score 0
    rows = [row for p in predictions for row in read_predictions(p)]
    evaluation = run_evaluation(rows, options.metrics or None)
    paths = write_results(evaluation, out)
    click.echo(paths["markdown"].read_text(encoding="utf-8").split("\nSignatures:")[0].rstrip())
    if evaluation.skipped:
        click.echo(f"{evaluation.skipped} rows without references were skipped", err=True)
    click.echo(f"scores: {paths['scores']}  table: {paths['markdown']}  per item: {paths['items']}")
