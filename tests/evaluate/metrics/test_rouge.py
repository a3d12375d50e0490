"""ROUGE-L equals Google's rouge-score fed the same tokens, for every default language."""

import random

import pytest
from evalkit import LANGS, PAIRS, make_items
from rouge_score import rouge_scorer

from mella.evaluate.metrics.rouge import RougeL, lcs_length, rouge_l
from mella.evaluate.textproc import processor


class _SameTokens:
    """rouge-score tokenizer that returns mella's tokens, so only the ROUGE code differs."""

    def __init__(self, lang):
        self.proc = processor(lang)

    def tokenize(self, text):
        return self.proc.process(text).tokens


def _dp_lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


@pytest.mark.parametrize("seed", range(20))
def test_bit_parallel_lcs_equals_dynamic_programming(seed):
    rng = random.Random(seed)
    a = [rng.choice("abcde") for _ in range(rng.randint(0, 80))]
    b = [rng.choice("abcdef") for _ in range(rng.randint(0, 80))]
    assert lcs_length(a, b) == _dp_lcs(a, b)


@pytest.mark.parametrize("lang", LANGS)
def test_rouge_l_equals_rouge_score_with_the_same_tokens(lang):
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_SameTokens(lang))
    expected = [scorer.score(ref, hyp)["rougeL"].fmeasure for ref, hyp in PAIRS[lang]]
    score = RougeL(processor(lang)).score(make_items(lang, PAIRS[lang]))["rougeL"]
    assert score.score == pytest.approx(sum(expected) / len(expected), abs=1e-12)
    assert 0 < score.score < 1


def test_multiple_references_take_the_best_like_score_multi():
    refs = ["Karlův most v Praze.", "Most přes Vltavu v Praze."]
    hyp = "Kamenný most přes Vltavu."
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_SameTokens("cs"))
    expected = scorer.score_multi(refs, hyp)["rougeL"].fmeasure
    assert RougeL(processor("cs")).score(make_items("cs", [(refs, hyp)]))["rougeL"].score == pytest.approx(expected)


def test_identical_non_latin_text_scores_one_where_rouge_score_default_gives_zero():
    text = "يظهر في الصورة برج خليفة في دبي"
    assert rouge_scorer.RougeScorer(["rougeL"]).score(text, text)["rougeL"].fmeasure == 0  # the trap
    for lang, sample in [("ar", text), ("th", "วัดพระแก้ว"), ("ko", "경복궁은 서울에 있습니다"), ("ru", "Красная площадь")]:
        assert RougeL(processor(lang)).score(make_items(lang, [(sample, sample)]))["rougeL"].score == 1


def test_empty_and_short_hypotheses():
    assert rouge_l([], ["a", "b"]) == 0 and rouge_l(["a"], []) == 0
    proc = processor("ru")
    ref = "Женщина в платке печёт блины на кухне."
    score = RougeL(proc).score(make_items("ru", [(ref, "блины")]))["rougeL"].score
    assert score == pytest.approx(2 * (1 * 1 / 7) / (1 + 1 / 7))
