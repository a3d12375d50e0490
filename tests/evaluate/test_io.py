import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.errors import MellaError
from mella.evaluate import read_predictions, render_markdown, run_evaluation, write_results

ROWS = [
    {"id": "1", "lang": "cs", "source": "know", "prediction": "Karlův most v Praze.",
     "references": ["Karlův most přes Vltavu v Praze."]},
    {"id": "2", "lang": "th", "source": "ling", "prediction": "วัดพระแก้วอยู่ที่กรุงเทพมหานคร",
     "references": ["วัดพระแก้วตั้งอยู่ในเขตพระนครกรุงเทพมหานคร"]},
]


def test_read_parquet_jsonl_and_folder_of_parts(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "preds.parquet")
    (tmp_path / "preds.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n\n")
    assert read_predictions(tmp_path / "preds.parquet") == ROWS
    assert read_predictions(tmp_path / "preds.jsonl") == ROWS
    parts = tmp_path / "run"
    (parts / "_dropped").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ROWS[:1]), parts / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS[1:]), parts / "part-00001.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS), parts / "_dropped" / "part-00000.parquet")
    assert read_predictions(parts) == ROWS


def test_read_errors_are_one_line(tmp_path):
    with pytest.raises(MellaError, match="does not exist"):
        read_predictions(tmp_path / "missing.parquet")
    (tmp_path / "bad.jsonl").write_text("{not json}\n")
    with pytest.raises(MellaError, match="bad.jsonl:1"):
        read_predictions(tmp_path / "bad.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MellaError, match="holds no row files"):
        read_predictions(tmp_path / "empty")


def test_write_results(tmp_path):
    evaluation = run_evaluation(ROWS)
    paths = write_results(evaluation, tmp_path / "out")
    scores = json.loads(paths["scores"].read_text(encoding="utf-8"))
    assert scores == evaluation.scores
    assert pq.read_table(paths["items"]).num_rows == 2
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert markdown.startswith("| lang | source | n | bleu | chrf | chrf++ | rougeL | meteor |")
    assert "| cs | know | 1 |" in markdown and "`bleu|lang:th|" in markdown


def test_markdown_shows_missing_scores_as_dash():
    rows = [{"lang": "cs", "source": "know", "metric": "keyword_accuracy", "score": None, "n": 0, "signature": "s"},
            {"lang": "cs", "source": "know", "metric": "bleu", "score": 12.345, "n": 3, "signature": "b"}]
    table = render_markdown(rows)
    assert "| cs | know | 3 | 12.3 | - |" in table
