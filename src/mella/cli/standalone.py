"""What every stage command does after parsing: run the stage, print where the output is."""

from __future__ import annotations

from pathlib import Path

import click


def print_report(report) -> None:
    click.echo(
        f"{report.stage}: {report.rows} rows kept, {report.dropped} dropped, "
        f"{report.parts_run} parts run, {report.parts_skipped} already done, {report.seconds:.1f}s"
    )
    click.echo(f"  output: {report.out}")


def run_standalone(stage, inputs: list[str], out: str, workers=None, executor="local", overwrite=False,
                   ray_address=None) -> None:
    from mella.pipeline.runner import make_executor, run_stage

    print_report(run_stage(stage, inputs, Path(out), make_executor(executor, workers, ray_address),
                           overwrite=overwrite))
