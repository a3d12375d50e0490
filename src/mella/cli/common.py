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
    from mella.locks import locked
    from mella.overwrite import clear_output
    from mella.pipeline.inputs import check_input_columns
    from mella.pipeline.runner import make_executor, run_stage
    from mella.pipeline.shards import resolve_inputs

    shards = resolve_inputs(inputs, stage.reads)  # check inputs before touching --out
    check_input_columns(stage, shards)
    out_path = Path(out)
    with locked(out_path):  # a second process on the same --out is refused, before anything is deleted
        if overwrite:
            clear_output(out_path, [*inputs, *(s.uri for s in shards)], stage.name)
        report = run_stage(stage, inputs, out_path, make_executor(executor, workers, ray_address))
    print_report(report)
