"""Quality rules: each named reason, on real alt-texts from the gold set."""

from __future__ import annotations

import pytest

from mella.filter.rules import Rules, parse_wordlist


@pytest.fixture(scope="module")
def rules():
    return Rules()


@pytest.mark.parametrize("alt,reason", [
    ("6_1398994809.jpg", "file_name"), ("strip_11_zene", "file_name"), ("2708756-1447864949", "file_name"),
    ("http://giaitri.vnexpress.net/photo/trong-nuoc/a-3294882.html", "url"), ("vnexpress.net", "url"),
    ("a1b2c3d4e5f60718", "hash"), ("300x250", "dimensions"), ("#", "no_letters"), ("", "empty"),
    ("* * * ! ab", "symbols"), ("12 345 678 a", "digits"),
    ("Spokojený Tomáš Souček po vítězství ve Villa Parku.", None),
])
def test_text_rules(rules, alt, reason):
    assert rules.check(alt) == reason


@pytest.mark.parametrize("alt,lang,reason", [
    ("Igre", "sr-Latn", "too_short"),
    ("화살표", "ko", "too_short"),
    ("Поделиться в Facebook'е", "ru", "boilerplate"),
    ("인기뉴스 섬네일 1", "ko", "boilerplate"),
    ("Chia sẻ bài viết lên facebook", "vi", "boilerplate"),
    ("Наведите курсор, а затем кликните, чтобы оценить", "ru", "boilerplate"),
    ("Aleš Vávra Novák", "cs", "bare_name"),
    ("Гульмира Байзакова Сыздыкова", "ru", "bare_name"),
    ("ภาพ", "th", "too_short"),
    ("โลโก้ ข่าว", "th", "boilerplate"),
    # A long caption that mentions a photo is not boilerplate.
    ("Певица выложила в Instagram фото, на котором она позирует у моря", "ru", None),
    ("Sao Việt bức xúc vì bị sử dụng hình ảnh trái phép", "vi", None),
    ("كورونا في مصر", "ar", None),
])
def test_language_rules(rules, alt, lang, reason):
    assert rules.check(alt, (lang,)) == reason


def test_thresholds_are_options():
    assert Rules({"min_words": 1}).check("Magyarország térkép", ("hu",)) is None
    assert Rules().check("Magyarország térkép", ("hu",)) == "too_short"
    assert Rules({"max_words": 3}).check("Ez egy elég hosszú mondat", ("hu",)) == "too_long"


def test_same_as_title(rules):
    assert rules.same_as("ATV  ", "atv", "same_as_title") == "same_as_title"
    assert rules.same_as("ATV", None, "same_as_title") is None


def test_wordlist_format():
    wl = parse_wordlist("# comment\nlogo\nicon*\nread more\n")
    assert wl.covered(["icons", "logo", "x"]) == 2
    assert wl.covered(["please", "read", "more"]) == 2
