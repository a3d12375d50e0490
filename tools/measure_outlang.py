"""Measure the output-language rate and the sentence splitter on real text the code was not tuned on.

    python tools/measure_outlang.py CORPUS [--show-splits N]

CORPUS is a checkout of the shared corpus (web/, labels/alt_gold.tsv). Prints, per material and target language,
the share of texts the ``output_lang_rate`` metric counts as the target (native text should be near 1, text in a
confusable language and letter shuffles near 0). Run it once with this tree and once with an older tree on
PYTHONPATH to compare versions. ``--show-splits N`` also prints the splitter's output on N English page paragraphs
(a sample of the page paragraphs of ``--split-langs`` with a sentence end inside, for checking by hand). Nothing here is read by mella at run time.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import re
import unicodedata
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

from mella.collect.decode import decode_html
from mella.evaluate.textproc import processor

TARGETS = ("ar", "cs", "hu", "ko", "ru", "sr", "th", "vi")
PER_FILE = 30   # paragraphs per page, so one long page does not dominate
MIN_LETTERS = 20
# Text in one language scored against a target it can be mistaken for (web/other page languages).
CONFUSABLE = {"ru": ["sr"], "bg": ["sr", "ru"], "uk": ["sr", "ru"], "pl": ["cs"], "en": ["cs", "hu", "vi"]}
_LETTER = re.compile(r"[^\W\d_]")


class _Paragraphs(HTMLParser):
    """The text of every <p> element, whitespace-normalised."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.buf, self.out = 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "p" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.out.append(" ".join("".join(self.buf).split()))
                self.buf = []

    def handle_data(self, data):
        if self.depth:
            self.buf.append(data)


def letters(text: str) -> int:
    return len(_LETTER.findall(text))


def page_paragraphs(path: Path) -> list[str]:
    if path.name.endswith(".warc.gz"):
        return []
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    parser = _Paragraphs()
    parser.feed(decode_html(data).text)
    seen = dict.fromkeys(unicodedata.normalize("NFC", p) for p in parser.out
                         if letters(p) >= MIN_LETTERS and "\ufffd" not in p)
    return list(seen)[:PER_FILE]


def paragraphs_by_lang(corpus: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    with open(corpus / "web" / "PROVENANCE.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            out[row["lang"]].extend(page_paragraphs(corpus / "web" / row["file"]))
    return out


def native_alts(corpus: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    with open(corpus / "labels" / "alt_gold.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            lang = row["lang"].split("-")[0]
            if lang in TARGETS and lang == row["page_lang"]:
                out[lang].append(row["alt"])
    return out


def shuffled(text: str, rng: random.Random) -> str:
    """The letters of ``text`` in a random order, spaces and punctuation where they were."""
    chars = [c for c in text if _LETTER.match(c)]
    rng.shuffle(chars)
    it = iter(chars)
    return "".join(next(it) if _LETTER.match(c) else c for c in text)


def rate(texts: list[str], target: str) -> tuple[float, int]:
    from mella.evaluate.metrics.outlang import OutputLanguage

    proc = processor(target)
    metric = OutputLanguage(proc)
    hits = [metric.is_target(proc.process(t)) for t in texts]
    return sum(hits) / len(hits) if hits else float("nan"), len(hits)


def measure(corpus: Path) -> None:
    paras, alts = paragraphs_by_lang(corpus), native_alts(corpus)
    rng = random.Random(0)
    rows = []
    for lang in TARGETS:
        short = [a for a in alts[lang] if letters(a) < MIN_LETTERS]
        long = [a for a in alts[lang] if letters(a) >= MIN_LETTERS]
        rows += [("native alt <20 letters", lang, lang, *rate(short, lang)),
                 ("native alt >=20 letters", lang, lang, *rate(long, lang)),
                 ("native page paragraph", lang, lang, *rate(paras[lang], lang)),
                 ("letter shuffle of paragraph", lang, lang, *rate([shuffled(p, rng) for p in paras[lang]], lang))]
    for lang, targets in CONFUSABLE.items():
        rows += [("confusable page paragraph", lang, t, *rate(paras[lang], t)) for t in targets]
    print("material\ttext lang\ttarget\trate\tn")
    for material, lang, target, value, n in rows:
        print(f"{material}\t{lang}\t{target}\t{value:.3f}\t{n}")


def show_splits(corpus: Path, n: int, langs: list[str]) -> None:
    from mella.annotate.sentences import split_sentences

    paras = paragraphs_by_lang(corpus)
    pool = [(lang, p) for lang in langs for p in paras[lang] if re.search(r"[.!?…]\s+\S", p)]
    cut = sum(len(split_sentences(p, lang)) > 1 for lang, p in pool)
    print(f"# {len(pool)} page paragraphs with a sentence end inside ({','.join(langs)}); {cut} split; {n} shown")
    for lang, p in random.Random(1).sample(pool, min(n, len(pool))):
        print("---", lang)
        for s in split_sentences(p, lang):
            print("  |", s.text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--show-splits", type=int, default=0)
    ap.add_argument("--split-langs", default="en,cs,hu,ru,vi", help="page languages for --show-splits")
    args = ap.parse_args()
    if args.show_splits:
        show_splits(args.corpus, args.show_splits, args.split_langs.split(","))
    else:
        measure(args.corpus)


if __name__ == "__main__":
    main()
