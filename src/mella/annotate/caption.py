"""``mella caption``: an MLLM describes each fetched image in a high-resource language (MELLA's D_ling source).

Modes: ``plain`` (the image alone), ``thick`` (the row's native alt-text and page title given as context,
to be used only where the image supports them), ``both`` (``caption`` plain, ``caption_thick`` thick).
Rows sharing an image (and, in thick mode, its context) are captioned once; results are cached by
(image sha256, model, rendered prompt, generation options) across runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from mella.errors import MellaError
from mella.languages import get_language
from mella.models.cache import cache_key
from mella.models.images import DecodedOnce, check_images, load_images
from mella.models.stage import GenerationOptions, ModelOptions, ModelStage
from mella.pipeline.stage import Emitter, runtime_option
from mella.records import CAPTION_READS, CAPTIONED, PAIRS, extend

MAX_CONTEXT_CHARS = 500  # an alt-text or title longer than this is cut: context, not a second document


class CaptionOptions(ModelOptions, GenerationOptions):
    """Options of ``mella caption``."""

    model: str = Field("Qwen/Qwen2.5-VL-7B-Instruct", min_length=1, description="the captioning MLLM")
    mode: Literal["plain", "thick", "both"] = Field("plain", description="image alone, with alt/title context, or both")
    caption_lang: str = Field("en", description="language the captions are written in (registry tag)")
    prompt: str | None = Field(None, description="plain prompt (default: the registry's caption_prompt)")
    thick_prompt: str | None = Field(None, description="thick prompt with {context} (default: caption_prompt_thick)")
    system: str | None = Field(None, description="system message")
    images: str | None = runtime_option(None, description="fetch output folder (default: found from the input)")

    @model_validator(mode="after")
    def _check_prompts(self):
        try:
            caption_prompts(self)
        except MellaError as exc:
            raise ValueError(str(exc)) from None
        return self


class CaptionStage(ModelStage):
    """Caption fetched images with an MLLM (plain, thick with alt-text context, or both)."""

    name = "caption"
    requires = CAPTION_READS
    Options = CaptionOptions

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or PAIRS, *CAPTIONED)

    def setup(self) -> None:
        super().setup()
        self.prompts = caption_prompts(self.options)
        self.prompt_hash = prompt_hash(self.options, self.prompts)

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        store = DecodedOnce(self.image_store())  # checked and captioned with one decode per image
        modes = ["plain", "thick"] if self.options.mode == "both" else [self.options.mode]
        inputs: dict[str, tuple[str, str]] = {}  # cache key -> (image key, rendered prompt)
        wanted: list[dict[str, str] | str] = []  # per row: cache keys by mode, or why its image is unusable
        for row, (sha, problem) in zip(rows, check_images(rows, store), strict=True):
            if problem:
                wanted.append(problem)
                continue
            keys = {}
            for mode in modes:
                text = self.render(mode, row)
                keys[mode] = cache_key("caption", self.model_sig, self.gen_signature, sha, text,
                                       self.options.system)
                inputs.setdefault(keys[mode], (row["key"], text))
            wanted.append(keys)
        results = self.cached("caption", inputs, lambda items: self._generate(items, store), out)
        for row, keys in zip(rows, wanted, strict=True):
            self._emit(row, keys, results, out)

    @property
    def gen_signature(self) -> str:
        return self.options.gen_options().signature()

    def render(self, mode: str, row: dict[str, Any]) -> str:
        """The prompt for one row: the plain prompt, or the thick one with the row's alt-text and title."""
        if mode == "plain":
            return self.prompts["plain"]
        return self.prompts["thick"].replace("{context}", context_block(row))

    def _generate(self, items: list[tuple[str, str]], store) -> list[str]:
        from mella.models.base import GenRequest

        images = load_images([key for key, _ in items], store)
        requests = [GenRequest(prompt=text, image=images[key], system=self.options.system) for key, text in items]
        return self.backend.generate(requests, self.options.gen_options())

    def _emit(self, row: dict[str, Any], keys: dict[str, str] | str, results: dict[str, str],
              out: Emitter) -> None:
        row = {**row, "caption_lang": self.options.caption_lang, "caption_mode": self.options.mode,
               "caption_model": self.model_label, "caption_backend": self.backend.name,
               "prompt_hash": self.prompt_hash}
        if isinstance(keys, str):  # image_missing, image_too_large, image_unreadable
            out.drop(row, keys)
            return
        texts = {mode: (results[k] or "").strip() for mode, k in keys.items()}
        row["caption"] = texts.get("plain", texts.get("thick"))
        row["caption_thick"] = texts.get("thick")
        if not all(texts.values()):
            out.drop(row, "caption_empty")
            return
        self.count_tiny(out, 1)
        out.keep(row)


def caption_prompts(options: CaptionOptions) -> dict[str, str]:
    """The plain and thick prompt templates: the options, else the caption language's registry entry."""
    lang = get_language(options.caption_lang)
    plain = options.prompt or lang.extra.get("caption_prompt")
    thick = options.thick_prompt or lang.extra.get("caption_prompt_thick")
    needed = {"plain": ["plain"], "thick": ["thick"], "both": ["plain", "thick"]}[options.mode]
    found = {"plain": plain, "thick": thick}
    for mode in needed:
        if not found[mode]:
            field = "caption_prompt" if mode == "plain" else "caption_prompt_thick"
            flag = "--prompt" if mode == "plain" else "--thick-prompt"
            raise MellaError(f"language {lang.tag!r} has no {field} in the language registry; add one or pass {flag}")
    if "thick" in needed and "{context}" not in thick:
        raise MellaError("the thick caption prompt needs a {context} placeholder for the alt-text and page title")
    return {m: found[m] for m in needed}


def prompt_hash(options: CaptionOptions, prompts: dict[str, str]) -> str:
    """16 hex digits identifying the prompt templates, mode, caption language and system message."""
    blob = json.dumps({"mode": options.mode, "lang": options.caption_lang, "prompts": prompts,
                       "system": options.system}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def context_block(row: dict[str, Any]) -> str:
    """The alt-text (with its language) and page title of a row, as the thick prompt's context lines."""
    lines = []
    lang = row.get("lang")
    try:
        name = get_language(lang).name if lang else None
    except MellaError:
        name = None
    alt = _clip(row.get("alt"))
    if alt:
        lines.append(f"Image description (alt-text{f', in {name}' if name else ''}): \"{alt}\"")
    title = _clip(row.get("page_title"))
    if title:
        lines.append(f"Page title: \"{title}\"")
    return "\n".join(lines) or "(the page says nothing about the image)"


def _clip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_CONTEXT_CHARS else text[:MAX_CONTEXT_CHARS].rstrip() + "…"
