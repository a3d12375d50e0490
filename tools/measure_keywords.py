"""Keyword precision and recall of ``mella keywords`` against the labelled keywords, per split and language.

    .venv/bin/python tools/measure_keywords.py                 # offline method, every resource installed
    .venv/bin/python tools/measure_keywords.py --without kiwipiepy,pymorphy3
    .venv/bin/python tools/measure_keywords.py --show 20       # the first 20 dev rows with a miss (dev only)
    .venv/bin/python tools/measure_keywords.py --json out.json

Gold: tests/data/labels/keywords_gold.tsv (tab-separated, no quoting; columns source, file, alt, lang,
keywords, entities, split, note; lists " | "-separated). The gold keywords of a row are its ``keywords`` and its
``entities`` together; entity precision and recall compare the predicted ``entity`` keywords with ``entities``.

Match rule (docs/culture.md#keywords): a predicted keyword matches a gold one when both are equal after NFC,
case folding, outer punctuation stripped and spaces collapsed; or when the shorter occurs in the longer starting
at a word start and covers the start of the longer's head word (its longest word, the last of equally long
ones): "Светог Саве" matches "Храм Светог Саве" (head "Светог"), "경복궁" matches "경복궁에서", "Храм" alone does
not. Words are what spaces separate; Thai, written without spaces between words, is split by pythainlp's
dictionary segmenter (newmm, as mella's metrics do), so "บัตรเครดิต" matches "ข้อมูลบัตรเครดิต". Each gold keyword is matched at most once and each prediction at most once (equal pairs first).
Counts are summed over rows (micro-averaged) per language and split. Only dev rows are ever printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "tests" / "data" / "labels" / "keywords_gold.tsv"
sys.path.insert(0, str(ROOT / "src"))


def norm(text: str) -> str:
    """NFC, case-folded, outer punctuation stripped, whitespace runs as one space."""
    text = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return text.strip(" \"'«»„“”‘’()[]{}<>.,:;!?…-–—/|")


def _is_word_char(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c).startswith("M")


def thai_words(text: str) -> list[str] | None:
    """Thai words by pythainlp's dictionary segmenter (the one mella's metrics use), None without pythainlp."""
    try:
        from pythainlp.tokenize import word_tokenize
    except ImportError:
        return None
    return word_tokenize(text, engine="newmm", keep_whitespace=True)


def words_of(text: str) -> list[tuple[int, str]]:
    """(offset, word) of each word: split at spaces; a stretch of Thai (no spaces between words) by pythainlp."""
    out, i = [], 0
    for piece in text.split(" "):
        pieces = thai_words(piece) if any("\u0e00" <= c <= "\u0e7f" for c in piece) else None
        j = i
        for w in pieces or [piece]:
            out.append((j, w))
            j += len(w)
        i += len(piece) + 1
    return out


def head_start(text: str) -> int:
    """Offset of the head word: the longest word (letters and digits), the last of equally long ones."""
    best, best_len = 0, -1
    for i, word in words_of(text):
        n = sum(_is_word_char(c) for c in word)
        if n >= best_len:
            best, best_len = i, n
    return best


def matches(pred: str, gold: str) -> bool:
    """The match rule of the module docstring (both already normalised)."""
    if pred == gold:
        return True
    short, long_ = sorted((pred, gold), key=len)
    if not short:
        return False
    head = head_start(long_)
    starts = {i for i, _ in words_of(long_)}
    i = long_.find(short)
    while i >= 0:
        if i in starts and i <= head < i + len(short):
            return True
        i = long_.find(short, i + 1)
    return False


def match_count(preds: list[str], golds: list[str]) -> int:
    """Matched pairs, one-to-one: equal pairs first, then the rest in order."""
    p = [norm(x) for x in preds if norm(x)]
    g = [norm(x) for x in golds if norm(x)]
    used_p, used_g, n = set(), set(), 0
    for exact in (True, False):
        for i, a in enumerate(p):
            if i in used_p:
                continue
            for j, b in enumerate(g):
                if j not in used_g and (a == b if exact else matches(a, b)):
                    used_p.add(i)
                    used_g.add(j)
                    n += 1
                    break
    return n


def split_list(cell: str) -> list[str]:
    return [x.strip() for x in (cell or "").split(" | ") if x.strip()]


def read_gold(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    for r in rows:
        r["entity_list"] = split_list(r.get("entities", ""))
        keys = split_list(r.get("keywords", ""))
        r["keyword_list"] = keys + [e for e in r["entity_list"] if norm(e) not in {norm(k) for k in keys}]
    return rows


def measure(rows: list[dict], predict) -> tuple[dict, list]:
    """{(split, lang): counts} and the per-row predictions."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    out = []
    for r in rows:
        keywords, kinds, method = predict(r["alt"], r["lang"])
        entities = [k for k, kind in zip(keywords, kinds, strict=True) if kind == "entity"]
        c = counts[(r["split"], r["lang"])]
        c["rows"] += 1
        c["gold"] += len(r["keyword_list"])
        c["pred"] += len(keywords)
        c["match"] += match_count(keywords, r["keyword_list"])
        c["gold_entities"] += len(r["entity_list"])
        c["pred_entities"] += len(entities)
        c["match_p_entities"] += match_count(entities, r["entity_list"])
        out.append((r, keywords, kinds, method))
    return counts, out


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def summary(counts: dict) -> dict:
    """Per split: per language and all together, precision and recall of keywords and of entities."""
    table: dict[str, dict[str, dict]] = {}
    for split in sorted({s for s, _ in counts}):
        langs = sorted(lang for s, lang in counts if s == split)
        per: dict[str, dict] = {}
        total: dict[str, int] = defaultdict(int)
        for lang in langs + ["all"]:
            c = total if lang == "all" else counts[(split, lang)]
            if lang != "all":
                for k, v in c.items():
                    total[k] += v
            per[lang] = {"rows": c["rows"], "gold": c["gold"], "pred": c["pred"],
                         "precision": ratio(c["match"], c["pred"]), "recall": ratio(c["match"], c["gold"]),
                         "entity_precision": ratio(c["match_p_entities"], c["pred_entities"]),
                         "entity_recall": ratio(c["match_p_entities"], c["gold_entities"])}
        table[split] = per
    return table


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=GOLD)
    ap.add_argument("--common-zipf", type=float, default=None, help="default: the stage's")
    ap.add_argument("--without", default="", help="offline resources to leave out, comma-separated")
    ap.add_argument("--split", choices=("dev", "holdout", "both"), default="both",
                    help="which split's table to print (while writing rules: dev)")
    ap.add_argument("--lang", default="", help="--show: only rows of these languages (comma-separated)")
    ap.add_argument("--show", type=int, default=0, help="print this many dev rows with a miss")
    ap.add_argument("--json", type=Path, help="write the table here")
    args = ap.parse_args()
    from mella.annotate.salience import COMMON_ZIPF, Extractor

    if not args.gold.is_file():
        sys.exit(f"{args.gold}: no such file (the labelled keywords)")
    rows = read_gold(args.gold)
    without = frozenset(x for x in args.without.split(",") if x)
    extractor = Extractor(COMMON_ZIPF if args.common_zipf is None else args.common_zipf, without)
    t0 = time.perf_counter()
    counts, preds = measure(rows, extractor.extract)
    seconds = time.perf_counter() - t0
    table = summary(counts)
    methods = sorted({m for *_, m in preds})
    print(f"{len(rows)} rows, {seconds:.1f}s (resources loaded on first use included); methods: {', '.join(methods)}")
    for split, per in table.items():
        if args.split not in ("both", split):
            continue
        print(f"\n{split:8s} {'rows':>5s} {'gold':>5s} {'pred':>5s}  {'P':>5s}  {'R':>5s}   {'entP':>5s}  {'entR':>5s}")
        for lang, m in per.items():
            print(f"  {lang:7s} {m['rows']:5d} {m['gold']:5d} {m['pred']:5d}  {fmt(m['precision'])}  "
                  f"{fmt(m['recall'])}   {fmt(m['entity_precision'])}  {fmt(m['entity_recall'])}")
    shown = 0
    for r, keywords, kinds, _ in preds:
        if shown >= args.show or r["split"] != "dev" or (args.lang and r["lang"] not in args.lang.split(",")):
            continue
        if match_count(keywords, r["keyword_list"]) < max(len(keywords), len(r["keyword_list"])):
            shown += 1
            print(f"\n[{r['lang']}] {r['alt']}\n  gold: {' | '.join(r['keyword_list'])}"
                  f"\n  pred: {' | '.join(f'{k}[{kind[0]}]' for k, kind in zip(keywords, kinds, strict=True))}")
    if args.json:
        args.json.write_text(json.dumps({"methods": methods, "table": table}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
