"""Names are culture: which names are written in the language (kept, kind entity), which are brands, products or
foreign names (dropped), and the kind of every kept row. Real alts from the issue and the gold pages."""

from __future__ import annotations

import pytest

from mella.filter import kinds
from mella.filter.filter import FilterStage, PageFacts
from mella.filter.kinds import cues, kind_of, native_marks, read_alt
from mella.filter.text import dominant_script, normalize_alt
from mella.pipeline.stage import Emitter
from mella.records import CANDIDATES


def kind(alt: str, lang: str) -> str:
    code = lang.split("-")[0]
    script = dominant_script(alt)
    cue = cues(code)
    return kind_of(alt, read_alt(alt, cue.function, script, 4), cue, script, frozenset())


@pytest.mark.parametrize("alt,lang,expected", [
    # Names, in every script: capitalised spans (with lowercase function words inside), short phrases without
    # a clause marker in scripts without case, short ALL-CAPS titles.
    ("Храм Светог Саве", "sr", "entity"),
    ("Собор Василия Блаженного", "ru", "entity"),
    ("Most na Drini", "sr", "entity"),
    ("경복궁", "ko", "entity"),
    ("المسجد الأقصى", "ar", "entity"),
    ("วัดพระแก้ว", "th", "entity"),
    ("KHE NỨT SAN ANDREAS", "vi", "entity"),
    ("Bộ Ba Rắc Rối", "vi", "entity"),
    ("Tomáš Souček", "cs", "entity"),
    # Descriptions: lowercase content words, or a clause marker of the language.
    ("Spokojený Tomáš Souček po vítězství ve Villa Parku.", "cs", "description"),
    ("Magyarország térkép", "hu", "description"),
    ("Космический шлем обезьяны", "ru", "description"),
    ("كورونا في مصر", "ar", "description"),
    ("비트코인 2025에서 연설 중인 JD 밴스 미국 부통령", "ko", "description"),
    ("부산 가덕도신공항 홍보 영상 갈무리", "ko", "description"),
    ("ทดสอบดาวที่ส่องแสง", "th", "description"),
    ("ĐẶT PHÒNG XEM PHIM SIÊU TỐC ĐỂ NHẬN FREE 02 ĐỒ UỐNG TÙY CHỌN", "vi", "description"),  # long ALL CAPS
    # Other: one lowercase word.
    ("пейзаж", "ru", "other"),
])
def test_kind(alt, lang, expected):
    assert kind(alt, lang) == expected


@pytest.mark.parametrize("alt,lang,native", [
    # The language's letters, a lowercase function word inside, a native ending.
    ("Karlův most", "cs", True),
    ("Aleš Vávra", "cs", True),
    ("Csehország", "hu", True),
    ("Đông Nhi", "vi", True),
    ("Luka Petrović", "sr", True),
    ("Most na Drini", "sr", True),
    ("Poslovni engleski", "sr", True),   # -ski
    ("Hram Svetog Save", "sr", True),    # -og
    ("Budapestben", "hu", True),         # -ben
    # No mark of the language: brands, products, foreign names.
    ("Samsung Galaxy Tab", "hu", False),
    ("Kelly Preston", "vi", False),
    ("Seat Cordoba", "hu", False),
    ("Martin Fendrych", "cs", False),
])
def test_native_marks(alt, lang, native, monkeypatch):
    cue = cues(lang)
    reading = read_alt(alt, cue.function, dominant_script(alt), 4)
    assert native_marks(alt, normalize_alt(alt), reading, cue, frozenset()) is native


def test_gazetteer_names_the_languages_own_places():
    names = kinds.gazetteer("cs", "Latn")
    if not names:
        pytest.skip("babel is not installed: the gazetteer is empty and names need the other marks")
    assert "praha" in names and "česko" in names
    assert "tirana" not in names  # the same in English: no mark of Czech
    assert "csehország" in kinds.gazetteer("hu", "Latn")
    assert "београд" in kinds.gazetteer("sr", "Cyrl") and "beograd" in kinds.gazetteer("sr", "Latn")


def candidate(alt: str, **fields):
    r = dict.fromkeys(CANDIDATES.names)
    r.update(page_url="https://example.org/page", image_url=f"https://example.org/img/{abs(hash(alt))}.jpg",
             alt=alt, domain="example.org", source="test", source_offset=-1)
    r.update(fields)
    return r


@pytest.fixture(scope="module")
def stage():
    s = FilterStage()
    s.ensure_setup()
    return s


def judge(stage, alt: str, lang: str, page_title: str = "", **fields):
    """(kind, reason) as the stage decides them around language ID, with ``lang`` as language ID's answer."""
    row = candidate(alt, page_title=page_title, **fields)
    page, script, norm = PageFacts(row), dominant_script(alt), normalize_alt(alt)
    reading = read_alt(alt, stage.function, script, stage.name_max_words)
    kind, reason = stage._before_langid(row, alt, norm, script, reading, page)
    if reason:
        return kind, reason
    return stage._judge({**row, "lang": lang}, alt, norm, script, page, reading)


@pytest.mark.parametrize("alt,lang,title,expected", [
    # Kept: names written in the language.
    ("Храм Светог Саве", "sr-Cyrl", "Београд", ("entity", None)),
    ("Собор Василия Блаженного", "ru", "Москва", ("entity", None)),
    ("경복궁", "ko", "서울 여행", ("entity", None)),
    ("Karlův most", "cs", "Praha", ("description", None)),
    ("Bộ Ba Rắc Rối", "vi", "Cafe phim", ("entity", None)),
    # Dropped: a name with no mark of the language, a Latin name on a page in another script, a Latin word
    # inside a name in another script, Latin text without a word of the language.
    ("Samsung Galaxy Tab", "hu", "Jófogás apróhirdetések", ("entity", "bare_name")),
    ("Mizon Scalp Clinic", "cs", "Шампуни и бальзамы для волос", ("entity", "bare_name")),  # no mark at all
    ("Tomáš Souček", "cs", "Футбол: новости", ("entity", "latin_brand")),
    ("Чай Greenfield Дракон", "ru", "Чай зеленый", ("entity", "latin_brand")),
    ("mk뉴스", "ko", "매일경제", ("entity", "latin_brand")),
    ("drupal analytics tracking", "cs", "Zprávy", ("description", "no_native_word")),
    # A description that is the page's headline (a part of its title).
    ("Hat pólusú vízálló stekker áron alul", "hu", "Hat pólusú vízálló stekker áron alul - Jófogás",
     ("description", "same_as_title")),
    # Serbian Latin on a Cyrillic page is still Serbian: the language writes both scripts.
    ("Most na Drini", "sr-Latn", "Мост на Дрини", ("entity", None)),
])
def test_names_are_kept_when_written_in_the_language(stage, alt, lang, title, expected):
    assert judge(stage, alt, lang, title) == expected


def test_keep_names_keeps_names_without_a_mark():
    stage = FilterStage(keep_names=True)
    stage.ensure_setup()
    assert judge(stage, "Samsung Galaxy Tab", "hu", "Jófogás") == ("entity", None)
    # ... not brands in a foreign script on the page.
    assert judge(stage, "Mizon Scalp Clinic", "cs", "Шампуни")[1] == "latin_brand"


def test_without_a_gazetteer_names_need_other_marks(stage, monkeypatch):
    if kinds.gazetteer("cs", "Latn"):  # babel installed: Praha is Czech by the CLDR names
        assert judge(stage, "Praha", "cs", "Zprávy") == ("entity", None)
    monkeypatch.setattr("mella.filter.filter.gazetteer", lambda code, script: frozenset())  # as without babel
    bare = FilterStage()
    bare.ensure_setup()
    assert judge(bare, "Praha", "cs", "Zprávy")[1] == "bare_name"
    assert judge(bare, "Karlův most", "cs", "Zprávy")[1] is None


def test_every_kept_row_has_a_kind_end_to_end(stage):
    rows = [
        candidate("Храм Светог Саве у Београду, поглед са платоа", page_title="Београд", html_lang="sr"),
        candidate("Храм Светог Саве", page_title="Београд", html_lang="sr"),
        candidate("Собор Василия Блаженного", page_url="https://example.ru/p", page_title="Москва",
                  html_lang="ru"),
        candidate("경복궁", page_url="https://example.kr/p", page_title="서울", html_lang="ko"),
        candidate("Samsung Galaxy Tab 4 10.1 T535 LTE 16GB", page_url="https://example.hu/p",
                  page_title="Jófogás", html_lang="hu"),
        candidate("Logo společnosti HS Flamingo s.r.o.", page_url="https://example.cz/p", html_lang="cs"),
        candidate("Туристичка организација Београд", landmark="footer", link_url="https://www.tob.rs/",
                  link_scope="other_site", page_title="Београд", html_lang="sr"),
        candidate("Официальное приложение LiveLib для iOS", page_url="https://example.ru/p",
                  link_url="https://apps.apple.com/app/id1", link_scope="other_site", html_lang="ru"),
    ]
    out = Emitter()
    stage.process(rows, out)
    kept = {r["alt"]: r for r in out.result.kept}
    dropped = {r["alt"]: r["drop_reason"] for r in out.result.dropped}
    assert kept["Храм Светог Саве у Београду, поглед са платоа"]["kind"] == "description"
    assert kept["Храм Светог Саве"]["kind"] == "entity" and kept["Храм Светог Саве"]["lang"] == "sr-Cyrl"
    assert kept["Собор Василия Блаженного"]["kind"] == "entity"
    assert kept["경복궁"]["kind"] == "entity"
    assert dropped == {"Samsung Galaxy Tab 4 10.1 T535 LTE 16GB": "product",
                       "Logo společnosti HS Flamingo s.r.o.": "logo",
                       "Туристичка организација Београд": "partner_badge",
                       "Официальное приложение LiveLib для iOS": "service_link"}
    assert all(r["kind"] in ("description", "entity", "other") for r in kept.values())
