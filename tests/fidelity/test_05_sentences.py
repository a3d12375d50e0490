"""Issue 16, item 5: captions are split into sentences before MT (golden tables of the rule-based splitter)."""

from __future__ import annotations

import pytest

from mella.annotate.sentences import join_sentences, joiner, split_sentences

# Captions as a VLM captioner writes them (several sentences, with abbreviations, decimals, initials, quotes
# and paragraphs), and real multi-sentence alt-texts from ../shared/corpus/labels/alt_gold.tsv (rows from
# allenai/dolma sample-0000.warc.gz, TeamHG-Memex/autopager page-100.html, advancedlogic/GoOse vnexpress.net.html).
GOLDEN = [
    ("en", "A raccoon wearing a top hat and holding a pizza slice. Luca sometimes uses this image as their online "
           "profile picture.",
     ["A raccoon wearing a top hat and holding a pizza slice.",
      "Luca sometimes uses this image as their online profile picture."]),
    ("en", "The image shows Dr. Amal Haddad standing in front of St. George's Church. She holds a sign that reads "
           "\"Welcome!\" The church dates from approx. 1850.",
     ["The image shows Dr. Amal Haddad standing in front of St. George's Church.",
      "She holds a sign that reads \"Welcome!\"", "The church dates from approx. 1850."]),
    ("en", "A bronze statue of J. R. R. Tolkien stands in a park. The plaque says it is 2.4 m tall and weighs "
           "1,250.5 kg. Visitors photograph it.",
     ["A bronze statue of J. R. R. Tolkien stands in a park.",
      "The plaque says it is 2.4 m tall and weighs 1,250.5 kg.", "Visitors photograph it."]),
    ("en", "Soldiers of the U.S. Army march past Mt. Rushmore at 5 p.m. on a sunny day. Is this a parade? "
           "It seems so!",
     ["Soldiers of the U.S. Army march past Mt. Rushmore at 5 p.m. on a sunny day.", "Is this a parade?",
      "It seems so!"]),
    ("en", "A plate of pho with beef, herbs and lime (see Fig. 2). The broth is clear... It is served hot.",
     ["A plate of pho with beef, herbs and lime (see Fig. 2).", "The broth is clear...", "It is served hot."]),
    ("en", "Apple Inc. sells the phone shown here, version 2.1, e.g. in red. Prices vary, etc. The box is white.",
     ["Apple Inc. sells the phone shown here, version 2.1, e.g. in red.", "Prices vary, etc.",
      "The box is white."]),
    ("en", "A street market at dusk.\n\nStalls sell fruit and fish. Lanterns hang above them.",
     ["A street market at dusk.", "Stalls sell fruit and fish.", "Lanterns hang above them."]),
    ("en", "A single sentence without a final stop", ["A single sentence without a final stop"]),
    ("cs", "Její manžel pokácel na zahradě strom. Když z něj za 2 týdny sundala odpadkový pytel, uviděla tohle!",
     ["Její manžel pokácel na zahradě strom.",
      "Když z něj za 2 týdny sundala odpadkový pytel, uviděla tohle!"]),
    ("vi", "Vừa đặt chân đến Việt Nam chuẩn bị cho liveconcert vào ngày 9/5 tại Hà Nội, Khánh Ly liền đến viếng "
           "thăm mộ nhạc sĩ Trịnh Công Sơn tại nghĩa trang Gò Dưa, Thủ Đức, TP HCM. Nhạc sĩ họ Trịnh là người mà "
           "Khánh Ly chia sẻ trong hồi ký là \"như hình với bóng\" trong suốt cuộc đời ca hát của nữ danh ca.",
     ["Vừa đặt chân đến Việt Nam chuẩn bị cho liveconcert vào ngày 9/5 tại Hà Nội, Khánh Ly liền đến viếng "
      "thăm mộ nhạc sĩ Trịnh Công Sơn tại nghĩa trang Gò Dưa, Thủ Đức, TP HCM.",
      "Nhạc sĩ họ Trịnh là người mà Khánh Ly chia sẻ trong hồi ký là \"như hình với bóng\" trong suốt cuộc đời "
      "ca hát của nữ danh ca."]),
    ("ru", "На фото — ул. Ленина в 1990-х гг. Справа виден трамвай.",
     ["На фото — ул. Ленина в 1990-х гг.", "Справа виден трамвай."]),
    ("ar", "رجل يقف أمام مسجد. هل هذا في القاهرة؟ نعم.", ["رجل يقف أمام مسجد.", "هل هذا في القاهرة؟", "نعم."]),
    ("th", "ภาพนี้แสดงแมวสีส้ม นอนอยู่บนโซฟา", ["ภาพนี้แสดงแมวสีส้ม นอนอยู่บนโซฟา"]),
]


@pytest.mark.parametrize(("lang", "text", "expected"), GOLDEN, ids=[f"{g[0]}-{i}" for i, g in enumerate(GOLDEN)])
def test_multi_sentence_captions_split_into_their_sentences(lang, text, expected):
    assert [s.text for s in split_sentences(text, lang)] == expected


def test_split_and_rejoin_gives_the_caption_back_paragraphs_included():
    for lang, text, _ in GOLDEN:
        parts = split_sentences(text, lang)
        assert join_sentences([p.text for p in parts], [p.gap for p in parts], lang) == text


def test_rejoin_uses_the_target_languages_joiner_and_keeps_paragraph_breaks():
    parts = split_sentences("A street market at dusk.\n\nStalls sell fruit. Lanterns hang above.", "en")
    assert [p.gap for p in parts] == ["\n\n", " ", ""]
    thai = ["ตลาดริมถนนยามเย็น", "แผงขายผลไม้", "โคมไฟแขวนอยู่ด้านบน"]
    assert joiner("th") == " "  # registry data: Thai separates sentences by a space, with no full stop
    assert join_sentences(thai, [p.gap for p in parts], "th") == "ตลาดริมถนนยามเย็น\n\nแผงขายผลไม้ โคมไฟแขวนอยู่ด้านบน"


def test_a_language_outside_the_registry_gets_the_generic_rules():
    assert [s.text for s in split_sentences("Dr. No. Ende hier. Zweiter Satz.", "de")] == \
        ["Dr.", "No.", "Ende hier.", "Zweiter Satz."]
    assert joiner("de") == " "
