"""The scales and the page's strings: every language file complete, English where one is missing, Serbian Latin
transliterated from the Cyrillic file."""

from __future__ import annotations

import re

import pytest

from mella.errors import MellaError
from mella.languages import default_tags
from mella.rate.scales import QUESTIONS, VALUES, kind_of, scale, texts, ui_strings

LANGS = ["en", *default_tags()]


@pytest.mark.parametrize("lang", LANGS)
def test_every_default_language_has_its_own_complete_texts(lang):
    assert lang == "en" or texts(lang), f"mella/data/rate/{lang}.yaml is missing"
    own = texts(lang)
    english = ui_strings("en")
    assert set(own["ui"]) == set(english)  # nothing left to the English fallback
    for key, value in own["ui"].items():  # the same placeholders as English
        assert set(re.findall(r"{\w+}", value)) == set(re.findall(r"{\w+}", english[key])), key
    for question, values in VALUES.items():
        s = scale(question, lang)
        assert list(s["anchors"]) == values and all(s["anchors"].values()) and s["label"] and s["help"]
        if lang != "en":
            assert s["label"] != scale(question, "en")["label"] or question == "preference"


def test_a_language_without_a_file_gets_english():
    assert ui_strings("de") == ui_strings("en") and scale("fluency", "de") == scale("fluency", "en")


def test_serbian_latin_is_the_cyrillic_file_transliterated():
    assert ui_strings("sr-Latn")["title"] == "Ocenjivanje" and ui_strings("sr-Cyrl")["title"] == "Оцењивање"
    latin = scale("fluency", "sr-Latn")["anchors"]["5"]
    assert latin == "Besprekoran: čita se kao da ga je napisao izvorni govornik."
    assert not re.search("[\u0400-\u04ff]", str(scale("relevance", "sr-Latn")))


def test_the_questions_and_their_values():
    assert QUESTIONS == {"pairwise": ["preference"], "know": ["relevance", "correctness"],
                         "ling": ["adequacy", "fluency"]}
    assert scale("preference", "th")["anchors"].keys() == {"A", "tie", "B"}
    assert kind_of("adequacy") == "ling"
    with pytest.raises(MellaError, match="unknown question"):
        scale("beauty", "en")
