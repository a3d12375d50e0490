"""Read prediction files (parquet, JSONL, a folder of parts) and write the evaluation outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.evaluate.report import render_markdown
from mella.evaluate.scoring import Evaluation


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Prediction rows from a parquet or JSONL file, a folder of such files, or a stage's output folder."""
    from mella.pipeline.shards import read_rows, resolve_inputs

    return [row for shard in resolve_inputs([str(path)], "rows") for batch in read_rows(shard, 10_000)
            for row in batch]


def _clean(value: Any) -> Any:
    # JSON has no NaN; a score that cannot be computed is null.
    return None if isinstance(value, float) and math.isnan(value) else value


def write_results(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``scores.json``, ``scores.md`` and ``items.parquet`` into ``out_dir``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mella.overwrite import other_stage_problem

    out = Path(out_dir)
    problem = other_stage_problem(out, "evaluate")
    if problem:  # scores never land in (and stats.json never replaces) another stage's folder
        raise MellaError(problem)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores": out / "scores.json", "markdown": out / "scores.md", "items": out / "items.parquet"}
    scores = [{k: _clean(v) for k, v in row.items()} for row in evaluation.scores]
    paths["scores"].write_text(json.dumps(scores, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(render_markdown(evaluation.scores), encoding="utf-8")
    # Columns: mella.records.EVALUATION_ITEMS (those computed), typed as pyarrow infers them from the values.
    pq.write_table(pa.Table.from_pylist(evaluation.items), paths["items"])
    return paths
