"""Issue 15 item 10: a corrupt parquet part is one line naming the file and the stage that wrote it (exit 2),
never ``internal error: ArrowInvalid: Parquet magic bytes not found``.

Covered: the input check (footers), rows read by a stage (a page broken behind a sound footer), and the step
readers (export, evaluate, report). Parts are real stage outputs (inputkit), damaged in a copy.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from inputkit import copy_output, make_outputs, parts

from mella.cli import main
from mella.errors import MellaError
from mella.pipeline.shards import Shard, read_rows


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    return make_outputs(tmp_path_factory.mktemp("r15-corrupt"))


def truncate(part: Path) -> Path:
    """Cut the file inside its footer (a copy interrupted, a disk that filled up)."""
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    return part


def break_page(part: Path, column: str) -> Path:
    """Overwrite the first page header of ``column``: the footer still reads, the rows do not."""
    meta = pq.read_metadata(part)
    names = meta.schema.to_arrow_schema().names
    offset = meta.row_group(0).column(names.index(column)).data_page_offset
    data = bytearray(part.read_bytes())
    data[offset:offset + 40] = b"\xff" * 40
    part.write_bytes(bytes(data))
    return part


def one_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    line = err.splitlines()[-1]  # what comes before is a progress bar, when rows were being read
    assert line.startswith("mella: error: ") and err.count("mella:") == 1, err
    return line


def test_10_truncated_fetch_part_named_with_its_stage(outputs, tmp_path, capsys):
    fetch = copy_output(outputs["fetch"], tmp_path / "fetch")
    part = truncate(parts(fetch)[0])
    err = one_line(capsys, ["build", str(fetch), "--out", str(tmp_path / "build")])
    assert err.startswith(f"mella: error: {part}: not a readable parquet file (")
    assert "the fetch stage wrote it" in err


def test_10_page_corrupt_behind_sound_footer_named_when_rows_are_read(outputs, tmp_path, capsys):
    collect = copy_output(outputs["collect"], tmp_path / "collect")
    part = break_page(parts(collect)[0], "alt")
    pq.read_schema(part)  # the footer is fine: only reading the rows finds the damage
    err = one_line(capsys, ["fetch", str(collect), "--out", str(tmp_path / "fetch"), "-j", "1"])
    assert f"{part}: not a readable parquet file (" in err and "the collect stage wrote it" in err


def test_10_read_rows_names_the_file(outputs, tmp_path):
    collect = copy_output(outputs["collect"], tmp_path / "collect")
    part = break_page(parts(collect)[0], "page_url")
    with pytest.raises(MellaError, match=f"^{part}: not a readable parquet file .*the collect stage wrote it"):
        list(read_rows(Shard(str(part)), 10))


@pytest.mark.parametrize("reader", ["export", "evaluate"])
def test_10_step_readers_name_a_corrupt_build_part(outputs, tmp_path, capsys, reader):
    build = copy_output(outputs["build"], tmp_path / "build")
    part = truncate(parts(build)[0])
    argv = {"export": ["export", str(build), "--format", "llava", "--out", str(tmp_path / "x"),
                       "--images", str(outputs["fetch"])],
            "evaluate": ["evaluate", str(build), "--out", str(tmp_path / "x")]}[reader]
    err = one_line(capsys, argv)
    assert f"{part}: not a readable parquet file (" in err and "the build stage wrote it" in err
    assert not (tmp_path / "x").exists()


def test_10_export_names_a_page_corrupt_build_part(outputs, tmp_path, capsys):
    build = copy_output(outputs["build"], tmp_path / "build")
    part = break_page(parts(build)[0], "instruction")
    err = one_line(capsys, ["export", str(build), "--format", "llava", "--out", str(tmp_path / "x"),
                            "--images", str(outputs["fetch"])])
    assert f"{part}: not a readable parquet file (" in err and "the build stage wrote it" in err


def test_10_report_names_a_corrupt_part(outputs, tmp_path, capsys):
    run = tmp_path / "run"
    for stage in ("collect", "fetch", "build"):
        copy_output(outputs[stage], run / stage)
    part = truncate(parts(run / "fetch")[0])
    err = one_line(capsys, ["report", str(run)])
    assert f"{part}: not a readable parquet file (" in err and "the fetch stage wrote it" in err


def test_10_hand_made_file_named_without_a_stage(tmp_path, capsys):
    bad = tmp_path / "preds.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    err = one_line(capsys, ["evaluate", str(bad), "--out", str(tmp_path / "x")])
    assert f"{bad}: not a readable parquet file (" in err and "not written by mella" in err


@pytest.mark.parametrize(("stage", "source", "column"), [("build", "fetch", "key"), ("dedup", "collect", "alt")])
def test_10_global_pass_names_a_page_corrupt_part(outputs, tmp_path, capsys, stage, source, column):
    # build and dedup read every part in the driver before any part runs (their own readers).
    folder = copy_output(outputs[source], tmp_path / source)
    part = break_page(parts(folder)[0], column)
    err = one_line(capsys, [stage, str(folder), "--out", str(tmp_path / stage)])
    assert f"{part}: not a readable parquet file (" in err and f"the {source} stage wrote it" in err
