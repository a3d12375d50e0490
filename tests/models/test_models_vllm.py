"""The vllm backend: vLLM does not install on this CPU machine, so the engine itself is not run here.
What is tested: the missing package names the extra, and the pure parts (prompts, sampling, engine args)."""

from __future__ import annotations

import sys

import pytest

from mella.errors import MissingExtraError
from mella.models.base import GenOptions, GenRequest, load_backend
from mella.models.vllm import build_input, sampling_params


def test_missing_vllm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, as on a CPU box
    backend = load_backend("vllm", model="Qwen/Qwen2.5-VL-3B-Instruct")
    with pytest.raises(MissingExtraError, match=r"mella\[vllm\]"):
        backend.generate([GenRequest("Describe.")])


def test_prompts_are_the_ones_the_hf_backend_renders(tiny, images):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny("qwen2-vl"))
    req = GenRequest("Describe the image.", images[1], system="Be brief.")
    item = build_input(proc, req, max_pixels=28 * 28 * 4)
    assert item["prompt"] == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
                              "<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|>\n"
                              "<|im_start|>assistant\n")
    image = item["multi_modal_data"]["image"]
    assert image.mode == "RGB" and image.size[0] * image.size[1] <= 28 * 28 * 4


def test_text_only_prompt_with_a_tokenizer(tiny):
    from transformers import AutoTokenizer

    item = build_input(AutoTokenizer.from_pretrained(tiny("qwen2")), GenRequest("Translate: boat"))
    assert item == {"prompt": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                              "<|im_start|>user\nTranslate: boat<|im_end|>\n<|im_start|>assistant\n"}


def test_sampling_params_map_the_shared_options():
    assert sampling_params(GenOptions(max_new_tokens=64)) == {
        "max_tokens": 64, "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0}
    assert sampling_params(GenOptions(temperature=0.7, top_p=0.9, seed=5))["seed"] == 5


def test_engine_args_drop_unset_values_and_take_extras():
    backend = load_backend("vllm", model="m", tensor_parallel_size=2, max_model_len=8192,
                           engine_args={"enable_prefix_caching": True})
    args = backend.engine_args()
    assert args["tensor_parallel_size"] == 2 and args["max_model_len"] == 8192
    assert args["limit_mm_per_prompt"] == {"image": 1} and args["enable_prefix_caching"] is True
    assert "revision" not in args and "max_num_seqs" not in args
