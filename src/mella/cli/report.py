"""``mella report RUN_DIR``: a self-contained static HTML report of a run folder."""

from __future__ import annotations

import click

from mella.cli.verbose import verbose_option


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", default=None, help="HTML file to write (default: RUN_DIR/report.html).")
@click.option("--compare", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Other run folders to put side by side (repeatable).")
@click.option("--per-lang", type=click.IntRange(min=0), default=6, show_default=True,
              help="Gallery images per language.")
@verbose_option
def command(run_dir: str, out: str | None, compare: tuple[str, ...], per_lang: int) -> None:
    """Write RUN_DIR's report: funnel, drop reasons, gallery, distributions, metrics, comparison."""
    from mella.errors import require
    from mella.report.html import write_report

    require("jinja2", "report", "mella report")
    require("matplotlib", "report", "mella report")
    path = write_report(run_dir, out, list(compare), per_lang)
    click.echo(f"report: {path} (open it in a browser; it needs no server)")
