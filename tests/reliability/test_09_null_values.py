"""Item 9 (found by the input fuzz): a build whose rows hold nulls in ``lang``/``source``/``split`` is exported
with a clean result or a one-line error, never an internal error (the dataset card sorted None with strings)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mella.cli import main


@pytest.mark.parametrize("column", ["lang", "source"])
def test_09_export_of_a_build_with_nulls(demo_run, tmp_path, capsys, column):
    for stage in ("build", "fetch"):
        shutil.copytree(demo_run / stage, tmp_path / stage)
    part = sorted((tmp_path / "build").glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    values = table[column].to_pylist()
    values[0] = None
    pq.write_table(table.set_column(table.column_names.index(column), column, pa.array(values, pa.string())), part)
    code = main(["export", str(tmp_path / "build"), "--out", str(tmp_path / "out"), "--format", "llava",
                 "--images", str(tmp_path / "fetch")])
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert code == 0, err
    assert "| und |" in (tmp_path / "out" / "README.md").read_text() or column == "source"
