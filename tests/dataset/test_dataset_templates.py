"""Native instruction templates: all 8 default languages, both Serbian scripts, reviewable, no leaks."""

from __future__ import annotations

import unicodedata
from importlib import resources

import pytest
import yaml

from mella.dataset.templates import TRANSLIT, pick, templates, to_script
from mella.languages import default_tags

TAGS = default_tags(split_scripts=True)
SCRIPT_WORD = {"Arab": "ARABIC", "Cyrl": "CYRILLIC", "Latn": "LATIN", "Hang": "HANGUL", "Thai": "THAI"}


def _file(tag: str) -> dict:
    path = resources.files("mella").joinpath(f"data/templates/{tag}.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_default_language_and_serbian_script_has_templates():
    assert set(TAGS) == {"ar", "cs", "hu", "ko", "ru", "sr-Cyrl", "sr-Latn", "th", "vi"}
    for tag in TAGS:
        t = templates(tag)
        for source in ("know", "ling"):
            assert len(set(t[source])) >= 5, (tag, source)
    assert templates("sr") == templates("sr-Cyrl")  # an unscripted Serbian row gets the first script


@pytest.mark.parametrize("tag", TAGS)
def test_templates_are_in_the_language_script_with_a_back_translation(tag):
    from mella.languages import get_language

    lang = get_language(tag)
    script = SCRIPT_WORD[lang.script or lang.scripts[0]]
    data = _file(tag)
    for source in ("know", "ling"):
        for item in data[source]:
            assert item["en"] and item["text"] != item["en"]
            letters = [c for c in item["text"] if c.isalpha()]
            assert all(script in unicodedata.name(c, "") for c in letters), (tag, item["text"])
            assert "{" not in item["text"]  # nothing is filled in: the prompt cannot carry the answer


def test_serbian_latin_is_the_cyrillic_transliterated():
    cyrl, latn = _file("sr-Cyrl"), _file("sr-Latn")
    for source in ("know", "ling"):
        assert [i["text"].translate(TRANSLIT["cyrl-latn"]) for i in cyrl[source]] == [i["text"] for i in latn[source]]
    assert to_script("Шта је ово?", "sr-Latn") == "Šta je ovo?"
    assert to_script("Шта је ово?", "sr-Cyrl") == "Шта је ово?"


def test_choice_is_stable_and_spread():
    chosen = [pick("ru", "know", f"know-ru-{i}", 0) for i in range(200)]
    assert chosen == [pick("ru", "know", f"know-ru-{i}", 0) for i in range(200)]
    assert set(chosen) == set(templates("ru")["know"])
    assert chosen != [pick("ru", "know", f"know-ru-{i}", 1) for i in range(200)]
