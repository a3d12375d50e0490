"""The ``train`` step of a pipeline: a training config (``mella train``'s YAML) run on the previous build.

The step fills in what the pipeline knows: ``data.samples`` (the build folder it reads) and ``output.dir``
(its own folder in the run), so one training config serves any run. ``set`` overrides other keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from mella.pipeline.stage import StageOptions
from mella.pipeline.step import Step
from mella.records import TRAIN_READS


class TrainOptions(StageOptions):
    config: str = Field(description="Training config YAML (see docs/train.md).")
    images: str | None = Field(None, description="Fetch folder with the images (default: the config's data.images).")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides, e.g. {train.max_steps: 20}.")


class TrainStep(Step):
    """Fine-tune a vision-language model on the build (SFT, then DPO when the config enables it)."""

    name = "train"
    requires = TRAIN_READS
    Options = TrainOptions

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
        from mella.train import run_training
        from mella.train.config import load_config

        overrides = {"data.samples": str(Path(inputs[0]).resolve()), "output.dir": str(out.resolve()),
                     **self.options.set}
        if self.options.images:
            overrides["data.images"] = str(Path(self.options.images).resolve())
        env = {"MELLA_RUN_DIR": str(run_dir.resolve())} if run_dir is not None else {}
        result = run_training(load_config(self.options.config, overrides, env))
        counters: dict[str, Any] = {}
        for stage, res in result.items():
            losses = res.get("losses", {}).get("train") or []
            counters[f"{stage}.steps"] = len(losses)
            if losses:
                counters[f"{stage}.loss_first"], counters[f"{stage}.loss_last"] = losses[0], losses[-1]
            for what in ("data", "pairs"):   # samples trained per source; rows left out and why
                counters.update({f"{stage}.{what}.{k}": v for k, v in res.get(what, {}).items()
                                 if isinstance(v, int)})
            model = res.get("outputs", {}).get("model")
            if model:
                counters[f"{stage}.model"] = model
        return counters
