"""Issue 15 item 9: a stage given another stage's output is refused before any work, in one line naming the
folder, the missing columns and the stage that writes them; a wrong column type names the column.

Each case ran to exit 0 with garbage before (everything dropped, 0 rows, an empty or all-zero score table), or
crashed with ``internal error: TypeError``. Inputs are real stage outputs (inputkit).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from inputkit import make_outputs, parts

from mella.cli import main


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    return make_outputs(tmp_path_factory.mktemp("r15-inputs"))


def refused(capsys, argv: list[str]) -> str:
    """Run the CLI, expect the one-line input error (exit 2), return the line."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "internal error" not in err and "Traceback" not in err, err
    return err


def no_parts(out: Path) -> bool:
    return not out.exists() or not any(out.glob("part-*"))


def test_09_filter_on_build_output_refused_naming_alt(outputs, tmp_path, capsys):
    out = tmp_path / "filtered"
    err = refused(capsys, ["filter", str(outputs["build"]), "--out", str(out), "-j", "1"])
    assert err == f"mella: error: filter: {outputs['build']} lacks column alt (written by the collect stage)"
    assert no_parts(out)


def test_09_dedup_on_build_output_refused(outputs, tmp_path, capsys):
    out = tmp_path / "dedup"
    err = refused(capsys, ["dedup", str(outputs["build"]), "--out", str(out)])
    assert f"dedup: {outputs['build']} lacks column alt (written by the collect stage)" in err
    assert no_parts(out) and not (out / "_global").exists()  # the global pass did not run either


def test_09_translate_on_fetch_output_refused_naming_caption(outputs, tmp_path, capsys):
    out = tmp_path / "translated"
    err = refused(capsys, ["translate", str(outputs["fetch"]), "--out", str(out), "--model", "no/model"])
    assert f"translate: {outputs['fetch']} lacks column caption (written by the caption stage)" in err
    assert no_parts(out)


def test_09_predict_on_fetch_output_refused_naming_build(outputs, tmp_path, capsys):
    out = tmp_path / "pred"
    err = refused(capsys, ["predict", str(outputs["fetch"]), "--out", str(out), "--model", "no/model"])
    assert f"predict: {outputs['fetch']} lacks columns id, instruction, split (written by the build stage)" in err
    assert no_parts(out)


@pytest.mark.parametrize("stage", ["build", "collect"])
def test_09_evaluate_on_non_predictions_refused(outputs, tmp_path, capsys, stage):
    out = tmp_path / "scores"
    err = refused(capsys, ["evaluate", str(outputs[stage]), "--out", str(out)])
    assert err == (f"mella: error: evaluate: {outputs[stage]} lacks columns prediction, references "
                   "(written by the predict stage)")
    assert not out.exists()


def test_09_evaluate_rows_without_prediction_column_refused(outputs, tmp_path, capsys):
    # What predict writes, less its prediction column: it used to score 0 everywhere.
    samples = pq.read_table(parts(outputs["build"])[0], columns=["id", "lang", "source", "response"])
    table = pa.table({"id": samples["id"], "lang": samples["lang"], "source": samples["source"],
                      "references": [[r] for r in samples["response"].to_pylist()]})
    pq.write_table(table, tmp_path / "preds.parquet")
    err = refused(capsys, ["evaluate", str(tmp_path / "preds.parquet"), "--out", str(tmp_path / "scores")])
    assert f"evaluate: {tmp_path / 'preds.parquet'} lacks column prediction (written by the predict stage)" in err


def test_09_collect_on_stage_output_refused_as_not_archives(outputs, tmp_path, capsys):
    out = tmp_path / "collected"
    err = refused(capsys, ["collect", str(outputs["fetch"]), "--out", str(out)])
    assert f"collect: {outputs['fetch']} is the output of the fetch stage (parquet parts), not raw input files" in err
    assert no_parts(out)


def test_09_wrong_column_type_names_the_column(outputs, tmp_path, capsys):
    # alt as numbers: was `internal error: TypeError ... got 'int'` inside the filter rules.
    table = pq.read_table(parts(outputs["collect"])[0])
    table = table.set_column(table.schema.get_field_index("alt"), "alt", pa.array(range(len(table)), pa.int64()))
    pq.write_table(table, tmp_path / "candidates.parquet")
    err = refused(capsys, ["filter", str(tmp_path / "candidates.parquet"), "--out", str(tmp_path / "f")])
    assert f"filter: {tmp_path / 'candidates.parquet'}: column alt is int64, not string" in err


def test_09_wrong_list_type_names_the_column(tmp_path, capsys):
    rows = pa.table({"prediction": ["a"], "references": ["not a list"]})
    pq.write_table(rows, tmp_path / "preds.parquet")
    err = refused(capsys, ["evaluate", str(tmp_path / "preds.parquet"), "--out", str(tmp_path / "s")])
    assert "column references is string, not list<string>" in err


def test_09_pipeline_step_refuses_wrong_input(outputs, tmp_path, capsys):
    # Steps check in Step.execute: an evaluate step pointed at a build folder.
    config = tmp_path / "p.yaml"
    config.write_text(f"name: wrong\nstages:\n  - stage: evaluate\n    inputs: [{outputs['build']}]\n")
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"evaluate: {outputs['build']} lacks columns prediction, references (written by the predict stage)" in err
    assert "internal error" not in err and not (tmp_path / "run" / "evaluate" / "scores.json").exists()


def test_09_export_refuses_a_fetch_output(outputs, tmp_path, capsys):
    out = tmp_path / "export"
    err = refused(capsys, ["export", str(outputs["fetch"]), "--format", "llava", "--out", str(out),
                           "--images", str(outputs["fetch"])])
    assert f"export: {outputs['fetch']} lacks columns id, instruction, response, split (written by the build stage)" in err
    assert not out.exists()


def test_09_right_inputs_still_run(outputs, tmp_path, capsys):
    # The check refuses only what is wrong: the real chain's inputs pass.
    assert main(["build", str(outputs["fetch"]), "--out", str(tmp_path / "b"), "--test-size", "0.34",
                 "--validation-size", "0"]) == 0
    assert main(["export", str(tmp_path / "b"), "--format", "llava", "--out", str(tmp_path / "x"),
                 "--images", str(outputs["fetch"])]) == 0
    capsys.readouterr()


def test_09_jsonl_rows_without_prediction_refused(tmp_path, capsys):
    import json

    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps({"id": "1", "lang": "ru", "source": "know", "references": ["Ракета"]}) + "\n")
    err = refused(capsys, ["evaluate", str(path), "--out", str(tmp_path / "s")])
    assert f"evaluate: {path} lacks column prediction (written by the predict stage)" in err
