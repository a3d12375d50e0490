"""Shared fixtures. Tests never touch the network beyond loopback and never read ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
