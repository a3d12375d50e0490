"""The ``report`` step of a pipeline: the run folder's HTML report, rewritten at every run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from mella.pipeline.checks import nonblank, raise_problems
from mella.pipeline.stage import StageOptions
from mella.pipeline.step import Step


class ReportOptions(StageOptions):
    per_lang: int = Field(6, ge=0, description="Gallery images per language.")
    compare: list[str] = Field(default_factory=list, description="Other run folders to put side by side.")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(nonblank(self, "compare"))
        return self


class ReportStep(Step):
    """The run's self-contained HTML report (funnel, gallery, metrics)."""

    name = "report"
    Options = ReportOptions
    always = True

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
        from mella.report.html import write_report

        target = run_dir if run_dir is not None else Path(inputs[0]).parent
        path = write_report(target, out / "report.html", self.options.compare, self.options.per_lang)
        return {"bytes": path.stat().st_size}
