"""Tiny models: each architecture is saved and loads back through the real from_pretrained path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mella.errors import MellaError
from mella.models.tiny import TINY, is_tiny, make_tiny

AUTO = {"qwen2-vl": "AutoModelForImageTextToText", "qwen2.5-vl": "AutoModelForImageTextToText",
        "idefics3": "AutoModelForImageTextToText", "internvl": "AutoModelForImageTextToText",
        "qwen2": "AutoModelForCausalLM",
        "nllb": "AutoModelForSeq2SeqLM", "clip": "AutoModel", "siglip": "AutoModel"}
ARCH = {"qwen2-vl": "Qwen2VLForConditionalGeneration", "qwen2.5-vl": "Qwen2_5_VLForConditionalGeneration",
        "idefics3": "Idefics3ForConditionalGeneration", "internvl": "InternVLForConditionalGeneration",
        "qwen2": "Qwen2ForCausalLM",
        "nllb": "M2M100ForConditionalGeneration", "clip": "CLIPModel", "siglip": "SiglipModel"}


def test_every_kind_has_a_loader_and_architecture():
    assert set(TINY) == set(AUTO) == set(ARCH)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_tiny_model_round_trips_through_from_pretrained(tiny, kind):
    import transformers

    folder = tiny(kind)
    model = getattr(transformers, AUTO[kind]).from_pretrained(folder)
    assert type(model).__name__ == ARCH[kind]
    assert is_tiny(model.config)
    assert json.loads((Path(folder) / "config.json").read_text())["mella_tiny"] is True
    assert sum(p.numel() for p in model.parameters()) < 2_000_000  # tiny really is tiny


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl"])
def test_qwen_processor_keeps_its_video_processor(tiny, kind):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny(kind))
    assert type(proc.video_processor).__name__ == "Qwen2VLVideoProcessor"
    assert proc.chat_template and "<|image_pad|>" in proc.chat_template


def test_same_seed_same_weights(tmp_path):
    from safetensors.torch import load_file

    a = load_file(make_tiny("clip", tmp_path / "a") / "model.safetensors")
    b = load_file(make_tiny("clip", tmp_path / "b") / "model.safetensors")
    c = load_file(make_tiny("clip", tmp_path / "c", seed=1) / "model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)


def test_tokenizer_is_trained_on_every_default_language(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny("nllb"))
    for text in ("Красная лодка", "빨간 배가", "เรือสีแดง", "قارب أحمر", "Crveni čamac"):
        assert tok.unk_token_id not in tok(text)["input_ids"]


def test_unknown_kind_lists_the_known_ones(tmp_path):
    with pytest.raises(MellaError, match="known: .*qwen2-vl"):
        make_tiny("gpt-5", tmp_path)
