"""Shared fixtures. Tests never touch the network beyond loopback and never read ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The whole demo pipeline (`make demo`), run once per test session into a temporary run folder."""
    from mella.demo.__main__ import main as demo_main

    run_dir = tmp_path_factory.mktemp("demo") / "demo"
    assert demo_main(["--examples", str(EXAMPLES), "--run-dir", str(run_dir), "--fresh"]) == 0
    return run_dir
