"""``mella ablate CONFIG.yaml``: train mella, know-only, ling-only and sdrrl alike; one comparison table."""

from __future__ import annotations

import click

from mella.cli.train import parse_overrides
from mella.cli.verbose import verbose_option


@click.command("ablate")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", default=None, help="Folder for the variants and the table (default: output.dir).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set ablation.variants=[mella,know-only].")
@verbose_option
def command(config: str, out: str | None, overrides: tuple[str, ...]) -> None:
    """Train each dataset variant of CONFIG's ablation section with the same settings, then predict and
    evaluate each on the same test items; writes ablation.md and ablation.json.
    """
    from mella.train.ablate import run_ablation
    from mella.train.config import load_config

    cfg = load_config(config, parse_overrides(overrides))
    result = run_ablation(cfg, out)
    click.echo(result["markdown"].read_text(encoding="utf-8").rstrip())
    click.echo(f"table: {result['markdown']}")
