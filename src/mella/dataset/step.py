"""The ``export`` step of a pipeline: the previous build folder -> one folder per export format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from mella.pipeline.checks import one_of, raise_problems
from mella.pipeline.stage import StageOptions
from mella.pipeline.step import Step
from mella.records import EXPORT_READS


class ExportOptions(StageOptions):
    formats: list[str] = Field(default_factory=lambda: ["hf"], description="Export formats: hf, llava, sharegpt, swift, wds.")
    name: str = Field("mella", description="Dataset name (file names, LLaMA-Factory entries).")
    images: str | None = Field(None, description="Fetch folder with the image tars (default: the one the build recorded).")

    @model_validator(mode="after")
    def _check(self):
        from mella.dataset.export import FORMATS

        raise_problems(one_of(self, "formats", list(FORMATS), required=True))
        return self


class ExportStep(Step):
    """Export a build in the formats trainers read, each with a dataset card."""

    name = "export"
    requires = EXPORT_READS
    Options = ExportOptions

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
        from mella.dataset.export import check_export, write_export

        # The options validated the formats; the build is checked once for all of them.
        fetch_dir = check_export(inputs[0], self.options.images, self.options.name)
        counters: dict[str, Any] = {}
        for fmt in self.options.formats:
            written = write_export(inputs[0], fmt, out / fmt, fetch_dir, overwrite=True, name=self.options.name)
            counters[f"formats.{fmt}"] = 1
            counts = written.get("counts") or {}
            total = sum(v for v in counts.values() if isinstance(v, int)) if isinstance(counts, dict) else 0
            counters["rows"] = max(counters.get("rows", 0), total)
        return counters
