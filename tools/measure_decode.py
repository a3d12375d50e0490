"""Measure collect's text-decoding decisions on a folder of saved pages (one code version per run).

    python tools/measure_decode.py dump <corpus/web> <out.json> [--skip-names <tests/data/web>]
    python tools/measure_decode.py compare <old.json> <new.json>

``dump`` runs every ``.html``, ``.html.gz`` and ``.warc(.gz)`` page under the folder through the code on
``sys.path`` (set PYTHONPATH to measure another checkout): the binary test, the chosen encoding and its
source (``decode_html``), and the rows ``extract_page`` gives. Files whose name is also under
``--skip-names`` (the pages the tests were written on) are left out. ``compare`` counts pages called
binary, pages whose encoding changed, and alts and characters that differ, and prints a few differences.
Nothing in mella reads this tool or the corpus.
"""

from __future__ import annotations

import difflib
import gzip
import json
import sys
from pathlib import Path


def pages(root: Path, skip: set[str]):
    from mella.collect.warc import warc_pages

    for path in sorted(root.rglob("*")):
        name = path.name
        if not path.is_file() or name in skip:
            continue
        if name.endswith((".html", ".htm")):
            yield str(path.relative_to(root)), path.read_bytes(), {}
        elif name.endswith(".html.gz"):
            yield str(path.relative_to(root)), gzip.decompress(path.read_bytes()), {}
        elif name.endswith((".warc", ".warc.gz")):
            for record in warc_pages(str(path), 50_000_000):
                if record.get("kind") == "page":
                    yield f"{path.relative_to(root)}#{record['offset']}", record["data"], record["headers"]


def dump(root: Path, out: Path, skip_dir: Path | None) -> None:
    from mella.collect.decode import decode_html, looks_binary
    from mella.collect.html import _CHARSET, extract_page

    skip = {p.name for p in skip_dir.rglob("*") if p.is_file()} if skip_dir else set()
    result = {}
    for key, data, headers in pages(root, skip):
        match = _CHARSET.search(headers.get("Content-Type", ""))
        decoded = decode_html(data, match.group(1) if match else None)
        rows = extract_page(data, "https://example.org/" + key, headers)
        result[key] = {"binary": looks_binary(data), "encoding": decoded.encoding, "source": decoded.source,
                       "skip": rows.skip_reason,
                       "alts": [r["alt"] for r in rows.rows], "titles": sorted({r["page_title"] for r in rows.rows})}
    out.write_text(json.dumps(result, ensure_ascii=False, indent=0))
    print(f"{len(result)} pages, {sum(v['binary'] for v in result.values())} binary")


def compare(old_path: Path, new_path: Path) -> None:
    old, new = (json.loads(p.read_text()) for p in (old_path, new_path))
    keys = sorted(old.keys() & new.keys())
    binary = {v: sum(d[k]["binary"] for k in keys) for v, d in (("old", old), ("new", new))}
    enc = [k for k in keys if (old[k]["encoding"], old[k]["source"]) != (new[k]["encoding"], new[k]["source"])]
    alts_total = sum(len(new[k]["alts"]) for k in keys)
    alts_diff = chars_diff = 0
    examples = []
    for k in keys:
        a, b = old[k]["alts"], new[k]["alts"]
        if a == b:
            continue
        for x, y in zip(a, b, strict=False):  # a page may gain or lose alts
            if x != y:
                alts_diff += 1
                ops = difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes()
                chars_diff += sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
                examples.append((k, x, y))
        alts_diff += abs(len(a) - len(b))
    print(f"pages {len(keys)}, alts {alts_total}")
    print(f"binary: old {binary['old']}, new {binary['new']}")
    print(f"encoding or its source changed: {len(enc)}")
    for k in enc:
        print(f"  {k}: {old[k]['encoding']}/{old[k]['source']} -> {new[k]['encoding']}/{new[k]['source']}")
    titles = sum(old[k]["titles"] != new[k]["titles"] for k in keys)
    print(f"alts that differ: {alts_diff}, characters that differ: {chars_diff}; pages whose title differs: {titles}")
    for k, x, y in examples[:8]:
        print(f"  {k}\n    old {x[:100]!r}\n    new {y[:100]!r}")


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[0] == "dump":
        skip = Path(argv[argv.index("--skip-names") + 1]) if "--skip-names" in argv else None
        dump(Path(argv[1]), Path(argv[2]), skip)
    elif len(argv) == 3 and argv[0] == "compare":
        compare(Path(argv[1]), Path(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
