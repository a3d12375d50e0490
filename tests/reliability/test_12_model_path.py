"""Item 12 (part): ``--model /no/such/dir`` said ``internal error: OSError: Repo id must be in the form ...``.

A model that looks like a path (starts with / . or ~, or has more than one separator) and does not exist, or
that is no hub id at all, is now one line: ``model X: no such folder, and not a model id of the form org/name``.
Driven through the real CLI on a real folder with the columns caption reads, and through training's loader.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mella.cli import main
from mella.errors import MellaError
from mella.records import IMAGES

pytest.importorskip("transformers", reason="the models extra is not installed")


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder with one row of what fetch writes (the columns caption reads)."""
    row = dict.fromkeys(IMAGES.names)
    row.update(key="0123456789abcdef0123", image_url="http://127.0.0.1/a.png", alt="a", lang="ru", status="ok")
    folder = tmp_path / "fetch"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=IMAGES), folder / "part-00000.parquet")
    return folder


@pytest.mark.parametrize("model", ["/no/such/dir", "./no-such-dir", "~/no-such-dir-mella", "a/b/c", "not an id"])
def test_12_model_path_missing_is_one_line(images, tmp_path, capsys, model):
    assert main(["caption", str(images), "--out", str(tmp_path / "cap"), "--model", model, "-j", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"mella: error: model {model}: no such folder, and not a model id of the form org/name"


def test_12_model_path_existing_folder_and_hub_ids_pass_the_check(tmp_path):
    from mella.models.hf import check_model_ref

    (tmp_path / "m").mkdir()
    for ok in (str(tmp_path / "m"), "Qwen/Qwen2.5-VL-3B-Instruct", "gpt2", "google/siglip-base-patch16-256"):
        check_model_ref(ok)


def test_12_model_path_missing_in_a_training_config(tmp_path):
    from mella.train.config import load_config
    from mella.train.model import load

    (tmp_path / "ds").mkdir()
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": "/no/such/dir"}, "data": {"samples": "ds"},
                                    "output": {"dir": "out"}, "train": {"device": "cpu"}}))
    with pytest.raises(MellaError, match="^model /no/such/dir: no such folder, and not a model id of the form"):
        load(load_config(path), on_gpu=False)
