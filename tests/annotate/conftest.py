"""Fixtures of the annotate tests: tiny random models (built once) and real images fetched from the example sites."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason="the models extra is not installed")


@pytest.fixture(scope="session")
def tiny_models(tiny_model):
    """``tiny_models(kind) -> folder``: tiny random models of the real architectures, saved once."""
    return tiny_model


@pytest.fixture(scope="session")
def fetched(tmp_path_factory):
    """A fetch output folder holding 5 real images (6 rows, one image shared by two rows) in two parts."""
    from annotatekit import fetch_example_images

    return fetch_example_images(tmp_path_factory.mktemp("fetched"))
