"""The stage contract.

A stage is a small, picklable object. The executor owns the loop, parallelism, resume and stats;
a stage only turns a batch of input rows into kept rows, dropped rows (with a reason) and counters::

    class Upper(Stage):
        name = "upper"
        schema = pa.schema([("text", pa.string())])

        def process(self, rows, out):
            for row in rows:
                if not row["text"]:
                    out.drop(row, "empty")
                else:
                    out.keep({"text": row["text"].upper()})

Stages that read raw files instead of a previous stage's rows (``collect``) set ``reads = "files"``
and override :meth:`Stage.read` to turn one input shard into batches of raw records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from mella.errors import MellaError
from mella.pipeline.entry import Entry, StageOptions, StageReport, runtime_option

if TYPE_CHECKING:
    from mella.pipeline.shards import Shard
    from mella.runstore import ArtifactSink

# What a stage module imports from here: the Stage base, its Options base and runtime_option.
__all__ = ["BatchResult", "Emitter", "Stage", "StageOptions", "runtime_option"]


@dataclass
class BatchResult:
    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)


class Emitter:
    """What :meth:`Stage.process` writes to: kept rows, dropped rows with a reason, counters, artefacts."""

    def __init__(self, artifacts: ArtifactSink | None = None):
        self.result = BatchResult()
        self._artifacts = artifacts

    def keep(self, row: dict[str, Any]) -> None:
        self.result.kept.append(row)

    def keep_all(self, rows: list[dict[str, Any]]) -> None:
        """:meth:`keep` of each row, in one call."""
        self.result.kept.extend(rows)

    def drop(self, row: dict[str, Any], reason: str) -> None:
        self.result.dropped.append({**row, "drop_reason": reason})
        self.result.counters[f"dropped.{reason}"] += 1

    def count(self, name: str, n: int = 1) -> None:
        self.result.counters[name] += n

    def count_all(self, counts: Counter) -> None:
        """:meth:`count` of each name, in one call."""
        self.result.counters.update(counts)

    @property
    def part_name(self) -> str | None:
        """The name of the part being written (``part-00003``), when the executor writes parts."""
        return self._artifacts.part_name if self._artifacts is not None else None

    def artifact(self, suffix: str) -> Path:
        """A temporary path for a side output of this part (``suffix`` like ``"tar"``).

        The executor renames it to ``part-NNNNN.<suffix>`` when the part commits, so a killed
        run never leaves a half-written artefact under its final name.
        """
        if self._artifacts is None:
            raise MellaError("this executor does not support stage artefacts")
        return self._artifacts.path(suffix)


class Stage(Entry):
    """Base class of every stage. Subclasses set ``name``, ``Options`` and ``schema`` and write :meth:`process`.

    ``reads`` is "rows" (the parquet/JSONL rows of a previous stage) or "files" (raw inputs, turned into
    batches by :meth:`read`)."""

    #: Output schema (from mella.records); ``None`` keeps the input schema (a pure filter).
    schema: ClassVar[pa.Schema | None] = None
    #: Rows per batch handed to :meth:`process`.
    batch_size: ClassVar[int] = 1000
    #: What one worker of this stage needs under the Ray executor (``{"num_gpus": 1}`` for a model stage);
    #: empty means one CPU. A property may compute it from the options.
    resources: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: StageOptions | None = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._ready = False

    def run(self, shards: list[Shard], out: Path, executor: Any, run_dir: Path | None) -> StageReport:
        """An executor runs the stage over the shards, one part per shard."""
        return executor.run(self, shards, out)

    # -- what subclasses write ------------------------------------------------------------
    def setup(self) -> None:
        """Load what the stage needs (models, tables) once per worker, before the first batch."""

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        raise NotImplementedError(f"stage {type(self).__name__} must implement process()")

    def before_run(self, shards: list, stage_dir) -> None:
        """Called in the driver before committed parts are looked for: a stage may un-commit parts here
        (``fetch --retry-transient`` re-opens parts that hold transient failures)."""

    def prepare(self, shards: list, stage_dir) -> None:
        """A global pass over all input shards, once, before any part runs (dedup, split assignment).

        Runs in the driver process. Keep memory bounded (read only the columns needed, spill to
        ``stage_dir.path / "_global"``) and store on ``self`` what workers need (a path, a small
        table): the stage object is pickled to the workers after this returns. It is skipped when
        every part is already committed.
        """

    def read(self, shard) -> Iterator[list[dict[str, Any]]]:
        """Turn one input shard into batches of rows. Row stages use the default reader."""
        from mella.pipeline.shards import read_rows

        yield from read_rows(shard, self.batch_size)

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        if self.schema is not None:
            return self.schema
        if input_schema is None:
            raise MellaError(f"stage {self.name!r} declares no schema and its input has none")
        return input_schema

    # -- what executors call --------------------------------------------------------------
    def ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def __call__(self, rows: list[dict[str, Any]], artifacts: ArtifactSink | None = None) -> BatchResult:
        self.ensure_setup()
        out = Emitter(artifacts)
        self.process(rows, out)
        out.result.counters["rows_in"] += len(rows) if self.reads == "rows" else 0
        out.result.counters["rows_out"] += len(out.result.kept)
        return out.result

    def __getstate__(self) -> dict[str, Any]:
        # Loaded models never travel to workers: each worker runs setup() itself.
        state = dict(self.__dict__)
        state["_ready"] = False
        for key in getattr(self, "_unpicklable", ()):
            state.pop(key, None)
        return state
