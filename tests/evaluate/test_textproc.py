import re
import unicodedata

import pytest

from mella.evaluate.textproc import WORD_RE, processor, stopwords


def test_vowelled_arabic_word_is_one_token_where_re_w_splits_it():
    word = "الكُسْكُس"
    assert re.findall(r"\w+", word) != [word]  # the trap: `re` splits at the harakat
    assert WORD_RE.findall(word) == [word]


def test_thai_is_segmented_into_words_without_spaces():
    text = processor("th").process("ผู้หญิงกำลังทำส้มตำในครัว")
    assert len(text.tokens) >= 4
    assert "ส้มตำ" in text.tokens
    assert text.spaced.replace(" ", "") == text.norm


def test_korean_is_split_into_morphemes_as_sacrebleu_ko_mecab():
    from sacrebleu.tokenizers.tokenizer_ko_mecab import TokenizerKoMecab

    line = "경복궁은 서울 종로구에 있습니다."
    words = [w for w in TokenizerKoMecab()(line).split() if w != "."]
    assert processor("ko").process(line).tokens == words
    assert "서울" in words and "경복궁" in words


def test_vietnamese_nfd_input_is_processed_as_nfc():
    nfc = "Người phụ nữ mặc áo dài trắng"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    proc = processor("vi")
    assert proc.process(nfd).norm == nfc
    assert proc.process(nfd).tokens == ["người", "phụ", "nữ", "mặc", "áo", "dài", "trắng"]


@pytest.mark.parametrize("tag", ["sr", "sr-Cyrl", "sr-Latn"])
def test_serbian_cyrillic_is_folded_to_latin(tag):
    proc = processor(tag)
    assert proc.normalize("Љубав, Његош и џем у Ђурђевдан") == "Ljubav, Njegoš i džem u Đurđevdan"
    assert proc.process("Људи играју коло").keys == proc.process("Ljudi igraju kolo").keys


def test_russian_cyrillic_is_not_transliterated():
    assert processor("ru").normalize("Москва") == "Москва"


@pytest.mark.parametrize("lang,word,stem", [
    ("cs", "mostě", "most"), ("ru", "площади", "площад"), ("hu", "Budapesten", "budapest"),
    ("sr", "Beogradu", "beograd"), ("ar", "بالمكتبة", "مكتب"), ("ar", "الكُسْكُس", "كسكس"),
])
def test_snowball_stems_lowercased_tokens(lang, word, stem):
    assert processor(lang).process(word).keys == [stem]


def test_languages_without_stemmer_use_tokens_as_keys():
    text = processor("vi").process("Phở bò")
    assert text.keys == text.tokens == ["phở", "bò"]


@pytest.mark.parametrize("lang", ["ar", "cs", "hu", "ko", "ru", "sr", "th", "vi", "en"])
def test_every_language_has_a_stop_list(lang):
    assert len(stopwords(lang)) >= 40


def test_stop_words_are_nfc_lowercase():
    for lang in ["cs", "vi", "ru"]:
        assert all(w == unicodedata.normalize("NFC", w).lower() for w in stopwords(lang))


def test_unregistered_language_falls_back_to_unicode_words():
    proc = processor("xx")
    assert proc.process("Hello, World").tokens == ["hello", "world"]
    assert proc.stemmer is None


def test_signature_records_every_setting():
    sig = processor("sr-Latn").signature()
    assert "norm:nfc+cyrl-latn" in sig and "case:lc" in sig
    assert "stem:snowball-serbian" in sig and "tok:unicode-words" in sig
    assert "tok:pythainlp-" in processor("th").signature()
