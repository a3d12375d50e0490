"""Stages and executors: a stage is a picklable callable over a batch of rows; executors run it."""

from mella.pipeline.registry import get_stage, register_stage, stage_names
from mella.pipeline.shards import Shard, resolve_inputs
from mella.pipeline.stage import BatchResult, Emitter, Stage, StageOptions

__all__ = [
    "BatchResult", "Emitter", "Shard", "Stage", "StageOptions", "get_stage", "register_stage", "resolve_inputs",
    "stage_names",
]
