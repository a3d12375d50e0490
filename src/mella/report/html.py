"""``mella report``: one self-contained static HTML file (inline SVG charts and images, no scripts).

Alt-texts, captions and page URLs are untrusted web content: the template autoescapes everything, and a
Content-Security-Policy forbids scripts outright, so even a mistake in escaping could not run one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mella.report import charts
from mella.report.data import RunData
from mella.report.state import run_state

TEMPLATE = "report.html.j2"
METRIC_ORDER = ["keyword_accuracy", "keyword_accuracy_micro", "entity_accuracy", "bleu", "chrf", "chrf++", "rougeL",
                "meteor", "output_lang_rate"]
ACCURACY = {"keyword_accuracy": "keyword accuracy", "entity_accuracy": "entity accuracy"}


def _env():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("mella.report", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def _metric_views(evaluations: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per metric: a table (lang/source rows × evaluation columns) and a chart."""
    metrics = sorted({s["metric"] for rows in evaluations.values() for s in rows},
                     key=lambda m: (METRIC_ORDER.index(m) if m in METRIC_ORDER else 99, m))
    views = []
    for metric in metrics:
        series: dict[str, dict[str, float | None]] = {}
        signatures: set[str] = set()
        for name, rows in evaluations.items():
            for s in rows:
                if s["metric"] == metric:
                    series.setdefault(name, {})[f"{s['lang']}/{s['source']}"] = s["score"]
                    signatures.add(s["signature"])
        groups = sorted({g for v in series.values() for g in v})
        views.append({"metric": metric, "groups": groups, "series": series, "signatures": sorted(signatures),
                      "chart": charts.metric_chart(metric, series)})
    return views


def _culture_view(run: RunData, evaluations: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The culture section: tables of kinds, categories and top entities per language (each naming the stage it
    was read from, or "not measured"), a chart of the categories, and keyword next to entity accuracy."""
    from mella.dataset.culture_stats import NOT_MEASURED, share

    found = run.culture()
    view: dict[str, Any] = {"not_measured": NOT_MEASURED, "accuracy": _accuracy_view(evaluations)}
    kind = found["kind"]
    if kind is not None:
        stage, stats = kind
        columns = list(dict.fromkeys(k for lang in stats.langs() for k in (stats.kind_shares(lang) or {})))
        rows = [[lang, str(stats.rows[lang]), *_cells(stats.kind_shares(lang), columns, share, NOT_MEASURED)]
                for lang in stats.langs()]
        view["kinds"] = {"stage": stage, "header": ["lang", "D_know rows", *columns], "rows": rows}
    category = found["category"]
    if category is not None:
        stage, stats = category
        totals: Counter = Counter()
        for lang in stats.langs():
            totals.update({c: n for c, (n, _) in (stats.category_shares(lang) or {}).items()})
        columns = [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
        rows = []
        for lang in stats.langs():
            mean = stats.mean_score(lang)
            shown = NOT_MEASURED if not stats.is_measured(lang, "category") else "-" if mean is None else f"{mean:.2f}"
            rows.append([lang, shown, *_cells(stats.category_shares(lang), columns, share, NOT_MEASURED)])
        shares = {lang: {c: f for c, (_, f) in (stats.category_shares(lang) or {}).items()} for lang in stats.langs()}
        view["categories"] = {"stage": stage, "header": ["lang", "mean score", *columns], "rows": rows,
                              "chart": charts.share_chart("culture_category", shares, columns) if columns else ""}
    entities = found["entities"]
    if entities is not None:
        stage, stats = entities
        rows = []
        for lang in stats.langs():
            top = stats.top_entities(lang)
            rows.append([lang, NOT_MEASURED if top is None else ", ".join(f"{e} ({n})" for e, n in top) or "none found"])
        view["entities"] = {"stage": stage, "rows": rows}
    return view


def _cells(shares: dict | None, columns: list[str], fmt, missing: str) -> list[str]:
    if shares is None:
        return [missing] * len(columns)
    return [fmt(*shares[c]) if c in shares else "0" for c in columns]


def _accuracy_view(evaluations: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """Keyword and entity accuracy of every evaluation side by side, per lang/source; None without evaluations."""
    if not evaluations:
        return None
    scores = {(name, f"{s['lang']}/{s['source']}", s["metric"]): s["score"]
              for name, rows in evaluations.items() for s in rows if s["metric"] in ACCURACY}
    groups = sorted({g for _, g, _ in scores})
    header = ["lang/source", *(f"{name}: {label}" for name in evaluations for label in ACCURACY.values())]
    rows = [[g, *(_score_cell(scores.get((name, g, metric))) for name in evaluations for metric in ACCURACY)]
            for g in groups]
    measured = {metric: any(m == metric for _, _, m in scores) for metric in ACCURACY}
    return {"header": header, "rows": rows, "measured": measured}


def _score_cell(score: float | None) -> str:
    from mella.dataset.culture_stats import NOT_MEASURED

    return NOT_MEASURED if score is None else f"{score:.3f}"


def _models(run: RunData) -> list[str]:
    found: Counter = Counter()
    for stage in run.stages:
        for col in ("caption_model", "translation_model", "model"):
            if col in stage.columns:
                from mella.report.data import _read_columns

                found.update(r[col] for r in _read_columns(stage.parts, [col]) if r.get(col))
    return sorted(found)


def _comparison(run: RunData, others: list[RunData]) -> dict[str, Any] | None:
    if not others:
        return None
    runs = [run, *others]
    stages = sorted({s for r in runs for s in r.totals()}, key=lambda s: min(
        (i for r in runs for i, name in enumerate(r.totals()) if name == s), default=99))
    totals = [{"name": r.name, "path": str(r.path), "rows": [r.totals().get(s) for s in stages]} for r in runs]
    return {"stages": stages, "runs": totals}


def build_context(run_dir: str | Path, compare: list[str | Path] = (), per_lang: int = 6) -> dict[str, Any]:
    """Everything the template shows, with charts already drawn."""
    run = RunData(run_dir)
    stages, per_lang_counts = run.funnel()
    reasons = run.drop_reasons()
    dists = []
    for column, lo, hi in (("lang_confidence", 0.0, 1.0), ("relevance_alt", None, None), ("relevance", None, None),
                           ("culture_score", 0.0, 1.0)):
        values = run.values(column)
        if values:
            dists.append({"column": column, "chart": charts.histograms(column, values, lo, hi)})
    evaluations = run.evaluations()
    others = [RunData(p) for p in compare]
    evaluations_all = dict(evaluations)
    for other in others:
        for name, rows in other.evaluations().items():
            evaluations_all[f"{other.name}:{name}"] = rows
    models = _models(run)
    gallery, skipped_images = run.gallery(per_lang)
    return {
        "run": run,
        "manifest": run.manifest,
        "state": run_state(run.manifest, run.path),
        "stages": run.stages,
        "funnel": {"stages": stages, "per_lang": per_lang_counts,
                   "chart": charts.funnel_chart(stages, per_lang_counts) if stages else ""},
        "reasons": [{"stage": s, "table": t, "chart": charts.reasons_chart(s, t)} for s, t in reasons.items()],
        "distributions": dists,
        "gallery": gallery,
        "skipped_images": dict(sorted(skipped_images.items())),
        "metrics": _metric_views(evaluations_all) if evaluations_all else [],
        "evaluations": evaluations_all,
        "culture": _culture_view(run, evaluations_all),
        "models": models,
        "tiny_models": [m for m in models if "tiny" in m],
        "comparison": _comparison(run, others),
    }


def write_report(run_dir: str | Path, out: str | Path | None = None, compare: list[str | Path] = (),
                 per_lang: int = 6) -> Path:
    """Render the report of ``run_dir`` to ``out`` (default: ``run_dir/report.html``)."""
    out_path = Path(out) if out else Path(run_dir) / "report.html"
    html = _env().get_template(TEMPLATE).render(**build_context(run_dir, compare, per_lang))
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out_path)
    return out_path
