"""Stages and executors: a stage is a picklable callable over a batch of rows; executors run it."""

from mella.pipeline.shards import Shard, resolve_inputs
from mella.pipeline.stage import BatchResult, Emitter, Stage, StageOptions, get_stage, stage_names

__all__ = [
    "BatchResult", "Emitter", "Shard", "Stage", "StageOptions", "get_stage", "resolve_inputs", "stage_names",
]
