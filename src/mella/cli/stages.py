"""``mella stages``: the registered stages and their options."""

from __future__ import annotations

import click


@click.command("stages")
def command() -> None:
    """List stages and steps: what they read, where they live, and their options (YAML keys = CLI flags)."""
    from mella.pipeline.registry import get_stage, stage_names, where

    for name in stage_names():
        cls = get_stage(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        click.echo(f"{name:<10} reads {cls.reads:<6} {doc[0] if doc else ''}")
        click.echo(f"    in {where(name)}")
        for fname, info in cls.Options.model_fields.items():
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
            click.echo(f"    {fname:<20} {default:<14} {info.description or ''}")
