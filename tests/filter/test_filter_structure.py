"""Structure rules: what the HTML around an image says (landmark, link, declared size, path), on rows built here
with the alts real pages carry (the issue's examples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mella.filter.structure import structure_rules, unarchive
from mella.records import CANDIDATES

PAGE = "https://www.beograd.rs/lat/vesti/123-vest"


def row(alt="Туристичка организација Београд", **fields):
    r = dict.fromkeys(CANDIDATES.names)
    r.update(page_url=PAGE, image_url="https://www.beograd.rs/images/photo-123.jpg", alt=alt, domain="beograd.rs")
    r.update(fields)
    return r


@pytest.fixture(scope="module")
def rules():
    return structure_rules()


def test_null_columns_pass_every_rule(rules):
    # Rows from an older collect (or another tool) have no structure: nothing fires.
    assert rules.check(row()) is None
    assert rules.linked(row(), "description", "туристичка организација београд") is None


@pytest.mark.parametrize("fields,reason", [
    # Partner badges and banners: a link to another site from the page's chrome.
    ({"landmark": "footer", "link_url": "https://www.tob.rs/", "link_scope": "other_site"}, "partner_badge"),
    ({"landmark": "aside", "link_url": "https://www.slglasnik.rs/", "link_scope": "other_site"}, "partner_badge"),
    ({"landmark": "header", "link_url": "https://www.tob.rs/", "link_scope": "other_site"}, "partner_badge"),
    # ... but the enlarged picture on a CDN is not a partner.
    ({"landmark": "aside", "link_url": "https://cdn.example.net/full/photo.JPG", "link_scope": "other_site"}, None),
    # App stores, social networks, counters: their badge wherever it sits.
    ({"landmark": "main", "link_url": "https://apps.apple.com/ru/app/livelib/id1", "link_scope": "other_site"},
     "service_link"),
    ({"link_url": "https://play.google.com/store/apps/details?id=x", "link_scope": "other_site"}, "service_link"),
    ({"link_url": "https://m.facebook.com/beograd", "link_scope": "other_site"}, "service_link"),
    ({"link_url": "https://top.mail.ru/jump?from=1", "link_scope": "other_site"}, "service_link"),
    # The site's own home page: its logo (also inside a web archive's address).
    ({"link_url": "https://www.beograd.rs/", "link_scope": "same_site"}, "site_logo"),
    ({"link_url": "https://www.beograd.rs/lat/", "link_scope": "same_site"}, "site_logo"),
    ({"link_url": "https://web.archive.org/web/20220721135650/https://www.mk.co.kr/", "link_scope": "same_site"},
     "site_logo"),
    # Any image link in navigation is a menu entry.
    ({"landmark": "nav", "link_url": "https://www.beograd.rs/lat/igre/", "link_scope": "same_site"}, "nav_link"),
    # Declared sizes: icons (<= 48 x 48, or a side <= 32) and the IAB ad-unit shapes.
    ({"declared_width": 24, "declared_height": 24}, "tiny_image"),
    ({"declared_width": 48, "declared_height": 48}, "tiny_image"),
    ({"declared_width": 300, "declared_height": 16}, "tiny_image"),
    ({"declared_width": 16}, "tiny_image"),
    ({"declared_width": 468, "declared_height": 60}, "banner_size"),
    ({"declared_width": 728, "declared_height": 90}, "banner_size"),
    ({"declared_width": 88, "declared_height": 31}, "tiny_image"),
    ({"declared_width": 640, "declared_height": 360}, None),
    ({"declared_width": 64, "declared_height": 64}, None),
    ({"declared_width": 0, "declared_height": 0}, None),
    # Words of the image's own path.
    ({"image_url": "https://www.beograd.rs/img/logo_white.png"}, "chrome_path"),
    ({"image_url": "https://www.beograd.rs/static/icons/arrow-left.svg"}, "chrome_path"),
    ({"image_url": "https://www.beograd.rs/img/btnShare.gif"}, "chrome_path"),
    ({"image_url": "https://www.beograd.rs/partners/tob2.png"}, "chrome_path"),
    ({"image_url": "https://www.beograd.rs/img/iconic-bridge-at-night.jpg"}, None),
    ({"image_url": "https://logo.example.rs/photos/hram-svetog-save.jpg"}, None),  # the host is not the path
    ({"image_url": "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs="}, None),
    # Forum software's icon folders and anti-spam challenges (real addresses of forum and shop pages).
    ({"image_url": "http://darkmoney.cc/images/statusicon/forum_new.gif"}, "chrome_path"),
    ({"image_url": "https://forum.example.ru/styles/prosilver/imageset/topic_read.gif"}, "chrome_path"),
    ({"image_url": "https://obchod.hsflamingo.cz/skins/blue/images/spam/60.png"}, "chrome_path"),
    # An image served by a web counter: its button or a tracking pixel, whatever the alt says ("Топ-100").
    ({"image_url": "https://counter.rambler.ru/top100.cnt?pid=2706484"}, "counter_image"),
    ({"image_url": "https://www.toplist.cz/count.asp?id=1"}, "counter_image"),
    ({"image_url": "https://rambler.ru/photos/kremlin.jpg"}, None),  # the counter host, not its parent site
    # A stand-in for a missing picture, by its file name (mk.ru's author without a photo, bantre.com.vn's teasers);
    # folders do not count, nor a screenshot of default settings, nor words that only start with "no".
    ({"image_url": "https://static.mk.ru/media/img/mk.ru/no_author_photo_small.gif"}, "placeholder_image"),
    ({"image_url": "http://bantre.com.vn/images/no-image-2.gif"}, "placeholder_image"),
    ({"image_url": "http://gsm-komplekt.com/SC/products_pictures/nophoto.png"}, "placeholder_image"),
    ({"image_url": "https://cdnarabic1.img.sputniknews.com/i/avatar-default.png"}, "placeholder_image"),
    ({"image_url": "https://docs.example.com/media/default-image-settings.png"}, None),
    ({"image_url": "https://www.beograd.rs/no/photo-123.jpg"}, None),
    ({"image_url": "https://www.beograd.rs/images/norway-photo.jpg"}, None),
    # A heading drawn as an image (donga.com's section titles, "핫이슈"); "title" is no chrome word.
    ({"image_url": "http://img.donga.com/donga2013/images/sub/tit_hot_issue.gif"}, "chrome_path"),
    ({"image_url": "https://www.beograd.rs/images/title-kalemegdan.jpg"}, None),
    # ... only as the file name's role prefix: a bird is no heading
    ({"image_url": "https://birds.example.cz/foto/great-tit.jpg"}, None),
    ({"image_url": "https://birds.example.cz/tit/sykora-kohoutka.jpg"}, None),
    # A product card: the picture links on and the text around it has a price (fozzyshop.com.ua, jofogas.hu).
    ({"link_url": "https://fozzyshop.com.ua/shampun-garnier-3600540921727.html", "link_scope": "same_site",
      "context": "Фасовка: 0,4л Артикул: 92107 8 грн Купить Скидка заканчивается через: Акция!"}, "price_offer"),
    ({"link_url": "https://www.jofogas.hu/nograd/Tavaszi_Nyari_Vty_cipok_18188540.htm", "link_scope": "same_site",
      "context": "Eladó 2 bojlis bot 30 000 Ft Eladó Kézműves, Hobby Nagyfüged Ma 17:34"}, "price_offer"),
    ({"link_url": "https://img.jofogas.hu/images/stekker_19020615991.jpg", "link_scope": "other_site",
      "context": "Hat pólusú vízálló stekker áron alul 2 000 Ft Hirdető"}, "price_offer"),
    ({"link_url": "https://shop.cz/p/1", "link_scope": "same_site", "context": "Akce: 1 299,- Kč"}, "price_offer"),
    ({"link_url": "https://shop.vn/p/1", "link_scope": "same_site", "context": "Giá: 1.250.000 VNĐ"}, "price_offer"),
    # ... but not a photo that is no link (an article beside a paragraph on fuel prices), a link back to the
    # page, a year (Ukrainian "р."), a percentage, or Vietnamese "Đ" starting a word
    ({"context": "Benzín zdražil na 42 Kč za litr."}, None),
    ({"link_url": PAGE + "#", "link_scope": "same_site", "context": "Cena 42 Kč"}, None),
    ({"link_url": "https://s.ua/a/1", "link_scope": "same_site", "context": "Київ у 2020 р. Сир 50% жирності"}, None),
    ({"link_url": "https://s.vn/a/1", "link_scope": "same_site", "context": "Tháng 1 2 3 12 Đăng nhập"}, None),
])
def test_structure_rules(rules, fields, reason):
    assert rules.check(row(**fields)) == reason


@pytest.mark.parametrize("alt,kind,fields,reason", [
    # A teaser: the alt is the link's only text, or repeats it: the linked article's title.
    ("Sao Việt bức xúc vì bị sử dụng hình ảnh trái phép", "description",
     {"link_url": "https://giaitri.vnexpress.net/tin-tuc/sao-viet.html", "link_scope": "same_site"}, "link_title"),
    ("Kezdődik az iskola: milyen a tökéletes tanulósarok?", "description",
     {"link_url": "https://hirvilag.hu/article/kezdodik", "link_scope": "other_site",
      "link_text": "lakaskultura.hu Kezdődik az iskola: milyen a tökéletes tanulósarok?"}, "link_title"),
    # A caption written for the picture differs from the link's own text (a teaser's headline): kept.
    ("Fotbalisté Červených Janovic v utkání s béčkem Tupadel", "description",
     {"link_url": "https://sport.aktualne.cz/fotbal/repka/", "link_scope": "same_site",
      "link_text": "Řepka a spol. zůstali na trávníku sami."}, None),
    # A name in a same-site link: a gallery links each place to its page. Kept.
    ("Храм Светог Саве", "entity",
     {"link_url": "https://www.beograd.rs/lat/hram-svetog-save", "link_scope": "same_site"}, None),
    # A name in a link to another site: that site's badge, wherever it is.
    ("Hírvilág", "entity", {"link_url": "https://hirvilag.hu/", "link_scope": "other_site"}, "partner_badge"),
    # The picture at full size, or the page itself: not the image's purpose.
    ("Pogled na Kalemegdan sa reke", "description",
     {"link_url": "https://www.beograd.rs/images/kalemegdan-full.jpg", "link_scope": "same_site"}, None),
    ("Pogled na Kalemegdan sa reke", "description", {"link_url": PAGE + "#", "link_scope": "same_site"}, None),
])
def test_link_rules_need_the_kind(rules, alt, kind, fields, reason):
    from mella.filter.text import normalize_alt

    assert rules.linked(row(alt, **fields), kind, normalize_alt(alt)) == reason


# aktualne.cz's gallery opener: the link wraps the picture, its caption and the caption's credit.
OPENER = {"link_url": "https://sport.aktualne.cz/aston-villa-west-ham/r~ada3322c/r~8fa032ba/",
          "link_scope": "same_site"}


@pytest.mark.parametrize("alt,link_text,reason", [
    # the link's text is the caption, then its photo credit: the alt is that caption
    ("Spokojený Tomáš Souček po vítězství ve Villa Parku.",
     "Spokojený Tomáš Souček po vítězství ve Villa Parku. | Foto: Reuters", None),
    ("Ông Hồ Đức Phớc, Bộ trưởng Tài chính", "Ông Hồ Đức Phớc, Bộ trưởng Tài chính. Ảnh: Hoàng Phong", None),
    ("서울 광화문 광장의 촛불 집회", "서울 광화문 광장의 촛불 집회 (사진=연합뉴스)", None),
    ("ภาพวัดอรุณราชวรารามยามเย็น", "ภาพวัดอรุณราชวรารามยามเย็น ภาพจาก Unsplash", None),
    # anything else after the alt, or a credit word BEFORE it (a "Foto" badge on a headline): a title
    ("Martin Stranka fotí, jako by točil hollywoodský film",
     "Foto Martin Stranka fotí, jako by točil hollywoodský film", "link_title"),
    ("Razie na Slovensku", "Razie na Slovensku 12 komentářů", "link_title"),
    ("Razie na Slovensku", "Razie na Slovensku", "link_title"),
])
def test_a_caption_with_its_credit_in_the_link_is_kept(rules, alt, link_text, reason):
    from mella.filter.kinds import cues
    from mella.filter.text import normalize_alt

    code = {"ภ": "th", "서": "ko", "Ô": "vi"}.get(alt[0], "cs")
    r = row(alt, link_text=link_text, **OPENER)
    assert rules.linked(r, "description", normalize_alt(alt), cues(code)) == reason
    # without the run's credit words (the default), the caption in its link is a title as before
    assert rules.linked(r, "description", normalize_alt(alt)) == "link_title"


@pytest.mark.parametrize(("alt", "kind", "flag", "reason"), [
    # a listing's teaser headline, a shop's category tile: the words of a link beside the picture
    ("Достать до Алабуги и Грозного. Как Украина наращивает дроновые удары на 1000+ километров", "description",
     True, "headline"),
    ("Рыболовная электроника", "description", True, "headline"),
    ("kontakt", "other", True, "headline"),
    # a name that is also its link's text: a gallery of places or people; kept
    ("Храм Светог Саве", "entity", True, None),
    # not repeated, or not known (rows from WAT records and older collects): kept
    ("Jedno z havarovaných aut na Pražském okruhu", "description", False, None),
    ("Jedno z havarovaných aut na Pražském okruhu", "description", None, None),
])
def test_an_alt_repeated_as_a_link_is_a_headline(rules, alt, kind, flag, reason):
    assert rules.repeated(row(alt, alt_is_link_text=flag), kind) == reason


def test_unarchive():
    assert unarchive("https://web.archive.org/web/2022id_/http://mk.co.kr/news/") == "http://mk.co.kr/news/"
    assert unarchive("https://www.mk.co.kr/") == "https://www.mk.co.kr/"


def test_teaser_headlines_of_a_real_page_are_dropped(tmp_path):
    """collect -> filter on a saved news page (LBC Group, Arabic): its "more news" teasers repeat their
    headline links on the picture; they are dropped as ``headline``, and nothing kept repeats a link."""
    import pyarrow.parquet as pq

    from mella.collect.collect import CollectStage
    from mella.filter.filter import FilterStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage

    page = Path(__file__).resolve().parents[1] / "data" / "web" / "ar" / "flairNLP__fundus__lb-LBCGroup_2026_01_08.html.gz"
    ex = LocalExecutor(1, progress=False)
    run_stage(CollectStage(), [str(page)], tmp_path / "collect", ex)
    run_stage(FilterStage(), [str(tmp_path / "collect")], tmp_path / "filter", ex)
    candidates = pq.read_table(sorted((tmp_path / "collect").glob("part-*.parquet"))).to_pylist()
    kept = pq.read_table(sorted((tmp_path / "filter").glob("part-*.parquet"))).to_pylist()
    dropped = pq.read_table(sorted((tmp_path / "filter" / "_dropped").glob("part-*.parquet"))).to_pylist()
    headlines = [d for d in dropped if d["drop_reason"] == "headline"]
    assert len(headlines) >= 20
    assert all(d["alt_is_link_text"] and d["kind"] != "entity" for d in headlines)
    assert "وفاة هلي الرحباني نجل السيدة فيروز" in {d["alt"] for d in headlines}
    assert not [r["alt"] for r in kept if r["alt_is_link_text"] and r["kind"] != "entity"]
    assert sum(c["alt_is_link_text"] for c in candidates) >= len(headlines)


def test_one_file_under_three_alts_is_a_placeholder_two_are_a_reused_picture(tmp_path):
    """collect -> filter on a page whose template fills three slots with one stand-in file (a forum's
    ``d.gif`` under its menu labels, as civfanatics.ru and slivki.by pages do): the pairs are wrong whatever the
    alts say (``shared_image``). A tutorial that shows its star sprite in two steps, each captioned, keeps both."""
    import pyarrow.parquet as pq

    from mella.collect.collect import CollectStage
    from mella.filter.filter import FilterStage
    from mella.pipeline.local import LocalExecutor
    from mella.pipeline.runner import run_stage

    page = tmp_path / "page.html"
    page.write_text(
        '<html lang="ru"><head><title>Форум любителей цивилизации</title></head><body>'
        '<p><img src="/common-img/d.gif" alt="Вход и регистрация на форуме"> '
        '<img src="/common-img/d.gif" alt="Загрузка страницы форума"> '
        '<img src="/common-img/d.gif" alt="Главная страница нашего форума"></p>'
        '<main><p>Сначала нарисуйте звезду.</p><img src="/img/star.gif" alt="Спрайт звезды на сцене">'
        '<p>Потом проверьте её.</p><img src="/img/star.gif" alt="Тестирование сияющей звезды">'
        '<img src="/img/kremlin.jpg" alt="Московский Кремль зимой, вид с Большого Каменного моста"></main>'
        '</body></html>', encoding="utf-8")
    ex = LocalExecutor(1, progress=False)
    run_stage(CollectStage(), [str(page)], tmp_path / "collect", ex)
    run_stage(FilterStage(), [str(tmp_path / "collect")], tmp_path / "filter", ex)
    kept = {r["alt"] for r in pq.read_table(sorted((tmp_path / "filter").glob("part-*.parquet"))).to_pylist()}
    dropped = pq.read_table(sorted((tmp_path / "filter" / "_dropped").glob("part-*.parquet"))).to_pylist()
    assert {d["alt"]: d["drop_reason"] for d in dropped} == {
        "Вход и регистрация на форуме": "shared_image", "Загрузка страницы форума": "shared_image",
        "Главная страница нашего форума": "shared_image"}
    assert kept == {"Спрайт звезды на сцене", "Тестирование сияющей звезды",
                    "Московский Кремль зимой, вид с Большого Каменного моста"}
    assert all(d["lang"] is None for d in dropped)  # page evidence: decided before language ID
