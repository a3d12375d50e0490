"""Options of the annotation stages: validation up front, fingerprints, pickling to workers, the CLI."""

from __future__ import annotations

import pickle

import pytest
from annotatekit import read_rows
from click.testing import CliRunner
from pydantic import ValidationError

import mella.pipeline.registry
from mella.annotate.caption import CaptionStage, caption_prompts, context_block
from mella.annotate.score import ScoreStage
from mella.annotate.translate import TranslateStage


def test_bad_backends_and_backend_options_are_reported_up_front():
    with pytest.raises(ValidationError, match="unknown model backend 'nope'"):
        CaptionStage.Options(backend="nope")
    with pytest.raises(ValidationError, match="batch_sise"):
        TranslateStage.Options(model_options={"batch_sise": 2})
    with pytest.raises(ValidationError, match="not a JSON object"):
        ScoreStage.Options(model_options="{max_pixels: 3}")
    assert ScoreStage.Options(model_options='{"max_pixels": 4096}').model_options == {"max_pixels": 4096}


def test_caption_prompts_come_from_the_registry_or_the_options():
    prompts = caption_prompts(CaptionStage.Options(mode="both"))
    assert "in English" in prompts["plain"] and "{context}" in prompts["thick"]
    with pytest.raises(ValidationError, match="'ru' has no caption_prompt"):
        CaptionStage.Options(caption_lang="ru")
    assert caption_prompts(CaptionStage.Options(caption_lang="ru", prompt="Опиши изображение.")) == {
        "plain": "Опиши изображение."}
    with pytest.raises(ValidationError, match="placeholder"):
        CaptionStage.Options(mode="thick", thick_prompt="Describe it.")


def test_thick_context_names_the_alt_language_and_the_title():
    block = context_block({"alt": "  Карлов  мост ", "lang": "ru", "page_title": "Прага"})
    assert block == 'Image description (alt-text, in Russian): "Карлов мост"\nPage title: "Прага"'
    assert "nothing" in context_block({"alt": None, "lang": None, "page_title": ""})
    assert context_block({"alt": "z" * 900, "lang": "sr-Latn"}).count("z") == 500


def test_runtime_options_keep_the_fingerprint():
    base = CaptionStage().fingerprint()
    assert CaptionStage(batch_size=64, cache_dir="/elsewhere", cache=False, images="/f").fingerprint() == base
    assert CaptionStage(mode="thick").fingerprint() != base
    assert CaptionStage(max_new_tokens=17).fingerprint() != base


def test_a_set_up_stage_pickles_without_its_model(tiny_models):
    stage = ScoreStage(model=tiny_models("siglip"))
    stage.ensure_setup()
    clone = pickle.loads(pickle.dumps(stage))
    assert "backend" not in clone.__dict__ and "results" not in clone.__dict__ and not clone._ready


def test_score_command_with_a_threshold(tiny_models, fetched, tmp_path, monkeypatch):
    from mella.cli._stage import stage_command

    monkeypatch.setitem(mella.pipeline.registry.STAGES, "score", "mella.annotate.score:ScoreStage")
    out = tmp_path / "score"
    result = CliRunner().invoke(stage_command("score"), [
        str(fetched), "--out", str(out), "--workers", "1", "--model", tiny_models("siglip"),
        "--model-options", '{"max_input_tokens": 16}', "--min-relevance-alt", "0"])
    assert result.exit_code == 0, result.output
    kept, dropped = read_rows(out), read_rows(out, dropped=True)
    assert len(kept) + len(dropped) == 6 and kept
    assert all(r["relevance_alt"] >= 0 and r["relevance"] is None for r in kept)  # no translation yet
    assert all(r["relevance_alt"] < 0 and r["drop_reason"] == "low_relevance_alt" for r in dropped)
