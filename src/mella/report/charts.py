"""Charts as inline SVG, drawn with matplotlib (no JavaScript, so the report needs nothing but a browser)."""

from __future__ import annotations

import io
from typing import Any

_COLORS = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e",
           "#6b6b6b", "#c9c9c9"]  # eleven: one per culture category


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display; also safe in worker processes
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue and doctype: the SVG sits inside HTML


def funnel_chart(stages: list[str], per_lang: dict[str, list[int | None]]) -> str:
    """Grouped bars: rows kept by each stage, one colour per language."""
    plt = _plt()
    langs = list(per_lang)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(stages) + 2), 3.0))
    width = 0.8 / max(len(langs), 1)
    for j, lang in enumerate(langs):
        xs = [i + j * width for i in range(len(stages))]
        ax.bar(xs, [n or 0 for n in per_lang[lang]], width=width, label=lang, color=_COLORS[j % len(_COLORS)])
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(stages))], stages)
    ax.set_ylabel("rows kept")
    ax.legend(ncols=min(len(langs), 5), fontsize=8, frameon=False)
    return _svg(fig)


def reasons_chart(title: str, table: dict[str, Any]) -> str:
    """Stacked horizontal bars: drop reasons per language for one stage."""
    reasons = sorted({r for c in table.values() for r in c}, key=lambda r: -sum(c.get(r, 0) for c in table.values()))
    fig, ax = _stacked_bars(_plt(), table, reasons, width=6.0)
    ax.set_title(title, loc="left")
    ax.set_xlabel("rows dropped")
    return _svg(fig)


def _stacked_bars(plt: Any, table: dict[str, Any], columns: list[str], width: float) -> tuple[Any, Any]:
    """One horizontal bar per language (the keys of ``table``), stacked from its values in ``columns`` order,
    each column in its own colour, with the legend outside on the right: the figure and axes, for the caller's
    titles and limits."""
    langs = list(table)
    fig, ax = plt.subplots(figsize=(width, 0.35 * len(langs) + 1.2))
    left = [0] * len(langs)
    for k, column in enumerate(columns):
        vals = [table[lang].get(column, 0) for lang in langs]
        ax.barh(langs, vals, left=left, label=column, color=_COLORS[k % len(_COLORS)])
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    return fig, ax


def histograms(title: str, values: dict[str, list[float]], lo: float | None = None, hi: float | None = None) -> str:
    """One small histogram per language."""
    plt = _plt()
    langs = list(values)
    cols = min(len(langs), 4)
    rows = (len(langs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 1.8 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(langs):
            ax.set_visible(False)
            continue
        rng = (lo, hi) if lo is not None and hi is not None else None
        ax.hist(values[langs[i]], bins=20, range=rng, color=_COLORS[i % len(_COLORS)])
        ax.set_title(f"{langs[i]} (n={len(values[langs[i]])})", fontsize=8)
    fig.suptitle(title, x=0.02, ha="left", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def metric_chart(metric: str, series: dict[str, dict[str, float | None]]) -> str:
    """Grouped bars of one metric: groups are (lang, source), one bar per evaluation."""
    plt = _plt()
    groups = sorted({g for s in series.values() for g in s})
    names = list(series)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(groups) + 2), 2.8))
    width = 0.8 / max(len(names), 1)
    for j, name in enumerate(names):
        xs = [i + j * width for i in range(len(groups))]
        ys = [series[name].get(g) or 0.0 for g in groups]
        ax.bar(xs, ys, width=width, label=name, color=_COLORS[j % len(_COLORS)])
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], groups, rotation=30, ha="right")
    top = max((v or 0.0 for s in series.values() for v in s.values()), default=0.0)
    ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)  # scores are never negative; all-zero still shows an axis
    ax.set_title(metric, loc="left")
    if len(names) > 1:
        ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def share_chart(title: str, shares: dict[str, dict[str, float]], columns: list[str]) -> str:
    """Stacked horizontal bars: per language, the share of its rows in each column (a category), 0-1."""
    fig, ax = _stacked_bars(_plt(), shares, columns, width=6.5)
    ax.set_xlim(0, 1)
    ax.set_title(title, loc="left")
    ax.set_xlabel("share of D_know rows")
    return _svg(fig)
