"""The one small model-backend interface: generate, translate, score; typed options; a registry.

A backend is built from its options and loads its model on first use, so that it can be
constructed (and pickled to a worker) cheaply. Every method takes a whole batch and returns one
result per input, in input order.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mella.errors import MellaError
from mella.languages import get_language
from mella.options import error_line

# Name -> "module:Class", imported only when asked for, so that `import mella.models.base` stays light.
BACKENDS: dict[str, str] = {
    "hf": "mella.models.hf:HFBackend",
    "openai": "mella.models.openai:OpenAIBackend",
    "vllm": "mella.models.vllm:VLLMBackend",
}

DEFAULT_TRANSLATE_PROMPT = (
    "Translate the following text from {src_name} into {tgt_name}. "
    "Reply with the translation only, without notes or quotes.\n\n{text}"
)


class UnsupportedTaskError(MellaError):
    """A backend (or the model it loaded) cannot do what was asked, e.g. ``score`` with a captioner."""


@dataclass(frozen=True)
class GenRequest:
    """One generation input: a prompt, optionally an image (``PIL.Image.Image``) and a system message."""

    prompt: str
    image: Any = None
    system: str | None = None


class GenOptions(BaseModel):
    """Sampling options shared by all backends; ``temperature == 0`` means greedy decoding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    repetition_penalty: float = Field(1.0, gt=0.0)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def signature(self) -> str:
        """A stable short hash of every setting that changes the output (for cache keys and provenance)."""
        blob = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class BackendOptions(BaseModel):
    """Options every backend has; subclasses add their own fields. Unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(min_length=1, description="model id, local folder or served model name")
    batch_size: int = Field(16, ge=1, description="inputs per forward pass or per request wave")
    translate_prompt: str = Field(DEFAULT_TRANSLATE_PROMPT, description="LLM translation prompt template")


class Backend:
    """Base class: a subclass sets ``name`` and ``Options`` and implements the methods it supports."""

    name: ClassVar[str] = "base"
    Options: ClassVar[type[BackendOptions]] = BackendOptions

    def __init__(self, options: BackendOptions | dict | None = None, **kwargs: Any):
        self.options = _parse_options(self.Options, options, kwargs, self.name)

    @property
    def model_id(self) -> str:
        """The model as the user named it (a hub id, a folder or a served name)."""
        return self.options.model

    @property
    def tiny(self) -> bool:
        """True where the model is a tiny random one (its text is noise, not a caption)."""
        return False

    def info(self) -> dict[str, Any]:
        """Provenance for rows: backend name, model id, tiny flag."""
        return {"backend": self.name, "model_id": self.model_id, "tiny": self.tiny}

    def generate(self, requests: Sequence[GenRequest], options: GenOptions | None = None) -> list[str]:
        """One text per request, in order."""
        raise UnsupportedTaskError(f"backend {self.name!r} cannot generate text")

    def translate(self, texts: Sequence[str], src_lang: str, tgt_lang: str,
                  options: GenOptions | None = None) -> list[str]:
        """Translate each text from ``src_lang`` to ``tgt_lang`` (registry tags); default: an LLM prompt."""
        requests = [GenRequest(prompt=self.translate_prompt(t, src_lang, tgt_lang)) for t in texts]
        return self.generate(requests, options)

    def score(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        """Image-text relevance per (image, text) pair, in [-1, 1] (cosine similarity)."""
        raise UnsupportedTaskError(
            f"backend {self.name!r} cannot score image-text pairs; use the hf backend with a CLIP/SigLIP model")

    def translate_prompt(self, text: str, src_lang: str, tgt_lang: str) -> str:
        """The LLM translation prompt for one text, with language names from the registry."""
        src, tgt = get_language(src_lang), get_language(tgt_lang)
        return self.options.translate_prompt.format(src_name=src.name, tgt_name=_name_with_script(tgt),
                                                    src=src.tag, tgt=tgt.tag, text=text)

    def close(self) -> None:
        """Release the model or connections; the backend loads again on next use."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _name_with_script(lang) -> str:
    # "Serbian (Latn)" tells an LLM which of the two alphabets to write.
    return f"{lang.name} ({lang.script})" if lang.script else lang.name


def _parse_options(cls: type[BackendOptions], options, kwargs: dict, name: str) -> BackendOptions:
    if isinstance(options, cls) and not kwargs:
        return options
    data = dict(options.model_dump() if isinstance(options, BaseModel) else options or {}, **kwargs)
    try:
        return cls(**data)
    except ValidationError as exc:
        problems = "; ".join(error_line(e, echo_input=False) for e in exc.errors())
        raise MellaError(f"backend {name!r}: {problems}") from None


def get_backend_class(name: str) -> type[Backend]:
    """The backend class registered as ``name``; an unknown name lists the valid ones."""
    if name not in BACKENDS:
        raise MellaError(f"unknown model backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def load_backend(name: str, options: BackendOptions | dict | None = None, **kwargs: Any) -> Backend:
    """Build the backend ``name`` from options (a dict, its Options model, or keywords)."""
    return get_backend_class(name)(options, **kwargs)


def run_sorted(items: Sequence[Any], keys: Sequence[Any], batch_size: int, fn,
               groups: Sequence[Any] | None = None, *, sort: bool = True,
               prepare: Callable[[list], Any] | None = None, prefetch: int = 0) -> list[Any]:
    """Apply ``fn`` to batches of ``items``, longest ``keys`` first; results come back in input order.

    Sorting by length keeps padding small; a batch never mixes items of different ``groups``. With ``prepare``,
    ``fn`` gets ``prepare(batch)``, computed up to ``prefetch`` batches ahead in a worker thread
    (:func:`prefetched`).
    """
    out: list[Any] = [None] * len(items)
    batches = batch_order(keys, batch_size, groups, sort)
    work = prefetched(batches, lambda idx: (prepare or _same)([items[i] for i in idx]), prefetch)
    with closing(work):  # an error in fn stops the worker at once
        for idx, prepared in zip(batches, work, strict=True):
            for i, result in zip(idx, fn(prepared), strict=True):
                out[i] = result
    return out


def _same(batch: list) -> list:
    return batch


def batch_order(keys: Sequence[Any], batch_size: int, groups: Sequence[Any] | None = None,
                sort: bool = True) -> list[list[int]]:
    """Input indices cut into batches: per group (in order of first appearance), longest ``keys`` first.

    With ``sort`` off, each group keeps input order (the sort is stable, so equal keys do too).
    """
    groups = list(groups) if groups is not None else [0] * len(keys)
    batches = []
    for group in dict.fromkeys(groups):
        members = [i for i in range(len(keys)) if groups[i] == group]
        order = sorted(members, key=lambda i: keys[i], reverse=True) if sort else members
        batches += [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    return batches


def prefetched(items: Iterable[Any], prepare: Callable[[Any], Any], depth: int) -> Iterator[Any]:
    """``prepare(item)`` for each item, in order, computed up to ``depth`` items ahead in one worker thread.

    The caller consumes one prepared item (runs the model on a batch) while the worker prepares the next
    ones (image resizing, the processor), so the accelerator does not wait for the CPU. At most ``depth``
    items are prepared or being prepared beyond the one the caller holds: memory stays bounded. An
    exception in ``prepare`` is raised here, unchanged, when its item is reached; the worker is then
    stopped and items not yet started are cancelled. ``depth`` 0 prepares inline.
    """
    if depth <= 0:
        yield from map(prepare, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mella-prefetch")
    pending: deque = deque()
    try:
        for item in itertools.islice(source, depth):
            pending.append(pool.submit(prepare, item))
        while pending:
            ready = pending.popleft().result()
            for item in itertools.islice(source, 1):
                pending.append(pool.submit(prepare, item))
            yield ready
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def fit_pixels(image, min_pixels: int | None, max_pixels: int | None):
    """RGB copy of ``image`` scaled (aspect kept) so its pixel count lies within [min_pixels, max_pixels]."""
    image = image.convert("RGB")
    size = fitted_size(image.size, min_pixels, max_pixels)
    if size == image.size:
        return image
    from PIL import Image

    return image.resize(size, Image.Resampling.BICUBIC)


def fitted_size(size: tuple[int, int], min_pixels: int | None, max_pixels: int | None) -> tuple[int, int]:
    """The (width, height) :func:`fit_pixels` gives an image of ``size`` (known without decoding it)."""
    w, h = size
    n = w * h
    scale = 1.0
    if max_pixels and n > max_pixels:
        scale = math.sqrt(max_pixels / n)
    elif min_pixels and n < min_pixels:
        scale = math.sqrt(min_pixels / n)
    if scale == 1.0:
        return w, h
    return max(1, round(w * scale)), max(1, round(h * scale))


def chat_messages(request: GenRequest, text_only: bool = False, image_part: dict | None = None) -> list[dict]:
    """A one-turn chat in the content-list form that processors' templates and OpenAI servers expect.

    ``text_only`` gives plain-string contents (text LLM templates); ``image_part`` replaces the bare
    ``{"type": "image"}`` placeholder (an OpenAI ``image_url`` part, for instance).
    """

    def content(text, image=False):
        if text_only:
            return text
        return ([image_part or {"type": "image"}] if image else []) + [{"type": "text", "text": text}]

    msgs = [{"role": "system", "content": content(request.system)}] if request.system else []
    return msgs + [{"role": "user", "content": content(request.prompt, request.image is not None)}]
