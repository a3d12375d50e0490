"""Runs a validated pipeline: its stages in order, in one run folder, resuming where it stopped."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mella.errors import MellaError
from mella.locks import locked
from mella.pipeline.entry import Entry, StageReport
from mella.pipeline.inputs import check_input_columns
from mella.pipeline.local import LocalExecutor
from mella.runstore import RunStore

log = logging.getLogger("mella")


def make_executor(name: str, workers: int | None = None, address: str | None = None, progress: bool = True):
    """The executor called ``name``; an unknown name lists the valid ones."""
    if name == "local":
        return LocalExecutor(workers=workers, progress=progress)
    if name == "ray":
        try:
            from mella.pipeline.ray import RayExecutor
        except ImportError:
            raise MellaError("the ray executor is not available in this version of mella; use executor: local") from None
        return RayExecutor(workers=workers, address=address, progress=progress)
    raise MellaError(f"unknown executor {name!r}; valid executors: local, ray")


def run_stage(stage: Entry, inputs: list[str], out: str | Path, executor, run_dir: str | Path | None = None,
              overwrite: bool = False) -> StageReport:
    """Run one stage (or step): ``inputs`` (files, globs, folders, URLs) into the folder ``out``.

    The one entry point of stage commands and pipelines, so every check happens here once, before ``out``
    is touched: the inputs resolve and hold the columns the stage reads, and ``out`` is not another stage's
    folder. Then ``out`` is locked for the run (a second process is refused) and, with ``overwrite``, cleared
    of what mella wrote there (:func:`mella.overwrite.clear_output`).
    """
    from mella.overwrite import clear_output, other_stage_problem

    problem = None if overwrite else other_stage_problem(out, stage.name)  # clear_output names it otherwise
    if problem:
        raise MellaError(problem)
    shards = stage.resolve(inputs)
    check_input_columns(stage, shards)  # a wrong input creates no --out
    with locked(out):
        if overwrite:
            clear_output(out, [*inputs, *(s.uri for s in shards)], stage.name)
        return stage.run(shards, Path(out), executor, Path(run_dir) if run_dir is not None else None)


def run_pipeline(config: Any, run_dir: str | Path, executor=None, progress: bool = True) -> dict[str, Any]:
    """Run every entry of ``config`` (a validated :class:`mella.config.PipelineConfig`) into
    ``run_dir/<stage id>``; returns the per-stage summary. The run folder is passed to each entry, never
    through the environment."""
    store = RunStore(run_dir)
    executor = executor or make_executor(config.executor, config.workers, config.ray_address, progress)
    with locked(store.path):  # one `mella run` per run folder at a time
        return _run_stages(config, store, executor)


def _run_stages(config: Any, store: RunStore, executor) -> dict[str, Any]:
    run_dir = store.path
    store.start(config.resolved())
    summary: dict[str, Any] = {}
    status = "failed"
    t0 = time.time()
    try:
        for sc in config.stages:
            inputs = sc.input_paths(lambda stage_id: store.stage_dir(stage_id).path)
            report = run_stage(sc.build(), inputs, store.stage_dir(sc.id).path, executor, run_dir)
            summary[sc.id] = report.as_dict()
            store.update(stages=summary)
            log.info("%s: %d rows (%d dropped) in %.1fs -> %s", sc.id, report.rows, report.dropped,
                     report.seconds, report.out)
        status = "succeeded"
    finally:
        store.finish(status, summary)
        store.update(seconds=round(time.time() - t0, 3))
    return summary
