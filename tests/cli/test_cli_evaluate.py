"""`mella evaluate` and `mella compare` through the CLI on hand-made prediction files."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import sacrebleu

from mella.cli import main
from mella.records import PREDICTIONS

ROWS = [
    {"id": "ru-1", "lang": "ru", "source": "ling", "prediction": "Кошка сидит на красном ковре у окна.",
     "references": ["Кошка сидит на красном ковре у окна."], "keywords": None, "model": "m"},
    {"id": "ru-2", "lang": "ru", "source": "ling", "prediction": "Собака бежит по парку.",
     "references": ["Большая собака быстро бежит по зелёному парку."], "keywords": None, "model": "m"},
    {"id": "ko-1", "lang": "ko", "source": "know", "prediction": "경복궁 앞에서 한복을 입은 사람들",
     "references": ["한복을 입은 관광객들이 경복궁 앞에 서 있다"], "keywords": ["경복궁", "한복"], "model": "m"},
]


def test_evaluate_parquet_writes_scores_json_and_table(tmp_path, capsys):
    pq.write_table(pa.Table.from_pylist(ROWS, schema=PREDICTIONS), tmp_path / "pred.parquet")
    assert main(["evaluate", str(tmp_path / "pred.parquet"), "--out", str(tmp_path / "ev")]) == 0
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())
    by = {(s["lang"], s["source"], s["metric"]): s for s in scores}
    assert set(scores[0]) == {"lang", "source", "metric", "score", "n", "signature"}
    ru_bleu = sacrebleu.corpus_bleu([r["prediction"] for r in ROWS[:2]], [[r["references"][0] for r in ROWS[:2]]],
                                    tokenize="intl")
    assert abs(by[("ru", "ling", "bleu")]["score"] - ru_bleu.score) < 1e-6
    assert by[("ru", "ling", "bleu")]["n"] == 2
    assert by[("ko", "know", "keyword_accuracy")]["score"] == 1.0  # both keywords are in the prediction
    assert "tok:" in by[("ko", "know", "bleu")]["signature"]
    assert (tmp_path / "ev" / "scores.md").read_text().startswith("| lang | source |")
    assert pq.read_table(tmp_path / "ev" / "items.parquet").num_rows == 3
    assert "| ru | ling |" in capsys.readouterr().out


def test_evaluate_jsonl_bad_line_is_named(tmp_path, capsys):
    path = tmp_path / "pred.jsonl"
    path.write_text(json.dumps(ROWS[0], ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    assert main(["evaluate", str(path), "--out", str(tmp_path / "ev")]) == 1
    assert f"{path}:2: not valid JSON" in capsys.readouterr().err


def test_compare_two_prediction_sets(tmp_path, capsys):
    worse = [{**r, "prediction": "нет"} if r["lang"] == "ru" else r for r in ROWS]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in worse), encoding="utf-8")
    b.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--n-bootstrap", "200"]) == 0
    rows = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    ru_chrf = next(r for r in rows if r["lang"] == "ru" and r["metric"] == "chrf")
    assert ru_chrf["delta"] > 0 and ru_chrf["b"] > ru_chrf["a"] and ru_chrf["n"] == 2
    ko = next(r for r in rows if r["lang"] == "ko" and r["metric"] == "chrf")
    assert ko["delta"] == 0
    assert "| ru | ling | chrf |" in capsys.readouterr().out
