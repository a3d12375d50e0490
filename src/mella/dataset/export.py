"""The ``export`` step (``mella export BUILD_DIR --format hf|llava|sharegpt|swift|wds --out DIR``): samples in
the formats trainers read.

The samples come from the build stage's committed parts; the images from the fetch folder the build
recorded (``_global/build/summary.json``), read by key with :class:`mella.fetch.wds.ImageStore`. Every
export writes a dataset card (``README.md``, :mod:`mella.dataset.card`) next to the data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from mella.dataset.builddir import build_summary, check_names
from mella.errors import MellaError
from mella.locks import LOCK_NAME, locked
from mella.pipeline.checks import one_of, raise_problems
from mella.pipeline.stage import StageOptions
from mella.pipeline.step import Step
from mella.records import EXPORT_READS

log = logging.getLogger("mella")

FORMATS = {
    "hf": "mella.dataset.formats:write_hf",
    "llava": "mella.dataset.formats:write_llava",
    "sharegpt": "mella.dataset.formats:write_sharegpt",
    "swift": "mella.dataset.formats:write_swift",
    "wds": "mella.dataset.formats:write_wds",
}
USER_IMAGE = "<image>"  # the image tag of LLaVA, LLaMA-Factory and ms-swift; hf and wds use content blocks
# What each consumer puts before the first instruction: LLaVA's data writes "<image>\n"; LLaMA-Factory's
# mllm_demo and ms-swift's custom-dataset docs write the tag straight before the text.
IMAGE_TAGS = {"llava": USER_IMAGE + "\n", "sharegpt": USER_IMAGE, "swift": USER_IMAGE}


def messages(sample: dict[str, Any], tag: str) -> list[dict[str, str]]:
    """Chat turns of a sample (role/content), ``tag`` (see ``IMAGE_TAGS``) at the start of the first user turn."""
    out = []
    for i, turn in enumerate(sample.get("turns") or [sample]):
        out.append({"role": "user", "content": (tag if i == 0 else "") + turn["instruction"]})
        out.append({"role": "assistant", "content": turn["response"]})
    return out


def content_messages(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """Chat turns as transformers/TRL content blocks: an ``{"type": "image"}`` block opens the first user turn.

    No tag in the text: a processor's chat template puts its own image tokens where the block is.
    """
    out = []
    for i, turn in enumerate(sample.get("turns") or [sample]):
        image = [{"type": "image"}] if i == 0 else []
        out.append({"role": "user", "content": image + [{"type": "text", "text": turn["instruction"]}]})
        out.append({"role": "assistant", "content": [{"type": "text", "text": turn["response"]}]})
    return out


def image_ext(data: bytes) -> str:
    """File extension of encoded image bytes (the fetch stage stores JPEG or WebP)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return "jpg"


def _clear(out: Path, inputs: list[str], overwrite: bool) -> None:
    """An export goes into an empty folder; ``overwrite`` removes an earlier export's files, nothing else."""
    from mella.overwrite import clear_output, other_stage_problem

    problem = other_stage_problem(out, "export")  # (a file as --out was refused when it was locked)
    if problem:
        raise MellaError(problem)
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        if not overwrite:
            raise MellaError(f"{out} is not empty; use another --out or --overwrite")
        clear_output(out, inputs, "export")
        left = [p for p in out.rglob("*") if p.is_file() and p.name != LOCK_NAME]
        if left:
            raise MellaError(f"{out} holds files an export did not write (e.g. {left[0]}); "
                             "remove them or use another --out")


class Images:
    """Images by key from the fetch folder; ``save`` writes each key once under ``folder``."""

    def __init__(self, fetch_dir: str | Path):
        from mella.fetch.wds import ImageStore

        self.fetch_dir = Path(fetch_dir)
        self.store = ImageStore(fetch_dir)
        self.saved: dict[str, str] = {}

    def __getitem__(self, key: str) -> bytes:
        from mella.paths import check_key

        check_key(key, f"a sample of the build (images from {self.fetch_dir})")  # keys become file names
        try:
            return self.store[key]
        except KeyError:
            raise MellaError(f"image {key} is not in the fetch folder; pass the right one with --images") from None

    def save(self, key: str, folder: Path, base: Path) -> str:
        """Write image ``key`` under ``folder`` once; its path relative to ``base``."""
        if key not in self.saved:
            from mella.paths import under

            data = self[key]
            path = under(base, folder / f"{key}.{image_ext(data)}")
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.saved[key] = path.relative_to(base).as_posix()
        return self.saved[key]


def export(build_dir: str | Path, fmt: str, out: str | Path, images: str | Path | None = None,
           overwrite: bool = False, name: str = "mella") -> dict[str, Any]:
    """Write the build in format ``fmt`` to ``out`` with a dataset card; returns what was written."""
    from mella.pipeline.inputs import check_input_columns
    from mella.pipeline.registry import get_stage

    if fmt not in FORMATS:
        raise MellaError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    check_input_columns(get_stage("export"), [str(build_dir)])  # a build, before anything is created
    fetch_dir = check_export(build_dir, images, name)
    return write_export(build_dir, fmt, out, fetch_dir, overwrite, name)


def check_export(build_dir: str | Path, images: str | Path | None, name: str) -> str | Path:
    """What every format of an export needs, checked once before anything is written: a safe dataset name,
    the images folder (returned), and keys, sample ids and splits that can be file names."""
    from mella.paths import name_problem

    problem = name_problem("--name", name)
    if problem:
        raise MellaError(problem)
    fetch_dir = images or build_summary(build_dir).get("images_dir")
    if not fetch_dir or not Path(fetch_dir).is_dir():
        raise MellaError(f"cannot find the images of {build_dir}; pass the fetch folder with --images")
    check_names(build_dir)
    return fetch_dir


def write_export(build_dir: str | Path, fmt: str, out: str | Path, fetch_dir: str | Path, overwrite: bool,
                 name: str) -> dict[str, Any]:
    """Write one format of a build that :func:`check_export` accepted, into ``out`` (locked while it writes)."""
    build_dir, out = Path(build_dir), Path(out)
    with locked(out):
        _clear(out, [str(build_dir), str(fetch_dir)], overwrite)
        return _write(build_dir, fmt, out, fetch_dir, name)


def _write(build_dir: Path, fmt: str, out: Path, fetch_dir: str | Path, name: str) -> dict[str, Any]:
    import importlib

    module, _, attr = FORMATS[fmt].partition(":")
    writer = getattr(importlib.import_module(module), attr)
    result = writer(build_dir, out, Images(fetch_dir), name=name)
    from mella.dataset.card import write_card
    from mella.overwrite import record_files
    from mella.runstore import write_json_atomic

    result["card"] = str(write_card(build_dir, out, fmt, result, name=name))
    # The marker lists what this export wrote: all that a later --overwrite may delete.
    write_json_atomic(out / "_SUCCESS", {"stage": "export", "format": fmt, "files": record_files(out)})
    log.info("export %s: %s -> %s", fmt, result.get("counts"), out)
    return result


class ExportOptions(StageOptions):
    formats: list[str] = Field(default_factory=lambda: ["hf"], description="Export formats: hf, llava, sharegpt, swift, wds.")
    name: str = Field("mella", description="Dataset name (file names, LLaMA-Factory entries).")
    images: str | None = Field(None, description="Fetch folder with the image tars (default: the one the build recorded).")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(one_of(self, "formats", list(FORMATS), required=True))
        return self


class ExportStep(Step):
    """Export a build in the formats trainers read, each with a dataset card."""

    name = "export"
    requires = EXPORT_READS
    Options = ExportOptions

    def run_step(self, inputs: list[str], out: Path, run_dir: Path | None) -> dict[str, Any]:
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
