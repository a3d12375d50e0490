"""The ``vllm`` backend: vLLM's offline engine (``vllm.LLM``) for batch captioning on GPUs.

vLLM schedules a whole list of prompts itself (continuous batching, paged KV cache), so this
backend hands it everything at once. Prompts are rendered with the model's own Hugging Face
processor and chat template — the same messages the ``hf`` backend renders — and each image rides
along as ``multi_modal_data``. vLLM needs a CUDA (or ROCm/TPU) machine: ``pip install 'mella[vllm]'``
brings PyPI's build; other CUDA versions install vLLM their own way. The pure parts here (prompt
building, sampling parameters, engine arguments) are tested on CPU; the engine itself is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from mella.errors import require
from mella.models.base import Backend, BackendOptions, GenOptions, GenRequest, chat_messages, fit_pixels

EXTRA = "vllm"


class VLLMOptions(BackendOptions):
    """Options of the vLLM offline engine (the ones captioning needs; the rest go in ``engine_args``)."""

    batch_size: int = Field(1024, ge=1, description="prompts handed to the engine per call (it schedules them)")
    dtype: str = Field("auto", description="auto uses the checkpoint's dtype (bf16 for most VLMs)")
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    max_num_seqs: int | None = Field(None, ge=1, description="sequences decoded at once")
    images_per_prompt: int = Field(1, ge=0, description="limit_mm_per_prompt for images; 0 for text-only use")
    min_pixels: int | None = Field(None, ge=1)
    max_pixels: int | None = Field(1280 * 28 * 28, ge=1)
    mm_processor_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    revision: str | None = None
    trust_remote_code: bool = Field(False, strict=True, description="run the Python code a model repository ships")
    enforce_eager: bool = False
    engine_args: dict[str, Any] = Field(default_factory=dict, description="any other vllm.LLM argument")


class VLLMBackend(Backend):
    """vLLM offline generation; ``translate`` is the LLM prompt path; ``score`` is not offered."""

    name = "vllm"
    Options = VLLMOptions

    def __init__(self, options=None, **kwargs):
        super().__init__(options, **kwargs)
        self._llm = None
        self._processor = None

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments for ``vllm.LLM``."""
        o = self.options
        args: dict[str, Any] = dict(model=o.model, dtype=o.dtype, tensor_parallel_size=o.tensor_parallel_size,
                                    gpu_memory_utilization=o.gpu_memory_utilization, seed=o.seed,
                                    trust_remote_code=o.trust_remote_code, enforce_eager=o.enforce_eager,
                                    limit_mm_per_prompt={"image": o.images_per_prompt})
        optional = dict(max_model_len=o.max_model_len, max_num_seqs=o.max_num_seqs, revision=o.revision,
                        mm_processor_kwargs=o.mm_processor_kwargs or None)
        return args | {k: v for k, v in optional.items() if v is not None} | o.engine_args

    @property
    def llm(self):
        """The engine, started on first use (it takes the GPU memory it is told to)."""
        if self._llm is None:
            vllm = require("vllm", EXTRA, "the vllm backend")
            self._llm = vllm.LLM(**self.engine_args())
        return self._llm

    @property
    def processor(self):
        """The model's Hugging Face processor (or tokenizer), used to render chat prompts."""
        if self._processor is None:
            tf = require("transformers", "models", "the vllm backend")
            kw = dict(revision=self.options.revision, trust_remote_code=self.options.trust_remote_code)
            try:
                self._processor = tf.AutoProcessor.from_pretrained(self.options.model, **kw)
            except (OSError, ValueError, TypeError):  # text-only models have a tokenizer, no processor
                self._processor = tf.AutoTokenizer.from_pretrained(self.options.model, **kw)
        return self._processor

    def generate(self, requests: Sequence[GenRequest], options: GenOptions | None = None) -> list[str]:
        """One text per request, in order; the engine batches and schedules them."""
        vllm = require("vllm", EXTRA, "the vllm backend")
        params = vllm.SamplingParams(**sampling_params(options or GenOptions()))
        out: list[str] = []
        for start in range(0, len(requests), self.options.batch_size):
            chunk = requests[start:start + self.options.batch_size]
            inputs = [self.engine_input(r) for r in chunk]
            results = self.llm.generate(inputs, params, use_tqdm=False)
            out.extend(r.outputs[0].text.strip() for r in results)  # vLLM returns outputs in input order
        return out

    def engine_input(self, request: GenRequest) -> dict[str, Any]:
        """One prompt for ``LLM.generate``: the rendered chat text plus the (pixel-limited) image."""
        return build_input(self.processor, request, self.options.min_pixels, self.options.max_pixels)

    def close(self) -> None:
        self._llm = None


def build_input(processor, request: GenRequest, min_pixels: int | None = None,
                max_pixels: int | None = None) -> dict[str, Any]:
    """``{"prompt": chat text, "multi_modal_data": {"image": PIL}}`` for vLLM, from a HF processor."""
    text_only = not hasattr(processor, "tokenizer")  # a bare tokenizer: a text LLM's template
    prompt = processor.apply_chat_template(chat_messages(request, text_only=text_only),
                                           add_generation_prompt=True, tokenize=False)
    item: dict[str, Any] = {"prompt": prompt}
    if request.image is not None:
        item["multi_modal_data"] = {"image": fit_pixels(request.image, min_pixels, max_pixels)}
    return item


def sampling_params(options: GenOptions) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` (temperature 0 is greedy there too)."""
    params: dict[str, Any] = dict(max_tokens=options.max_new_tokens, temperature=options.temperature,
                                  top_p=options.top_p, repetition_penalty=options.repetition_penalty)
    if options.seed is not None:
        params["seed"] = options.seed
    return params
