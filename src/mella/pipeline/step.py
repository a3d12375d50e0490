"""Steps: pipeline entries that work on whole folders rather than on batches of rows.

``evaluate`` (predictions -> scores), ``report`` (run folder -> HTML), ``export`` and ``train`` are steps:
they have Options like a stage (YAML keys = CLI flags), read the previous entry's folder by default, and
write into their own folder of the run. A step is done when its ``_SUCCESS`` marker records the same
fingerprint and inputs; a rerun skips it then, so ``mella run`` resumes across steps too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from mella.pipeline.entry import Entry, StageReport
from mella.pipeline.inputs import check_input_columns
from mella.pipeline.shards import Shard
from mella.runstore import now_iso, read_json, write_json_atomic


class Step(Entry):
    """Base class of steps. Subclasses write :meth:`run_step`; ``reads`` is "folder"."""

    reads: ClassVar[str] = "folder"
    #: Rerun every time (cheap, and should reflect the latest state of the run: the report).
    always: ClassVar[bool] = False

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
        """Do the work; return counters for the summary (``rows`` if it makes sense)."""
        raise NotImplementedError(f"step {type(self).__name__} must implement run_step()")

    def resolve(self, inputs: list[str]) -> list[Shard]:
        """A step reads its inputs as they are: folders and files, not expanded into parts."""
        return [Shard(str(i)) for i in inputs]

    def run(self, shards: list[Shard], out: Path, executor: Any, run_dir: Path | None) -> StageReport:
        return self.execute_checked([s.uri for s in shards], out, run_dir)

    def execute(self, inputs: list[str], out: str | Path, run_dir: str | Path | None = None) -> StageReport:
        """Check the inputs (before ``out`` is created), then :meth:`execute_checked`."""
        check_input_columns(self, inputs)
        return self.execute_checked(inputs, out, run_dir)

    def execute_checked(self, inputs: list[str], out: str | Path, run_dir: str | Path | None = None) -> StageReport:
        """Run the step unless its marker says it is already done with these inputs and options
        (``mella.pipeline.runner.run_stage`` checks the inputs itself, before it locks ``out``)."""
        from mella.overwrite import owned_files, record_files
        from mella.paths import portable

        out = Path(out)
        marker = out / "_SUCCESS"
        # Inputs as the marker records them (relative to this folder inside the run), not to the working directory.
        key = {"fingerprint": self.fingerprint(), "inputs": [portable(str(i), out) for i in inputs]}
        done = read_json(marker) if marker.is_file() and marker.stat().st_size else {}
        if not self.always and {k: done.get(k) for k in key} == key:
            return self._report(out, done.get("counters", {}), 0.0, ran=False)
        out.mkdir(parents=True, exist_ok=True)
        # What was here before and is not ours stays unknown: the marker lists only what this step wrote.
        foreign = set(record_files(out)) - {p.relative_to(out).as_posix() for p in owned_files(out)}
        marker.unlink(missing_ok=True)
        t0 = time.time()
        counters = self.run_step(list(inputs), out, Path(run_dir) if run_dir else None)
        seconds = round(time.time() - t0, 3)
        files = [f for f in record_files(out) if f not in foreign]
        write_json_atomic(marker, {**key, "stage": self.name, "counters": counters, "seconds": seconds,
                                   "committed_at": now_iso(), "files": files})
        write_json_atomic(out / "stats.json", {"stage": self.name, "options": self.options.model_dump(mode="json"),
                                               "rows": counters.get("rows", 0), "dropped": 0, "parts": 0,
                                               "counters": counters, "seconds": seconds, "complete": True})
        return self._report(out, counters, seconds, ran=True)

    def _report(self, out: Path, counters: dict[str, Any], seconds: float, ran: bool) -> StageReport:
        return StageReport(stage=self.name, out=str(out), parts_total=1, parts_run=int(ran),
                           parts_skipped=int(not ran), rows=int(counters.get("rows", 0)), dropped=0,
                           seconds=seconds, counters={k: v for k, v in counters.items() if isinstance(v, int)})
