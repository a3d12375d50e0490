"""Write the column tables of docs/formats.md from ``mella.records``, the one place the row schemas are defined.

    python tools/gen_formats.py            # rewrite the generated blocks of docs/formats.md
    python tools/gen_formats.py --check    # exit 1 if docs/formats.md is not what this would write

Each table sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->`` (NAME a key of
``mella.records.SCHEMAS``); everything outside the markers is hand-written prose and kept as it is. Every schema
needs a block, so a new schema cannot go undocumented. ``tests/test_formats.py`` runs the check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "formats.md"
END = "<!-- end generated -->"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(" + re.escape(END) + ")", re.S)


def type_name(t: pa.DataType) -> str:
    """A type as the tables show it: Arrow's own name, without the list item's field name."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f"{t.field(i).name}: {type_name(t.field(i).type)}"
                                     for i in range(t.num_fields)) + ">"
    return str(t)


def table(name: str) -> str:
    """The generated text of schema ``name``: its columns (those it adds to its base), types and meanings."""
    from mella import records

    schema, meanings = records.SCHEMAS[name], records.MEANINGS[name]
    base = records.BASES.get(name)
    own = [f for f in schema if base is None or records.SCHEMAS[base].get_field_index(f.name) < 0]
    lines = [f"The columns of `{base}`, then:\n"] if base else []
    lines += ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{f.name}` | `{type_name(f.type)}` | {_cell(meanings[f.name])} |" for f in own]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # A bare | would split the table cell.
    return text.replace("|", "\\|")


def render(text: str) -> str:
    """``text`` (docs/formats.md) with every generated block rewritten; refuses unknown or missing schemas."""
    from mella import records

    names = [m.group("name") for m in BLOCK.finditer(text)]
    unknown = [n for n in names if n not in records.SCHEMAS]
    missing = [n for n in records.SCHEMAS if n not in names]
    if unknown or missing:
        raise SystemExit(f"{DOC.relative_to(ROOT)}: generated blocks for unknown schemas {unknown}, "
                         f"none for {missing} (mella.records.SCHEMAS)")
    return BLOCK.sub(lambda m: m.group(1) + table(m.group("name")) + m.group(4), text)


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    wanted = render(text)
    if "--check" in argv:
        if wanted != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run `python tools/gen_formats.py`", file=sys.stderr)
            return 1
        return 0
    if wanted != text:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
