"""What every pipeline entry shares, stage or step: a name, Options, the columns it reads, a fingerprint,
and the report of one run.

A **stage** (:class:`mella.pipeline.stage.Stage`) turns batches of rows into rows; an executor runs it over the
shards of its input, one part per shard. A **step** (:class:`mella.pipeline.step.Step`) works on whole folders
(evaluate, report, export, train). Both are entries: the runner (:func:`mella.pipeline.runner.run_stage`) resolves
an entry's inputs, checks them, locks its folder and calls :meth:`Entry.run`, without asking which kind it has.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mella.options import is_runtime, runtime_option

if TYPE_CHECKING:
    from mella.pipeline.shards import Shard


__all__ = ["Entry", "StageOptions", "StageReport", "runtime_option"]


class StageOptions(BaseModel):
    """Base of every stage's and step's options. Field names are the YAML keys; CLI flags are the same in
    kebab-case."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class StageReport:
    """What one run of a stage or step did: parts run and skipped, rows out, merged counters, seconds."""

    stage: str
    out: str
    parts_total: int
    parts_run: int
    parts_skipped: int
    rows: int
    dropped: int
    seconds: float
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Entry(ABC):
    """Base of stages and steps. Subclasses set ``name``, ``Options``, ``reads`` and ``requires``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[StageOptions]] = StageOptions
    #: "rows": the parquet/JSONL rows of a previous stage; "files": raw inputs (collect); "folder": whole
    #: folders as they are (steps).
    reads: ClassVar[str] = "rows"
    #: Columns this entry reads from its input (lists in mella.records); an input without them is refused.
    requires: ClassVar[tuple[str, ...]] = ()
    #: The pip extra this entry needs, named in errors when it is missing.
    extra: ClassVar[str | None] = None
    #: Raised when a new mella writes other rows for the same options and input (a new column, a new rule):
    #: it joins the fingerprint, so a folder written by an older version is refused on resume rather than
    #: mixed with new parts. 0 (never raised) leaves the fingerprint as it always was.
    output_version: ClassVar[int] = 0

    def __init__(self, options: StageOptions | None = None, **kwargs: Any):
        self.options = options if options is not None else self.Options(**kwargs)

    def resolve(self, inputs: list[str]) -> list[Shard]:
        """The inputs as the runner checks them, clears around them and hands them to :meth:`run`."""
        from mella.pipeline.shards import resolve_inputs

        return resolve_inputs(inputs, self.reads)

    @abstractmethod
    def run(self, shards: list[Shard], out: Path, executor: Any, run_dir: Path | None) -> StageReport:
        """Do the work into ``out`` (already checked and locked by the runner): :class:`~mella.pipeline.stage.Stage`
        hands itself to an executor, :class:`~mella.pipeline.step.Step` runs its ``run_step``."""

    def fingerprint(self) -> str:
        """Identifies the entry and every option that changes its output (recorded in markers).

        Options declared with :func:`runtime_option` (concurrency, delays, ...) are left out, so
        changing them does not invalidate committed parts.
        """
        return self._fingerprint()

    def _fingerprint(self, leave_out: tuple[str, ...] = ()) -> str:
        fields = type(self.options).model_fields
        opts = {k: v for k, v in self.options.model_dump(mode="json").items()
                if not is_runtime(fields[k]) and k not in leave_out}
        record: dict[str, Any] = {"stage": self.name, "options": opts}
        if self.output_version:
            record["output_version"] = self.output_version
        blob = json.dumps(record, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
