"""Runs a validated pipeline: its stages in order, in one run folder, resuming where it stopped."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from mella.config import PipelineConfig
from mella.errors import MellaError
from mella.locks import locked
from mella.pipeline.inputs import check_input_columns
from mella.pipeline.local import LocalExecutor, StageReport
from mella.pipeline.shards import resolve_inputs
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


def run_stage(stage, inputs: list[str], out: str | Path, executor, run_dir: str | Path | None = None,
              overwrite: bool = False) -> StageReport:
    """Run one stage (or step): ``inputs`` (files, globs, folders, URLs) into the folder ``out``.

    The one entry point of stage commands and pipelines, so every check happens here once, before ``out``
    is touched: the inputs resolve and hold the columns the stage reads, and ``out`` is not another stage's
    folder. Then ``out`` is locked for the run (a second process is refused) and, with ``overwrite``, cleared
    of what mella wrote there (:func:`mella.overwrite.clear_output`).
    """
    from mella.overwrite import clear_output, other_stage_problem
    from mella.pipeline.step import Step

    problem = None if overwrite else other_stage_problem(out, stage.name)  # clear_output names it otherwise
    if problem:
        raise MellaError(problem)
    shards = None if isinstance(stage, Step) else resolve_inputs(inputs, stage.reads)
    check_input_columns(stage, inputs if shards is None else shards)  # a wrong input creates no --out
    with locked(out):
        if overwrite:
            clear_output(out, [*inputs, *(s.uri for s in shards or ())], stage.name)
        if shards is None:
            return stage.execute_checked(inputs, out, run_dir)
        return executor.run(stage, shards, out)


def _resolve(inputs: list[str], store: RunStore) -> list[str]:
    """``stage:<id>`` inputs become that stage's folder in this run."""
    from mella.config import STAGE_REF

    return [str(store.stage_dir(i[len(STAGE_REF):]).path) if i.startswith(STAGE_REF) else i for i in inputs]


def run_pipeline(config: PipelineConfig, run_dir: str | Path, executor=None, progress: bool = True) -> dict[str, Any]:
    """Run every stage of ``config`` into ``run_dir/<stage id>``; returns the per-stage summary."""
    store = RunStore(run_dir)
    # Config files that steps read themselves (a training config) may name the run folder too.
    os.environ["MELLA_RUN_DIR"] = str(Path(run_dir).resolve())
    executor = executor or make_executor(config.executor, config.workers, config.ray_address, progress)
    with locked(store.path):  # one `mella run` per run folder at a time
        return _run_stages(config, store, executor)


def _run_stages(config: PipelineConfig, store: RunStore, executor) -> dict[str, Any]:
    run_dir = store.path
    store.start(config.resolved())
    summary: dict[str, Any] = {}
    status = "failed"
    t0 = time.time()
    try:
        for sc in config.stages:
            inputs = _resolve(sc.inputs, store) if sc.inputs is not None else [str(store.stage_dir(sc.after).path)]
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
