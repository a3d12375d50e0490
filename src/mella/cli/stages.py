"""``mella stages``: the registered stages and their options."""

from __future__ import annotations

import click


@click.command("stages")
def command() -> None:
    """List stages with what they read and their options (YAML keys = CLI flags)."""
    from mella.pipeline.stage import get_stage, stage_names

    for name in stage_names():
        cls = get_stage(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        click.echo(f"{name:<10} reads {cls.reads:<5}  {doc[0] if doc else ''}")
        for fname, info in cls.Options.model_fields.items():
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
            click.echo(f"    {fname:<20} {default:<14} {info.description or ''}")
