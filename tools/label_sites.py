"""Extract the image alt-texts of site folders as candidate rows of the site gold set, for labelling by hand.

    python tools/label_sites.py SITE_FOLDER [SITE_FOLDER ...] [--labels tests/data/labels/sites_gold.tsv] [-o OUT]

Each SITE_FOLDER is one site (its folder name is the ``site`` column, as in examples/sites/); a site may come in
several folders of the same name (examples/sites/X and tests/data/sites_text/X), rows are kept once. Every page the demo
site server serves (``.md``, ``.html``, ``.htm``) is read the way a crawler meets it: Markdown is rendered with
``mella.demo.render.render_markdown`` (RPi block markers dropped, MDX ``<Illustration alt=...>`` served as
``<img>``, raw HTML ``<img>`` passed through), then every ``<img alt>`` of the HTML is taken, entities unescaped
and whitespace collapsed, empty alts skipped, deduplicated within a file (as in alt_gold.tsv). So the alts are
the strings collect would read from the served pages, and keywords labelled on them are substrings of them.

Writes tab-separated rows (no quoting; tabs and newlines in alts become spaces): site, file, alt, lang, kind,
split, note. ``split`` follows the gold split rule (tests/data/labels/README.md): holdout when the first hex digit
of sha256("<site>/<file>") is 0-5, else dev. With ``--labels``, lang/kind/note are filled from that file's rows
with the same (site, file, alt), so a rerun keeps the hand labels and shows only new alts unlabelled.
Nothing here is read by mella at run time.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

COLUMNS = ("site", "file", "alt", "lang", "kind", "split", "note")
PAGE_SUFFIXES = (".md", ".html", ".htm")
HOLDOUT_FIRST_HEX = "012345"


def split_of(key: str) -> str:
    """The gold split of a page: decided by a hash of its name, before any rule is written, so nobody picks it."""
    return "holdout" if hashlib.sha256(key.encode("utf-8")).hexdigest()[0] in HOLDOUT_FIRST_HEX else "dev"


class _ImgAlts(HTMLParser):
    """Every non-empty ``<img alt>`` of an HTML document, whitespace-collapsed, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.alts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        alt = " ".join((dict(attrs).get("alt") or "").split())
        if alt:
            self.alts.append(alt)

    handle_startendtag = handle_starttag


def page_alts(path: Path) -> list[str]:
    """The alts of one page as served: Markdown rendered first, so code blocks and markers are not images."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".md":
        from mella.demo.render import render_markdown

        text = render_markdown(text, fallback_title=path.stem).body
    parser = _ImgAlts()
    parser.feed(text)
    parser.close()
    return list(dict.fromkeys(parser.alts))


def site_rows(folder: Path) -> list[dict[str, str]]:
    """Candidate rows of one site folder, files in path order."""
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PAGE_SUFFIXES):
        rel = path.relative_to(folder).as_posix()
        for alt in page_alts(path):
            rows.append({"site": folder.name, "file": rel, "alt": alt, "lang": "", "kind": "",
                         "split": split_of(f"{folder.name}/{rel}"), "note": ""})
    return rows


def unique_rows(rows: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Rows once per (site, file, alt), ordered by site and file: a site split over several folders
    (examples/sites/ and tests/data/sites_text/) gives the same file whatever order the folders come in."""
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in rows:
        seen.setdefault((row["site"], row["file"], row["alt"]), row)
    return sorted(seen.values(), key=lambda r: (r["site"], r["file"]))  # stable: page order kept within a file


def read_labels(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """Existing hand labels by (site, file, alt)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return {(r["site"], r["file"], r["alt"]): r for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="site folders (one site each)")
    ap.add_argument("--labels", type=Path, help="an existing sites_gold.tsv whose labels to keep")
    ap.add_argument("-o", "--out", type=Path, help="output TSV (default: stdout)")
    args = ap.parse_args(argv)
    labels = read_labels(args.labels) if args.labels else {}
    rows = unique_rows(row for folder in args.folders for row in site_rows(folder))
    for row in rows:
        old = labels.get((row["site"], row["file"], row["alt"]))
        if old:
            row.update(lang=old["lang"], kind=old["kind"], note=old["note"])
    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        out.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            out.write("\t".join(row[c].replace("\t", " ").replace("\n", " ") for c in COLUMNS) + "\n")
    finally:
        if args.out:
            out.close()
    unlabelled = sum(not r["kind"] for r in rows)
    print(f"{len(rows)} alts from {len(args.folders)} sites, {unlabelled} without a kind", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
