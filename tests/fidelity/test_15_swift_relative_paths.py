"""Issue 16 item 15: the ms-swift export keeps working after its folder is moved.

Before: ``images`` held absolute paths (``/.../export/swift/images/...``), dead once the folder moved.
Now they are relative to the export folder. ms-swift (``swift/llm/template/vision_utils.py``, ``load_file``)
opens a relative path from the working directory, and when it is not there joins it to ``$ROOT_IMAGE_DIR``;
``_swift_open`` below is that rule, applied to the moved folder both ways.
"""

from __future__ import annotations

import json
import os
import shutil

from exportkit import build_rows, two_turn_build

from mella.dataset.export import export
from mella.fetch.wds import ImageStore


def _swift_open(path: str, root_image_dir: str | None) -> bytes:
    """ms-swift's path rule for a local image: as given, else under ROOT_IMAGE_DIR when that is set."""
    if not os.path.exists(path) and root_image_dir is not None:
        path = os.path.join(root_image_dir, path)
    with open(os.path.abspath(os.path.expanduser(path)), "rb") as fh:
        return fh.read()


def test_15_swift_image_paths_survive_moving_the_export(tmp_path_factory, tmp_path, monkeypatch):
    build = two_turn_build(tmp_path_factory)
    rows = build_rows(build)
    store = ImageStore(json.loads((build / "_global" / "build" / "summary.json").read_text())["images_dir"])
    out = tmp_path / "exports" / "swift"
    export(build, "swift", out)
    moved = tmp_path / "elsewhere" / "swift-moved"
    shutil.move(str(out), str(moved))
    records = [json.loads(line) for f in sorted(moved.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()]
    assert len(records) == len(rows)
    paths = [p for rec in records for p in rec["images"]]
    assert paths and not any(os.path.isabs(p) or ".." in p.split("/") for p in paths)
    assert str(tmp_path) not in "".join(f.read_text("utf-8") for f in moved.glob("*.jsonl"))

    monkeypatch.chdir(tmp_path)  # elsewhere: ROOT_IMAGE_DIR finds them
    for rec in records:
        assert _swift_open(rec["images"][0], str(moved)) == store[rows[rec["id"]]["key"]]
    monkeypatch.chdir(moved)  # run from the export folder: no variable needed
    for rec in records:
        assert _swift_open(rec["images"][0], None) == store[rows[rec["id"]]["key"]]
