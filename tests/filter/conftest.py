"""Shared fixtures of the filter tests: the gold set and one loaded cascade per session."""

from __future__ import annotations

from pathlib import Path

import pytest

LABELS = Path(__file__).resolve().parents[1] / "data" / "labels"


@pytest.fixture(scope="session")
def gold_rows():
    from mella.filter import gold

    return gold.candidate_rows(LABELS)


@pytest.fixture(scope="session")
def filter_stage():
    from mella.filter.filter import FilterStage

    stage = FilterStage()
    stage.ensure_setup()
    return stage
