"""Keyword accuracy: whole tokens (or stems), never substrings; macro over samples, micro over keywords."""

import pytest
from evalkit import LANGS, PAIRS, make_items

from mella.evaluate.metrics import Item
from mella.evaluate.metrics.keyword import KeywordAccuracy, reference_keywords
from mella.evaluate.textproc import processor


def _scores(lang, pairs):
    return KeywordAccuracy(processor(lang)).score(make_items(lang, pairs))


def test_kolo_does_not_match_inside_okolo():
    scores = _scores("cs", [("Kolo", "Okolo stojí děti.")])
    assert scores["keyword_accuracy"].score == 0
    assert _scores("sr", [("коло", "okolo kuće")])["keyword_accuracy"].score == 0
    assert _scores("sr", [("коло", "igraju kolo")])["keyword_accuracy"].score == 1


def test_reference_keywords_drop_stop_words_and_short_tokens():
    proc = processor("cs")
    keys = reference_keywords(proc.process("Karlův most v Praze je plný turistů a je to krásné."), proc)
    assert keys == [(k,) for k in proc.process("Karlův most Praze plný turistů krásné").keys]


def test_inflected_forms_match_through_the_stem():
    assert _scores("cs", [("Karlův most v Praze", "Na Karlově mostě v Praze")])["keyword_accuracy"].score == 1
    assert _scores("ru", [("Красная площадь", "на Красной площади")])["keyword_accuracy"].score == 1


def test_korean_particles_are_split_off_before_matching():
    scores = _scores("ko", [("서울 경복궁", "경복궁은 서울에 있습니다")])
    assert scores["keyword_accuracy"].score == 1


def test_thai_keywords_are_segmented_words():
    scores = _scores("th", [("ตลาดน้ำ ดำเนินสะดวก", "เรือขายผลไม้ที่ตลาดน้ำดำเนินสะดวก")])
    assert scores["keyword_accuracy"].score == 1
    assert _scores("th", [("ตลาดน้ำ", "น้ำในตลาด")])["keyword_accuracy"].score == 0


def test_macro_and_micro_aggregation():
    pairs = [("Karlův most Praha", "Karlův most"),               # 2 of 3
             ("Vltava", "Vltava"),                                # 1 of 1
             ("a v", "cokoli")]                                   # no keywords: not counted
    scores = _scores("cs", pairs)
    assert scores["keyword_accuracy"].score == pytest.approx((2 / 3 + 1) / 2)
    assert scores["keyword_accuracy"].n == 2
    assert scores["keyword_accuracy_micro"].score == pytest.approx(3 / 4)
    assert scores["keyword_accuracy_micro"].n == 4


def test_explicit_keywords_override_and_may_be_multiword():
    proc = processor("cs")
    item = Item(proc.process("Na obrázku je Karlův most a Pražský hrad."), [proc.process("cokoli")],
                keywords=[proc.process("Karlův most"), proc.process("Staroměstský orloj"), proc.process("most Karlův")])
    stats = KeywordAccuracy(proc).stats([item])[0]
    assert stats == [pytest.approx(1 / 3), 1.0, 1.0, 3.0]


def test_no_keywords_anywhere_gives_none():
    scores = _scores("cs", [("a v", "cokoli")])
    assert scores["keyword_accuracy"].score is None and scores["keyword_accuracy"].n == 0


def test_empty_hypothesis_scores_zero():
    assert _scores("hu", [("A Parlament épülete a Duna partján", "")])["keyword_accuracy"].score == 0


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_finds_keywords_and_partial_credit(lang):
    score = _scores(lang, PAIRS[lang])["keyword_accuracy"]
    assert score.n == len(PAIRS[lang])
    assert 0 < score.score < 1
    assert f"lang:{lang}|" in score.signature and "stopwords:" in score.signature
