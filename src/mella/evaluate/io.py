"""Read prediction files (parquet, JSONL, a folder of parts) and write the evaluation outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.evaluate.report import render_markdown
from mella.evaluate.runner import Evaluation

_SUFFIXES = (".parquet", ".jsonl", ".json")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise MellaError(f"{path}:{lineno}: not a JSON object per line ({exc.msg})") from exc
    return rows


def _read_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    raise MellaError(f"{path}: expected .parquet or .jsonl predictions")


def _parts(folder: Path) -> list[Path]:
    """Data files under ``folder``, skipping ``_``/``.`` folders (dropped rows, markers)."""
    files = [
        p for p in folder.rglob("*")
        if p.suffix in _SUFFIXES and p.is_file()
        and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Prediction rows from a parquet or JSONL file, or a folder of such parts."""
    path = Path(path)
    if path.is_dir():
        files = _parts(path)
        if not files:
            raise MellaError(f"{path}: no .parquet or .jsonl prediction files in this folder")
        return [row for f in files for row in _read_file(f)]
    if not path.exists():
        raise MellaError(f"{path}: no such file")
    return _read_file(path)


def _clean(value: Any) -> Any:
    # JSON has no NaN; a score that cannot be computed is null.
    return None if isinstance(value, float) and math.isnan(value) else value


def write_results(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``scores.json``, ``scores.md`` and ``items.parquet`` into ``out_dir``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores": out / "scores.json", "markdown": out / "scores.md", "items": out / "items.parquet"}
    scores = [{k: _clean(v) for k, v in row.items()} for row in evaluation.scores]
    paths["scores"].write_text(json.dumps(scores, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(render_markdown(evaluation.scores), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(evaluation.items), paths["items"])
    return paths
