"""The ``benchmark`` stage: an external benchmark's local files -> test samples that ``predict`` reads.

Input: the benchmark's captions file (XM3600's ``captions.jsonl``, :mod:`mella.evaluate.xm3600`); ``--images``
names its image folder. Per image and language it writes one sample (``mella.records.BENCHMARK``): split "test",
source the benchmark's name, the language's native instruction (the build's templates, so a tuned model is asked
as it was trained), the first caption as ``response`` and every caption as ``references`` (the metrics score
against all of them). The image goes unchanged into the part's tar, as fetch stores images, so
``mella predict BENCHMARK_FOLDER`` finds it by key like a build's images. Nothing is downloaded. See
docs/metrics.md ("External benchmarks").
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mella.evaluate import xm3600
from mella.pipeline.checks import raise_problems
from mella.pipeline.stage import Emitter, Stage, StageOptions, runtime_option
from mella.records import BENCHMARK, BENCHMARK_READS


class BenchmarkOptions(StageOptions):
    """Options of ``mella benchmark``."""

    benchmark: Literal["xm3600"] = Field("xm3600", description="which benchmark the input file belongs to")
    langs: list[str] = Field(default_factory=list, description="languages to keep (default: the MELLA languages "
                                                               "the benchmark has; xm3600: ar cs hu ko ru th vi)")
    templates: Literal["ling", "know"] = Field(
        "ling", description="instruction templates asked: ling (describe the image) or know (what does it show)")
    seed: int = Field(0, description="seed of the template choice (as build's)")
    images: str | None = runtime_option(None, description="the benchmark's image folder (xm3600: <image/key>.jpg)")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(self._problems())
        return self

    def _problems(self) -> list:
        from mella.dataset.templates import templates
        from mella.errors import MellaError

        problems = [] if self.images else [(("images",), "images: name the benchmark's image folder")]
        for code in self.langs:
            if code not in xm3600.LANGUAGES:
                why = " (XM3600 has no Serbian)" if code.startswith("sr") else ""
                problems.append((("langs",), f"langs: xm3600 has no captions in {code!r}{why}; its languages: "
                                             f"{', '.join(xm3600.LANGUAGES)}"))
                continue
            try:
                templates(code)
            except MellaError as exc:  # an unknown language, or one without instruction templates
                problems.append((("langs",), f"langs: {exc}"))
        return problems

    def codes(self) -> tuple[str, ...]:
        """The benchmark's language codes to read (the default: the MELLA languages it covers)."""
        return tuple(self.langs) or xm3600.MELLA_LANGUAGES


class BenchmarkStage(Stage):
    """Turn a benchmark's captions file and image folder into test samples with every reference."""

    name = "benchmark"
    Options = BenchmarkOptions
    requires = BENCHMARK_READS
    schema = BENCHMARK

    def setup(self) -> None:
        self._stored: dict[str, dict[str, Any]] = {}  # tar path -> key -> (offset, size, sha256) or drop reason

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        from mella.fetch.wds import TarWriter

        tar_path = out.artifact("tar")
        stored = self._stored.setdefault(str(tar_path), {})
        with TarWriter(tar_path) as tar:
            for row in rows:
                key = xm3600.row_key(row, f"{self.options.benchmark} captions")
                if key not in stored:
                    stored[key] = self._store(key, row, tar)
                    out.count("images" if isinstance(stored[key], tuple) else f"images.{stored[key]}")
                self._emit(key, row, stored[key], out)

    def _store(self, key: str, row: dict[str, Any], tar) -> tuple[int, int, str] | str:
        """Put the image of ``key`` in the tar unchanged: (offset, size, sha256), or why it cannot be used."""
        from mella.fetch.images import StoredImageError, open_stored_image

        path = xm3600.image_path(self.options.images or "", key)
        if not path.is_file():
            return "image_missing"
        data = path.read_bytes()
        try:
            open_stored_image(data)  # what predict will do with it: refuse it here, counted, not there
        except StoredImageError as exc:
            return exc.reason
        sha = hashlib.sha256(data).hexdigest()
        meta = {"key": key, "benchmark": self.options.benchmark, "image_locale": row.get(xm3600.LOCALE),
                "sha256": sha, "file": Path(path).name}
        offset, size = tar.add(key, "jpg", data, meta)
        return offset, size, sha

    def _emit(self, key: str, row: dict[str, Any], stored: tuple[int, int, str] | str, out: Emitter) -> None:
        from mella.dataset.templates import pick

        o = self.options
        for code in o.codes():
            texts = xm3600.captions(row, code, f"{o.benchmark} captions, {xm3600.KEY} {key}")
            sid = f"{o.benchmark}-{code}-{key}"
            sample = {"id": sid, "key": key, "lang": code, "source": o.benchmark,
                      "instruction": pick(code, o.templates, sid, o.seed), "response": texts[0] if texts else None,
                      "split": "test", "references": texts, "benchmark": o.benchmark,
                      "image_locale": row.get(xm3600.LOCALE), "sha256": None, "tar_offset": None, "tar_size": None}
            if isinstance(stored, str):
                out.drop(sample, stored)
            elif not texts:
                out.drop(sample, "no_captions")
            else:
                offset, size, sha = stored
                out.keep({**sample, "sha256": sha, "tar_offset": offset, "tar_size": size})
                out.count(f"samples.{code}")
