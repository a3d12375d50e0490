"""Steps in a pipeline: evaluate and report read folders, resume by marker, and run under `mella run`."""

from __future__ import annotations

import json

from mella.cli import main

PREDICTIONS = [
    {"id": "1", "lang": "cs", "source": "know", "prediction": "Karlův most v Praze.",
     "references": ["Karlův most přes Vltavu v Praze."], "keywords": ["Karlův", "most", "Praze"]},
    {"id": "2", "lang": "cs", "source": "ling", "prediction": "Pes běží po zahradě.",
     "references": ["Malý pes běží po zelené zahradě."]},
]


def test_evaluate_and_report_steps_in_a_pipeline(tmp_path, capsys):
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in PREDICTIONS), encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        "name: evalrun\nstages:\n  - stage: evaluate\n    inputs: [preds.jsonl]\n    metrics: [bleu, keyword_accuracy]\n"
        "  - stage: report\n    per_lang: 0\n")
    run_dir = tmp_path / "run"
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(run_dir)]) == 0
    scores = json.loads((run_dir / "evaluate" / "scores.json").read_text())
    assert {s["metric"] for s in scores} == {"bleu", "keyword_accuracy", "keyword_accuracy_micro"}
    kw = next(s for s in scores if s["metric"] == "keyword_accuracy" and s["source"] == "know")
    assert kw["score"] == 1.0
    html = (run_dir / "report" / "report.html").read_text(encoding="utf-8")
    assert "keyword_accuracy" in html and "cs/know" in html
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["stages"]["evaluate"]["parts_run"] == 1

    # rerun: evaluate is done (same inputs, same options) and is skipped; the report is rewritten
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(run_dir)]) == 0
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["stages"]["evaluate"]["parts_run"] == 0 and manifest["stages"]["report"]["parts_run"] == 1


def test_step_with_bad_option_is_a_config_error(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("name: x\nstages:\n  - stage: evaluate\n    inputs: [nope.jsonl]\n    metric: [bleu]\n")
    assert main(["run", str(tmp_path / "p.yaml"), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "unknown option 'metric' (did you mean 'metrics'?)" in err and "nope.jsonl does not exist" in err
