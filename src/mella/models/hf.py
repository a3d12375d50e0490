"""The ``hf`` backend: transformers models on this machine (CPU or GPU).

One backend, four kinds of model, told apart from the checkpoint's config (or ``task``):
- ``vlm``: chat-template vision-language models through ``AutoProcessor`` + ``AutoModelForImageTextToText``
  (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL-HF, Idefics3/SmolVLM, LLaVA, ...);
- ``causal``: text-only chat LLMs (``AutoModelForCausalLM``), used for LLM-prompt translation;
- ``seq2seq``: translation models (NLLB-200, M2M100, MADLAD-400) with registry language codes;
- ``embed``: dual encoders (CLIP, SigLIP) for image-text relevance scores.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from mella.errors import MellaError, require
from mella.languages import get_language
from mella.models import internvl
from mella.models.base import (
    Backend,
    BackendOptions,
    GenOptions,
    GenRequest,
    UnsupportedTaskError,
    chat_messages,
    fit_pixels,
    fitted_size,
    run_sorted,
)
from mella.models.hub import hub_errors
from mella.models.tiny import is_tiny

log = logging.getLogger("mella.models")

Task = Literal["auto", "vlm", "causal", "seq2seq", "embed"]
EMBED_TYPES = {"clip", "siglip", "siglip2", "chinese_clip", "altclip"}
DTYPES = {"bfloat16", "float16", "float32"}

# A fast tokenizer must not be called from two threads at once (its Rust side is borrowed mutably to set
# padding): the prefetch worker's processor calls and the caller's decoding take turns through this lock.
_TOKENIZER_LOCK = threading.Lock()


# A hub id: "name" or "org/name" (letters, digits, - _ .). Anything else can only be a local folder.
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def check_model_ref(model: str) -> None:
    """Refuse, in one line, a model that is neither an existing path nor a hub id (``/no/such/dir``).

    transformers would call a missing folder a malformed repo id; a value that looks like a path (it starts
    with / . or ~, or has more than one separator) and does not exist is a missing folder.
    """
    if os.path.exists(os.path.expanduser(model)):
        return
    path_like = model.startswith(("/", ".", "~")) or model.count("/") > 1 or (os.sep != "/" and os.sep in model)
    if path_like or not _HUB_ID.fullmatch(model):
        raise MellaError(f"model {model}: no such folder, and not a model id of the form org/name")


class HFOptions(BackendOptions):
    """Options of the transformers backend."""

    task: Task = "auto"
    device: str = Field("auto", description="auto (cuda when available, else cpu), cpu, cuda, cuda:1, mps")
    dtype: str = Field("auto", description="auto (bfloat16 on GPU, float32 on CPU), bfloat16, float16, float32")
    device_map: str | None = Field(None, description="accelerate device map; on GPU the default is 'auto'")
    attn_implementation: str | None = Field(None, description="sdpa, flash_attention_2, eager")
    min_pixels: int | None = Field(None, ge=1, description="smaller images are upscaled to this many pixels")
    max_pixels: int | None = Field(1280 * 28 * 28, ge=1, description="larger images are downscaled to this many")
    max_input_tokens: int = Field(1024, ge=1, description="truncation of seq2seq and score text inputs")
    max_tiles: int | None = Field(None, ge=1, description="InternVL: at most this many 448px tiles per image "
                                                       "(dynamic tiling max_num; default the checkpoint's, 12)")
    revision: str | None = None
    trust_remote_code: bool = Field(False, strict=True, description=(
        "run the Python code a model repository ships (InternVL2 remote-code checkpoints); "
        "only for repositories you trust"))
    # Throughput switches: none of them changes what greedy decoding writes (see docs/models.md).
    sort_by_length: bool = Field(True, strict=True, description=(
        "batch requests of similar length together (prompt tokens plus image tokens); results keep input order"))
    prefetch: int = Field(1, ge=0, description=(
        "batches prepared ahead (image resizing, chat template, processor) in a worker thread while the model "
        "generates; 0 prepares each batch just before its turn"))
    static_cache: bool = Field(False, strict=True, description=(
        "preallocated KV cache (generate's cache_implementation='static'); needed by compile"))
    compile: bool = Field(False, strict=True, description="torch.compile the decoding step (needs static_cache)")
    compile_options: dict[str, Any] = Field(default_factory=dict, description=(
        "transformers CompileConfig fields (fullgraph, dynamic, backend, mode; default mode reduce-overhead)"))
    pad_to_multiple_of: int | None = Field(None, ge=1, description=(
        "left-pad prompts to a multiple of this many tokens: fewer distinct shapes for compile to specialise on"))

    @model_validator(mode="after")
    def _check_compile(self):
        if self.compile and not self.static_cache:
            raise ValueError("compile: needs static_cache: true (a compiled decoding step needs a fixed-size cache)")
        return self


class RemoteCodeError(MellaError):
    """A checkpoint that needs its repository's own Python code, asked for without ``trust_remote_code``."""

    exit_code = 2


def load_config(model: str, revision: str | None = None, trust_remote_code: bool = False, where: str = ""):
    """The checkpoint's config; a repository with its own code is refused in one line without the opt-in."""
    tf = require("transformers", "models", "the hf backend")
    check_model_ref(model)
    try:
        with hub_errors(model):
            return tf.AutoConfig.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        if "trust_remote_code" not in str(exc):
            raise
        option = where or "trust_remote_code: true in the hf backend options"
        raise RemoteCodeError(
            f"model {model} runs Python code from its own repository; mella runs it only with {option} "
            f"(do so only for a repository you trust), or use a transformers-native checkpoint "
            f"(InternVL: the -hf ids, see docs/models.md)") from None


@dataclass
class _Loaded:
    task: str
    model: Any
    processor: Any  # AutoProcessor for vlm/embed, the tokenizer for causal/seq2seq
    tokenizer: Any
    config: Any


class HFBackend(Backend):
    """transformers models: ``generate`` (vlm, causal), ``translate`` (seq2seq or LLM prompt), ``score`` (embed)."""

    name = "hf"
    Options = HFOptions

    def __init__(self, options=None, **kwargs):
        super().__init__(options, **kwargs)
        self._loaded: _Loaded | None = None
        self._config = None
        self._compile_config = None  # one object for all calls: a new one would make transformers recompile

    # -- loading ---------------------------------------------------------------------------------

    @property
    def config(self):
        """The checkpoint's config (read without loading weights)."""
        if self._config is None:
            self._config = load_config(self.options.model, self.options.revision, self.options.trust_remote_code)
        return self._config

    @property
    def tiny(self) -> bool:
        return is_tiny(self.config)

    @property
    def task(self) -> str:
        """The kind of model: the ``task`` option, or detected from the config."""
        return self.options.task if self.options.task != "auto" else detect_task(self.config)

    @property
    def loaded(self) -> _Loaded:
        if self._loaded is None:
            with hub_errors(self.options.model):
                self._loaded = self._load()
        return self._loaded

    def _load(self) -> _Loaded:
        tf = require("transformers", "models", "the hf backend")
        task, opts = self.task, self.options  # reads the config: load_config has checked the model ref
        common = dict(revision=opts.revision, trust_remote_code=opts.trust_remote_code)
        if internvl.is_remote_internvl(self.config):
            return self._load_remote_internvl(common)
        auto_model = {"vlm": tf.AutoModelForImageTextToText, "causal": tf.AutoModelForCausalLM,
                      "seq2seq": tf.AutoModelForSeq2SeqLM, "embed": tf.AutoModel}[task]
        log.info("loading %s model %s", task, opts.model)
        model = auto_model.from_pretrained(opts.model, **common, **self._placement())
        if opts.device_map is None and not self._on_gpu():
            model.to(self.device)
        model.eval()
        if task in ("vlm", "embed"):
            processor = tf.AutoProcessor.from_pretrained(opts.model, **common)
            tokenizer = processor.tokenizer
        else:
            processor = tokenizer = tf.AutoTokenizer.from_pretrained(opts.model, **common)
        # Decoder-only batches are padded on the left so every prompt ends where generation starts.
        tokenizer.padding_side = "right" if task in ("seq2seq", "embed") else "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if opts.max_tiles and hasattr(getattr(processor, "image_processor", None), "max_patches"):
            processor.image_processor.max_patches = opts.max_tiles  # InternVL's dynamic tiling limit
        return _Loaded(task, model, processor, tokenizer, model.config)

    def _load_remote_internvl(self, common: dict) -> _Loaded:
        """InternVL2-style remote code: AutoModel and the tokenizer; images are tiled here (no processor)."""
        tf = require("transformers", "models", "the hf backend")
        log.info("loading remote-code InternVL model %s", self.options.model)
        model = tf.AutoModel.from_pretrained(self.options.model, **common, **self._placement())
        if self.options.device_map is None and not self._on_gpu():
            model.to(self.device)
        model.eval()
        tokenizer = tf.AutoTokenizer.from_pretrained(self.options.model, use_fast=False, **common)
        tokenizer.padding_side = "left"
        return _Loaded("vlm", model, None, tokenizer, model.config)

    @property
    def device(self) -> str:
        if self.options.device != "auto":
            return self.options.device
        torch = require("torch", "models", "the hf backend")
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def _placement(self) -> dict[str, Any]:
        """dtype, device_map and attention kwargs for ``from_pretrained``: bf16 + device_map on GPU, fp32 on CPU."""
        torch = require("torch", "models", "the hf backend")
        opts, gpu = self.options, self._on_gpu()
        name = opts.dtype if opts.dtype != "auto" else ("bfloat16" if gpu else "float32")
        if name not in DTYPES:
            raise MellaError(f"hf backend: unknown dtype {name!r}; known: auto, {', '.join(sorted(DTYPES))}")
        kwargs: dict[str, Any] = {"dtype": getattr(torch, name)}
        if opts.device_map is not None:
            kwargs["device_map"] = opts.device_map
        elif gpu:  # "auto" spreads a large model over the visible GPUs; a named device pins it there
            kwargs["device_map"] = "auto" if self.device == "cuda" else {"": self.device}
        if opts.attn_implementation:
            kwargs["attn_implementation"] = opts.attn_implementation
        return kwargs

    def close(self) -> None:
        self._loaded = None

    # -- generate --------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenRequest], options: GenOptions | None = None) -> list[str]:
        options = options or GenOptions()
        task = self.task
        if task not in ("vlm", "causal"):
            raise UnsupportedTaskError(f"{self.model_id} is a {task} model: it cannot generate from prompts")
        requests = list(requests)
        if task == "causal" and any(r.image is not None for r in requests):
            raise UnsupportedTaskError(f"{self.model_id} is a text-only model: it cannot take images")
        if not requests:
            return []
        if task == "vlm" and self.loaded.processor is None:  # remote-code InternVL prepares its own inputs
            prepare, run = None, (lambda batch: self._generate_remote_internvl(batch, options))
        else:
            prepare = self._prepare_vlm if task == "vlm" else self._prepare_causal
            run = lambda inputs: self._decode_new(inputs, options)  # noqa: E731
        # Requests with and without an image are never mixed in one batch: processors expect either.
        groups = [r.image is not None for r in requests]
        return self._run_batches(requests, self._length_keys(requests), groups, prepare, run)

    def _run_batches(self, items: list, keys: list, groups: list | None, prepare: Callable | None,
                     run: Callable) -> list:
        """``run(prepare(batch))`` over length-sorted batches, ``prepare`` (None: the batch as it is) running
        ahead in a worker thread; results in input order."""
        o = self.options
        return run_sorted(items, keys, o.batch_size, run, groups, sort=o.sort_by_length, prepare=prepare,
                          prefetch=o.prefetch)

    def _length_keys(self, requests: list[GenRequest]) -> list[int]:
        """Expected input length per request: prompt and system tokens plus the image's tokens after fitting."""
        if not self.options.sort_by_length:
            return [0] * len(requests)
        tok = self.loaded.tokenizer
        with _TOKENIZER_LOCK:
            ids = tok([(r.system or "") + r.prompt for r in requests], add_special_tokens=False)["input_ids"]
        return [len(t) + self._image_tokens(r.image) for t, r in zip(ids, requests, strict=True)]

    def _image_tokens(self, image) -> int:
        # A sort key: vision models spend about one token per 28x28 patch of the image they are given.
        if image is None:
            return 0
        w, h = fitted_size(image.size, self.options.min_pixels, self.options.max_pixels)
        return (w * h) // (28 * 28)

    def _prepare_vlm(self, batch: list[GenRequest]):
        """Chat template, image fitting and the processor: CPU work, done in the prefetch worker."""
        lo = self.loaded
        texts = [lo.processor.apply_chat_template(chat_messages(r), add_generation_prompt=True, tokenize=False)
                 for r in batch]
        # One list per request: Idefics-style processors need the nesting, Qwen-style ones flatten it.
        images = [[self._fit(r.image)] for r in batch] if batch[0].image is not None else None
        with _TOKENIZER_LOCK:
            inputs = lo.processor(text=texts, images=images, padding=True, return_tensors="pt", **self._padding())
        # Pixel values come as float32; cast them to the model's dtype (bf16 on GPU), ids stay integers.
        return inputs.to(lo.model.dtype)

    def _prepare_causal(self, batch: list[GenRequest]):
        tok = self.loaded.tokenizer
        with _TOKENIZER_LOCK:
            if tok.chat_template:
                texts = [tok.apply_chat_template(chat_messages(r, text_only=True), add_generation_prompt=True,
                                                 tokenize=False) for r in batch]
                return tok(texts, padding=True, return_tensors="pt", add_special_tokens=False, **self._padding())
            # a base model: the prompt is the text
            return tok([r.prompt for r in batch], padding=True, return_tensors="pt", **self._padding())

    def _generate_remote_internvl(self, batch: list[GenRequest], options: GenOptions) -> list[str]:
        torch = require("torch", "models", "the hf backend")
        lo = self.loaded
        if any(r.image is None for r in batch):
            raise UnsupportedTaskError(f"{self.model_id}: mella prompts remote-code InternVL with an image only")
        if options.seed is not None:
            torch.manual_seed(options.seed)
        out: dict[int, str] = {}
        # batch_chat takes one system turn per call: requests are grouped by theirs.
        for system in dict.fromkeys(r.system for r in batch):
            idx = [i for i, r in enumerate(batch) if r.system == system]
            reqs = [GenRequest(prompt=batch[i].prompt, image=self._fit(batch[i].image), system=system) for i in idx]
            with torch.inference_mode():
                texts = internvl.generate(lo.model, lo.tokenizer, lo.config, reqs,
                                          _generate_kwargs(options, lo.tokenizer), self.options.max_tiles)
            out.update(zip(idx, texts, strict=True))
        return [out[i] for i in range(len(batch))]

    def _decode_new(self, inputs, options: GenOptions, **extra: Any) -> list[str]:
        """Run ``generate`` and decode only the new tokens (the prompt is the left-padded prefix)."""
        torch = require("torch", "models", "the hf backend")
        lo = self.loaded
        inputs = inputs.to(lo.model.device)
        if options.seed is not None:
            torch.manual_seed(options.seed)
        kwargs = _generate_kwargs(options, lo.tokenizer) | self._cache_kwargs() | extra
        with torch.inference_mode():
            out = lo.model.generate(**inputs, **kwargs)
        if not lo.model.config.is_encoder_decoder:
            out = out[:, inputs["input_ids"].shape[1]:]
        with _TOKENIZER_LOCK:
            texts = lo.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [t.strip() for t in texts]

    def _padding(self) -> dict[str, Any]:
        return {"pad_to_multiple_of": self.options.pad_to_multiple_of} if self.options.pad_to_multiple_of else {}

    def _cache_kwargs(self) -> dict[str, Any]:
        """``generate`` arguments for the static cache and compiled decoding (nothing when both are off).

        transformers compiles the decoding step by itself on a GPU once the cache is static; ``compile`` off
        says ``disable_compile``, and ``compile`` on makes it compile on every device (CPU included).
        """
        o = self.options
        if not o.static_cache:
            return {}
        if not o.compile:
            return {"cache_implementation": "static", "disable_compile": True}
        if self._compile_config is None:
            tf = require("transformers", "models", "the hf backend")
            try:
                config = tf.CompileConfig(**o.compile_options)
            except TypeError as exc:
                raise MellaError(f"hf backend: compile_options: {exc}; known: fullgraph, dynamic, backend, mode, "
                                 f"options") from None
            config._compile_all_devices = True  # honour the option on CPU too (transformers' own switch)
            self._compile_config = config
        return {"cache_implementation": "static", "compile_config": self._compile_config}

    def _fit(self, image):
        return fit_pixels(image, self.options.min_pixels, self.options.max_pixels)

    # -- translate -------------------------------------------------------------------------------

    def translate(self, texts: Sequence[str], src_lang: str, tgt_lang: str,
                  options: GenOptions | None = None) -> list[str]:
        if self.task != "seq2seq":
            return super().translate(texts, src_lang, tgt_lang, options)
        options = options or GenOptions()
        texts = list(texts)
        if not texts:
            return []
        prefix, forced = self._seq2seq_codes(src_lang, tgt_lang)
        return self._run_batches(texts, [len(t) for t in texts], None,
                                 lambda batch: self._prepare_seq2seq(batch, prefix),
                                 lambda inputs: self._decode_new(inputs, options, forced_bos_token_id=forced))

    def _seq2seq_codes(self, src_lang: str, tgt_lang: str) -> tuple[str | None, int | None]:
        """Set the tokenizer's source language; the text prefix (MADLAD) or forced first token (NLLB, M2M100)."""
        lo = self.loaded
        style = code_style(lo.tokenizer, lo.config)
        src, tgt = lang_token(style, src_lang), lang_token(style, tgt_lang)
        if style == "madlad":  # MADLAD-400 (T5): the target is a "<2xx>" prefix on the source text
            _check_token(lo.tokenizer, tgt, self.model_id)
            return tgt, None
        # NLLB / M2M100: the source code is prepended by the tokenizer, the target forced as first token
        _check_token(lo.tokenizer, src, self.model_id)
        lo.tokenizer.src_lang = src if style == "nllb" else get_language(src_lang).m2m_code
        return None, _check_token(lo.tokenizer, tgt, self.model_id)

    def _prepare_seq2seq(self, texts: list[str], prefix: str | None):
        if prefix:
            texts = [f"{prefix} {t}" for t in texts]
        with _TOKENIZER_LOCK:
            return self.loaded.tokenizer(texts, padding=True, truncation=True, return_tensors="pt",
                                         max_length=self.options.max_input_tokens)

    # -- score -----------------------------------------------------------------------------------

    def score(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        if len(images) != len(texts):
            raise MellaError(f"score needs one text per image (got {len(images)} images, {len(texts)} texts)")
        if self.task != "embed":
            raise UnsupportedTaskError(f"{self.model_id} is a {self.task} model; score needs CLIP or SigLIP")
        pairs = list(zip(images, texts, strict=True))
        return run_sorted(pairs, [len(t) for t in texts], self.options.batch_size, self._score_batch)

    def _score_batch(self, pairs: list[tuple[Any, str]]) -> list[float]:
        torch = require("torch", "models", "the hf backend")
        lo = self.loaded
        # SigLIP was trained on texts padded to max_length; CLIP pools at the end token, any padding works.
        padding = "max_length" if "siglip" in lo.config.model_type else True
        images = [img.convert("RGB") for img, _ in pairs]
        inputs = lo.processor(text=[t for _, t in pairs], images=images, padding=padding, truncation=True,
                              max_length=min(self.options.max_input_tokens, _max_text_len(lo.config)),
                              return_tensors="pt").to(lo.model.device)
        text_inputs = {k: inputs[k] for k in ("input_ids", "attention_mask") if k in inputs}
        with torch.inference_mode():
            img = _features(lo.model.get_image_features(pixel_values=inputs["pixel_values"].to(lo.model.dtype)))
            txt = _features(lo.model.get_text_features(**text_inputs))
        sim = torch.nn.functional.cosine_similarity(img.float(), txt.float(), dim=-1)
        return [float(s) for s in sim.cpu()]


def detect_task(config) -> str:
    """vlm, causal, seq2seq or embed, from a transformers config."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    model_type = getattr(config, "model_type", "")
    if internvl.is_remote_internvl(config):
        return "vlm"
    if model_type in EMBED_TYPES:
        return "embed"
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return "vlm"
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    return "causal"


def code_style(tokenizer, config) -> str:
    """How a seq2seq model names languages: ``nllb`` (eng_Latn), ``m2m`` (__en__) or ``madlad`` (<2en>)."""
    if "nllb" in type(tokenizer).__name__.lower():
        return "nllb"
    if hasattr(tokenizer, "get_lang_id"):
        return "m2m"
    if getattr(config, "model_type", "") in ("t5", "mt5", "umt5"):
        return "madlad"
    raise UnsupportedTaskError(
        f"cannot tell how {type(tokenizer).__name__} names languages (known: NLLB, M2M100, MADLAD-400)")


def lang_token(style: str, tag: str) -> str:
    """The language token a model of ``style`` uses for the registry language ``tag``."""
    lang = get_language(tag)
    if style == "madlad":
        return f"<2{lang.code}>"
    code = lang.nllb_code if style == "nllb" else lang.m2m_code
    if not code:
        field = "nllb_code" if style == "nllb" else "m2m_code"
        raise MellaError(f"language {tag!r} has no {field} in the language registry; add one to translate with it")
    return code if style == "nllb" else f"__{code}__"


def _check_token(tokenizer, token: str, model_id: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise MellaError(f"{model_id} has no language token {token!r}: it cannot translate this language")
    return token_id


def _generate_kwargs(options: GenOptions, tokenizer) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_new_tokens": options.max_new_tokens, "pad_token_id": tokenizer.pad_token_id,
                              "repetition_penalty": options.repetition_penalty}
    if options.greedy:
        return kwargs | {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return kwargs | {"do_sample": True, "temperature": options.temperature, "top_p": options.top_p}


def _features(out):
    # transformers 5 returns a ModelOutput whose pooler_output holds the projected embedding.
    return out if hasattr(out, "shape") else out.pooler_output


def _max_text_len(config) -> int:
    return getattr(getattr(config, "text_config", config), "max_position_embeddings", 512)
