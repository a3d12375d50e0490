"""The hf backend's throughput switches give the same outputs as plain decoding (tiny models, CPU, fp32):
length-sorted batching, the preprocessing prefetch, the static KV cache and compiled decoding."""

from __future__ import annotations

import threading
import time

import pytest

from mella.errors import MellaError
from mella.models.base import GenOptions, GenRequest, load_backend, prefetched
from mella.models.stage import backend_signature

SHORT = GenOptions(max_new_tokens=6)


def many_requests(images):
    """Seven requests of very different lengths, interleaved so that sorting reorders them."""
    prompts = ["Hi", "Describe the image in great detail, please, with every colour and shape you see.",
               "What is shown?", "Say one word.", "Tell me about the objects, their colours, and the background.",
               "Caption.", "Where might this picture have been taken, and why do you think so?"]
    return [GenRequest(p, images[i % 3], system="Answer briefly." if i == 4 else None) for i, p in enumerate(prompts)]


@pytest.fixture(scope="module")
def backend(tiny):
    made: dict[str, object] = {}

    def get(kind: str, **options):
        key = kind + repr(sorted(options.items()))
        if key not in made:
            made[key] = load_backend("hf", model=tiny(kind), **options)
        return made[key]

    return get


def spy_batches(monkeypatch, backend, name: str) -> list:
    """Record the batches handed to ``backend.<name>`` (the prepare step)."""
    seen, real = [], getattr(backend, name)

    def spy(batch):
        seen.append(list(batch))
        return real(batch)

    monkeypatch.setattr(backend, name, spy)
    return seen


# -- length-sorted batching ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["qwen2-vl", "idefics3"])
def test_sorted_batches_give_the_unsorted_outputs_in_input_order(backend, images, monkeypatch, kind):
    reqs = many_requests(images)
    plain = backend(kind, batch_size=2, sort_by_length=False, prefetch=0)
    fast = backend(kind, batch_size=2)
    seen = spy_batches(monkeypatch, fast, "_prepare_vlm")
    assert fast.generate(reqs, SHORT) == plain.generate(reqs, SHORT)
    # The batches really were sorted: longest expected input first, so batches differ from input order.
    keys = fast._length_keys(reqs)
    order = [keys[reqs.index(r)] for batch in seen for r in batch]
    assert order == sorted(keys, reverse=True)
    assert [r for batch in seen for r in batch] != reqs


def test_sort_keys_count_prompt_tokens_and_fitted_image_tokens(backend, images):
    from PIL import Image

    b = backend("qwen2-vl", max_pixels=56 * 56)
    big = Image.new("RGB", (640, 480))
    keys = b._length_keys([GenRequest("Hi"), GenRequest("Hi", big), GenRequest("Hi there, how are you today?")])
    assert keys[1] - keys[0] == (65 * 48) // (28 * 28)  # 640x480 fitted to 65x48 (<= 56*56 pixels)
    assert keys[2] > keys[0]


def test_unsorted_batches_keep_input_order(backend, images, monkeypatch):
    b = backend("qwen2-vl", batch_size=3, sort_by_length=False)
    seen = spy_batches(monkeypatch, b, "_prepare_vlm")
    reqs = many_requests(images)
    b.generate(reqs, SHORT)
    assert [r for batch in seen for r in batch] == reqs and [len(x) for x in seen] == [3, 3, 1]


def test_seq2seq_and_causal_sorting_is_invisible(backend):
    texts = ["A red boat.", "Two children are reading a book under a large old tree in the park.", "Hello.",
             "The market sells fish, bread and flowers every morning."]
    for kind in ("nllb", "qwen2"):
        plain = backend(kind, batch_size=2, sort_by_length=False, prefetch=0).translate(texts, "en", "ru", SHORT)
        assert backend(kind, batch_size=2).translate(texts, "en", "ru", SHORT) == plain


def test_throughput_options_leave_the_cache_signature_alone(backend, tiny):
    plain = load_backend("hf", model=tiny("qwen2-vl"))
    fast = load_backend("hf", model=tiny("qwen2-vl"), sort_by_length=False, prefetch=3, static_cache=True,
                        compile=True, compile_options={"mode": "default"}, pad_to_multiple_of=64)
    assert backend_signature(plain) == backend_signature(fast)


# -- prefetch --------------------------------------------------------------------------------------------


def test_prefetch_is_bounded_and_keeps_order():
    state = {"prepared": 0, "consumed": 0, "ahead": 0}

    def prepare(i):
        state["prepared"] += 1
        state["ahead"] = max(state["ahead"], state["prepared"] - state["consumed"])
        return i * 10

    out = []
    for value in prefetched(range(12), prepare, depth=2):
        time.sleep(0.01)  # a slow consumer (the model): the worker would run far ahead if unbounded
        out.append(value)
        state["consumed"] += 1
    assert out == [i * 10 for i in range(12)]
    assert state["ahead"] <= 3  # the item being consumed plus at most two prepared ahead


def test_prefetch_error_surfaces_unchanged_and_stops_the_worker():
    started = []

    def prepare(i):
        started.append(i)
        if i == 2:
            raise MellaError("image k2: cannot be decoded")
        return i

    got = []
    with pytest.raises(MellaError, match=r"^image k2: cannot be decoded$"):
        for value in prefetched(range(100), prepare, depth=2):
            got.append(value)
    assert got == [0, 1] and len(started) <= 5
    assert not [t for t in threading.enumerate() if t.name.startswith("mella-prefetch")]


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl"])
def test_prefetched_generation_equals_inline(backend, images, kind):
    reqs = many_requests(images)
    inline = backend(kind, batch_size=2, prefetch=0).generate(reqs, SHORT)
    assert backend(kind, batch_size=2, prefetch=2).generate(reqs, SHORT) == inline


def test_backend_prefetch_runs_at_most_depth_batches_ahead(backend, images, monkeypatch):
    b = backend("qwen2-vl", batch_size=1, prefetch=1)
    counts = {"prepared": 0, "run": 0, "ahead": 0}
    real_prepare, real_decode = b._prepare_vlm, b._decode_new

    def prepare(batch):
        counts["prepared"] += 1
        counts["ahead"] = max(counts["ahead"], counts["prepared"] - counts["run"])
        return real_prepare(batch)

    def decode(inputs, options, **extra):
        out = real_decode(inputs, options, **extra)
        counts["run"] += 1
        return out

    monkeypatch.setattr(b, "_prepare_vlm", prepare)
    monkeypatch.setattr(b, "_decode_new", decode)
    b.generate(many_requests(images), SHORT)
    assert counts["prepared"] == counts["run"] == 7 and counts["ahead"] <= 2


def test_an_error_while_preparing_is_the_usual_one_line_error(backend, images, monkeypatch):
    b = backend("qwen2-vl", batch_size=1, prefetch=2)
    real_fit = b._fit

    def fit(image):
        if image.size == images[2].size:
            raise MellaError("image k3: unreadable (truncated JPEG)")
        return real_fit(image)

    monkeypatch.setattr(b, "_fit", fit)
    with pytest.raises(MellaError) as err:
        b.generate(many_requests(images), SHORT)
    assert str(err.value) == "image k3: unreadable (truncated JPEG)"
    assert not [t for t in threading.enumerate() if t.name.startswith("mella-prefetch")]


# -- static cache and compiled decoding ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl", "idefics3"])
def test_static_cache_greedy_tokens_equal_plain(backend, images, kind, monkeypatch):
    reqs = many_requests(images)
    plain = backend(kind, batch_size=4).generate(reqs, GenOptions(max_new_tokens=10))
    static = backend(kind, batch_size=4, static_cache=True, pad_to_multiple_of=16)
    model, seen = static.loaded.model, {}
    real = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    assert static.generate(reqs, GenOptions(max_new_tokens=10)) == plain
    assert seen["cache_implementation"] == "static" and seen["disable_compile"] is True


def test_static_cache_for_text_and_seq2seq_models(backend):
    texts = ["A red boat.", "Two children are reading a book under a large old tree in the park."]
    for kind in ("qwen2", "nllb"):
        plain = backend(kind).translate(texts, "en", "ru", SHORT)
        assert backend(kind, static_cache=True).translate(texts, "en", "ru", SHORT) == plain


@pytest.mark.slow
def test_compiled_static_decoding_gives_the_plain_greedy_tokens(backend, images):
    """torch.compile (inductor, CPU) of the decoding step with a static cache: the same tokens as eager."""
    reqs = many_requests(images)[:3]
    plain = backend("qwen2-vl", batch_size=4).generate(reqs, GenOptions(max_new_tokens=8))
    fast = backend("qwen2-vl", batch_size=4, static_cache=True, compile=True, compile_options={"mode": "default"})
    assert fast.generate(reqs, GenOptions(max_new_tokens=8)) == plain
    assert hasattr(fast.loaded.model, "_compiled_call")  # transformers really compiled the forward


def test_compile_needs_a_static_cache_and_known_options(tiny, images):
    with pytest.raises(MellaError, match="compile: needs static_cache: true"):
        load_backend("hf", model="x", compile=True)
    b = load_backend("hf", model=tiny("qwen2-vl"), static_cache=True, compile=True, compile_options={"speed": 9})
    with pytest.raises(MellaError, match="compile_options: .*speed"):
        b.generate([GenRequest("Hi", images[0])], SHORT)
