"""The hf backend on tiny random models of the real architectures (loaded through from_pretrained)."""

from __future__ import annotations

import pytest

from mella.errors import MellaError
from mella.models.base import GenOptions, GenRequest, UnsupportedTaskError, load_backend
from mella.models.hf import HFBackend, code_style, detect_task, lang_token

VLMS = ["qwen2-vl", "qwen2.5-vl", "idefics3"]
SHORT = GenOptions(max_new_tokens=6)


@pytest.fixture(scope="module")
def backends(tiny):
    """One loaded backend per tiny kind, shared by the module's tests."""
    cache: dict[str, HFBackend] = {}

    def get(kind: str, **options) -> HFBackend:
        key = kind + repr(sorted(options.items()))
        if key not in cache:
            cache[key] = load_backend("hf", model=tiny(kind), **options)
        return cache[key]

    return get


def requests_for(images):
    return [GenRequest("Describe the image.", images[0]),
            GenRequest("What is shown here, in great detail, please?", images[1], system="Answer briefly."),
            GenRequest("Hi", images[2])]


@pytest.mark.parametrize("kind", VLMS)
def test_batched_generate_equals_one_by_one(backends, images, kind):
    backend = backends(kind, batch_size=8)
    reqs = requests_for(images)
    batch = backend.generate(reqs, SHORT)
    single = [backend.generate([r], SHORT)[0] for r in reqs]
    assert len(batch) == 3 and all(isinstance(t, str) for t in batch)
    # Left padding is right: a padded row decodes exactly as it does alone (greedy, fp32).
    assert batch == single
    assert backend.loaded.tokenizer.padding_side == "left"


@pytest.mark.parametrize("kind", VLMS)
def test_results_come_back_in_input_order_across_batches(backends, images, kind):
    reqs = requests_for(images)
    whole = backends(kind, batch_size=8).generate(reqs, SHORT)
    reversed_out = backends(kind, batch_size=2).generate(reqs[::-1], SHORT)
    assert reversed_out == whole[::-1]


def test_images_change_the_output(backends, images):
    backend = backends("qwen2-vl")
    prompt = "Describe the image."
    outs = backend.generate([GenRequest(prompt, img) for img in images], GenOptions(max_new_tokens=12))
    assert len(set(outs)) > 1


def test_mixed_image_and_text_only_requests(backends, images):
    backend = backends("qwen2-vl", batch_size=8)
    reqs = [GenRequest("Describe the image.", images[0]), GenRequest("Say hello."), GenRequest("Hi", images[1])]
    out = backend.generate(reqs, SHORT)
    assert out[0] == backend.generate([reqs[0]], SHORT)[0]
    assert out[1] == backend.generate([reqs[1]], SHORT)[0]


def test_sampling_is_reproducible_with_a_seed(backends, images):
    backend = backends("qwen2-vl")
    reqs = requests_for(images)
    sample = GenOptions(max_new_tokens=8, temperature=1.5, top_p=0.95, seed=7)
    assert backend.generate(reqs, sample) == backend.generate(reqs, sample)


def test_max_pixels_limits_what_the_processor_sees(backends):
    from PIL import Image

    big = Image.new("RGB", (640, 480), (10, 120, 200))
    backend = backends("qwen2-vl", max_pixels=56 * 56)
    image = backend._fit(big)
    assert image.size[0] * image.size[1] <= 56 * 56
    assert len(backend.generate([GenRequest("Describe.", big)], SHORT)) == 1


def test_provenance_reports_model_and_tiny_flag(backends, tiny):
    info = backends("qwen2-vl").info()
    assert info == {"backend": "hf", "model_id": tiny("qwen2-vl"), "tiny": True}


@pytest.mark.parametrize(("kind", "task"), [("qwen2-vl", "vlm"), ("idefics3", "vlm"), ("qwen2", "causal"),
                                            ("nllb", "seq2seq"), ("clip", "embed"), ("siglip", "embed")])
def test_task_is_detected_from_the_config(backends, kind, task):
    assert detect_task(backends(kind).config) == task


# -- translate ---------------------------------------------------------------------------------------


def test_seq2seq_translate_uses_registry_codes(backends):
    backend = backends("nllb")
    tok = backend.loaded.tokenizer
    assert code_style(tok, backend.loaded.config) == "nllb"
    assert lang_token("nllb", "ru") == "rus_Cyrl" and lang_token("nllb", "en") == "eng_Latn"
    texts = ["A red boat lies on the sand.", "Two children are reading a book."]
    out = {tgt: backend.translate(texts, "en", tgt, SHORT) for tgt in ("ru", "ar", "vi")}
    assert all(len(v) == 2 for v in out.values())
    assert tok.src_lang == "eng_Latn"  # the source code was set on the tokenizer
    assert len({tuple(v) for v in out.values()}) > 1  # the forced target token changes the decoding
    assert out["ru"] == [backend.translate([t], "en", "ru", SHORT)[0] for t in texts]


def test_seq2seq_forces_the_target_language_token(backends, monkeypatch):
    backend = backends("nllb")
    model = backend.loaded.model
    seen = {}
    real = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    backend.translate(["A red boat."], "en", "ko", SHORT)
    tok = backend.loaded.tokenizer
    assert seen["forced_bos_token_id"] == tok.convert_tokens_to_ids("kor_Hang")
    assert seen["input_ids"][0, 0] == tok.convert_tokens_to_ids("eng_Latn")


def test_seq2seq_without_a_registry_code_says_so(backends, monkeypatch):
    from mella.languages import Language, _registry

    monkeypatch.setitem(_registry(), "xx", Language(code="xx", name="Nowhere"))
    with pytest.raises(MellaError, match="no nllb_code"):
        backends("nllb").translate(["A boat."], "en", "xx", SHORT)


def test_causal_lm_translates_with_a_prompt(backends):
    backend = backends("qwen2")
    texts = ["A red boat.", "Two children are reading a book under a large tree."]
    out = backend.translate(texts, "en", "sr-Latn", SHORT)
    assert len(out) == 2
    assert "Serbian (Latn)" in backend.translate_prompt("x", "en", "sr-Latn")
    assert out == [backend.translate([t], "en", "sr-Latn", SHORT)[0] for t in texts]


def test_text_only_model_refuses_images(backends, images):
    with pytest.raises(UnsupportedTaskError, match="text-only"):
        backends("qwen2").generate([GenRequest("Describe.", images[0])])


# -- score -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_score_one_cosine_per_pair_in_order(backends, images, kind):
    backend = backends(kind, batch_size=2)
    texts = ["a red boat", "green field with a white square", "blue"]
    scores = backend.score(images, texts)
    assert len(scores) == 3 and all(-1.0 <= s <= 1.0 for s in scores)
    alone = [backend.score([img], [t])[0] for img, t in zip(images, texts, strict=True)]
    assert scores == pytest.approx(alone, abs=1e-5)
    assert len(set(round(s, 4) for s in scores)) == 3


def test_score_needs_one_text_per_image(backends, images):
    with pytest.raises(MellaError, match="one text per image"):
        backends("clip").score(images, ["only one"])


def test_wrong_task_is_a_clear_error(backends, images):
    with pytest.raises(UnsupportedTaskError, match="score needs CLIP or SigLIP"):
        backends("qwen2-vl").score(images[:1], ["x"])
    with pytest.raises(UnsupportedTaskError, match="cannot generate"):
        backends("clip").generate([GenRequest("hello")])


# -- placement ---------------------------------------------------------------------------------------


def test_cpu_loads_float32_without_device_map():
    import torch

    kw = HFBackend(model="x", device="cpu")._placement()
    assert kw == {"dtype": torch.float32}


def test_gpu_defaults_to_bfloat16_and_device_map():
    import torch

    assert HFBackend(model="x", device="cuda")._placement() == {"dtype": torch.bfloat16, "device_map": "auto"}
    pinned = HFBackend(model="x", device="cuda:1", attn_implementation="sdpa")._placement()
    assert pinned == {"dtype": torch.bfloat16, "device_map": {"": "cuda:1"}, "attn_implementation": "sdpa"}


def test_unknown_dtype_is_reported():
    with pytest.raises(MellaError, match="unknown dtype 'fp8'"):
        HFBackend(model="x", device="cpu", dtype="fp8")._placement()


@pytest.mark.parametrize("kind", ["qwen2.5-vl", "siglip"])
def test_bfloat16_weights_take_float32_pixels(backends, images, kind):
    # The GPU path's dtype handling, exercised on CPU: the processor's float32 pixels are cast to bf16.
    import torch

    backend = backends(kind, dtype="bfloat16")
    assert backend.loaded.model.dtype == torch.bfloat16
    out = backend.score(images[:2], ["a", "b"]) if kind == "siglip" else backend.generate(requests_for(images), SHORT)
    assert len(out) in (2, 3)
