"""Translation checks: the functions on real sentences, and the stage dropping a copied source and a
wrong-language output (model outputs placed in the result cache, so the stage's own code judges them)."""

from __future__ import annotations

import pytest
from annotatekit import read_rows, run, write_rows

from mella.annotate.checks import (
    LanguageCheck,
    TranslationChecker,
    echoes,
    instruction_fragments,
    is_copy,
    length_ok,
    to_target_script,
)
from mella.annotate.translate import TranslateStage
from mella.models.base import DEFAULT_TRANSLATE_PROMPT
from mella.models.cache import ResultCache, cache_key

EN = "A red boat lies on the sand next to a wooden house."
RU = "Красная лодка лежит на песке рядом с деревянным домом."
SR_CYRL = "Црвени чамац лежи на песку поред дрвене куће."
SR_LATN = "Crveni čamac leži na pesku pored drvene kuće."


@pytest.fixture(scope="module")
def language():
    check = LanguageCheck()
    check.detect("warm up", "ru")  # loads the detector once for the module
    return check


def test_copy_is_the_source_again_up_to_case_and_spacing():
    assert is_copy(EN, EN.upper())
    assert is_copy(EN, "  a red boat lies on the  sand next to a wooden house ")
    assert is_copy(EN, "A red boat lies on the sand next to a house.")  # almost every word is the source's
    assert not is_copy(EN, RU)
    assert not is_copy("Prague Castle at night", "Pražský hrad v noci")  # a shared name is no copy
    assert not is_copy(EN, "")


def test_length_ratio_counts_visible_characters():
    assert length_ok(EN, RU, 0.25, 4.0)
    assert length_ok(EN, "빨간 배가 나무 집 옆 모래 위에 있습니다.", 0.25, 4.0)  # Korean is short, not too short
    assert not length_ok(EN, "Лодка", 0.25, 4.0)
    assert not length_ok(EN, RU * 5, 0.25, 4.0)
    assert not length_ok(EN, "   ", 0.25, 4.0)


def test_echo_is_a_sentence_of_the_prompt_in_the_output():
    prompt = DEFAULT_TRANSLATE_PROMPT.format(src_name="English", tgt_name="Russian", src="en", tgt="ru", text="")
    fragments = instruction_fragments(prompt)
    assert fragments
    assert echoes("Translate the following text from English into Russian. " + RU, fragments)
    assert echoes("reply with the translation only, without notes or quotes.", fragments)
    assert not echoes(RU, fragments)


def test_serbian_latin_targets_are_transliterated():
    assert to_target_script(SR_CYRL, "sr-Latn") == SR_LATN
    assert to_target_script("Љубав и њива", "sr-Latn") == "Ljubav i njiva"
    assert to_target_script(SR_CYRL, "sr-Cyrl") == SR_CYRL
    assert to_target_script(RU, "ru") == RU


def test_language_check_wants_the_target_language_and_script(language):
    assert language.matches(RU, "ru")
    assert not language.matches(EN, "ru")
    assert not language.matches(RU, "cs")
    assert language.matches(SR_LATN, "sr-Latn")
    assert not language.matches(SR_CYRL, "sr-Latn")  # right language, wrong script
    assert language.matches(SR_CYRL, "sr-Cyrl")
    assert language.matches("Một chiếc thuyền đỏ nằm trên cát cạnh ngôi nhà gỗ.", "vi")


def test_checker_reports_the_first_failing_check(language):
    checker = TranslationChecker(["echo", "copy", "length", "language"], 0.25, 4.0, 0.8)
    checker.language = language
    assert checker.check(EN, RU, "ru", []) is None
    assert checker.check(EN, EN, "ru", []) == "translation_copy"
    assert checker.check(EN, "The boat is red and it lies on warm sand.", "ru", []) == "translation_wrong_language"
    assert checker.check(EN, "Лодка.", "ru", []) == "translation_length"
    assert checker.check(EN, "Translate this sentence please: " + RU, "ru", ["translate this sentence please:"]) \
        == "translation_echo"
    assert TranslationChecker([], 0.25, 4.0, 0.8).check(EN, EN, "ru", []) is None


def test_stage_drops_a_copied_source_and_a_wrong_language_output(tiny_models, tmp_path):
    rows = [{"key": k, "lang": lang, "alt": "alt", "caption": cap, "caption_lang": "en", "caption_thick": None}
            for k, lang, cap in (("a", "ru", EN), ("b", "ru", "Two children are reading a book under a tree."),
                                 ("c", "sr-Latn", "The market street is full of fruit and flowers."),
                                 ("d", "xx", "Hello"))]
    stage = TranslateStage(model=tiny_models("nllb"), max_new_tokens=24, cache_dir=str(tmp_path / "cache"))
    stage.ensure_setup()
    gen = stage.options.gen_options().signature()
    outputs = {  # what a (bad) MT model answered for each caption
        0: EN,                                                   # copied the source
        1: "Two children read a book under a big tree.",         # answered in English
        2: "Улица пијаце је пуна воћа и цвећа.",                 # right, in Cyrillic: transliterated, kept
    }
    cache = ResultCache(tmp_path / "cache")
    cache.put_many({cache_key("translate", stage.model_sig, gen, "en", rows[i]["lang"], rows[i]["caption"]): text
                    for i, text in outputs.items()}, "translate", "test")
    write_rows(tmp_path / "in" / "part.parquet", rows)
    report = run(stage, tmp_path / "in", tmp_path / "out")
    reasons = {r["key"]: r["drop_reason"] for r in read_rows(tmp_path / "out", dropped=True)}
    assert reasons == {"a": "translation_copy", "b": "translation_wrong_language", "d": "unknown_language"}
    kept = read_rows(tmp_path / "out")
    assert [r["key"] for r in kept] == ["c"] and kept[0]["translation"] == "Ulica pijace je puna voća i cveća."
    assert report.counters["cache_hits"] == 3 and report.counters.get("model_calls", 0) == 0
