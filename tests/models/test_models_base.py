"""The backend interface: registry, typed options, batching order, shared helpers."""

from __future__ import annotations

import pytest

from mella.errors import MellaError
from mella.models.base import (
    BACKENDS,
    Backend,
    GenOptions,
    GenRequest,
    UnsupportedTaskError,
    chat_messages,
    fit_pixels,
    get_backend_class,
    load_backend,
    run_sorted,
)


def test_registry_resolves_every_backend_lazily():
    assert set(BACKENDS) == {"hf", "openai", "vllm"}
    for name in BACKENDS:
        assert get_backend_class(name).name == name


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(MellaError, match="unknown model backend 'llamafile'; known: hf, openai, vllm"):
        load_backend("llamafile", model="x")


def test_options_are_typed_and_unknown_fields_rejected():
    with pytest.raises(MellaError, match=r"backend 'hf': .*batch_sise.*Extra inputs"):
        load_backend("hf", model="x", batch_sise=4)
    with pytest.raises(MellaError, match="concurrency"):
        load_backend("openai", model="x", concurrency=0)
    assert load_backend("hf", {"model": "x"}, batch_size=3).options.batch_size == 3


def test_gen_options_signature_tracks_every_setting():
    assert GenOptions().signature() == GenOptions().signature()
    assert GenOptions().signature() != GenOptions(max_new_tokens=255).signature()
    assert GenOptions().greedy and not GenOptions(temperature=0.7).greedy
    with pytest.raises(ValueError):
        GenOptions(top_p=0)


def test_run_sorted_batches_by_length_and_returns_input_order():
    items = ["ccc", "a", "bbbb", "dd", "e"]
    seen = []

    def fn(batch):
        seen.append(batch)
        return [s.upper() for s in batch]

    out = run_sorted(items, [len(s) for s in items], 2, fn, groups=[1, 0, 1, 0, 0])
    assert out == ["CCC", "A", "BBBB", "DD", "E"]
    assert seen == [["bbbb", "ccc"], ["dd", "a"], ["e"]]  # longest first, groups never mixed


def test_a_backend_that_cannot_do_something_says_so():
    class Nothing(Backend):
        name = "nothing"

    b = Nothing(model="m")
    with pytest.raises(UnsupportedTaskError, match="'nothing' cannot generate"):
        b.generate([GenRequest("hi")])
    with pytest.raises(UnsupportedTaskError, match="cannot score"):
        b.score([], [])
    with pytest.raises(UnsupportedTaskError):  # translate's default is an LLM prompt through generate
        b.translate(["x"], "en", "ru")


def test_translate_prompt_names_languages_from_the_registry():
    b = Backend(model="m", translate_prompt="{src_name}>{tgt_name}|{tgt}: {text}")
    assert b.translate_prompt("boat", "en", "ru") == "English>Russian|ru: boat"
    assert b.translate_prompt("boat", "en", "sr-Latn") == "English>Serbian (Latn)|sr-Latn: boat"
    with pytest.raises(MellaError, match="unknown language"):
        b.translate_prompt("boat", "en", "zz")


def test_fit_pixels_keeps_the_aspect_within_limits():
    from PIL import Image

    big = fit_pixels(Image.new("RGBA", (400, 200)), None, 20_000)
    assert big.mode == "RGB" and big.size == (200, 100)
    small = fit_pixels(Image.new("L", (10, 5)), 5_000, None)
    assert small.size == (100, 50)
    same = Image.new("RGB", (30, 30))
    assert fit_pixels(same, 100, 10_000).size == (30, 30)


def test_chat_messages_shapes():
    req = GenRequest("Describe.", image=object(), system="Short.")
    assert chat_messages(req) == [
        {"role": "system", "content": [{"type": "text", "text": "Short."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
    assert chat_messages(GenRequest("Hi"), text_only=True) == [{"role": "user", "content": "Hi"}]


def test_importing_the_interface_loads_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys, mella.models.base, mella.models.hf, mella.models.openai, mella.models.vllm;"
            "print([m for m in ('torch', 'transformers', 'vllm') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
