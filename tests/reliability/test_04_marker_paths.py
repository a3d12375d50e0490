"""Item 4: part markers name their input relative to the stage folder (or absolutely), never relative to the
working directory, and the chain of markers is checked against the fingerprint of the part it leads to.

Before the fix, a caption made from ``base/fetch`` recorded ``"source": "base/fetch/part-00000.parquet"``; a
``score`` run from another folder that had its own ``base/fetch`` silently read that folder's images.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cliproc import run

pytest.importorskip("transformers", reason="the models extra is not installed")


@pytest.fixture
def chain(demo_run, tmp_path):
    """``tmp/a/base/fetch`` (the demo's images), and a decoy ``tmp/b/base/fetch`` with one part of them only."""
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(demo_run / "fetch", a / "base" / "fetch")
    decoy = b / "base" / "fetch"
    shutil.copytree(demo_run / "fetch", decoy)
    for part in sorted(decoy.glob("part-*.tar"))[1:]:
        part.write_bytes(b"")  # the decoy's tars beyond the first hold nothing
    model = demo_run / "_models" / "qwen2-vl"
    done = run("caption", "base/fetch", "--out", "base/caption", "--model", model, "--max-new-tokens", "2",
               "--no-cache", "-j", "1", cwd=a, timeout=600)
    assert done.returncode == 0, done.stderr
    return a, b, demo_run


def kept(folder: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.glob("part-*.parquet"))


def test_04_marker_source_is_relative_to_the_stage_folder(chain):
    a, _, _ = chain
    marker = json.loads((a / "base" / "caption" / "part-00000._SUCCESS").read_text())
    assert marker["source"] == "../fetch/part-00000.parquet"
    fetch_marker = json.loads((a / "base" / "fetch" / "part-00000._SUCCESS").read_text())
    assert marker["source_fingerprint"] == fetch_marker["fingerprint"]


def test_04_score_from_another_folder_reads_the_right_images(chain):
    a, b, demo_run = chain
    caption = a / "base" / "caption"
    done = run("score", caption, "--out", a / "base" / "score", "--model", demo_run / "_models" / "siglip",
               "--no-cache", "-j", "1", cwd=b, timeout=600)
    assert done.returncode == 0, done.stderr
    stats = json.loads((a / "base" / "score" / "stats.json").read_text())
    assert stats["counters"].get("dropped.image_missing", 0) == 0
    assert kept(a / "base" / "score") == kept(caption)


def test_04_rewritten_input_part_is_refused(chain):
    a, b, demo_run = chain
    marker = a / "base" / "fetch" / "part-00000._SUCCESS"
    info = json.loads(marker.read_text())
    marker.write_text(json.dumps({**info, "fingerprint": "0123456789abcdef"}))  # fetch rerun with other options
    done = run("score", a / "base" / "caption", "--out", a / "base" / "score", "--model",
               demo_run / "_models" / "siglip", "--no-cache", "-j", "1", cwd=b, timeout=600)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]  # above it: the progress bar and the model's own notes
    assert last.startswith("mella: error:") and "rewritten since" in last and "part-00000" in last


def test_04_resume_from_another_working_directory(tmp_path):
    """A run resumed from another folder (absolute paths now) recognises its committed parts."""
    from sample_stages import make_inputs

    inputs = make_inputs(tmp_path / "in", n_files=3, lines=30)
    first = run("lines", "in", "--out", "out", "-j", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    other = tmp_path / "elsewhere"
    other.mkdir()
    again = run("lines", inputs, "--out", tmp_path / "out", "-j", "1", cwd=other)
    assert again.returncode == 0, again.stderr
    assert "3 already done" in again.stdout


def test_04_markers_of_earlier_versions_still_resume(tmp_path):
    """A folder whose markers hold the input as given then (relative to the working directory) resumes."""
    from sample_stages import make_inputs

    make_inputs(tmp_path / "in", n_files=2, lines=20)
    assert run("lines", "in", "--out", "out", "-j", "1", cwd=tmp_path).returncode == 0
    for marker in (tmp_path / "out").glob("part-*._SUCCESS"):
        info = json.loads(marker.read_text())
        info["source"] = "in/" + Path(info["source"]).name  # how mella recorded it before
        info.pop("source_fingerprint", None)
        marker.write_text(json.dumps(info))
    again = run("lines", "in", "--out", "out", "-j", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 already done" in again.stdout
