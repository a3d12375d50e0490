"""Benchmark: the local executor's overhead against a plain loop doing the same work, in the same run.

Work: read text files, keep or drop each line, write parquet. The baseline calls the same stage in a
single-process loop with no parts, markers, stats or progress. The executor runs 1 worker (same core budget) and 2 workers.
Prints rows/s and the ratio executor/baseline.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from mella.pipeline.local import LocalExecutor  # noqa: E402
from mella.pipeline.runner import run_stage  # noqa: E402
from sample_stages import LINES, LinesStage  # noqa: E402

N_FILES, LINES_PER_FILE = 8, 600_000


def make_inputs(folder: Path) -> None:
    folder.mkdir(parents=True)
    for f in range(N_FILES):
        with open(folder / f"in-{f:02d}.txt", "w", encoding="utf-8") as fh:
            for i in range(LINES_PER_FILE):
                fh.write("x\n" if i % 10 == 0 else f"file {f} line {i} {'lorem ipsum ' * (i % 5)}\n")


def baseline(stage: LinesStage, folder: Path, out: Path) -> int:
    """The same stage called in a plain loop: no parts, markers, stats, progress or processes."""
    from mella.pipeline.shards import Shard

    out.mkdir()
    n = 0
    for f in sorted(folder.iterdir()):
        with pq.ParquetWriter(out / f"{f.stem}.parquet", LINES) as writer:
            for rows in stage.read(Shard(str(f))):
                kept = stage(rows).kept
                writer.write_table(pa.Table.from_pylist(kept, schema=LINES))
                n += len(kept)
    return n


def timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mella-bench-"))
    try:
        inputs = tmp / "in"
        make_inputs(inputs)
        total = N_FILES * LINES_PER_FILE
        stage = LinesStage(min_chars=2)
        stage.batch_size = 5000
        base_s, base_n = timed(lambda: baseline(stage, inputs, tmp / "base"))
        one_s, _ = timed(lambda: run_stage(stage, [str(inputs)], tmp / "one", LocalExecutor(1, progress=False)).rows)
        two_s, two_n = timed(lambda: run_stage(stage, [str(inputs)], tmp / "two", LocalExecutor(2, progress=False)).rows)
        assert two_n == base_n, (two_n, base_n)
        print(json.dumps({"rows_in": total, "rows_kept": base_n}))
        print(f"baseline (same stage, plain loop): {total / base_s:>10,.0f} rows/s")
        print(f"local executor, 1 worker:         {total / one_s:>10,.0f} rows/s   ratio {base_s / one_s:.2f}x baseline")
        print(f"local executor, 2 workers:        {total / two_s:>10,.0f} rows/s   ratio {base_s / two_s:.2f}x baseline")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
