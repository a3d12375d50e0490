"""How the offline cultural-relevance rating (``mella culture``) treats the labelled alt-texts, per split and kind.

    .venv/bin/python tools/measure_culture.py
    .venv/bin/python tools/measure_culture.py --json out.json

There are no culture labels: this measures whether the score separates what the gold set's ``kind`` labels
separate. Per gold file (alt_gold: real pages; sites_gold: the example sites), split (dev, holdout) and gold kind (description, entity, name, boilerplate, filename, other): rows,
mean ``culture_score``, the share rated ``screenshot_ui`` or ``product``, and the categories. Gold:
tests/data/labels/alt_gold.tsv (real pages) and sites_gold.tsv (the example sites); rows labelled ``und`` or
``mixed`` are rated as their page's language. Only the alt-text and its language are given (no structure
columns: the gold files do not have them). Nothing is printed row by row.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "tests" / "data" / "labels"
sys.path.insert(0, str(ROOT / "src"))


def gold_rows() -> list[dict[str, str]]:
    """(file, split, kind, lang, alt) of both gold files; ``und``/``mixed`` rows take their page's (site's) language."""
    out = []
    for name, page_lang in (("alt_gold.tsv", "page_lang"), ("sites_gold.tsv", "site")):
        with open(LABELS / name, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                lang = r["lang"]
                if lang in ("und", "mixed"):
                    lang = r[page_lang].split("__")[0]
                out.append({"file": name.split("_")[0], "split": r.get("split") or "dev", "kind": r["kind"],
                            "lang": lang, "alt": r["alt"]})
    return out


def measure() -> dict[str, dict[str, dict]]:
    from mella.annotate.culture_rules import rate_offline

    groups: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for r in gold_rows():
        groups[(f"{r['file']} {r['split']}", r["kind"])].append(rate_offline({"alt": r["alt"], "lang": r["lang"]}))
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for (split, kind), rated in sorted(groups.items()):
        categories = Counter(c for _, c in rated)
        out[split][kind] = {
            "rows": len(rated),
            "mean_score": round(sum(s for s, _ in rated) / len(rated), 3),
            "ui_or_product": round((categories["screenshot_ui"] + categories["product"]) / len(rated), 3),
            "categories": dict(categories.most_common()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure()
    for split, kinds in figures.items():
        print(f"{split}:")
        print(f"  {'kind':<12} {'rows':>5} {'mean score':>10} {'ui/product':>10}  categories")
        for kind, f in sorted(kinds.items(), key=lambda kv: -kv[1]["mean_score"]):
            top = ", ".join(f"{c} {n}" for c, n in list(f["categories"].items())[:4])
            print(f"  {kind:<12} {f['rows']:>5} {f['mean_score']:>10.3f} {f['ui_or_product']:>10.0%}  {top}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
