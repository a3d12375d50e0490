"""``mella languages``: the language registry."""

from __future__ import annotations

import click


@click.command("languages")
@click.option("--all", "show_all", is_flag=True, help="Include non-default languages (e.g. en).")
def command(show_all: bool) -> None:
    """List registered languages: code, names, scripts."""
    from mella.languages import all_languages

    for lang in all_languages():
        if show_all or lang.default:
            scripts = "+".join(lang.scripts)
            click.echo(f"{lang.code:<4} {lang.name:<12} {lang.native_name:<18} {scripts:<10} {lang.direction}")
