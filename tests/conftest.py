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


@pytest.fixture(scope="session")
def example_sites():
    """The real example sites (examples/sites, CC BY-SA), as the demo's server serves them."""
    from mella.demo.siteserver import load_sites

    return load_sites(EXAMPLES / "sites")


@pytest.fixture
def site_server(example_sites):
    """A real local HTTP server over the example sites, with the test routes (redirects, 429, stalls ...)."""
    from faultserver import FaultSiteServer

    with FaultSiteServer(example_sites) as srv:
        yield srv


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """``tiny_model(kind) -> folder``: a tiny random model of a real architecture, saved once per session."""
    pytest.importorskip("transformers", reason="the models extra is not installed")
    from mella.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("tiny")
    built: dict[str, str] = {}

    def get(kind: str) -> str:
        if kind not in built:
            built[kind] = str(make_tiny(kind, root / kind))
        return built[kind]

    return get
