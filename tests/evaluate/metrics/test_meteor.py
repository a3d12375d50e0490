"""METEOR equals nltk's meteor_score fed the same tokens and stemmer, with WordNet stubbed out.

nltk's WordNet data cannot be downloaded here; the stub makes nltk's synonym stage find only the
word itself (nltk adds the word to its own synonym set), which is exactly mella's exact+stem METEOR.
"""

import pytest
from evalkit import LANGS, PAIRS, make_items
from nltk.stem.porter import PorterStemmer
from nltk.translate.meteor_score import meteor_score

from mella.evaluate.metrics.meteor import Meteor, meteor
from mella.evaluate.textproc import processor


class _NoWordNet:
    def synsets(self, word):
        return []


class _SameStemmer:
    def __init__(self, proc):
        self.proc = proc

    def stem(self, word):
        return self.proc.stemmer([word])[0] if self.proc.stemmer else word


def _nltk(lang, refs, hyp):
    proc = processor(lang)
    return meteor_score([proc.process(r).tokens for r in refs], proc.process(hyp).tokens,
                        stemmer=_SameStemmer(proc), wordnet=_NoWordNet())


@pytest.mark.parametrize("lang", LANGS)
def test_meteor_equals_nltk_with_the_same_tokens(lang):
    expected = [_nltk(lang, [ref], hyp) for ref, hyp in PAIRS[lang]]
    score = Meteor(processor(lang)).score(make_items(lang, PAIRS[lang]))["meteor"]
    assert score.score == pytest.approx(sum(expected) / len(expected), abs=1e-12)
    assert 0 < score.score < 1


def test_stem_stage_matches_inflected_words():
    ref, hyp = "Karlův most v Praze", "Karlova mostu v Praha"
    assert _nltk("cs", [ref], hyp) > 0.5
    assert Meteor(processor("cs")).score(make_items("cs", [(ref, hyp)]))["meteor"].score == pytest.approx(
        _nltk("cs", [ref], hyp))


def test_nltk_english_example_with_porter_stems():
    hyp = "It is a guide to action which ensures that the military always obeys the commands of the party".split()
    ref = "It is a guide to action that ensures that the military will forever heed Party commands".split()
    porter = PorterStemmer()
    hyp_l, ref_l = [w.lower() for w in hyp], [w.lower() for w in ref]
    ours = meteor(hyp_l, ref_l, [porter.stem(w) for w in hyp_l], [porter.stem(w) for w in ref_l])
    assert ours == pytest.approx(meteor_score([ref], hyp, wordnet=_NoWordNet()))


def test_repeated_words_and_chunks_follow_nltk():
    cases = [("a b a b c a", "a a b c b a"), ("x y z", "z y x"), ("the the the", "the")]
    for ref, hyp in cases:
        assert meteor(hyp.split(), ref.split(), hyp.split(), ref.split()) == pytest.approx(
            meteor_score([ref.split()], hyp.split(), wordnet=_NoWordNet()))


def test_multiple_references_take_the_best():
    refs = ["Пожилая женщина печёт блины.", "Женщина в платке печёт блины на кухне."]
    hyp = "Женщина печёт блины на кухне."
    score = Meteor(processor("ru")).score(make_items("ru", [(refs, hyp)]))["meteor"].score
    assert score == pytest.approx(_nltk("ru", refs, hyp))


def test_empty_and_short_hypotheses():
    assert Meteor(processor("vi")).score(make_items("vi", [("Bát phở bò.", "")]))["meteor"].score == 0
    assert _nltk("vi", ["Bát phở bò."], "phở") == pytest.approx(
        Meteor(processor("vi")).score(make_items("vi", [("Bát phở bò.", "phở")]))["meteor"].score)
