"""Entity accuracy: every entity keyword named, in any inflection the keyword metric tolerates; signatures say
where keyword accuracy's keywords came from. Real alt-texts with the keywords the keywords stage gives them."""

import pytest

from mella.errors import MellaError
from mella.evaluate import compare_predictions, render_markdown, run_evaluation
from mella.evaluate.metrics import Item
from mella.evaluate.metrics.entity import EntityAccuracy
from mella.evaluate.textproc import processor

BASIL = "Собор Василия Блаженного на Красной площади"
BASIL_KW = {"keywords": ["Собор Василия Блаженного", "Красной площади"], "keyword_kinds": ["entity", "entity"]}


def _row(i, lang, prediction, reference, **keywords):
    return {"id": str(i), "lang": lang, "source": "know", "prediction": prediction, "references": [reference],
            "model": "m", **keywords}


def _named(lang, prediction, keywords, kinds):
    proc = processor(lang)
    item = Item(proc.process(prediction), [proc.process("-")], [proc.process(k) for k in keywords], kinds)
    return EntityAccuracy(proc).item_scores(EntityAccuracy(proc).stats([item])[0])["entity_named"]


def test_inflected_mentions_name_the_entity():
    assert _named("ru", "На снимке фасад собора Василия Блаженного на Красной площади", *BASIL_KW.values()) == 1
    assert _named("ru", "Собор Святого Василия Блаженного, Красная площадь", *BASIL_KW.values()) == 1  # not quoted
    assert _named("ru", "Вид на собор Василия Блаженного", *BASIL_KW.values()) == 0  # one of two entities
    assert _named("ru", "Собор на площади", *BASIL_KW.values()) == 0  # the generic words alone do not name it
    assert _named("sr-Cyrl", "Hram Svetog Save u Beogradu", ["Храм Светог Саве"], ["entity"]) == 1  # either script
    assert _named("sr-Cyrl", "Храм у Београду", ["Храм Светог Саве"], ["entity"]) == 0
    assert _named("ko", "서울의 경복궁입니다", ["경복궁"], ["entity"]) == 1  # particles split off
    assert _named("cs", "Na Karlově mostě", ["Karlův most"], ["entity"]) == 1


def test_rare_keywords_and_rows_without_kinds_have_no_entities():
    assert _named("ru", "Блины", ["блины", "икрой"], ["rare", "rare"]) is None
    assert _named("ru", "Блины", ["блины"], None) is None


def test_entity_accuracy_per_group_with_n_and_item_column():
    rows = [_row(1, "ru", "Это собор Василия Блаженного на Красной площади", BASIL, **BASIL_KW),
            _row(2, "ru", "Собор Василия Блаженного", BASIL, **BASIL_KW),
            _row(3, "ru", "Блины с икрой", "Блины с красной икрой",
                 keywords=["Блины", "красной икрой"], keyword_kinds=["rare", "rare"]),
            _row(4, "ru", "Дети во дворе", "Дети катаются на санках во дворе")]  # no keywords column at all
    evaluation = run_evaluation(rows)
    scores = {s["metric"]: s for s in evaluation.scores}
    assert scores["entity_accuracy"]["score"] == 0.5 and scores["entity_accuracy"]["n"] == 2
    assert "|entities:keyword_kinds|match:all-content-keys|" in scores["entity_accuracy"]["signature"]
    assert [item["entity_named"] for item in evaluation.items] == [1.0, 0.0, None, None]
    assert "| entity_accuracy |" in render_markdown(evaluation.scores).splitlines()[0]


def test_without_keyword_columns_entity_accuracy_is_null():
    rows = [_row(1, "ru", "Собор", BASIL), _row(2, "ru", "Кремль", "Московский Кремль", keywords=None)]
    scores = {s["metric"]: s for s in run_evaluation(rows).scores}
    assert scores["entity_accuracy"]["score"] is None and scores["entity_accuracy"]["n"] == 0
    assert "|kw:content-words|" in scores["keyword_accuracy"]["signature"]


def test_keyword_signature_says_where_the_keywords_came_from():
    def signature(rows):
        return {s["metric"]: s["signature"] for s in run_evaluation(rows).scores}["keyword_accuracy"]

    with_kw = _row(1, "ru", "Собор", BASIL, **BASIL_KW)
    without = _row(2, "ru", "Дети", "Дети катаются на санках во дворе")
    assert "|kw:keywords|" in signature([with_kw])
    assert "|kw:content-words|" in signature([without])
    assert "|kw:keywords=1+content-words=1|" in signature([with_kw, without])
    assert "|kw:none|" in signature([_row(3, "ru", "x", "и на")])


def test_keywords_use_the_stage_spans_when_present():
    rows = [_row(1, "ru", "Собор Василия Блаженного", BASIL, **BASIL_KW)]
    scores = {s["metric"]: s["score"] for s in run_evaluation(rows).scores}
    assert scores["keyword_accuracy"] == 0.5  # 1 of the 2 spans; the content words would give 3 of 5
    del rows[0]["keywords"], rows[0]["keyword_kinds"]
    assert {s["metric"]: s["score"] for s in run_evaluation(rows).scores}["keyword_accuracy"] == pytest.approx(3 / 5)


def test_misaligned_kinds_are_one_line_naming_the_row():
    rows = [_row("x7", "ru", "Собор", BASIL, keywords=["Собор Василия Блаженного"], keyword_kinds=["entity", "rare"])]
    with pytest.raises(MellaError, match="prediction 'x7': keyword_kinds has 2 values for 1 keywords"):
        run_evaluation(rows)


def test_compare_reports_entity_accuracy():
    base = [_row(i, "ru", "Собор", BASIL, **BASIL_KW) for i in range(4)]
    tuned = [{**r, "prediction": "Собор Василия Блаженного на Красной площади"} for r in base]
    out = {r["metric"]: r for r in compare_predictions(base, tuned, n_bootstrap=50)}
    assert out["entity_accuracy"]["a"] == 0 and out["entity_accuracy"]["b"] == 1
    assert out["entity_accuracy"]["delta"] == 1
