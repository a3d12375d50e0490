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

import hashlib
import importlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from mella.errors import MellaError


def runtime_option(default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic Field for an option that changes how a stage runs but not what it outputs."""
    return Field(default, json_schema_extra={"runtime": True}, **kwargs)


class StageOptions(BaseModel):
    """Base of every stage's options. Field names are the YAML keys; CLI flags are the same in kebab-case."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


class ArtifactSink:
    """Temporary paths for one part's side outputs; committed together with the part."""

    def __init__(self, directory: Path, part_name: str, token: str):
        self.directory, self.part_name, self.token = directory, part_name, token
        self.paths: dict[str, Path] = {}

    def path(self, suffix: str) -> Path:
        if suffix not in self.paths:
            self.paths[suffix] = self.directory / f".{self.part_name}.{suffix}.{self.token}.tmp"
        return self.paths[suffix]

    def final(self, suffix: str) -> Path:
        return self.directory / f"{self.part_name}.{suffix}"


class Stage:
    """Base class of every stage. Subclasses set ``name``, ``Options`` and ``schema`` and write :meth:`process`."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[StageOptions]] = StageOptions
    #: "rows": reads the parquet/JSONL rows of a previous stage; "files": reads raw inputs via :meth:`read`.
    reads: ClassVar[str] = "rows"
    #: Columns this stage reads from its input (lists in mella.records); an input without them is refused.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Output schema (from mella.records); ``None`` keeps the input schema (a pure filter).
    schema: ClassVar[pa.Schema | None] = None
    #: Rows per batch handed to :meth:`process`.
    batch_size: ClassVar[int] = 1000
    #: The pip extra this stage needs, named in errors when it is missing.
    extra: ClassVar[str | None] = None
    #: What one worker of this stage needs under the Ray executor (``{"num_gpus": 1}`` for a model stage);
    #: empty means one CPU. A property may compute it from the options.
    resources: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: StageOptions | None = None, **kwargs: Any):
        self.options = options if options is not None else self.Options(**kwargs)
        self._ready = False

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

    def fingerprint(self) -> str:
        """Identifies the stage and every option that changes its output (recorded in part markers).

        Options declared with :func:`runtime_option` (concurrency, delays, ...) are left out, so
        changing them does not invalidate committed parts.
        """
        fields = type(self.options).model_fields
        opts = {k: v for k, v in self.options.model_dump(mode="json").items()
                if not (fields[k].json_schema_extra or {}).get("runtime")}
        blob = json.dumps({"stage": self.name, "options": opts}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __getstate__(self) -> dict[str, Any]:
        # Loaded models never travel to workers: each worker runs setup() itself.
        state = dict(self.__dict__)
        state["_ready"] = False
        for key in getattr(self, "_unpicklable", ()):
            state.pop(key, None)
        return state


# Registry: plain dict from names to "module:Class", resolved on use so `import mella` stays light.
STAGES: dict[str, str] = {
    "collect": "mella.collect.collect:CollectStage",
    "filter": "mella.filter.filter:FilterStage",
    "dedup": "mella.filter.dedup:DedupStage",
    "fetch": "mella.fetch.fetch:FetchStage",
    "caption": "mella.annotate.caption:CaptionStage",
    "translate": "mella.annotate.translate:TranslateStage",
    "score": "mella.annotate.score:ScoreStage",
    "predict": "mella.evaluate.predict:PredictStage",
    "build": "mella.dataset.build:BuildStage",
    # steps: whole-folder entries of a pipeline (mella.pipeline.step)
    "evaluate": "mella.evaluate.evaluate:EvaluateStep",
    "report": "mella.report.report:ReportStep",
    "export": "mella.dataset.export:ExportStep",
    "train": "mella.train.train:TrainStep",
}


def register_stage(name: str, target: str) -> None:
    STAGES[name] = target


def stage_names() -> list[str]:
    return sorted(STAGES)


def get_stage(name: str) -> type[Stage]:
    """The Stage class registered as ``name``; an unknown name lists the valid ones."""
    if name not in STAGES:
        import difflib

        close = difflib.get_close_matches(name, STAGES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise MellaError(f"unknown stage {name!r}{hint}; valid stages: {', '.join(stage_names()) or 'none'}")
    module, _, attr = STAGES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
