"""Measure the filter as a user meets it: collect -> filter -> dedup at defaults over the labelled pages.

    .venv/bin/python tools/measure_filter.py [--show dev] [--json out.json] [--no-sites]

Two materials, each matched to its gold labels:

- **web**: the saved real pages ``tests/data/web/<lang>/*`` that ``tests/data/labels/alt_gold.tsv`` labels
  (only the gold rows whose page is there can be measured); a kept row is matched to a gold row by
  (file, whitespace-collapsed alt).
- **sites**: the demo sites ``examples/sites/<folder>/``, served on a loopback port by the project's own
  :class:`mella.demo.siteserver.SiteServer` and crawled by ``collect``; matched to
  ``tests/data/labels/sites_gold.tsv`` by (folder, alt), when that file exists.

Figures per split (the gold's ``split`` or ``set`` column: ``dev``, ``holdout``; ``shared`` counts as dev) and
per language:

- **kept precision**: kept rows (distinct (file, alt) that a gold row labels) whose gold language is the
  language the filter gave and whose gold kind is a wanted kind / kept rows;
- **recall**: wanted gold rows (target language, wanted kind) kept with that language / wanted gold rows;
- the **drop reasons** of the missed ones (``not_collected`` when collect gave no such row).

Wanted kinds are ``description`` and ``entity`` (an entity that is only a person's name is labelled ``und`` and
judged by its page's language, as tests/data/labels/README.md says); a gold file with no ``entity`` row at all (the labels before
the culture issue) has its ``name`` rows in a target language counted as wanted instead, and the output says so.
``--show dev`` lists the wrong keeps and the misses of the dev split, row by row, for writing rules. Holdout
rows are never printed one by one: only their figures, which say whether rules written on dev generalise.
Nothing here is read by mella at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "tests" / "data" / "labels"
WEB = ROOT / "tests" / "data" / "web"
SITES = ROOT / "examples" / "sites"
SITES_TEXT = ROOT / "tests" / "data" / "sites_text"
WANTED = {"description", "entity"}
# For --show: the kind the filter gave and the structure around the image, per (page key, alt).
KINDS: dict[tuple, str | None] = {}
STRUCTURE: dict[tuple, str] = {}


def structure_note(r: dict[str, Any]) -> str:
    """landmark/link scope/declared size of a candidate row, short."""
    size = f"{r.get('declared_width') or '-'}x{r.get('declared_height') or '-'}"
    return f"{r.get('landmark') or '-'}/{r.get('link_scope') or '-'}/{size}"


def alt_key(alt: str | None) -> str:
    """The form alts are matched in: whitespace collapsed, NFC (some published alts use combining marks)."""
    from mella.filter.text import clean_alt

    return unicodedata.normalize("NFC", clean_alt(alt or ""))


def read_tsv(path: Path) -> list[dict[str, str]]:
    from mella.filter.gold import read_tsv as read

    return read(path)


def split_of(row: dict[str, str]) -> str:
    """dev or holdout: the rows labelled before the split (``shared``) were all seen, so they are dev."""
    value = (row.get("split") or row.get("set") or "dev").strip()
    return "dev" if value in ("", "shared") else value


def wanted_kinds(gold: list[dict[str, str]]) -> tuple[set[str], str]:
    """The kinds that count as wanted, and a note when ``name`` stands in for ``entity``."""
    if any(g["kind"] == "entity" for g in gold):
        return set(WANTED), ""
    return WANTED | {"name"}, "(no `entity` labels in this file: target-language `name` rows count as wanted)"


def gold_language(g: dict[str, str]) -> str:
    """The gold language of a row, as the labels README says to judge it: an ``entity`` that is only a
    person's name is labelled ``und`` and is judged by its page (alt_gold's ``page_lang``; a site's language
    is the first part of its folder name), Serbian in the script the name is written in."""
    if g["kind"] != "entity" or g["lang"] != "und" or "person" not in (g.get("note") or ""):
        return g["lang"]
    from mella.filter.text import dominant_script

    page = g.get("page_lang") or (g.get("site") or "").split("__")[0]
    if page == "sr":
        return f"sr-{dominant_script(g['alt']) or 'Latn'}"
    return page or g["lang"]


def run_chain(inputs: list[str], work: Path, collect_options: dict[str, Any] | None = None) -> dict[str, Path]:
    """collect -> filter -> dedup at defaults (the local executor, one worker); the three output folders."""
    from mella.collect.collect import CollectStage
    from mella.filter.dedup import DedupStage
    from mella.filter.filter import FilterStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage

    out = {name: work / name for name in ("collect", "filter", "dedup")}
    ex = LocalExecutor(1, progress=False)
    run_stage(CollectStage(**(collect_options or {})), inputs, out["collect"], ex)
    run_stage(FilterStage(), [str(out["collect"])], out["filter"], ex)
    run_stage(DedupStage(), [str(out["filter"])], out["dedup"], ex)
    return out


def rows_of(folder: Path, dropped: bool = False) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    base = folder / "_dropped" if dropped else folder
    files = sorted(base.glob("part-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def outcomes(out: dict[str, Path], key_of) -> tuple[dict[tuple, str], dict[tuple, set[str]], set[tuple]]:
    """Per (page key, alt): the language it was kept with, the reasons its copies were dropped, and
    whether collect gave it at all."""
    kept: dict[tuple, str] = {}
    reasons: dict[tuple, set[str]] = defaultdict(set)
    for r in rows_of(out["dedup"]):
        kept.setdefault(key_of(r), r["lang"])
        KINDS.setdefault(key_of(r), r.get("kind"))
    for stage in ("filter", "dedup"):
        for r in rows_of(out[stage], dropped=True):
            reasons[key_of(r)].add(r["drop_reason"])
    collected = set()
    for r in rows_of(out["collect"]):
        collected.add(key_of(r))
        STRUCTURE.setdefault(key_of(r), structure_note(r))
    return kept, reasons, collected


def figures(gold: list[dict[str, str]], keys: list[tuple], kept: dict, reasons: dict, collected: set,
            targets: set[str], wanted: set[str]) -> dict[str, Any]:
    """Precision and recall per split and language; the dev rows behind them for ``--show``."""
    fig: dict[str, Any] = {}
    seen: set[tuple] = set()
    for g, key in zip(gold, keys, strict=True):
        if key in seen:  # one gold row per (file, alt); a second label of the same alt is ignored
            continue
        seen.add(key)
        split = fig.setdefault(split_of(g), {"kept": Counter(), "good": Counter(), "wanted": Counter(),
                                             "found": Counter(), "missed_reasons": Counter(),
                                             "wrong": [], "missed": []})
        lang = kept.get(key)
        g = {**g, "lang": gold_language(g)}
        good = g["lang"] in targets and g["kind"] in wanted
        if lang is not None:
            right = good and lang == g["lang"]
            split["kept"][lang] += 1
            split["good"][lang] += right
            if not right:
                split["wrong"].append((lang, g["lang"], g["kind"], KINDS.get(key), STRUCTURE.get(key), g["alt"]))
        if good:
            split["wanted"][g["lang"]] += 1
            split["found"][g["lang"]] += lang == g["lang"]
            if lang != g["lang"]:
                why = ",".join(sorted(reasons.get(key, ()))) or (
                    f"kept_as_{lang}" if lang else ("not_collected" if key not in collected else "unknown"))
                split["missed_reasons"][why] += 1
                split["missed"].append((g["lang"], g["kind"], why, STRUCTURE.get(key), g["alt"]))
    return fig


def web_material(args) -> tuple[dict[str, Any], str]:
    from mella.filter.langid import expand_targets
    from mella.languages import default_tags

    gold = [g for g in read_tsv(args.labels / "alt_gold.tsv") if (args.web / g["file"]).is_file()]
    wanted, note = wanted_kinds(gold)
    files = sorted({str(args.web / g["file"]) for g in gold})
    web = args.web.resolve()

    def key_of(r):
        return Path(r["source"]).resolve().relative_to(web).as_posix(), alt_key(r["alt"])

    with tempfile.TemporaryDirectory() as tmp:
        out = run_chain(files, Path(tmp))
        kept, reasons, collected = outcomes(out, key_of)
    keys = [(g["file"], alt_key(g["alt"])) for g in gold]
    return figures(gold, keys, kept, reasons, collected, expand_targets(default_tags()), wanted), note


def sites_material(args) -> tuple[dict[str, Any], str] | None:
    from mella.demo.siteserver import SiteServer
    from mella.filter.langid import expand_targets
    from mella.languages import default_tags

    path = args.labels / "sites_gold.tsv"
    if not path.is_file():
        return None
    gold = read_tsv(path)
    wanted, note = wanted_kinds(gold)

    def key_of(r):
        parts = unquote(urlsplit(r["page_url"] or "").path).strip("/").split("/")
        return parts[0], alt_key(r["alt"])

    with tempfile.TemporaryDirectory() as tmp:
        specs = merged_sites(args.sites, args.sites_text, Path(tmp) / "sites")
        served = {spec.name for spec in specs}
        gold_served = [g for g in gold if g[folder_column(gold)].split("/")[0] in served]
        with SiteServer(specs) as server:
            seeds = Path(tmp) / "seeds.urls"
            seeds.write_text("".join(f"{url}\n" for url in server.page_urls()), encoding="utf-8")
            opts = {"allow_hosts": [server.host_port], "per_host_delay": 0.0, "crawl": False}
            out = run_chain([str(seeds)], Path(tmp), opts)
            kept, reasons, collected = outcomes(out, key_of)
    folder = folder_column(gold)
    keys = [(g[folder].split("/")[0], alt_key(g["alt"])) for g in gold_served]
    unserved = sorted({g[folder].split("/")[0] for g in gold} - served)
    if unserved:
        note += f" (not served, no pages here: {', '.join(unserved)})"
    return figures(gold_served, keys, kept, reasons, collected, expand_targets(default_tags()), wanted), note


def folder_column(gold: list[dict[str, str]]) -> str:
    return next(c for c in ("site", "folder", "file") if c in gold[0])


def merged_sites(sites: Path, extra: Path, into: Path):
    """One folder per site with the files of ``sites/<name>`` and ``extra/<name>`` together (copied: the
    server serves nothing that resolves outside a site's folder): the site gold labels the text-only pages
    kept in tests/data/sites_text as well."""
    import shutil

    from mella.demo.siteserver import SiteSpec, load_sites

    specs = {spec.name: spec for spec in load_sites(sites)}
    names = list(specs)
    if extra.is_dir():
        names += sorted(p.name for p in extra.iterdir() if p.is_dir() and p.name not in specs)
    out = []
    for name in names:
        root = into / name
        for base in (sites / name, extra / name):
            for f in base.rglob("*") if base.is_dir() else ():
                target = root / f.relative_to(base)
                if f.is_file() and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, target)
        lang = specs[name].lang if name in specs else name.split("__")[0]
        out.append(SiteSpec(name=name, root=root, lang=lang))
    return out


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f} ({a}/{b})" if b else "-"


def report(name: str, fig: dict[str, Any], note: str, show: set[str]) -> dict[str, Any]:
    """Print one material's figures; return them as plain numbers for --json."""
    print(f"\n## {name} {note}")
    summary = {}
    for split in sorted(fig):
        f = fig[split]
        langs = sorted(set(f["kept"]) | set(f["wanted"]))
        print(f"\n{split}: kept precision {ratio(sum(f['good'].values()), sum(f['kept'].values()))}, "
              f"recall {ratio(sum(f['found'].values()), sum(f['wanted'].values()))}")
        print(f"  {'lang':8s} {'kept precision':>18s} {'recall':>18s}")
        for lang in langs:
            print(f"  {lang:8s} {ratio(f['good'][lang], f['kept'][lang]):>18s} "
                  f"{ratio(f['found'][lang], f['wanted'][lang]):>18s}")
        if f["missed_reasons"]:
            print("  missed, by drop reason: " + ", ".join(f"{k} {v}" for k, v in f["missed_reasons"].most_common()))
        summary[split] = {
            "precision": [sum(f["good"].values()), sum(f["kept"].values())],
            "recall": [sum(f["found"].values()), sum(f["wanted"].values())],
            "by_lang": {lang: {"precision": [f["good"][lang], f["kept"][lang]],
                               "recall": [f["found"][lang], f["wanted"][lang]]} for lang in langs},
            "missed_reasons": dict(f["missed_reasons"]),
        }
        if split in show and split != "holdout":
            for lang, gold_lang, kind, ours, where, alt in f["wrong"]:
                print(f"  WRONG KEEP  {lang:7s} {ours or '-':11s} gold {gold_lang}/{kind:11s} {where or '':24s} {alt[:90]}")
            for gold_lang, kind, why, where, alt in f["missed"]:
                print(f"  MISSED      {gold_lang:7s} {kind:11s} {why:16s} {where or '':24s} {alt[:90]}")
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--web", type=Path, default=WEB)
    ap.add_argument("--sites", type=Path, default=SITES)
    ap.add_argument("--sites-text", type=Path, default=SITES_TEXT, help="more pages of the same sites (text only)")
    ap.add_argument("--no-sites", action="store_true", help="measure the saved pages only")
    ap.add_argument("--show", default="", help="splits whose wrong keeps and misses are listed (dev only)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--no-gazetteer", action="store_true", help="as without babel: no CLDR names")
    args = ap.parse_args(argv)
    if args.no_gazetteer:  # the chain runs in this process (one local worker), so the patch reaches it
        import mella.filter.filter as stage

        stage.gazetteer = lambda code, script=None: frozenset()
    show = {s for s in args.show.split(",") if s}
    if "holdout" in show:
        sys.exit("measure_filter: holdout rows are measured, never listed (--show dev)")
    out = {}
    fig, note = web_material(args)
    out["web"] = report(f"web pages ({args.web}, alt_gold.tsv)", fig, note, show)
    if not args.no_sites:
        found = sites_material(args)
        if found is None:
            print("\n## demo sites: tests/data/labels/sites_gold.tsv not found, not measured")
        else:
            out["sites"] = report("demo sites (examples/sites, sites_gold.tsv)", *found, show)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
