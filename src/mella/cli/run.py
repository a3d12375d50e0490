"""``mella run PIPELINE.yaml --run-dir DIR``: every stage of a pipeline in one run folder."""

from __future__ import annotations

import click

from mella.cli.verbose import verbose_option
from mella.errors import MellaError

# What mella.runstore advises when a stage folder holds other work; right for stage commands, not for `run`.
_STAGE_HINT = "use a new output folder or --overwrite"
_RUN_HINT = "use a new --run-dir, or delete that stage's folder (and those of the stages after it) to redo it"


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
    try:
        summary = run_pipeline(config, run_dir)
    except MellaError as exc:
        if _STAGE_HINT not in str(exc):
            raise
        raise MellaError(str(exc).replace(_STAGE_HINT, _RUN_HINT)) from None
    click.echo(f"run {config.name}: {len(summary)} stages done")
    for sid, rep in summary.items():
        click.echo(f"  {sid:<12} {rep['rows']:>8} rows  {rep['dropped']:>7} dropped  {rep['seconds']:>7.1f}s  "
                   f"{rep['out']}")
    click.echo(f"run folder: {run_dir} (run.json has the resolved config and versions)")
