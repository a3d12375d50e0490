"""docs/formats.md is generated from mella.records, and every column mella writes is documented there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from formatskit import assert_columns_documented, undocumented_columns
from mella import records

GENERATOR = Path(__file__).resolve().parents[1] / "tools" / "gen_formats.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_formats", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_formats_md_is_what_the_generator_writes():
    gen = _generator()
    text = gen.DOC.read_text(encoding="utf-8")
    assert gen.render(text) == text, "docs/formats.md is out of date: run `python tools/gen_formats.py`"


def test_generator_refuses_a_schema_without_a_block():
    gen = _generator()
    text = gen.DOC.read_text(encoding="utf-8").replace("<!-- generated: scores -->", "")
    with pytest.raises(SystemExit, match="none for \\['scores'\\]"):
        gen.render(text)


def test_every_column_has_a_type_and_a_one_line_meaning():
    for name, schema in records.SCHEMAS.items():
        assert schema.names == list(records.MEANINGS[name]), name
        for field in schema:
            meaning = records.MEANINGS[name][field.name]
            assert meaning.strip() and "\n" not in meaning, (name, field.name)
            assert not field.metadata, (name, field.name)  # meanings stay out of the parquet footers


def test_stages_write_the_schemas_of_records():
    from mella.annotate.caption import CaptionStage
    from mella.annotate.score import ScoreStage
    from mella.annotate.translate import TranslateStage
    from mella.dataset.build import BuildStage
    from mella.fetch.fetch import FetchStage
    from mella.filter.filter import FilterStage

    assert FilterStage.schema is records.FILTERED and BuildStage.schema is records.BUILT
    schema = records.FILTERED
    for stage, adds in ((FetchStage, records.FETCHED), (CaptionStage, records.CAPTIONED),
                        (TranslateStage, records.TRANSLATED), (ScoreStage, records.SCORED)):
        before, schema = schema, stage.output_schema(stage.__new__(stage), schema)
        assert schema.names == before.names + [n for n in adds.names if n not in before.names], stage.__name__
    documented = records.documented_types()
    assert all(any(t.equals(f.type) for t in documented[f.name]) for f in schema)


def test_evaluation_outputs_are_the_documented_ones():
    from mella.evaluate import run_evaluation

    rows = [{"id": "1", "lang": "ru", "source": "know", "prediction": "Красная площадь в Москве",
             "references": ["Красная площадь"], "keywords": ["Красной площади"], "keyword_kinds": ["entity"],
             "model": "m"},
            {"id": "2", "lang": "ru", "source": "ling", "prediction": "Кремль",
             "references": ["Московский Кремль"], "keywords": None, "model": "m"}]
    evaluation = run_evaluation(rows)
    items = pa.Table.from_pylist(evaluation.items)
    assert items.schema.equals(records.EVALUATION_ITEMS)
    assert all(list(row) == records.SCORES.names for row in evaluation.scores)


def _write(path: Path, columns: dict[str, pa.Array]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_undocumented_columns_of_a_run_folder(tmp_path):
    strings = pa.array(["a"], pa.string())
    _write(tmp_path / "collect" / "part-00000.parquet", {"page_url": strings, "source_offset": pa.array([3])})
    _write(tmp_path / "fetch" / "part-00000.parquet", {"key": strings, "width": pa.array([1], pa.int32())})
    _write(tmp_path / "fetch" / "_dropped" / "part-00000.parquet",
           {"key": strings, "width": pa.array([1], pa.int64()), "drop_reason": strings, "notes": strings})
    _write(tmp_path / "fetch" / "_global" / "scratch.parquet", {"anything": strings})  # work files: not read
    _write(tmp_path / "build" / "part-00000.parquet",
           {"turns": pa.array([[{"source": "know", "instruction": "i", "response": "r"}]])})
    assert undocumented_columns(tmp_path) == [
        "fetch/_dropped/part-00000.parquet: column width is int64, mella.records documents int32",
        "fetch/_dropped/part-00000.parquet: column notes (string) is in no schema of mella.records",
    ]
    (tmp_path / "fetch" / "_dropped" / "part-00000.parquet").unlink()
    assert assert_columns_documented(tmp_path) == 3


def test_an_empty_run_folder_is_not_a_pass(tmp_path):
    with pytest.raises(AssertionError, match="no stage parts"):
        assert_columns_documented(tmp_path)
