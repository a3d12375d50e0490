"""The dataset card's culture section: kinds, categories and top entities of the D_know samples of a real build,
and "not measured" for a build whose samples carry none of it (an older run)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.annotate.culture_rules import rate_offline
from mella.dataset.card import write_card
from mella.dataset.culture_stats import culture_stats


def enrich(build_dir, dest):
    """A copy of a real build whose D_know samples carry what filter, keywords and culture give them: a kind,
    the response's first word as an entity keyword, the offline culture rating of the response."""
    shutil.copytree(build_dir, dest)
    for part in sorted(dest.glob("part-*.parquet")):
        rows = pq.read_table(part).to_pylist()
        extra: dict[str, list] = {"kind": [], "keywords": [], "keyword_kinds": [], "culture_category": [],
                                  "culture_score": []}
        for i, r in enumerate(rows):
            know = r["source"] in ("know", "both")
            score, category = rate_offline({"alt": r["response"], "lang": r["lang"]}) if know else (None, None)
            word = (r["response"] or "?").split()[0]
            for column, value in (("kind", ("entity", "description")[i % 2] if know else None),
                                  ("keywords", [word] if know else None),
                                  ("keyword_kinds", ["entity"] if know else None),
                                  ("culture_category", category), ("culture_score", score)):
                extra[column].append(value)
        table = pq.read_table(part)
        types = {"keywords": pa.list_(pa.string()), "keyword_kinds": pa.list_(pa.string()),
                 "culture_score": pa.float64()}
        for column, values in extra.items():
            if column in table.column_names:
                table = table.drop_columns([column])
            table = table.append_column(column, pa.array(values, types.get(column, pa.string())))
        pq.write_table(table, part)
    return dest


def card(build_dir, out):
    out.mkdir()
    return write_card(build_dir, out, "llava", {"counts": {}}).read_text(encoding="utf-8").split("---\n", 2)[2]


@pytest.fixture(scope="module")
def plain(build):
    return build("card-plain")


def test_card_shows_the_culture_of_d_know(plain, tmp_path):
    folder = enrich(plain, tmp_path / "build")
    text = card(folder, tmp_path / "out")
    samples = [r for part in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(part).to_pylist()]
    stats = culture_stats(samples)
    section = text.split("## Culture (D_know)")[1].split("## Models")[0]
    assert "not measured |" not in section and ": not measured" not in section
    for lang in stats.langs():
        know = stats.rows[lang]
        assert know == sum(r["source"] in ("know", "both") and r["lang"] == lang for r in samples)
        entity, _ = stats.kind_shares(lang)["entity"]
        assert f"| {lang} | {know} | {know - entity} ({(know - entity) / know:.0%}) | {entity} " in text
        top, n = stats.top_entities(lang)[0]
        assert f"- **{lang}**: {top} ({n})" in text
        assert f"| {lang} | {stats.mean_score(lang):.2f} |" in text
    # the example sites are Scratch tutorials: their alt-texts rate as interface graphics
    assert "screenshot_ui" in section


def test_card_of_a_build_without_culture_columns_says_not_measured(plain, tmp_path):
    text = card(plain, tmp_path / "out")
    section = text.split("## Culture (D_know)")[1].split("## Models")[0]
    assert "| ru |" in section and "not measured" in section
    assert "Categories (culture stage): not measured." in section
    assert "- **ru**: not measured" in section
