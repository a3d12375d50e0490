"""What every stage command does after parsing: run the stage, print where the output is."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from mella.errors import MellaError


def print_report(report) -> None:
    click.echo(
        f"{report.stage}: {report.rows} rows kept, {report.dropped} dropped, "
        f"{report.parts_run} parts run, {report.parts_skipped} already done, {report.seconds:.1f}s"
    )
    click.echo(f"  output: {report.out}")


def run_standalone(stage, inputs: list[str], out: str, workers=None, executor="local", overwrite=False,
                   ray_address=None) -> None:
    from mella.pipeline.runner import make_executor, run_stage
    from mella.pipeline.shards import resolve_inputs

    shards = resolve_inputs(inputs, stage.reads)  # check inputs before touching --out
    out_path = Path(out)
    if overwrite and out_path.exists():
        if out_path.resolve() in {Path(s.uri).resolve().parent for s in shards if not s.is_remote}:
            raise MellaError(f"--overwrite would delete the input folder {out}")
        shutil.rmtree(out_path)
    report = run_stage(stage, inputs, out_path, make_executor(executor, workers, ray_address))
    print_report(report)
