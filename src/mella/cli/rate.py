"""``mella rate RUN_DIR --lang L``: native speakers rate one language's items of a run in a local web app."""

from __future__ import annotations

import sys

import click

from mella.cli.verbose import verbose_option


@click.command("rate")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--lang", required=True, help="The raters' language (a registry tag: ar, ko, sr-Latn, ...).")
@click.option("--pairwise", default=None, metavar="NAME=PRED_DIR,NAME=PRED_DIR",
              help="The two systems to compare blind (default: the run's two predictions folders, if it has two).")
@click.option("--know", type=click.IntRange(min=0), default=50, show_default=True,
              help="D_know alt-texts to rate (relevance, correctness); 0: none.")
@click.option("--ling", type=click.IntRange(min=0), default=50, show_default=True,
              help="D_ling translations to rate (adequacy, fluency); 0: none.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Draws the samples and which system is shown as A.")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1; 0.0.0.0 with --public).")
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True,
              help="Port (0: any free port; the URL is printed).")
@click.option("--public", is_flag=True, help="Allow serving to other machines (needs --token).")
@click.option("--token", default=None, envvar="MELLA_RATE_TOKEN",
              help="A team token raters must enter to sign in (or MELLA_RATE_TOKEN).")
@verbose_option
def command(run_dir: str, lang: str, pairwise: str | None, know: int, ling: int, seed: int, host: str | None,
            port: int, public: bool, token: str | None) -> None:
    """Serve a rating app for RUN_DIR's items in one language: blind pairwise comparisons of two systems,
    ratings of D_know alt-texts and D_ling translations. Judgements go to RUN_DIR/rate/judgements.sqlite as
    they are made; `mella rate-report RUN_DIR` analyses them.
    """
    from pathlib import Path

    from mella.errors import MellaError, require
    from mella.languages import get_language

    for module in ("starlette", "uvicorn", "jinja2"):
        require(module, "rate", "mella rate")
    from mella.rate.serve import build_store, check_bind, gather_items, parse_pairwise, serve
    from mella.rate.tasks import KINDS

    tag = get_language(lang).tag
    host = host or ("0.0.0.0" if public else "127.0.0.1")
    check_bind(host, public, token)  # before any work: a refused bind must not have built anything
    gathered = gather_items(Path(run_dir), tag, pairwise=parse_pairwise(pairwise) if pairwise else None,
                            know=know, ling=ling, seed=seed)
    for note in gathered.notes:
        click.echo(f"rate: note: {note}", err=True)
    if not gathered.items:
        raise MellaError(f"{run_dir}: nothing to rate in {tag} (no pairwise, know or ling items of that language)")
    path, new = build_store(Path(run_dir), gathered.items)
    counts = {k: sum(1 for i in gathered.items if i.kind == k) for k in KINDS}
    versus = f" ({gathered.systems[0]} vs {gathered.systems[1]})" if gathered.systems else ""
    click.echo(f"rate: {tag}: {counts['pairwise']} pairwise{versus}, {counts['know']} know, {counts['ling']} ling "
               f"items ({new} new); judgements in {path}")

    def ready(url: str) -> None:
        click.echo(f"rate: serving {url} (Ctrl-C stops; every judgement is saved as it is made)")
        sys.stdout.flush()

    serve(Path(run_dir), tag, host=host, port=port, public=public, token=token, on_ready=ready)
