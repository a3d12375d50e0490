"""``mella rate-report RUN_DIR``: what the raters of ``mella rate`` said, per language and task kind; the judgements
exported as parquet and CSV; Label Studio tasks out and Label Studio annotations in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mella.cli.verbose import verbose_option
from mella.rate.tasks import KINDS


@click.command("rate-report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--lang", default=None, help="Only this language's judgements (a mella tag: ar, sr-Latn, ...).")
@click.option("--kind", type=click.Choice(KINDS), default=None,
              help="Only this task kind (also what --export-label-studio exports).")
@click.option("--out", "-o", default=None,
              help="Folder for judgements.parquet, judgements.csv, rate_report.json (default: RUN_DIR/rate).")
@click.option("--store", "store_path", default=None, type=click.Path(dir_okay=False),
              help="The rating store (default: RUN_DIR/rate/judgements.sqlite).")
@click.option("--metrics-a", default=None,
              help="items.parquet of the pair's first system (by sorted name); NAME=PATH names the system. "
                   "Default: the run's evaluate folders, matched to systems by the predictions folder they scored.")
@click.option("--metrics-b", default=None, help="items.parquet of the pair's second system (see --metrics-a).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--n-bootstrap", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@click.option("--export-label-studio", "ls_export", default=None, type=click.Path(dir_okay=False),
              help="Also write the items as Label Studio JSON tasks to this file (and a labelling config per kind "
                   "beside it).")
@click.option("--image-prefix", default=None,
              help="With --export-label-studio: write images beside the file and reference them as PREFIX + "
                   "relative path (default: inline data: URLs).")
@click.option("--import-label-studio", "ls_import", default=None, type=click.Path(exists=True, dir_okay=False),
              help="First read a Label Studio JSON export's annotations into the store as judgements.")
@verbose_option
def command(run_dir: str, lang: str | None, kind: str | None, out: str | None, store_path: str | None,
            metrics_a: str | None, metrics_b: str | None, seed: int, n_bootstrap: int, as_json: bool,
            ls_export: str | None, image_prefix: str | None, ls_import: str | None) -> None:
    """Win/tie/loss with bootstrap CIs, mean ratings, Krippendorff's alpha and metric correlations of RUN_DIR's
    judgements; writes judgements.parquet, judgements.csv and rate_report.json."""
    from mella.errors import MellaError, require
    from mella.rate.analysis import analyse, render_table, write_outputs
    from mella.rate.store import RatingStore, default_path

    require("krippendorff", "rate", "mella rate-report")
    run = Path(run_dir)
    path = Path(store_path) if store_path else default_path(run)
    if not path.is_file():
        raise MellaError(f"{path}: no rating store; start a study with `mella rate {run_dir}` first")
    with RatingStore(path) as store:
        if ls_import:
            from mella.rate.labelstudio import import_export

            counts = import_export(store, ls_import)
            click.echo(f"label studio: {ls_import}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                       err=as_json)
        if ls_export:
            _export(store, run, Path(ls_export), lang, kind, image_prefix, as_json)
        judgements = [j for j in store.judgements(lang) if kind is None or j["kind"] == kind]
        items = store.items(lang, kind)
    systems = sorted({s for it in items if it.systems for s in it.systems})
    metrics, sources = _metrics(run, systems, metrics_a, metrics_b)
    results = analyse(judgements, seed=seed, n_boot=n_bootstrap, metrics=metrics,
                      sample_scores=_sample_scores(run))
    folder = Path(out) if out else run / "rate"
    paths = write_outputs(judgements, results, folder, {
        "run_dir": str(run), "store": str(path), "lang": lang, "kind": kind, "seed": seed,
        "n_bootstrap": n_bootstrap, "metrics": sources})
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
        return
    click.echo(render_table(results))
    for system in systems:
        if system not in metrics:
            click.echo(f"note: no automatic metrics for system {system!r} (pass --metrics-a/--metrics-b)")
    click.echo(f"judgements: {paths['parquet']} and {paths['csv']}; report: {paths['json']}")


def _export(store, run: Path, target: Path, lang: str | None, kind: str | None, prefix: str | None,
            quiet: bool) -> None:
    from mella.rate.labelstudio import export_tasks, label_config
    from mella.rate.tasks import image_folder

    n = export_tasks(store, target, images=image_folder(run), lang=lang, kind=kind, image_prefix=prefix)
    kinds = sorted({it.kind for it in store.items(lang, kind)})
    for k in kinds:
        config = target.with_name(f"{target.stem}.{k}.xml")
        config.write_text(label_config(k, lang or "en"), encoding="utf-8")
    click.echo(f"label studio: {n} tasks in {target}; labelling config per kind: "
               + ", ".join(f"{target.stem}.{k}.xml" for k in kinds), err=quiet)


def _metrics(run: Path, systems: list[str], metrics_a: str | None,
             metrics_b: str | None) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, str]]:
    """system -> sample id -> metric -> score, and system -> the items.parquet it came from."""
    from mella.errors import MellaError
    from mella.rate.analysis import read_metrics
    from mella.rate.tasks import evaluation_items

    sources: dict[str, str] = {}
    if metrics_a or metrics_b:
        for n, value in enumerate((metrics_a, metrics_b)):
            if not value:
                continue
            name, sep, file = value.partition("=")
            if not sep:
                if len(systems) != 2:
                    raise MellaError(f"--metrics-{'ab'[n]}: the study has {len(systems)} systems "
                                     f"({', '.join(systems) or 'none'}); name one: --metrics-{'ab'[n]} NAME=PATH")
                name, file = systems[n], value
            if not Path(file).is_file():
                raise MellaError(f"--metrics-{'ab'[n]}: {file}: no such file (an evaluate step's items.parquet)")
            sources[name] = file
    else:
        found = evaluation_items(run)
        sources = {s: str(found[s]) for s in systems if s in found}
    return {s: read_metrics(p) for s, p in sources.items()}, sources


def _sample_scores(run: Path) -> dict[str, dict[str, Any]]:
    """sample id -> {culture_score} from the run's build folders (what the ratings are correlated with)."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, Any]] = {}
    for summary in sorted(run.glob("*/_global/build/summary.json")):
        for part in sorted(summary.parents[2].glob("part-*.parquet")):
            if "culture_score" not in pq.read_schema(part).names:
                continue
            for row in pq.read_table(part, columns=["id", "culture_score"]).to_pylist():
                if row["culture_score"] is not None:
                    out[row["id"]] = {"culture_score": float(row["culture_score"])}
    return out
