"""The ``evaluate`` step of a pipeline: the previous entry's predictions -> scores.json, scores.md, items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from mella.pipeline.checks import one_of, raise_problems
from mella.pipeline.stage import StageOptions
from mella.pipeline.step import Step
from mella.records import EVALUATE_READS


class EvaluateOptions(StageOptions):
    metrics: list[str] = Field(default_factory=list, description="Subset of metrics (default: all).")

    @model_validator(mode="after")
    def _check(self):
        from mella.evaluate.metrics import METRICS

        raise_problems(one_of(self, "metrics", list(METRICS)))
        return self


class EvaluateStep(Step):
    """Score predictions with keyword and entity accuracy, BLEU, chrF, ROUGE-L, METEOR and output-language rate."""

    name = "evaluate"
    requires = EVALUATE_READS
    Options = EvaluateOptions

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
        from mella.evaluate.io import read_predictions, write_results
        from mella.evaluate.scoring import run_evaluation

        rows = [row for p in inputs for row in read_predictions(p)]
        evaluation = run_evaluation(rows, self.options.metrics or None)
        write_results(evaluation, out)
        return {"rows": len(evaluation.scores), "predictions": len(rows), "skipped": evaluation.skipped}
