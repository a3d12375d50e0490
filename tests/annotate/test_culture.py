"""``mella culture``: the offline rating on real alt-texts of every language, the evidence of the other stages'
columns, and the rubric through a real OpenAI-compatible server (`transformers serve` with the tiny Qwen2-VL, its
answers noise: they fall back to the offline rating and are counted) and through its result cache."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from annotatekit import read_rows, run, write_rows
from pydantic import ValidationError

from mella.annotate.culture import CultureStage, language_name, parse_rating
from mella.annotate.culture_rules import CATEGORIES, OFFLINE_METHOD, rate_offline
from mella.languages import default_languages
from mella.models.cache import FILENAME, ResultCache
from mella.records import FILTERED, RATED

DATA = Path(__file__).resolve().parents[1] / "data"
CULTURE_DATA = Path(__file__).resolve().parents[2] / "src" / "mella" / "data" / "culture"

# Real alt-texts: the labelled gold set's dev rows (tests/data/labels; never its held-out rows) and the demo's
# example sites (examples/sites), with the category a reader gives them.
REAL = [
    ("ru", "Чай зеленый Lipton Mandarin-orange", "food"),
    ("ru", "Запад Украины замело снегом", "nature"),
    ("ru", "Спрайт обезьяна", "screenshot_ui"),
    ("ru", "Космический фон", "other"),
    ("cs", "Modrý kostel", "landmark"),
    ("cs", "Mendlovo náměstí", "landmark"),
    ("cs", "Přednáška", "everyday_life"),
    ("cs", "Uvítací slajd", "screenshot_ui"),
    ("cs", "Fotbalisté Červených Janovic v utkání s béčkem Tupadel", "person"),
    ("hu", "Szellő rózsák - üvegfestmény", "art"),
    ("hu", "Panasonic VDR-D150 DVD S kamera eladó", "product"),
    ("hu", "HÚSMENTESEN IS FINOMAT - VILLÁMGYORS VEGÁN CSILIS BAB", "food"),
    ("hu", "Tavaszi-Nyári Vty-cipők", "clothing"),
    ("hu", "Google Earth Engine kódszerkesztő", "screenshot_ui"),
    ("ko", "중국 화웨이 어센드 910 반도체 [사진 출처 = 연합뉴스]", "product"),
    ("ko", "부산 가덕도신공항 홍보 영상 갈무리. [사진 출처 = 부산시]", "screenshot_ui"),
    ("ko", "우주선 스프라이트", "screenshot_ui"),
    ("ar", "وزيرة الصحة المصرية ضمن الفريق الطبي الذي استقبل المصريين العائدين من ووهان الصينية", "person"),
    ("ar", "تعرفوا على أسعار الذهب محليا", "product"),
    ("ar", "لقطة شاشة", "screenshot_ui"),
    ("sr-Latn", "'Floralis Genérica' napravio Eduardo Catalano: ogromna metalik skulptura cveta sa reflektujućim "
                "laticama", "art"),
    ("sr-Latn", "React kao konobar u restoranu, servira Card UI korisniku, koji je predstavljen kao čovek sa kursorom "
                "na glavi.", "screenshot_ui"),
    ("sr-Cyrl", "слика екрана", "screenshot_ui"),
    ("sr-Cyrl", "насумични мјехурићи говора са присловима", "other"),
    ("th", "ยานอวกาศและโลกสไปรต์", "screenshot_ui"),
    ("th", "ฉากหลังอวกาศ", "other"),
    ("vi", "Nguyên Khang khám phá mùa hoa Tam giác mạch", "nature"),
    ("vi", "Cài đặt múi giờ trong Windows 10", "screenshot_ui"),
    ("vi", "Diễn viên phim 'Bí danh' làm đám cưới đồng tính", "festival"),
]
# Names the issue says filter used to drop, each a culture item named in its language.
NAMES = [("ru", "Собор Василия Блаженного"), ("sr-Cyrl", "Храм Светог Саве"), ("ko", "경복궁"),
         ("th", "วัดพระแก้ว"), ("ar", "المسجد الأقصى"), ("vi", "Chùa Một Cột")]


def row(alt: str, lang: str, **columns) -> dict:
    out = dict.fromkeys(FILTERED.names)
    out.update(page_url="https://example.org/p", image_url="https://example.org/i.jpg", alt=alt, lang=lang,
               domain="example.org", source="test", source_offset=-1, lang_confidence=0.99, **columns)
    return out


def gold_dev_alts() -> list[tuple[str, str]]:
    """(lang, alt) of the gold set's rows not held out (``split`` dev, or all before the column existed)."""
    with open(DATA / "labels" / "alt_gold.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["lang"], r["alt"]) for r in rows if r.get("split", "dev") == "dev"]


# -- offline -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("lang", "alt", "category"), REAL, ids=[f"{r[0]}-{i}" for i, r in enumerate(REAL)])
def test_offline_categories_of_real_alts(lang, alt, category):
    score, found = rate_offline({"alt": alt, "lang": lang})
    assert found == category
    assert 0 <= score <= 1


def test_offline_scores_order_culture_above_everyday_above_interfaces():
    scores = {c: rate_offline({"alt": alt, "lang": lang})[0] for lang, alt, c in REAL}
    assert min(scores[c] for c in ("landmark", "food", "art", "clothing", "festival")) > scores["everyday_life"]
    assert scores["everyday_life"] > scores["other"] > scores["product"] > scores["screenshot_ui"]
    for lang, alt in NAMES:  # culture names: a landmark each, and higher still when filter calls them entities
        plain, category = rate_offline({"alt": alt, "lang": lang})
        assert category == "landmark", alt
        assert rate_offline({"alt": alt, "lang": lang, "kind": "entity"})[0] == pytest.approx(plain + 0.2)


@pytest.mark.parametrize("alt,lang,keywords,people,category", [
    # football.ua: a caption naming who is on the picture; "Река" is the player's surname, not a river
    ("Виктор Коваленко и Аркадиуш Река на презентации, acspezia.com", "ru", ["Виктор Коваленко", "Аркадиуш Река"],
     2, "person"),
    ("Мирча Луческу и Василий Кобин", "ru", ["Мирча Луческу", "Василий Кобин"], 2, "person"),
    # places are no people (pymorphy3's Geox), nor is the photographer after a credit word
    ("Семья мигрантов на набережной Сены в Париже.", "ru", ["Сены", "Париже"], 0, "landmark"),
    ("Украина — Франция, фото Павел Гарковенко", "ru", ["Украина", "Франция", "Павел Гарковенко"], 0, "other"),
    # Vietnamese: a name that starts with a family name; Hồ (a lake, and a surname) is left out of the list
    ("Nhạc sĩ Trịnh Công Sơn", "vi", ["Trịnh Công Sơn"], 1, "person"),
    ("Hồ Gươm mùa thu", "vi", ["Hồ Gươm"], 0, "nature"),
    # Thai: a given name and a family name of pythainlp's lists
    ("นายสมชาย ใจดี", "th", ["นายสมชาย ใจดี"], 1, "person"),
    # Czech and Serbian: a given name first; Hungarian: last, after the family name (the word lists' given_names)
    ("Spokojený Tomáš Souček po vítězství ve Villa Parku.", "cs", ["Tomáš Souček", "Villa Parku"], 1, "person"),
    ("Karlův most", "cs", ["Karlův most"], 0, "landmark"),
    ("Jeden z obrazů, foto Jan Novák", "cs", ["Jan Novák"], 0, "art"),
    ("Petőfi Sándor szobra a Duna-parton", "hu", ["Petőfi Sándor", "Duna-parton"], 1, "art"),
    ("Kossuth Lajos portréja", "hu", ["Kossuth Lajos"], 1, "person"),
    ("Este a Szent István téren", "hu", ["Szent István téren"], 0, "other"),
    ("Новак Ђоковић на терену", "sr-Cyrl", ["Новак Ђоковић"], 1, "person"),
    ("Novak Đoković na terenu", "sr-Latn", ["Novak Đoković"], 1, "person"),
    # Лука is left out of the list: the Port of Belgrade is no person
    ("Luka Beograd noću", "sr-Latn", ["Luka Beograd"], 0, "other"),
])
def test_people_named_in_the_entity_keywords_count_for_person(alt, lang, keywords, people, category):
    from mella.annotate.culture_rules import person_names

    row = {"alt": alt, "lang": lang, "keywords": keywords, "keyword_kinds": ["entity"] * len(keywords)}
    assert person_names(row) == people
    assert rate_offline(row)[1] == category
    # without the keywords stage's columns, nothing is known of names
    assert person_names({"alt": alt, "lang": lang}) == 0


def test_offline_evidence_of_kind_keywords_and_structure():
    base = {"alt": "Modrý kostel", "lang": "cs"}
    plain = rate_offline(base)[0]
    assert rate_offline({**base, "keywords": ["Modrý kostel"], "keyword_kinds": ["entity"]})[0] == pytest.approx(0.8)
    assert rate_offline({**base, "keyword_kinds": ["rare"]})[0] == pytest.approx(plain + 0.05)
    assert rate_offline({**base, "kind": "other"})[0] == pytest.approx(plain - 0.2)
    # a partner badge: linked to another site from the footer
    badge = rate_offline({**base, "landmark": "footer", "link_scope": "other_site"})[0]
    assert badge == pytest.approx(plain - 0.4)
    assert rate_offline({**base, "landmark": "article", "link_scope": "same_site"})[0] == plain
    # an icon-sized image with no category word is interface graphics; a product never goes up
    assert rate_offline({"alt": "Rádio", "lang": "cs", "declared_width": 24, "declared_height": 24}) == (
        0.0, "screenshot_ui")
    assert rate_offline({"alt": "Rádio", "lang": "cs", "declared_width": 640})[1] == "other"
    product = {"alt": "Panasonic VDR-D150 DVD S kamera eladó", "lang": "hu"}
    assert rate_offline({**product, "kind": "entity"}) == rate_offline(product) == (0.1, "product")
    # columns absent or null (an older run): no evidence either way
    assert rate_offline({**base, "kind": None, "keyword_kinds": None, "landmark": None}) == rate_offline(base)


def test_offline_rates_every_gold_alt_the_same_way_twice():
    alts = gold_dev_alts()
    assert len(alts) > 200
    first = [rate_offline({"alt": alt, "lang": lang}) for lang, alt in alts]
    assert first == [rate_offline({"alt": alt, "lang": lang}) for lang, alt in alts]
    assert all(0 <= s <= 1 and c in CATEGORIES for s, c in first)
    assert len({c for _, c in first}) >= 8  # the lists tell categories apart on real text


def test_word_lists_cover_every_default_language_and_category():
    codes = {lang.code for lang in default_languages()} | {"en"}
    assert codes <= {p.stem for p in CULTURE_DATA.glob("*.yaml")}
    for path in sorted(CULTURE_DATA.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups = doc["categories"]
        assert set(groups) == set(CATEGORIES) - {"other"}, path.name
        owner: dict[str, str] = {}
        for category, words in groups.items():
            assert len(words) >= 10, (path.name, category)
            for word in words:
                assert owner.setdefault(word.strip("~$"), category) == category, (path.name, word)


def test_the_stage_adds_the_rating_and_keeps_every_row(tmp_path):
    rows = [row(alt, lang) for lang, alt, _ in REAL] + [row("", "ru"), row(None, None)]
    write_rows(tmp_path / "in" / "rows.parquet", rows, FILTERED)
    report = run(CultureStage(), tmp_path / "in", tmp_path / "out")
    out = read_rows(tmp_path / "out")
    schema = pq.read_schema(sorted((tmp_path / "out").glob("part-*.parquet"))[0])
    assert set(RATED.names) <= set(schema.names)
    assert [r["alt"] for r in out] == [r["alt"] for r in rows]
    assert [r["culture_category"] for r in out[:len(REAL)]] == [c for _, _, c in REAL]
    assert {r["culture_method"] for r in out} == {OFFLINE_METHOD}
    assert out[-1]["culture_category"] == "other" and out[-1]["culture_score"] == 0.3
    assert report.counters["rated.offline"] == len(rows) and report.counters["category.landmark"] == 2


def test_options_and_fingerprint():
    with pytest.raises(ValidationError, match=r"needs an \{alt\} placeholder"):
        CultureStage.Options(method="rubric", prompt="Rate this image.")
    with pytest.raises(ValidationError, match="with_images: set, but method is offline"):
        CultureStage.Options(with_images=True)
    offline = CultureStage().fingerprint()
    assert CultureStage(model="another/model", max_new_tokens=9).fingerprint() == offline  # unused offline
    assert CultureStage(method="rubric").fingerprint() != offline
    assert CultureStage(method="rubric", model="m2").fingerprint() != CultureStage(method="rubric").fingerprint()
    assert CultureStage(batch_size=3, cache=False).fingerprint() == offline
    assert language_name("sr-Latn") == "Serbian (Latn script)" and language_name("xx") == "xx"


def test_the_default_rubric_names_the_language_and_gives_alt_and_title():
    stage = CultureStage(method="rubric")
    text = stage.render(row("  Храм   Светог Саве ", "sr-Cyrl", page_title="Београд"))
    assert 'culture of Serbian (Cyrl script) speakers' in text
    assert '"Храм Светог Саве"' in text and '"Београд"' in text and '{"score": 7, "category": "food"}' in text
    assert 'Title of the page: "(none)"' in stage.render(row("x" * 900, "ko"))
    assert '"' + "x" * 500 + '…"' in stage.render(row("x" * 900, "ko"))


@pytest.mark.parametrize(("answer", "expected"), [
    ('{"score": 7, "category": "food"}', (0.7, "food")),
    ('```json\n{"score": "8", "category": "Everyday life"}\n```', (0.8, "everyday_life")),
    ('Here it is: {"category": "landmarks", "score": 9.5} Hope this helps.', (0.95, "landmark")),
    ("score: 3, category: screenshot/UI", (0.3, "screenshot_ui")),
    ("7/10", (0.7, None)),
    ('{"score": 11, "category": "food"}', (None, "food")),      # out of range
    ('{"score": "high", "category": "dance"}', (None, None)),   # no number, no such category
    ('{"score": 5, "category": ', (0.5, None)),                  # cut off: the score is still read
    ("I cannot rate this image.", (None, None)),
    ("", (None, None)),
    (None, (None, None)),
])
def test_rubric_answers_are_read_robustly(answer, expected):
    assert parse_rating(answer) == expected


# -- rubric through a real OpenAI-compatible server --------------------------------------------------------
@pytest.fixture(scope="module")
def served(tiny_models, tmp_path_factory):
    """`transformers serve` with the tiny Qwen2-VL (tests/models/servekit.py), behind the test gate (it counts
    what reaches the server)."""
    from models.modelgate import Gate
    from models.servekit import transformers_serve

    folder = tiny_models("qwen2-vl")
    with transformers_serve(folder, tmp_path_factory.mktemp("serve")) as root, Gate(root + "/v1") as gate:
        yield gate, folder


# The tiny model reads at most 512 tokens: a short rubric (the prompt option) instead of the default one.
SHORT_RUBRIC = 'Culture of {language}? Alt: "{alt}" Page: "{title}". JSON {"score": 0-10, "category": "..."}'


def rubric_stage(served, cache: Path, **options) -> CultureStage:
    gate, folder = served
    return CultureStage(method="rubric", backend="openai", model=folder, max_new_tokens=8, cache_dir=str(cache),
                        prompt=SHORT_RUBRIC,
                        model_options={"base_url": gate.url, "backoff_s": 0.01, "max_backoff_s": 0.05}, **options)


def test_rubric_through_the_server_falls_back_on_noise_and_caches(served, tmp_path):
    gate, _ = served
    rows = [row(alt, lang, page_title="Страница") for lang, alt, _ in REAL[:6]] + [row(REAL[0][1], "ru")]
    write_rows(tmp_path / "in" / "rows.parquet", rows, FILTERED)
    gate.reset()
    report = run(rubric_stage(served, tmp_path / "cache"), tmp_path / "in", tmp_path / "out")
    out = read_rows(tmp_path / "out")
    assert len(out) == len(rows) and gate.state.forwarded == 7  # one request per distinct prompt
    c = report.counters
    # a tiny random model writes noise: never a rating, so every row falls back to the offline one, counted
    assert c["rubric_unparsed"] + c.get("rated.rubric", 0) == len(rows)
    for r in out:
        if r["culture_method"] == OFFLINE_METHOD:
            assert (r["culture_score"], r["culture_category"]) == rate_offline(r)
        assert r["culture_category"] in CATEGORIES and 0 <= r["culture_score"] <= 1
    gate.reset()
    again = run(rubric_stage(served, tmp_path / "cache"), tmp_path / "in", tmp_path / "again")
    assert gate.state.forwarded == 0 and again.counters["cache_hits"] == 7  # the answers came from the cache


def test_rubric_answers_in_the_cache_are_read_and_bad_ones_counted(served, tmp_path):
    rows = [row(alt, lang) for lang, alt, _ in REAL[:4]]
    write_rows(tmp_path / "in" / "rows.parquet", rows, FILTERED)
    run(rubric_stage(served, tmp_path / "cache"), tmp_path / "in", tmp_path / "first")
    # What a real rating model answers, put where the stage keeps the server's answers (by prompt, in order).
    with sqlite3.connect(tmp_path / "cache" / FILENAME) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM results WHERE kind = 'culture' ORDER BY rowid")]
    cache = ResultCache(tmp_path / "cache")
    answers = ['{"score": 9, "category": "food"}', 'Sure: {"score": 2, "category": "dance"}', "no idea",
               '{"score": 6, "category": "Everyday life"}']
    cache.put_many(dict(zip(keys, answers, strict=True)), "culture", "test")
    cache.close()
    report = run(rubric_stage(served, tmp_path / "cache"), tmp_path / "in", tmp_path / "out")
    out = read_rows(tmp_path / "out")
    method = out[0]["culture_method"]
    assert method == f"rubric:openai:{served[1]}"
    assert [(r["culture_score"], r["culture_category"]) for r in out] == [
        (0.9, "food"), (0.2, rate_offline(rows[1])[1]), rate_offline(rows[2]), (0.6, "everyday_life")]
    assert [r["culture_method"] for r in out] == [method, method, OFFLINE_METHOD, method]
    assert report.counters["rubric_unparsed"] == 1 and report.counters["rubric_bad_category"] == 1


def test_rubric_with_images_shows_the_model_each_image(served, fetched, tmp_path):
    gate, _ = served
    rows = [r for part in sorted(fetched.glob("part-*.parquet")) for r in pq.read_table(part).to_pylist()]
    gate.reset()
    report = run(rubric_stage(served, tmp_path / "cache", with_images=True), fetched, tmp_path / "out")
    assert len(read_rows(tmp_path / "out")) == len(rows)
    assert report.counters.get("rated_without_image", 0) == 0
    assert gate.state.forwarded == len({(r["key"], r["alt"], r["lang"], r["page_title"]) for r in rows})
