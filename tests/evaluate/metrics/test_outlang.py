import pytest
from evalkit import LANGS, PAIRS

from mella.evaluate.metrics import Item
from mella.evaluate.metrics.outlang import OutputLanguage, in_script_share
from mella.evaluate.textproc import processor


def _is_target(tag, text):
    proc = processor(tag)
    return OutputLanguage(proc).is_target(proc.process(text))


@pytest.mark.parametrize("lang", LANGS)
def test_reference_style_predictions_are_in_language(lang):
    assert all(_is_target(lang, hyp) for _, hyp in PAIRS[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_english_answers_are_not(lang):
    assert not _is_target(lang, "The image shows a beautiful old building in the city centre.")


def test_empty_and_letterless_predictions_are_not():
    assert not _is_target("cs", "")
    assert not _is_target("th", "1989 !!!")


def test_serbian_in_either_script_passes_for_both_tags():
    for tag in ["sr-Latn", "sr-Cyrl", "sr"]:
        assert _is_target(tag, "Људи играју коло на сеоском слављу.")
        assert _is_target(tag, "Ljudi igraju kolo na seoskom slavlju.")


def test_wrong_script_fails():
    assert not _is_target("ru", "Sobor Vasilija Blazhennogo")
    assert not _is_target("ko", "京福宮是朝鮮王朝的宮殿")


def test_short_target_language_answer_passes():
    assert _is_target("cs", "Praha")
    assert _is_target("vi", "Phở bò")


def test_script_share():
    assert in_script_share("abc где", ("Cyrl",)) == pytest.approx(3 / 6)
    assert in_script_share("", ("Latn",)) == 0


def test_unregistered_language_is_not_counted():
    proc = processor("xx")
    metric = OutputLanguage(proc)
    score = metric.score([Item(proc.process("hi"), [])])
    assert score["output_lang_rate"].score is None
