"""Compare two run folders: every parquet part's rows and every stats.json, minus what records time.

    python tools/compare_runs.py runs/before runs/after

Used to check that a refactor leaves `make demo` outputs identical. Timings, timestamps, pids, absolute paths of
the run folder and the last bits of floats differ between two runs by nature; everything else must be equal.
Model stages fingerprint the model's path, so compare two runs made in the same folder (move the first away).
Exit status 1 and a line per difference when they are not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

# Keys whose values record when, how long or where, not what.
VOLATILE = {"seconds", "started_at", "ended_at", "committed_at", "pid", "created_at", "host", "elapsed",
            "rows_per_second", "wall_seconds", "time", "duration", "mtime", "fetched_at", "timestamp",
            "git", "command", "argv"}


def _clean(value, roots: tuple[str, str]):
    if isinstance(value, dict):
        return {k: _clean(v, roots) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v, roots) for v in value]
    if isinstance(value, str):
        for root in sorted(roots, key=len, reverse=True):
            value = value.replace(root, "<run>")
        return value
    if isinstance(value, float):  # language-ID confidences differ in the last bit between two runs
        return float(f"{value:.9g}")
    return value


def _rows(path: Path, roots: tuple[str, str]) -> list[str]:
    table = pq.read_table(path)
    keep = [c for c in table.column_names if c not in VOLATILE]
    rows = [json.dumps(_clean(r, roots), sort_keys=True, default=str) for r in table.select(keep).to_pylist()]
    return sorted(rows)


def compare(a: Path, b: Path) -> list[str]:
    roots = (str(a.resolve()), str(b.resolve()))
    problems = []
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    wanted = {f for f in files_a | files_b if f.endswith((".parquet", "stats.json", "_SUCCESS"))
              and "/_models/" not in f and not f.startswith(("_models/", "_cache/"))}
    for rel in sorted(wanted):
        if rel not in files_a or rel not in files_b:
            problems.append(f"{rel}: only in {'first' if rel in files_a else 'second'}")
            continue
        if rel.endswith(".parquet"):
            ra, rb = _rows(a / rel, roots), _rows(b / rel, roots)
            if ra != rb:
                diff = len(set(ra) ^ set(rb))
                problems.append(f"{rel}: rows differ ({len(ra)} vs {len(rb)} rows, {diff} not in both)")
        else:
            ja, jb = (_clean(json.loads((d / rel).read_text() or "{}"), roots) for d in (a, b))
            if rel.startswith("report/"):  # the page shows the run's timings, so its size varies by a byte or two
                for j in (ja, jb):
                    j.get("counters", {}).pop("bytes", None)
            if ja != jb:
                keys = sorted(k for k in set(ja) | set(jb) if ja.get(k) != jb.get(k)) if isinstance(ja, dict) else []
                problems.append(f"{rel}: differs in {', '.join(keys) or 'content'}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for p in problems:
        print(p)
    print(f"{len(problems)} difference(s)" if problems else "identical (parquet rows and stats, minus timings)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
