"""The openai backend against a real OpenAI-compatible server on loopback: `transformers serve`
running the tiny Qwen2-VL, behind a gate that injects 429/503/delays and records headers."""

from __future__ import annotations

import base64
import io

import pytest
from modelgate import Gate
from servekit import transformers_serve

from mella.errors import MellaError
from mella.models.base import GenOptions, GenRequest, load_backend

for _module in ("fastapi", "uvicorn", "openai"):  # what `transformers serve` needs
    pytest.importorskip(_module, reason="transformers serve needs fastapi, uvicorn and openai")

SHORT = GenOptions(max_new_tokens=6)
FAST = dict(backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    """`transformers serve` with the tiny Qwen2-VL preloaded; yields (base_url, model folder)."""
    folder = tiny("qwen2-vl")
    with transformers_serve(folder, tmp_path_factory.mktemp("serve")) as root:
        yield root + "/v1", folder


@pytest.fixture(scope="module")
def gate(server):
    with Gate(server[0]) as g:
        yield g


@pytest.fixture
def backend(server, gate):
    def make(**options):
        return load_backend("openai", model=server[1], base_url=gate.url, **(FAST | options))

    gate.reset()
    return make


def test_served_model_answers_like_the_local_backend(server, backend, images):
    reqs = [GenRequest("Describe the image.", images[0]),
            GenRequest("What is shown here, in great detail, please?", images[1], system="Answer briefly."),
            GenRequest("Say hello.")]
    remote = backend(concurrency=3).generate(reqs, SHORT)
    local = load_backend("hf", model=server[1]).generate(reqs, SHORT)
    # Same weights, same template, same image pixels (PNG data URLs), greedy: the same text, in order.
    assert remote == local


def test_concurrency_is_limited(backend, gate, images):
    reqs = [GenRequest(f"Caption {i}.", images[i % 3]) for i in range(6)]
    out = backend(concurrency=2).generate(reqs, SHORT)
    assert len(out) == 6
    assert gate.state.max_in_flight == 2
    assert gate.state.forwarded == 6


def test_api_key_comes_from_the_named_environment_variable(backend, gate, monkeypatch):
    monkeypatch.setenv("MELLA_TEST_KEY", "sekrit")
    backend(api_key_env="MELLA_TEST_KEY").generate([GenRequest("Hi")], SHORT)
    assert gate.state.auth == ["Bearer sekrit"]


def test_no_key_no_header_and_a_missing_named_variable_is_an_error(backend, gate, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend().generate([GenRequest("Hi")], SHORT)
    assert gate.state.auth == [None]
    monkeypatch.delenv("MELLA_ABSENT_KEY", raising=False)
    with pytest.raises(MellaError, match="MELLA_ABSENT_KEY"):
        backend(api_key_env="MELLA_ABSENT_KEY").generate([GenRequest("Hi")], SHORT)


def test_429_and_5xx_are_retried(backend, gate):
    expected = backend().generate([GenRequest("Hi")], SHORT)
    gate.reset([429, 429, 503])
    assert backend(max_retries=3).generate([GenRequest("Hi")], SHORT) == expected
    assert gate.state.attempts == 4 and gate.state.forwarded == 1


def test_retries_give_up_with_one_clear_line(backend, gate):
    gate.reset([503] * 5)
    with pytest.raises(MellaError, match="HTTP 503"):
        backend(max_retries=2).generate([GenRequest("Hi")], SHORT)
    assert gate.state.attempts == 3


def test_client_errors_are_not_retried(backend, gate):
    gate.reset([400])
    with pytest.raises(MellaError, match="HTTP 400.*injected 400"):
        backend().generate([GenRequest("Hi")], SHORT)
    assert gate.state.attempts == 1


def test_a_timeout_is_retried(backend, gate):
    gate.reset([("sleep", 3.0)])
    out = backend(timeout_s=1.0, max_retries=2).generate([GenRequest("Hi")], SHORT)
    assert len(out) == 1 and gate.state.attempts == 2


def test_request_body_carries_the_image_as_a_png_data_url(images):
    from PIL import Image

    b = load_backend("openai", model="m")
    body = b.request_body(GenRequest("Describe.", images[1], system="Be brief."),
                          GenOptions(max_new_tokens=5, seed=3))
    assert body["max_tokens"] == 5 and body["seed"] == 3 and body["temperature"] == 0.0
    assert body["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    image_part, text_part = body["messages"][1]["content"]
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and text_part == {"type": "text", "text": "Describe."}
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.tobytes() == images[1].tobytes()  # lossless: the server sees the same pixels


def test_translate_goes_through_the_llm_prompt(backend, gate):
    out = backend().translate(["A red boat.", "Two children."], "en", "cs", SHORT)
    assert len(out) == 2 and gate.state.forwarded == 2


def test_score_is_not_offered():
    from mella.models.base import UnsupportedTaskError

    with pytest.raises(UnsupportedTaskError, match="cannot score"):
        load_backend("openai", model="m").score([], [])
