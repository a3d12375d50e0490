"""BLEU equals sacrebleu's corpus BLEU with the language's tokenizer, for every default language."""

import unicodedata

import pytest
import sacrebleu
from evalkit import LANGS, PAIRS, make_items

from mella.evaluate.metrics.bleu import BLEU
from mella.evaluate.textproc import processor


def _bleu(lang, pairs):
    return BLEU(processor(lang)).score(make_items(lang, pairs))["bleu"]


@pytest.mark.parametrize("lang", LANGS)
def test_bleu_equals_sacrebleu_corpus_bleu(lang):
    proc = processor(lang)
    refs = [proc.process(r).spaced for r, _ in PAIRS[lang]]
    hyps = [proc.process(h).spaced for _, h in PAIRS[lang]]
    tok = proc.lang.extra["bleu_tokenizer"]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok, force=True).score
    score = _bleu(lang, PAIRS[lang])
    assert score.score == pytest.approx(expected, abs=1e-9)
    assert 0 < score.score < 100
    assert score.n == len(PAIRS[lang])


@pytest.mark.parametrize("lang,tok", [("ar", "tok:intl"), ("ko", "tok:ko-mecab-"), ("th", "tok:13a")])
def test_bleu_signature_names_tokenizer_normalisation_and_versions(lang, tok):
    sig = _bleu(lang, PAIRS[lang]).signature
    assert sig.startswith(f"bleu|lang:{lang}|nrefs:1|case:mixed|eff:no|")
    assert tok in sig and "norm:nfc" in sig
    assert f"version:{sacrebleu.__version__}" in sig and "mella:" in sig
    assert ("seg:pythainlp-" in sig) == (lang == "th")


def test_intl_splits_guillemets_and_arabic_punctuation():
    ref = "«سوق الحميدية» في دمشق؛ هل تعرف تاريخه؟"
    hyp = "« سوق الحميدية » في دمشق ؛ هل تعرف تاريخه ؟"
    assert _bleu("ar", [(ref, hyp)]).score == pytest.approx(100)
    assert sacrebleu.corpus_bleu([hyp], [[ref]], tokenize="13a").score < 50  # the 13a trap


def test_vietnamese_nfd_hypothesis_scores_like_nfc():
    ref = "Người phụ nữ mặc áo dài trắng đạp xe trên phố."
    nfd = unicodedata.normalize("NFD", ref)
    assert sacrebleu.corpus_bleu([nfd], [[ref]]).score < 10  # the trap without NFC
    assert _bleu("vi", [(ref, nfd)]).score == pytest.approx(100)


@pytest.mark.parametrize("tag", ["sr", "sr-Latn", "sr-Cyrl"])
def test_serbian_latin_hypothesis_against_cyrillic_reference(tag):
    ref = "Храм Светог Саве у Београду је један од највећих православних храмова."
    hyp = "Hram Svetog Save u Beogradu je jedan od najvećih pravoslavnih hramova."
    assert sacrebleu.corpus_bleu([hyp], [[ref]]).score < 5  # the trap without script folding
    assert _bleu(tag, [(ref, hyp)]).score == pytest.approx(100)
    assert _bleu(tag, [(hyp, ref)]).score == pytest.approx(100)


def test_thai_without_spaces_gets_word_level_credit():
    ref = "ผู้หญิงกำลังทำส้มตำในครัว"
    hyp = "ผู้หญิงกำลังทำส้มตำในบ้าน"
    assert sacrebleu.corpus_bleu([hyp], [[ref]], tokenize="13a").score == 0  # one "word" per line
    assert 30 < _bleu("th", [(ref, hyp)]).score < 100


def test_empty_and_short_hypotheses():
    assert _bleu("cs", [("Karlův most v Praze.", "")]).score == 0
    short = _bleu("cs", [("Karlův most v Praze přes Vltavu.", "most")])
    assert short.score == pytest.approx(sacrebleu.corpus_bleu(["most"], [["Karlův most v Praze přes Vltavu."]],
                                                              tokenize="intl").score)


def test_variable_reference_counts_match_sacrebleu():
    pairs = [(["Karlův most v Praze.", "Most v Praze."], "Karlův most je v Praze."),
             (["Pražský hrad v noci."], "Hrad v noci.")]
    expected = sacrebleu.corpus_bleu(
        ["Karlův most je v Praze.", "Hrad v noci."],
        [["Karlův most v Praze.", "Pražský hrad v noci."], ["Most v Praze.", None]], tokenize="intl")
    score = _bleu("cs", pairs)
    assert score.score == pytest.approx(expected.score)
    assert "nrefs:var" in score.signature


def test_item_bleu_equals_sentence_bleu():
    metric = BLEU(processor("ru"))
    ref, hyp = PAIRS["ru"][0]
    row = metric.stats(make_items("ru", [(ref, hyp)]))[0]
    assert metric.item_scores(row)["bleu"] == pytest.approx(
        sacrebleu.sentence_bleu(hyp, [ref], tokenize="intl").score)
