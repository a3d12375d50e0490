"""chrF and chrF++ equal sacrebleu's, for every default language and with several references."""

import pytest
from evalkit import LANGS, PAIRS, make_items
from sacrebleu.metrics import CHRF
from sacrebleu.metrics.helpers import extract_all_char_ngrams

from mella.evaluate.metrics.chrf import ChrF, char_ngrams
from mella.evaluate.textproc import processor


@pytest.mark.parametrize("lang", LANGS)
def test_chrf_and_chrfpp_equal_sacrebleu(lang):
    proc = processor(lang)
    refs = [proc.process(r).spaced for r, _ in PAIRS[lang]]
    hyps = [proc.process(h).spaced for _, h in PAIRS[lang]]
    scores = ChrF(proc).score(make_items(lang, PAIRS[lang]))
    assert scores["chrf"].score == pytest.approx(CHRF().corpus_score(hyps, [refs]).score, abs=1e-9)
    assert scores["chrf++"].score == pytest.approx(CHRF(word_order=2).corpus_score(hyps, [refs]).score, abs=1e-9)
    assert 0 < scores["chrf"].score < 100


def test_best_reference_is_chosen_separately_for_chrf_and_chrfpp():
    refs = [["Karlův most v Praze.", "Pražský Karlův most přes řeku."], ["Hrad v noci.", "Pražský hrad v noci."]]
    hyps = ["Karlův most přes Vltavu v Praze.", "Pražský hrad."]
    pairs = list(zip(refs, hyps, strict=True))
    streams = [[r[0] for r in refs], [r[1] for r in refs]]
    scores = ChrF(processor("cs")).score(make_items("cs", pairs))
    assert scores["chrf"].score == pytest.approx(CHRF().corpus_score(hyps, streams).score)
    assert scores["chrf++"].score == pytest.approx(CHRF(word_order=2).corpus_score(hyps, streams).score)
    assert "nrefs:2" in scores["chrf"].signature


@pytest.mark.parametrize("text", ["", "a", "ab c", "Karlův most, Praha!", "ผู้หญิงกำลังทำส้มตำ", "경복궁은 서울에"])
def test_char_ngrams_equal_sacrebleu_extraction(text):
    assert char_ngrams(text, 6) == extract_all_char_ngrams(text, 6, False)


def test_empty_hypothesis_scores_zero():
    scores = ChrF(processor("hu")).score(make_items("hu", [("A Parlament épülete.", "")]))
    assert scores["chrf"].score == 0 and scores["chrf++"].score == 0


def test_signature():
    sig = ChrF(processor("th")).score(make_items("th", PAIRS["th"]))["chrf++"].signature
    assert sig.startswith("chrf++|lang:th|nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|norm:nfc|seg:pythainlp-")
    assert "impl:sacrebleu-" in sig
