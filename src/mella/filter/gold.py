"""The labelled alt-text gold set as candidate rows, and the figures the filter is judged by.

``alt_gold.tsv`` (tab-separated, no quoting) holds real alts with their language and kind;
``alt_gold_pages.tsv`` holds the page fields of each source file (url, domain, ``<html lang>``,
``Content-Language`` meta, ``og:locale``, title) read from the same pages, so the cascade sees the
page evidence it would see in a real run.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

BAD_KINDS = {"boilerplate", "filename"}


def read_tsv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header and no quoting."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def candidate_rows(folder: str | Path) -> list[dict[str, Any]]:
    """The gold alts as CANDIDATES rows (+ ``gold_lang``, ``gold_kind``), in file order."""
    folder = Path(folder)
    pages = {p["file"]: p for p in read_tsv(folder / "alt_gold_pages.tsv")}
    rows = []
    for i, g in enumerate(read_tsv(folder / "alt_gold.tsv")):
        page = pages.get(g["file"], {})
        url = page.get("page_url") or f"https://unknown.invalid/{g['file']}"
        rows.append({
            "page_url": url, "image_url": f"{url.rstrip('/')}/img/{i}.jpg", "alt": g["alt"],
            "img_title": None, "figcaption": None, "context": None,
            "page_title": page.get("page_title") or None, "html_lang": page.get("html_lang") or None,
            "content_language": page.get("content_language") or None,
            "og_locale": page.get("og_locale") or None, "domain": page.get("domain") or None,
            "source": g["file"], "source_offset": -1,
            "gold_lang": g["lang"], "gold_kind": g["kind"], "page_lang": g["page_lang"],
        })
    return rows


def langid_accuracy(rows: list[dict[str, Any]], predicted: list[str]) -> dict[str, tuple[int, int]]:
    """Per gold language: (correct, total) over rows whose gold language is a real language."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, lang in zip(rows, predicted, strict=True):
        gold = row["gold_lang"]
        if gold in ("und", "mixed"):
            continue
        out[gold][1] += 1
        out[gold][0] += lang == gold
    return {k: (v[0], v[1]) for k, v in out.items()}


def kept_figures(rows: list[dict[str, Any]], kept: list[dict[str, Any]], targets: set[str]) -> dict[str, Any]:
    """Precision of kept alts and recall of target-language descriptions, overall and per language.

    A kept alt is right when its gold language is the language the filter gave it, that language
    is a target, and its kind is neither boilerplate nor a file name.
    """
    kept_ids = {id_of(r): r["lang"] for r in kept}
    good, total = Counter(), Counter()
    found, wanted = Counter(), Counter()
    for row in rows:
        gold, lang = row["gold_lang"], kept_ids.get(id_of(row))
        if lang is not None:
            total[lang] += 1
            good[lang] += gold == lang and gold in targets and row["gold_kind"] not in BAD_KINDS
        if row["gold_kind"] == "description" and gold in targets:
            wanted[gold] += 1
            found[gold] += lang == gold
    return {"precision": (sum(good.values()), sum(total.values())),
            "recall": (sum(found.values()), sum(wanted.values())),
            "precision_by_lang": {k: (good[k], total[k]) for k in sorted(total)},
            "recall_by_lang": {k: (found[k], wanted[k]) for k in sorted(wanted)}}


def id_of(row: dict[str, Any]) -> tuple[str, str]:
    """Gold rows are unique by (image_url, alt): image URLs are numbered per row."""
    return row["image_url"], row["alt"]
