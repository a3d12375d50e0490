"""What the judgements say: win/tie/loss of blind pairwise comparisons, mean ratings, inter-rater agreement, and how
far the automatic metrics agree with the raters, per language and task kind.

- **Win/tie/loss** are de-randomised through ``shown_a`` (the system shown as A): a rater's "A" is a win for
  whichever system was shown as A on that item. Rates pool every judgement; the 95% interval is a percentile
  bootstrap that resamples *items* (with all their raters' judgements), seeded, because judgements of one item
  are not independent.
- **Mean ratings** per question (1-5), with the same item bootstrap.
- **Krippendorff's alpha** over raters x items with the ``krippendorff`` package, ordinal for every question: the
  1-5 scales are ordered categories whose distances are not known to be equal, and the preference, read for one
  system, is ordered too (the other is better < about the same < this one is better). Nominal alpha would count
  "A better" vs "tie" as as much a disagreement as "A better" vs "B better".
- **Spearman's rho** per item between the human judgement and each automatic metric: pairwise, the mean over raters
  of +1 / 0 / -1 (preference for system X) against metric(X) - metric(Y) from the systems' ``items.parquet``;
  ratings, the mean rating per item against per-sample scores given by the caller.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mella.rate.scales import QUESTIONS, VALUES

N_BOOT = 2000
LEVEL = "ordinal"
#: items.parquet columns that are not a score of the prediction (counts behind keyword_accuracy, the keys)
NOT_METRICS = {"id", "lang", "source", "keyword_hits", "keyword_total"}


# -- small statistics ------------------------------------------------------------------------------

def bootstrap_ci(per_item: list[tuple[float, float]], *, seed: int, n_boot: int = N_BOOT,
                 level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """(point, low, high) of sum(numerators) / sum(denominators) over items, the interval from resampling items
    with replacement ``n_boot`` times (percentile method, seeded). None where there are no items."""
    import numpy as np

    if not per_item:
        return None, None, None
    num = np.array([p[0] for p in per_item], dtype=float)
    den = np.array([p[1] for p in per_item], dtype=float)
    if den.sum() == 0:
        return None, None, None
    point = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per_item), size=(n_boot, len(per_item)))
    dens = den[idx].sum(axis=1)
    stats = num[idx].sum(axis=1)[dens > 0] / dens[dens > 0]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return point, float(low), float(high)


def _ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho (Pearson's r of the tie-averaged ranks); None with fewer than 3 pairs or a constant side."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True)
             if a is not None and b is not None and not (math.isnan(a) or math.isnan(b))]
    if len(pairs) < 3:
        return None
    rx, ry = _ranks([p[0] for p in pairs]), _ranks([p[1] for p in pairs])
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def alpha(values: dict[str, dict[str, float]], domain: list[float], level: str = LEVEL) -> float | None:
    """Krippendorff's alpha of ``{rater: {item: value}}`` (the ``krippendorff`` package); None when it is not
    defined: fewer than two raters on any item, or a single value used throughout."""
    import numpy as np

    from mella.errors import require

    krippendorff = require("krippendorff", "rate", "Krippendorff's alpha")
    raters = sorted(values)
    items = sorted({i for v in values.values() for i in v})
    matrix = np.full((len(raters), len(items)), np.nan)
    for r, rater in enumerate(raters):
        for c, item in enumerate(items):
            if item in values[rater]:
                matrix[r, c] = values[rater][item]
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if not pairable.any() or len({v for v in matrix[:, pairable].ravel() if not np.isnan(v)}) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=matrix[:, pairable], level_of_measurement=level,
                                    value_domain=domain))


# -- per group -------------------------------------------------------------------------------------

def preference_for(judgement: dict[str, Any], system: str) -> int:
    """+1 when the rater preferred ``system``, -1 when they preferred the other, 0 for a tie (de-randomised)."""
    value = judgement["value"]
    if value == "tie":
        return 0
    shown_a = judgement["shown_a"]
    return (1 if value == "A" else -1) * (1 if shown_a == system else -1)


def _ci(point_low_high: tuple[float | None, float | None, float | None]) -> dict[str, float | None]:
    point, low, high = point_low_high
    return {"value": point, "low": low, "high": high}


def _pairwise(rows: list[dict[str, Any]], systems: tuple[str, str], seed: int, n_boot: int,
              metrics: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    x, y = systems
    by_item: dict[str, list[int]] = defaultdict(list)
    sample_of: dict[str, str] = {}
    for j in rows:
        by_item[j["item_id"]].append(preference_for(j, x))
        sample_of[j["item_id"]] = j["sample_id"]
    items = sorted(by_item)
    out: dict[str, Any] = {"systems": [x, y]}
    for name, hit in (("win", 1), ("tie", 0), ("loss", -1)):
        per_item = [(sum(p == hit for p in by_item[i]), len(by_item[i])) for i in items]
        out[name] = _ci(bootstrap_ci(per_item, seed=seed, n_boot=n_boot))
    per_rater: dict[str, dict[str, float]] = defaultdict(dict)
    for j in rows:
        per_rater[j["rater"]][j["item_id"]] = preference_for(j, x)
    out["alpha"] = {"preference": {"value": alpha(per_rater, [-1, 0, 1]), "level": LEVEL}}
    human = {i: sum(by_item[i]) / len(by_item[i]) for i in items}
    out["correlations"] = _metric_correlations(human, sample_of, metrics, systems)
    return out


def _metric_correlations(human: dict[str, float], sample_of: dict[str, str],
                         metrics: dict[str, dict[str, dict[str, float]]],
                         systems: tuple[str, str]) -> list[dict[str, Any]]:
    """Spearman's rho of the per-item preference for systems[0] against metric(systems[0]) - metric(systems[1])."""
    x, y = systems
    if x not in metrics or y not in metrics:
        return []
    names = sorted({m for s in (x, y) for row in metrics[s].values() for m in row})

    def difference(sample: str, metric: str) -> float | None:
        mx, my = metrics[x].get(sample, {}).get(metric), metrics[y].get(sample, {}).get(metric)
        return None if mx is None or my is None else mx - my

    return _correlations("preference", human, sample_of, names, difference)


def _correlations(question: str, human: dict[str, float], sample_of: dict[str, str], metrics: list[str],
                  score: Callable[[str, str], float | None]) -> list[dict[str, Any]]:
    """Per metric, Spearman's rho of the per-item human judgement against ``score(sample id, metric)`` over the
    items that have a score (None: none)."""
    out = []
    for metric in metrics:
        hs, ms = [], []
        for item, h in human.items():
            value = score(sample_of[item], metric)
            if value is not None:
                hs.append(h)
                ms.append(value)
        out.append({"question": question, "metric": metric, "rho": spearman(hs, ms), "n": len(hs)})
    return out


def _ratings(rows: list[dict[str, Any]], kind: str, seed: int, n_boot: int,
             sample_scores: dict[str, dict[str, float]]) -> dict[str, Any]:
    means, alphas, correlations = {}, {}, []
    names = sorted({m for s in sample_scores.values() for m in s})
    for question in QUESTIONS[kind]:
        qrows = [j for j in rows if j["question"] == question]
        by_item: dict[str, list[float]] = defaultdict(list)
        per_rater: dict[str, dict[str, float]] = defaultdict(dict)
        sample_of: dict[str, str] = {}
        for j in qrows:
            by_item[j["item_id"]].append(float(j["value"]))
            per_rater[j["rater"]][j["item_id"]] = float(j["value"])
            sample_of[j["item_id"]] = j["sample_id"]
        per_item = [(sum(v), len(v)) for _, v in sorted(by_item.items())]
        means[question] = {**_ci(bootstrap_ci(per_item, seed=seed, n_boot=n_boot)), "n": len(qrows)}
        alphas[question] = {"value": alpha(per_rater, [float(v) for v in VALUES[question]]), "level": LEVEL}
        human = {i: sum(v) / len(v) for i, v in by_item.items()}
        correlations += _correlations(question, human, sample_of, names,
                                      lambda sample, metric: sample_scores.get(sample, {}).get(metric))
    return {"means": means, "alpha": alphas, "correlations": correlations}


def analyse(judgements: Iterable[dict[str, Any]], *, seed: int = 0, n_boot: int = N_BOOT,
            metrics: dict[str, dict[str, dict[str, float]]] | None = None,
            sample_scores: dict[str, dict[str, float]] | None = None) -> list[dict[str, Any]]:
    """One result per (language, kind[, system pair]) of the judgements (as :meth:`RatingStore.judgements` gives).

    ``metrics``: system -> sample id -> metric -> per-item score (:func:`read_metrics`), for the pairwise
    correlations; ``sample_scores``: sample id -> score name -> value, for the rating correlations.
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for j in judgements:
        pair = tuple(sorted((j["shown_a"], j["shown_b"]))) if j["kind"] == "pairwise" else None
        groups[(j["lang"], j["kind"], pair)].append(j)
    out = []
    for (lang, kind, pair), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ())):
        result: dict[str, Any] = {"lang": lang, "kind": kind, "items": len({j["item_id"] for j in rows}),
                                  "raters": len({j["rater"] for j in rows}), "judgements": len(rows)}
        if kind == "pairwise":
            result.update(_pairwise(rows, pair, seed, n_boot, metrics or {}))
        else:
            result.update(_ratings(rows, kind, seed, n_boot, sample_scores or {}))
        out.append(result)
    return out


# -- inputs and outputs ----------------------------------------------------------------------------

def read_metrics(items_parquet: str | Path) -> dict[str, dict[str, float]]:
    """sample id -> metric -> score from an evaluate step's ``items.parquet`` (numeric metric columns only)."""
    import pyarrow.parquet as pq

    table = pq.read_table(items_parquet)
    names = [f.name for f in table.schema
             if f.name not in NOT_METRICS and (f.type.id in _numeric_ids())]
    out: dict[str, dict[str, float]] = {}
    for row in table.select(["id", *names]).to_pylist():
        scores = {m: float(row[m]) for m in names if row[m] is not None and not math.isnan(row[m])}
        out.setdefault(row["id"], scores)
    return out


def _numeric_ids() -> set[int]:
    import pyarrow as pa

    return {pa.float64().id, pa.float32().id, pa.int64().id, pa.int32().id}


def judgement_table(judgements: list[dict[str, Any]]):
    """The judgements as an arrow table (the columns of :meth:`RatingStore.judgements`; times as UTC timestamps)."""
    import pyarrow as pa

    from mella.records import JUDGEMENTS as schema

    rows = [{**{k: j.get(k) for k in schema.names},
             "created_at": round(j["created_at"] * 1000), "updated_at": round(j["updated_at"] * 1000)}
            for j in judgements]
    return pa.Table.from_pylist(rows, schema=schema)


def write_outputs(judgements: list[dict[str, Any]], results: list[dict[str, Any]], out_dir: str | Path,
                  extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """``judgements.parquet``, ``judgements.csv`` and ``rate_report.json`` in ``out_dir``."""
    import json

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": out / "judgements.parquet", "csv": out / "judgements.csv", "json": out / "rate_report.json"}
    table = judgement_table(judgements)
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(table, paths["csv"])
    doc = {**(extra or {}), "results": results}
    paths["json"].write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return paths


# -- the printed table -----------------------------------------------------------------------------

def _fmt(ci: dict[str, Any], percent: bool = False) -> str:
    if ci.get("value") is None:
        return "-"
    k = 100 if percent else 1
    unit = "%" if percent else ""
    digits = 0 if percent else 2
    return f"{ci['value'] * k:.{digits}f}{unit} [{ci['low'] * k:.{digits}f}, {ci['high'] * k:.{digits}f}]"


def _alpha(a: dict[str, Any]) -> str:
    return "-" if a["value"] is None else f"{a['value']:.3f} ({a['level']})"


def render_table(results: list[dict[str, Any]]) -> str:
    """The results as plain text lines: one block per language and kind."""
    lines = []
    for r in results:
        head = f"{r['lang']} {r['kind']}: {r['items']} items, {r['raters']} raters, {r['judgements']} judgements"
        if r["kind"] == "pairwise":
            x, y = r["systems"]
            lines.append(f"{head}; {x} vs {y}")
            lines.append(f"  {x} wins {_fmt(r['win'], True)}  ties {_fmt(r['tie'], True)}  "
                         f"{y} wins {_fmt(r['loss'], True)}  (95% bootstrap CI over items)")
            lines.append(f"  alpha preference {_alpha(r['alpha']['preference'])}")
        else:
            lines.append(head)
            for q, m in r["means"].items():
                lines.append(f"  {q:<12} mean {_fmt(m)}  alpha {_alpha(r['alpha'][q])}")
        for c in r["correlations"]:
            rho = "-" if c["rho"] is None else f"{c['rho']:+.3f}"
            lines.append(f"  spearman {c['question']} vs {c['metric']}: {rho} (n={c['n']})")
    return "\n".join(lines) if lines else "no judgements yet"
