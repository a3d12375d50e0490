"""build with the culture columns (filter's kind, the keywords and culture stages) and without them: what D_know
samples carry, the kind and culture-score filters, and the share caps by kind and category. Real alt-texts, with
the keywords the keywords stage gives them; synthetic images (hash-named, one per row)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.dataset.balance import cap_labels, share_cap
from mella.dataset.build import KNOW_COLUMNS, BuildStage
from mella.errors import MellaError
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage

E, R = "entity", "rare"
# (lang, alt, kind, keywords, keyword_kinds, culture_category, culture_score, images with this alt)
ALTS = [
    ("ru", "Собор Василия Блаженного на Красной площади", "entity",
     ["Собор Василия Блаженного", "Красной площади"], [E, E], "landmark", 0.95, 12),
    ("ru", "Храм Христа Спасителя", "entity", ["Храм Христа Спасителя"], [E], "landmark", 0.9, 10),
    ("ru", "Блины с красной икрой на тарелке", "description", ["Блины", "красной икрой"], [R, R], "food", 0.8, 6),
    ("ru", "Дети катаются на санках во дворе", "description", ["санках"], [R], "everyday_life", 0.4, 6),
    ("ru", "Официальное приложение для iOS", "other", [], [], "screenshot_ui", 0.05, 4),
    ("sr-Cyrl", "Храм Светог Саве", "entity", ["Храм Светог Саве"], [E], "landmark", 0.9, 8),
    ("sr-Cyrl", "Гибаница са сиром на столу", "description", ["Гибаница"], [R], "food", 0.8, 8),
    ("ko", "경복궁", "entity", ["경복궁"], [E], "landmark", 0.9, 10),  # one kind only: nothing to balance against
]


def _rows(with_culture: bool = True) -> list[dict]:
    rows = []
    for lang, alt, kind, keywords, kinds, category, score, n in ALTS:
        for _ in range(n):
            i = len(rows)
            row = {"key": f"{i:020x}", "sha256": f"sha{i}", "phash": f"{(i * 0x9E3779B97F4A7C15) % 2**64:016x}",
                   "domain": f"d{i % 3}.example", "lang": lang, "alt": alt, "translation": f"перевод {i}",
                   "caption": f"a caption {i}", "page_url": f"https://d{i % 3}.example/{i}"}
            if with_culture:
                row.update(kind=kind, keywords=keywords, keyword_kinds=kinds, keyword_method="offline:test",
                           culture_category=category, culture_score=score, culture_method="offline:test")
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("culture")
    for name, with_culture in (("with", True), ("without", False)):
        (root / name).mkdir()
        rows = _rows(with_culture)
        for p in range(2):  # the plan is global over parts
            pq.write_table(pa.Table.from_pylist(rows[p::2]), root / name / f"part-{p:05d}.parquet")
    return root


def _build(inputs, name: str, source: str = "with", **options) -> tuple[list[dict], list[dict]]:
    out = inputs / "builds" / name
    run_stage(BuildStage(test_size=0.2, validation_size=0, **options), [str(inputs / source)], out,
              LocalExecutor(workers=1, progress=False))
    kept = pq.read_table(sorted(out.glob("part-*.parquet"))).to_pylist()
    dropped = [r for p in sorted((out / "_dropped").glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]
    return kept, dropped


def _by_alt():
    return {alt: dict(zip(("kind", "keywords", "keyword_kinds", "culture_category", "culture_score"), rest[:5],
                          strict=True)) for _, alt, *rest in ALTS}


def test_know_samples_carry_the_culture_columns(inputs):
    rows, _ = _build(inputs, "base")
    expected = _by_alt()
    know = [r for r in rows if r["source"] == "know"]
    assert len(know) == sum(a[-1] for a in ALTS)
    basil = next(r for r in know if r["response"].startswith("Собор"))
    assert basil["keywords"] == ["Собор Василия Блаженного", "Красной площади"]
    assert basil["keyword_kinds"] == ["entity", "entity"] and basil["kind"] == "entity"
    for r in know:
        assert {c: r[c] for c in KNOW_COLUMNS} == expected[r["response"]]
    assert all(r[c] is None for r in rows if r["source"] == "ling" for c in KNOW_COLUMNS)
    both = [r for r in _build(inputs, "two-turn", conversation="two_turn")[0] if r["source"] == "both"]
    assert both and all({c: r[c] for c in KNOW_COLUMNS} == expected[r["turns"][1]["response"]] for r in both)


def test_without_the_columns_samples_have_nulls_and_the_same_splits(inputs):
    with_, _ = _build(inputs, "base")
    without, _ = _build(inputs, "plain", source="without")
    assert all(r[c] is None for r in without for c in KNOW_COLUMNS)
    assert sorted((r["id"], r["split"]) for r in without) == sorted((r["id"], r["split"]) for r in with_)


def test_know_kinds_and_culture_score_drop_before_splits(inputs):
    rows, dropped = _build(inputs, "kinds", know_kinds=["description", "entity"])
    assert "other" not in {r["kind"] for r in rows if r["source"] == "know"}
    assert Counter(r["drop_reason"] for r in dropped)["know_excluded_kind"] == 4
    rows, dropped = _build(inputs, "score", min_culture_score=0.5)
    assert min(r["culture_score"] for r in rows if r["source"] == "know") >= 0.5
    assert Counter(r["drop_reason"] for r in dropped)["know_low_culture_score"] == 10  # sledging and the app
    for option, column, writer in ((dict(know_kinds=["entity"]), "kind", "mella filter"),
                                   (dict(min_culture_score=0.5), "culture_score", "mella culture")):
        with pytest.raises(MellaError, match=f"reads {column}, which .*part-00000.parquet lacks; run `{writer}`"):
            _build(inputs, f"refused-{column}", source="without", **option)


def _train_counts(rows, column):
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r["source"] == "know" and r["split"] == "train":
            counts[r["lang"]][r[column]] += 1
    return counts


@pytest.mark.parametrize(("option", "column", "share", "reason"), [
    ("max_kind_share", "kind", 0.5, "know_kind_share"),
    ("max_category_share", "culture_category", 0.4, "know_category_share"),
])
def test_share_caps_balance_know_train_only(inputs, option, column, share, reason):
    base, _ = _build(inputs, "base")
    rows, dropped = _build(inputs, option, **{option: share})
    assert rows == _build(inputs, option + "-again", **{option: share})[0]  # deterministic
    before, after = _train_counts(base, column), _train_counts(rows, column)
    assert after["ru"] != before["ru"] and {r["drop_reason"] for r in dropped} >= {reason}
    for lang, counts in after.items():
        if share * len(counts) > 1:
            assert max(counts.values()) <= share * sum(counts.values()) + 1e-9, (lang, counts)
        elif len(counts) > 1:  # sr-Cyrl has two categories, which cannot meet 0.4: as even as they allow
            assert len(set(counts.values())) == 1, (lang, counts)
    assert after["ko"] == before["ko"]  # one label only: kept whole
    held = sorted(r["id"] for r in base if r["split"] != "train" or r["source"] == "ling")
    assert sorted(r["id"] for r in rows if r["split"] != "train" or r["source"] == "ling") == held


def test_share_caps_without_the_column_change_nothing(inputs, caplog):
    plain, _ = _build(inputs, "plain", source="without")
    with caplog.at_level(logging.WARNING, logger="mella"):
        rows, _ = _build(inputs, "plain-capped", source="without", max_kind_share=0.5, max_category_share=0.3)
    assert rows == plain
    assert "--max-kind-share: no input has a kind column" in caplog.text


def test_share_cap_water_fills():
    assert share_cap([10, 100], 0.6) == 15          # 15 of 25 is 0.6
    assert share_cap([10, 100, 5], 0.5) == 15       # 15 of 30
    assert share_cap([10, 100], 0.5) == 10          # share * labels <= 1: equal counts come closest
    assert share_cap([10, 100, 5], 0.2) == 5
    assert share_cap([40], 0.3) is None             # one label: nothing to balance against
    assert share_cap([30, 30, 30], 0.4) is None     # already within the share
    ranked = [(rank, i) for i, rank in enumerate([5, 1, 4, 2, 3, 0])]
    kept, cut = cap_labels(ranked, ["e", "e", "e", "e", "d", None], 0.5)
    # e keeps 2 of 4 (2 <= 0.5 * (2 + 1 + 1)): its two best ranks; null is a label of its own
    assert kept == [(0, 5), (1, 1), (2, 3), (3, 4)] and cut == [(4, 2), (5, 0)]
