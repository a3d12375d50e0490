"""The local executor: parts per shard, dropped rows, merged stats, resume without recomputation."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from mella.errors import MellaError
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.runstore import StageDir
from sample_stages import ExplodingStage, FirstSeenStage, LengthStage, LinesStage, make_inputs


def read_rows(folder):
    return pq.read_table(sorted(folder.glob("part-*.parquet"))).to_pylist()


@pytest.mark.parametrize("workers", [1, 2])
def test_parts_rows_dropped_and_stats(tmp_path, workers):
    inputs = make_inputs(tmp_path / "in", n_files=4, lines=120)
    out = tmp_path / "out"
    report = run_stage(LinesStage(min_chars=2), [str(inputs)], out, LocalExecutor(workers, progress=False))

    assert report.parts_total == 4 and report.parts_run == 4
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == [f"part-{i:05d}.parquet" for i in range(4)]
    assert all((out / f"part-{i:05d}._SUCCESS").exists() for i in range(4))
    assert (out / "_SUCCESS").exists()

    rows = read_rows(out)
    assert len(rows) == 4 * 108  # 12 of every 120 lines are the one-character "x"
    assert {r["file"] for r in rows} == {f"in-{i:02d}.txt" for i in range(4)}
    # part i holds exactly the rows of sorted input file i
    assert {r["file"] for r in pq.read_table(out / "part-00002.parquet").to_pylist()} == {"in-02.txt"}

    dropped = pq.read_table(sorted((out / "_dropped").glob("part-*.parquet"))).to_pylist()
    assert len(dropped) == 4 * 12
    assert {d["drop_reason"] for d in dropped} == {"too_short"}
    assert all(d["text"] == "x" for d in dropped)

    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows"] == 432 and stats["dropped"] == 48 and stats["parts"] == 4
    assert stats["counters"]["lines_read"] == 480
    assert stats["counters"]["dropped.too_short"] == 48
    assert stats["counters"]["rows_out"] == 432
    assert stats["complete"] is True
    assert stats["options"] == {"min_chars": 2, "upper": False, "delay": 0.0, "tags": []}
    assert stats["per_part"]["part-00001"]["source"].endswith("in-01.txt")


def test_rerun_skips_committed_parts(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3)
    out = tmp_path / "out"
    run_stage(LinesStage(), [str(inputs)], out, LocalExecutor(2, progress=False))
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}

    again = run_stage(LinesStage(), [str(inputs)], out, LocalExecutor(2, progress=False))
    assert again.parts_run == 0 and again.parts_skipped == 3
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")} == before
    assert again.rows == 360


def test_changed_options_on_same_output_is_an_error(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=2)
    out = tmp_path / "out"
    run_stage(LinesStage(), [str(inputs)], out, LocalExecutor(1, progress=False))
    with pytest.raises(MellaError, match="other options"):
        run_stage(LinesStage(upper=True), [str(inputs)], out, LocalExecutor(1, progress=False))


def test_row_stage_reads_previous_stage_folder(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3, lines=30)
    first = tmp_path / "lines"
    run_stage(LinesStage(min_chars=0), [str(inputs)], first, LocalExecutor(2, progress=False))
    second = tmp_path / "length"
    report = run_stage(LengthStage(max_chars=14), [str(first)], second, LocalExecutor(2, progress=False))
    kept = read_rows(second)
    assert report.parts_total == 3
    assert all(r["n_chars"] <= 14 and r["n_chars"] == len(r["text"]) for r in kept)
    dropped = pq.read_table(sorted((second / "_dropped").glob("*.parquet"))).to_pylist()
    assert dropped and all(d["drop_reason"] == "too_long" and d["n_chars"] > 14 for d in dropped)
    assert len(kept) + len(dropped) == 90
    assert pq.read_schema(second / "part-00000.parquet").names == ["file", "lineno", "text", "n_chars"]


def test_unfinished_stage_folder_is_not_read_as_input(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=2)
    first = tmp_path / "lines"
    run_stage(LinesStage(), [str(inputs)], first, LocalExecutor(1, progress=False))
    (first / "_SUCCESS").unlink()
    with pytest.raises(MellaError, match="has not finished"):
        run_stage(LengthStage(), [str(first)], tmp_path / "length", LocalExecutor(1, progress=False))


@pytest.mark.parametrize("workers", [1, 2])
def test_stage_error_keeps_committed_parts_and_leaves_no_temporaries(tmp_path, workers):
    inputs = make_inputs(tmp_path / "in", n_files=3, lines=20)
    (inputs / "in-02.txt").write_text("fine\nboom\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="boom"):
        run_stage(ExplodingStage(), [str(inputs)], out, LocalExecutor(workers, progress=False))
    assert StageDir(out).marker(0).exists()
    assert not StageDir(out).marker(2).exists()
    assert not list(out.glob(".*.tmp")) and not (out / "part-00002.parquet").exists()
    assert not (out / "_SUCCESS").exists()


def test_jsonl_rows_and_bad_line_named(tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_text('{"file": "a", "lineno": 1, "text": "hello"}\n\n{"file": "a", "lineno": 2, "text": "x"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    from mella.pipeline.shards import Shard
    from mella.pipeline.shards import read_rows as read

    assert [r["text"] for batch in read(Shard(str(src)), 10) for r in batch] == ["hello", "x"]
    with pytest.raises(MellaError, match=r"bad.jsonl:2: not valid JSON"):
        list(read(Shard(str(bad)), 10))


def test_fewer_inputs_than_committed_parts_is_an_error(tmp_path):
    inputs = make_inputs(tmp_path / "in", n_files=3)
    out = tmp_path / "out"
    run_stage(LinesStage(), [str(inputs)], out, LocalExecutor(1, progress=False))
    with pytest.raises(MellaError, match="parts beyond the 2 inputs"):
        run_stage(LinesStage(), [str(inputs / "in-00.txt"), str(inputs / "in-01.txt")], out,
                  LocalExecutor(1, progress=False))


def test_global_prepare_pass_sees_every_shard(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("red\ngreen\n")
    (inputs / "b.txt").write_text("green\nblue\nred\n")
    (inputs / "c.txt").write_text("blue\nwhite\n")
    lines = tmp_path / "lines"
    run_stage(LinesStage(), [str(inputs)], lines, LocalExecutor(1, progress=False))
    out = tmp_path / "first"
    report = run_stage(FirstSeenStage(), [str(lines)], out, LocalExecutor(2, progress=False))
    assert sorted(r["text"] for r in read_rows(out)) == ["blue", "green", "red", "white"]
    assert [r["text"] for r in pq.read_table(out / "part-00001.parquet").to_pylist()] == ["blue"]
    assert report.counters["dropped.seen_in_earlier_shard"] == 3
