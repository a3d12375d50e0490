"""``mella run PIPELINE.yaml --run-dir DIR``: every stage of a pipeline in one run folder."""

from __future__ import annotations

import click

from mella.cli import verbose_option


@click.command("run")
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--run-dir", "-o", default=None, help="Run folder (default: runs/<pipeline name>).")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None, help="Override the pipeline's workers.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None, help="Override the pipeline's executor.")
@verbose_option
def command(pipeline: str, run_dir: str | None, workers: int | None, executor: str | None) -> None:
    """Run the stages of PIPELINE in order, resuming where a previous attempt stopped."""
    from mella.config import load_pipeline
    from mella.pipeline.runner import run_pipeline

    config = load_pipeline(pipeline, run_dir)  # every config problem is reported before anything is written
    if workers is not None:
        config.workers = workers
    if executor is not None:
        config.executor = executor
    run_dir = config.run_dir
    summary = run_pipeline(config, run_dir)
    click.echo(f"run {config.name}: {len(summary)} stages done")
    for sid, rep in summary.items():
        click.echo(f"  {sid:<12} {rep['rows']:>8} rows  {rep['dropped']:>7} dropped  {rep['seconds']:>7.1f}s  "
                   f"{rep['out']}")
    click.echo(f"run folder: {run_dir} (run.json has the resolved config and versions)")
