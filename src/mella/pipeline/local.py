"""The local executor: a process pool over input shards, one part per shard, resumable.

Memory stays bounded: each worker streams its shard batch by batch into a parquet writer, and at
most ``workers`` shards are open at once. A part that already has its ``_SUCCESS`` marker is skipped.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any

import pyarrow as pa

from mella.errors import MellaError
from mella.pipeline.entry import StageReport
from mella.pipeline.shards import Shard, input_schema
from mella.pipeline.stage import Stage
from mella.runstore import PartWriter, StageDir, now_iso, source_record

log = logging.getLogger("mella")


def run_part(stage: Stage, shard: Shard, index: int, out_dir: str, progress=None) -> dict[str, Any]:
    """Run ``stage`` over one shard and commit part ``index``; returns the part's marker."""
    stage_dir = StageDir(out_dir)
    t0 = time.time()
    stage.ensure_setup()
    batches = stage.read(shard)
    in_schema = None
    if stage.reads == "rows":
        in_schema = input_schema(shard)
        if in_schema is None:  # JSONL carries no schema: infer it from the first batch
            first = next(batches, [])
            in_schema = pa.Table.from_pylist(first).schema if first else None
            batches = itertools.chain([first] if first else [], batches)
    writer = PartWriter(stage_dir, index, stage.output_schema(in_schema))
    counters: Counter = Counter()
    try:
        for rows in batches:
            result = stage(rows, writer.artifacts)
            writer.write(result.kept, result.dropped)
            counters.update(result.counters)
            if progress is not None:
                progress.put(len(rows) if stage.reads == "rows" else len(result.kept))
        marker = {**source_record(shard.uri, stage_dir), "fingerprint": stage.fingerprint(),
                  "counters": dict(counters), "seconds": round(time.time() - t0, 3), "pid": os.getpid()}
        writer.commit(marker)
    except BaseException:
        writer.abort()
        raise
    return marker


def plan_parts(stage: Stage, shards: list[Shard], stage_dir: StageDir) -> tuple[list[tuple[int, Shard]], int]:
    """The driver's global steps, the same under every executor: the parts still to run, and how many are done."""
    fp = stage.fingerprint()
    stage.before_run(shards, stage_dir)
    stage_dir.check_part_count(len(shards))
    pending = [(i, s) for i, s in enumerate(shards) if not stage_dir.committed(i, fp, s.uri)]
    skipped = len(shards) - len(pending)
    if pending:
        stage.prepare(shards, stage_dir)
    if skipped:
        log.info("%s: %d of %d parts already committed, skipping them", stage.name, skipped, len(shards))
    return pending, skipped


def finish_stage(stage: Stage, stage_dir: StageDir, n_parts: int, n_run: int, t0: float,
                 extra: dict[str, Any]) -> StageReport:
    """Merge the part markers into stats.json, mark the stage done, and report."""
    seconds = round(time.time() - t0, 3)
    stats = stage_dir.write_stats(
        stage.name, stage.options.model_dump(mode="json"), complete=True,
        extra={**extra, "ended_at": now_iso(), "seconds": seconds, "parts_run": n_run,
               "parts_skipped": n_parts - n_run},
    )
    return StageReport(stage=stage.name, out=str(stage_dir.path), parts_total=n_parts, parts_run=n_run,
                       parts_skipped=n_parts - n_run, rows=stats["rows"], dropped=stats["dropped"],
                       seconds=seconds, counters=stats["counters"])


# -- worker side of the pool ---------------------------------------------------------------
_PROGRESS: Any = None
_STAGES: dict[str, Stage] = {}


def _init_worker(progress, parent: int) -> None:
    global _PROGRESS
    _PROGRESS = progress
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """End this worker as soon as the driver is gone (``kill -9`` included), so no orphan commits parts
    behind a rerun's back: the kernel's parent-death signal where there is one (Linux), and a watcher
    thread everywhere (the driver's pid no longer our parent's)."""
    import signal

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the watcher below still ends the worker

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="mella-parent-watch", daemon=True).start()


def _worker_run(stage: Stage, shard: Shard, index: int, out_dir: str) -> dict[str, Any]:
    # Reuse one stage object per worker so setup() (a model load, say) happens once, not once per shard.
    cached = _STAGES.setdefault(stage.fingerprint(), stage)
    return run_part(cached, shard, index, out_dir, _PROGRESS)


class LocalExecutor:
    """Runs a stage over shards on this machine. ``workers=1`` runs in this process (easy to debug)."""

    name = "local"

    def __init__(self, workers: int | None = None, progress: bool = True):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.progress = progress

    def run(self, stage: Stage, shards: list[Shard], out_dir: str | os.PathLike) -> StageReport:
        stage_dir = StageDir(out_dir)
        stage_dir.create()
        t0, started = time.time(), now_iso()
        pending, skipped = plan_parts(stage, shards, stage_dir)
        with _Progress(stage.name, len(pending), enabled=self.progress) as bar:
            if self.workers == 1 or len(pending) <= 1:
                for i, shard in pending:
                    run_part(stage, shard, i, str(stage_dir.path), bar.queue)
                    bar.part_done()
            else:
                self._run_pool(stage, pending, str(stage_dir.path), bar)
        return finish_stage(stage, stage_dir, len(shards), len(pending), t0,
                            {"executor": self.name, "workers": self.workers, "started_at": started})

    def _run_pool(self, stage: Stage, pending: list[tuple[int, Shard]], out_dir: str, bar: _Progress) -> None:
        # spawn, not fork: workers may load torch or start threads, which fork does not survive safely.
        ctx = mp.get_context("spawn")
        progress_q = ctx.Queue()
        bar.attach(progress_q)
        n = min(self.workers, len(pending))
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker,
                                 initargs=(progress_q, os.getpid())) as pool:
            futures = {pool.submit(_worker_run, stage, shard, i, out_dir): shard for i, shard in pending}
            not_done = set(futures)
            while not_done:
                done, not_done = wait(not_done, return_when=FIRST_EXCEPTION)
                for fut in done:
                    exc = fut.exception()
                    if exc is not None:
                        for other in not_done:
                            other.cancel()
                        raise _part_error(stage, futures[fut], exc) from exc
                    bar.part_done()


def _part_error(stage: Stage, shard: Shard, exc: BaseException) -> BaseException:
    if isinstance(exc, MellaError):
        wrapped = MellaError(f"stage {stage.name} on {shard.uri}: {exc}")
        wrapped.exit_code = exc.exit_code  # a bad input stays exit 2 when a worker found it
        return wrapped
    return exc


class _Progress:
    """A tqdm bar fed by row counts from workers through a queue (rows/s and parts done)."""

    def __init__(self, name: str, parts: int, enabled: bool):
        self.name, self.parts, self.enabled = name, parts, enabled
        self.queue: Any = queue.SimpleQueue()
        self._bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = 0

    def __enter__(self) -> _Progress:
        if self.enabled and self.parts:
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=self.name, unit=" rows", unit_scale=True, dynamic_ncols=True, leave=True)
            self._bar.set_postfix_str(f"parts 0/{self.parts}")
        self._start_drain()
        return self

    def attach(self, q) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.queue = q
        self._stop = threading.Event()
        self._start_drain()

    def _start_drain(self) -> None:
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.queue.get(timeout=0.1)
            except (queue.Empty, EOFError, OSError):
                continue
            if self._bar is not None:
                self._bar.update(n)

    def part_done(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"parts {self._done}/{self.parts}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            time.sleep(0.15)  # let the last counts from workers arrive before the bar closes
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
