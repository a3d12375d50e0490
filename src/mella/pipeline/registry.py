"""The registry of pipeline entries: names to ``"module:Class"``, resolved on use so ``import mella`` stays light.

Naming rule: the entry ``X`` of the room ``R`` lives in ``mella/R/X.py`` (``filter`` in ``mella/filter/filter.py``,
``dedup`` in ``mella/filter/dedup.py``, ``score`` in ``mella/annotate/score.py``). ``mella stages`` prints where
each one lives. Plugins add their own with :func:`register_stage`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from mella.errors import MellaError

if TYPE_CHECKING:
    from mella.pipeline.entry import Entry

STAGES: dict[str, str] = {
    # stages: batches of rows -> rows, run by an executor over shards
    "collect": "mella.collect.collect:CollectStage",
    "filter": "mella.filter.filter:FilterStage",
    "dedup": "mella.filter.dedup:DedupStage",
    "keywords": "mella.annotate.keywords:KeywordsStage",
    "fetch": "mella.fetch.fetch:FetchStage",
    "caption": "mella.annotate.caption:CaptionStage",
    "translate": "mella.annotate.translate:TranslateStage",
    "score": "mella.annotate.score:ScoreStage",
    "culture": "mella.annotate.culture:CultureStage",
    "build": "mella.dataset.build:BuildStage",
    "predict": "mella.evaluate.predict:PredictStage",
    "benchmark": "mella.evaluate.benchmark:BenchmarkStage",
    # steps: whole folders in, a folder out (mella.pipeline.step)
    "evaluate": "mella.evaluate.evaluate:EvaluateStep",
    "report": "mella.report.report:ReportStep",
    "export": "mella.dataset.export:ExportStep",
    "train": "mella.train.train:TrainStep",
}


def register_stage(name: str, target: str) -> None:
    """Register the stage or step class ``target`` (``"package.module:Class"``) as ``name``."""
    STAGES[name] = target


def stage_names() -> list[str]:
    return sorted(STAGES)


def get_stage(name: str) -> type[Entry]:
    """The stage or step class registered as ``name``; an unknown name lists the valid ones."""
    if name not in STAGES:
        import difflib

        close = difflib.get_close_matches(name, STAGES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise MellaError(f"unknown stage {name!r}{hint}; valid stages: {', '.join(stage_names()) or 'none'}")
    module, _, attr = STAGES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def where(name: str) -> str:
    """Where the entry ``name`` is written: its source file (relative to the installed ``mella`` package's parent
    for mella's own entries) and class, e.g. ``mella/filter/dedup.py:DedupStage``."""
    cls = get_stage(name)
    module = importlib.import_module(cls.__module__)
    path = Path(module.__file__ or cls.__module__)
    root = Path(importlib.import_module("mella").__file__ or "").parent.parent
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return f"{shown.as_posix()}:{cls.__name__}"
