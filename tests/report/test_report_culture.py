"""The report's culture section, from real runs through the CLI: kinds, categories and top entities of D_know
(read from the culture stage's output), keyword next to entity accuracy of two evaluations, and "not measured"
in words for a run that has none of it (an older run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.cli import main
from mella.records import FILTERED

# Real alt-texts (the demo's example sites, culture names the issue cites), with what filter and the keywords
# stage give them.
ROWS = [
    ("ru", "Собор Василия Блаженного", "entity", ["Собор Василия Блаженного"], ["entity"]),
    ("ru", "Храм Христа Спасителя в Москве", "description", ["Храм Христа Спасителя", "Москве"],
     ["entity", "entity"]),
    ("ru", "Спрайт обезьяна", "description", ["обезьяна"], ["rare"]),
    ("cs", "Modrý kostel", "entity", ["Modrý kostel"], ["entity"]),
    ("cs", "Uvítací slajd", "other", [], []),
    ("ko", "경복궁", "entity", ["경복궁"], ["entity"]),
]
PREDS = [
    {"id": "1", "lang": "ru", "source": "know", "prediction": "Собор Василия Блаженного на Красной площади",
     "references": ["Собор Василия Блаженного"], "keywords": ["Собор Василия Блаженного"], "keyword_kinds": ["entity"]},
    {"id": "2", "lang": "ru", "source": "know", "prediction": "Большая церковь",
     "references": ["Храм Христа Спасителя в Москве"], "keywords": ["Храм Христа Спасителя", "Москве"],
     "keyword_kinds": ["entity", "entity"]},
    {"id": "3", "lang": "cs", "source": "know", "prediction": "Modrý kostel v Bratislavě",
     "references": ["Modrý kostel"], "keywords": ["Modrý kostel"], "keyword_kinds": ["entity"]},
]
PIPELINE = """\
name: culture-report
stages:
  - stage: culture
    inputs: [rows.parquet]
  - stage: evaluate
    id: eval_base
    inputs: [base.jsonl]
  - stage: evaluate
    id: eval_tuned
    inputs: [tuned.jsonl]
    metrics: [keyword_accuracy]     # an evaluation that did not compute entity accuracy
  - stage: report
"""


def _table(html: str, table_id: str) -> list[list[str]]:
    """The cells of a table of the report, row by row (header first), tags stripped."""
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def culture_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("culture-report")
    rows = []
    for lang, alt, kind, keywords, kinds in ROWS:
        row = dict.fromkeys(FILTERED.names)
        row.update(page_url="https://example.org/", image_url=f"https://example.org/{len(rows)}.jpg", alt=alt,
                   lang=lang, domain="example.org", source="test", source_offset=-1, kind=kind)
        rows.append({**row, "keywords": keywords, "keyword_kinds": kinds})
    schema = FILTERED.append(pa.field("keywords", pa.list_(pa.string()))).append(
        pa.field("keyword_kinds", pa.list_(pa.string())))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "rows.parquet")
    for name, preds in (("base", [{**p, "prediction": "картинка"} for p in PREDS]), ("tuned", PREDS)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds),
                                            encoding="utf-8")
    (root / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    assert main(["run", str(root / "p.yaml"), "--run-dir", str(root / "run")]) == 0
    return root / "run"


def test_report_shows_kinds_categories_and_entities_of_d_know(culture_run):
    html = (culture_run / "report" / "report.html").read_text(encoding="utf-8")
    assert 'id="culture"' in html and "From culture." in html
    kinds = _table(html, "culture-kinds")
    assert kinds[0] == ["lang", "D_know rows", "description", "entity", "other"]
    assert ["cs", "2", "0 (0%)", "1 (50%)", "1 (50%)"] in kinds and ["ko", "1", "0 (0%)", "1 (100%)", "0 (0%)"] in kinds
    assert ["ru", "3", "2 (67%)", "1 (33%)", "0 (0%)"] in kinds
    categories = _table(html, "culture-categories")
    assert categories[0][:3] == ["lang", "mean score", "landmark"]
    ru = next(r for r in categories if r[0] == "ru")
    assert ru[2] == "2 (67%)" and "1 (33%)" in ru  # two churches and a Scratch sprite
    assert ["ru", "Москве (1), Собор Василия Блаженного (1), Храм Христа Спасителя (1)"] in _table(
        html, "culture-entities")
    assert "<svg" in html.split('id="culture"')[1].split('id="culture-categories"')[0]  # the category chart


def test_report_shows_entity_next_to_keyword_accuracy(culture_run):
    html = (culture_run / "report" / "report.html").read_text(encoding="utf-8")
    accuracy = _table(html, "culture-accuracy")
    assert accuracy[0] == ["lang/source", "eval_base: keyword accuracy", "eval_base: entity accuracy",
                           "eval_tuned: keyword accuracy", "eval_tuned: entity accuracy"]
    scores = {(s["lang"], s["metric"]): s["score"]
              for s in json.loads((culture_run / "eval_base" / "scores.json").read_text())}
    cs = next(r for r in accuracy if r[0] == "cs/know")
    assert cs[1] == f"{scores[('cs', 'keyword_accuracy')]:.3f}" and cs[2] == f"{scores[('cs', 'entity_accuracy')]:.3f}"
    assert cs[4] == "not measured"  # eval_tuned computed keyword accuracy only
    tuned = next(r for r in accuracy if r[0] == "ru/know")
    assert tuned[3] == "0.500" and float(tuned[1]) < 0.5  # the tuned model names the cathedral, the base nothing
    assert 'id="metrics"' in html and "<h3>entity_accuracy</h3>" in html


def test_report_of_an_older_run_says_not_measured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pred = {"id": "1", "lang": "cs", "source": "know", "prediction": "Praha je hezká", "references": ["Praha"]}
    (tmp_path / "preds.jsonl").write_text(json.dumps(pred) + "\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text("name: old\nstages:\n  - stage: evaluate\n    inputs: [preds.jsonl]\n"
                                     "    metrics: [bleu, keyword_accuracy]\n  - stage: report\n", encoding="utf-8")
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(tmp_path / "run")]) == 0
    html = (tmp_path / "run" / "report" / "report.html").read_text(encoding="utf-8")
    section = re.sub(r"<[^>]+>", "", html.split('id="culture"')[1].split('id="metrics"')[0])
    for line in ("Kinds: not measured", "Categories: not measured", "Top entities: not measured"):
        assert line in section
    assert ["cs/know", "1.000", "not measured"] in _table(html, "culture-accuracy")
