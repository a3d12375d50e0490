"""What the model stages share: backend options, generation options, provenance, the result cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from mella.pipeline.stage import Emitter, Stage, StageOptions, runtime_option

log = logging.getLogger("mella")

# Backend options that change how fast a model runs or where, not what it writes: left out of cache keys.
RUNTIME_BACKEND_OPTIONS = {
    "batch_size", "concurrency", "timeout_s", "max_retries", "backoff_s", "max_backoff_s", "api_key_env",
    "base_url", "device", "device_map", "attn_implementation", "gpu_memory_utilization", "tensor_parallel_size",
    "max_num_seqs", "enforce_eager",
    # hf throughput switches: batching order, prefetching, static cache and compiled decoding
    "sort_by_length", "prefetch", "static_cache", "compile", "compile_options", "pad_to_multiple_of",
}
CACHE_ENV = "MELLA_CACHE_DIR"


class ModelOptions(StageOptions):
    """Options of every model stage: which backend and model, its options, batching and the cache."""

    backend: str = Field("hf", description="model backend: hf, openai, vllm")
    model: str = Field(min_length=1, description="model id, local folder or served model name")
    model_options: dict[str, Any] = Field(
        default_factory=dict, description="backend options as JSON, e.g. '{\"max_pixels\": 401408}'")
    batch_size: int = runtime_option(16, ge=1, description="inputs per model call")
    cache_dir: str | None = runtime_option(
        None, description=f"result cache folder (default: ${CACHE_ENV}, else <out>/../_cache)")
    cache: bool = runtime_option(True, description="reuse and store results in the cache")
    gpus: float = runtime_option(0.0, ge=0, description="GPUs per worker under the Ray executor (0: CPU)")

    @field_validator("model_options", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        # The CLI hands the flag over as a string.
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc.msg}") from None
        return value

    @model_validator(mode="after")
    def _check_backend(self):
        from mella.errors import MellaError
        from mella.models.base import _parse_options, get_backend_class

        try:
            cls = get_backend_class(self.backend)
            _parse_options(cls.Options, {"model": self.model, **self.model_options}, {}, self.backend)
        except MellaError as exc:  # pydantic reports ValueErrors with the field's name
            raise ValueError(str(exc)) from None
        return self


class GenerationOptions(StageOptions):
    """Sampling options handed to the backend (``temperature`` 0 is greedy)."""

    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    repetition_penalty: float = Field(1.0, gt=0.0)

    def gen_options(self):
        """These fields as the backends' GenOptions."""
        from mella.models.base import GenOptions

        return GenOptions(**{name: getattr(self, name) for name in GenOptions.model_fields})


class ModelStage(Stage):
    """A stage that runs one model over rows, once per worker, with results cached by input identity."""

    batch_size = 256  # rows per process() call: several model batches, sorted by length inside the backend
    extra = "models"
    _unpicklable = ("backend", "results", "_images")

    def __init__(self, options=None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._shard: str | None = None
        self._cache_path: str | None = None

    @property
    def resources(self) -> dict[str, Any]:  # type: ignore[override]
        """Under Ray, ``--gpus 1`` puts the stage on a GPU actor pool that loads the model once per actor."""
        return {"num_gpus": self.options.gpus} if self.options.gpus else {}

    def read(self, shard) -> Iterator[list[dict[str, Any]]]:
        self._shard = shard.uri  # where the rows come from: the images are found from it
        yield from super().read(shard)

    def prepare(self, shards: list, stage_dir) -> None:
        """Settle the cache folder in the driver: the option, ``$MELLA_CACHE_DIR``, else ``<out>/../_cache``."""
        default = os.environ.get(CACHE_ENV) or str(Path(stage_dir.path).resolve().parent / "_cache")
        self._cache_path = self.options.cache_dir or default
        if self.options.cache:  # create the cache file here, before several workers open it at once
            from mella.models.cache import ResultCache

            ResultCache(self._cache_path).close()

    def setup(self) -> None:
        from mella.models.base import load_backend
        from mella.models.cache import ResultCache

        o = self.options
        self.backend = load_backend(o.backend, {"model": o.model, "batch_size": o.batch_size, **o.model_options})
        folder = (o.cache_dir or self._cache_path) if o.cache else None
        self.results = ResultCache(folder)
        self._images = None
        self.model_sig = self.model_signature()
        if self.backend.tiny:
            log.warning("%s: %s is a tiny random model: its output is noise, labelled %s",
                        self.name, o.model, self.model_label)

    @property
    def model_label(self) -> str:
        """The model column's value: the model id, or ``tiny-random:<model type>`` for a tiny random model."""
        return backend_label(self.backend)

    def model_signature(self) -> str:
        """Backend, model and every backend option that changes results (a cache-key part)."""
        return backend_signature(self.backend)

    def image_store(self):
        """The ImageStore of the current input (the ``images`` option, else found from the shard)."""
        from mella.models.images import ImageSource

        if self._images is None:
            self._images = ImageSource(getattr(self.options, "images", None))
        return self._images.store(self._shard)

    def cached(self, kind: str, inputs: dict[str, Any], compute: Callable[[list[Any]], list[Any]],
               out: Emitter) -> dict[str, Any]:
        """Results for ``inputs`` ({cache key: input}): from the cache, else ``compute``d once and stored."""
        found = self.results.get_many(list(inputs))
        out.count("cache_hits", len(found))
        missing = [k for k in inputs if k not in found]
        if missing:
            values = compute([inputs[k] for k in missing])
            out.count("model_calls", len(missing))
            fresh = dict(zip(missing, values, strict=True))
            self.results.put_many(fresh, kind, self.model_label)
            found.update(fresh)
        return found

    def count_tiny(self, out: Emitter, n: int) -> None:
        """Count rows written by a tiny random model, so stats.json says so too."""
        if self.backend.tiny:
            out.count("rows_from_tiny_model", n)


def backend_label(backend) -> str:
    """A loaded backend's model label: the model id, or ``tiny-random:<model type>`` for a tiny random model."""
    if not backend.tiny:
        return backend.model_id
    kind = getattr(getattr(backend, "config", None), "model_type", None) or Path(backend.model_id).name
    return f"tiny-random:{kind}"


def backend_signature(backend) -> str:
    """Backend, model and every backend option that changes results (a cache-key part)."""
    opts = {k: v for k, v in backend.options.model_dump(mode="json").items() if k not in RUNTIME_BACKEND_OPTIONS}
    blob = json.dumps([backend.name, opts], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
