"""The import graph of ``src/mella``: circles and arrows that point up the layers.

    python tools/import_graph.py            # print problems; exit 1 if any
    python tools/import_graph.py --edges    # also print every package-level arrow

Every ``import``/``from ... import`` of a ``mella`` module counts, at module level or inside a function (a lazy
import is still a dependency: it only moves the cost). Modules are grouped into rooms (the sub-package, or the
top-level module) and rooms into layers (:data:`LAYERS`, lowest first). A room may import rooms of its own layer
or lower layers; an arrow to a higher layer is a problem, and so is any circle between modules.
``tests/test_architecture.py`` runs the same checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lowest first. A room imports only from its own layer or below.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"errors", "paths", "languages", "records", "net", "options"}),
    ("run folder", {"runstore", "locks", "overwrite"}),
    ("pipeline core", {"pipeline"}),
    ("data stages", {"collect", "filter", "fetch"}),
    ("models", {"models"}),
    ("model and dataset stages", {"annotate", "evaluate", "dataset", "train"}),
    ("pipeline files", {"config"}),
    ("output", {"report", "rate"}),
    ("entry points", {"cli", "demo", "__init__"}),
]


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(r: str) -> int:
    for i, (_, rooms) in enumerate(LAYERS):
        if r in rooms:
            return i
    raise KeyError(f"room {r!r} is in no layer of tools/import_graph.py")


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The mella modules ``path`` imports (``from mella.x import y`` counts ``mella.x.y`` when that is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t.startswith("mella") and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    files = sorted((SRC / "mella").rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, modules) for f in files}


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def upward(g: dict[str, set[str]]) -> list[str]:
    """Arrows from a room to a room in a higher layer."""
    bad = []
    for src, targets in sorted(g.items()):
        for t in sorted(targets):
            if room(t) == "__init__" and t == "mella":
                continue  # the package itself (version) sits at the top and is imported by nothing below
            if layer_of(room(t)) > layer_of(room(src)):
                bad.append(f"{src} -> {t} ({LAYERS[layer_of(room(src))][0]} -> {LAYERS[layer_of(room(t))][0]})")
    return bad


def problems() -> list[str]:
    g = graph()
    return [f"circle: {' <-> '.join(c)}" for c in circles(g)] + [f"upward: {u}" for u in upward(g)]


def main(argv: list[str]) -> int:
    if "--edges" in argv:
        g = graph()
        edges = sorted({(room(s), room(t)) for s, ts in g.items() for t in ts if room(s) != room(t)})
        for s, t in edges:
            print(f"{s} -> {t}")
    found = problems()
    for p in found:
        print(p)
    print(f"{len(found)} problem(s)" if found else "no circles, no upward arrows")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
