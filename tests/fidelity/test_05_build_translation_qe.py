"""Issue 16, item 5: build can threshold D_ling samples on the translation QE of the text they contain."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from mella.dataset.build import BuildOptions
from mella.dataset.plan import make_plan, read_plan


def _part(tmp_path, rows):
    path = tmp_path / "part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return [str(path)]


def _rows():
    # Four images in Russian: the plain translation's QE and the thick one's differ on purpose.
    qes = [(80.0, 10.0), (20.0, 90.0), (None, None), (55.0, 55.0)]
    return [{"key": f"k{i}", "sha256": f"s{i}", "phash": f"{i:016x}", "domain": "d.ru", "lang": "ru",
             "alt": f"подпись {i}", "translation": f"описание {i}", "translation_thick": f"подробно {i}",
             "translation_qe": plain, "translation_thick_qe": thick}
            for i, (plain, thick) in enumerate(qes)]


def test_min_translation_qe_drops_low_qe_ling_samples_and_counts_the_reason(tmp_path):
    parts = _part(tmp_path, _rows())
    summary = make_plan(parts, BuildOptions(test_size=0, validation_size=0, min_translation_qe=50),
                        tmp_path / "work")
    # k1 (20) and k2 (no QE) go; k0 (80) and k3 (55) stay; D_know is untouched
    assert summary["dropped"] == {"ling.low_translation_qe": 2}
    assert summary["samples"] == {"ru/know/train": 4, "ru/ling/train": 2}
    drops = [d["ling_drop"] for d in read_plan(tmp_path / "work", 0)]
    assert drops == [None, "low_translation_qe", "low_translation_qe", None]


def test_min_translation_qe_reads_the_qe_of_the_ling_field_build_uses(tmp_path):
    parts = _part(tmp_path, _rows())
    opts = BuildOptions(test_size=0, validation_size=0, min_translation_qe=50, ling_field="translation_thick")
    make_plan(parts, opts, tmp_path / "work")
    drops = [d["ling_drop"] for d in read_plan(tmp_path / "work", 0)]
    assert drops == ["low_translation_qe", None, "low_translation_qe", None]


def test_build_without_min_translation_qe_keeps_every_translation(tmp_path):
    summary = make_plan(_part(tmp_path, _rows()), BuildOptions(test_size=0, validation_size=0), tmp_path / "w")
    assert summary["samples"]["ru/ling/train"] == 4


def test_min_translation_qe_is_a_number():
    with pytest.raises(ValidationError):
        BuildOptions(min_translation_qe="high")
