"""``mella train CONFIG.yaml``: supervised fine-tuning, then the optional preference stage."""

from __future__ import annotations

import click

from mella.cli.verbose import verbose_option


def parse_overrides(pairs: tuple[str, ...]) -> dict:
    """``--set train.max_steps=10`` values, parsed as YAML scalars."""
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value)
    return out


@click.command("train")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set train.max_steps=100 (repeatable).")
@click.option("--preference-only", is_flag=True, help="Skip SFT; run only the preference stage on model.name.")
@click.option("--check", is_flag=True, help="Validate the config and exit.")
@verbose_option
def command(config: str, overrides: tuple[str, ...], preference_only: bool, check: bool) -> None:
    """Fine-tune a vision-language model on a built dataset (LoRA, QLoRA or full), as CONFIG says.

    Writes checkpoints, the adapter, the merged model and train.json under output.dir. With
    preference.enabled, a culture-contrastive DPO stage follows on the merged SFT model. See docs/train.md.
    """
    from mella.train.config import load_config

    cfg = load_config(config, parse_overrides(overrides))
    if check:
        click.echo(f"{config}: ok ({cfg.method}, {cfg.model.name})")
        return
    from mella.train import run_training

    if preference_only and not cfg.preference.enabled:
        raise click.UsageError("--preference-only needs preference.enabled: true in the config")
    result = run_training(cfg, sft=not preference_only)
    for stage, res in result.items():
        train_losses = res["losses"]["train"]
        first, last = (f"{train_losses[0]:.4f}", f"{train_losses[-1]:.4f}") if train_losses else ("-", "-")
        click.echo(f"{stage}: loss {first} -> {last} in {res['seconds']}s; "
                   + ", ".join(f"{k}: {v}" for k, v in res["outputs"].items()))
        for what in ("data", "pairs"):   # what was trained on, and every row left out with its reason
            if res.get(what):
                click.echo(f"{stage} {what}: " + ", ".join(f"{k} {v}" for k, v in res[what].items()))
