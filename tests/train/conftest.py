"""Fixtures of the training tests: tiny real models and SAMPLES folders built from the example sites."""

from __future__ import annotations

import pytest
import trainkit as kit

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny matrices: one thread is many times faster than two fighting over a busy machine.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory):
    from mella.models.tiny import make_tiny

    return make_tiny("qwen2-vl", tmp_path_factory.mktemp("qwen2-vl"))


@pytest.fixture(scope="session")
def pairs():
    return kit.site_pairs(32)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory, pairs):
    """(samples folder, image folder, rows): 24 train and 8 validation samples."""
    root = tmp_path_factory.mktemp("dataset")
    rows = kit.sample_rows(pairs, lambda i: "validation" if i % 4 == 3 else "train")
    return kit.write_samples(rows, root / "samples"), kit.write_image_folder(pairs, root / "images"), rows
