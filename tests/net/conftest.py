"""A real local site server for the net tests, serving the example sites copied from the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from mella.demo.siteserver import SiteServer, load_sites
from mella.net import NetOptions

EXAMPLE_SITES = Path(__file__).resolve().parents[2] / "examples" / "sites"


@pytest.fixture(scope="module")
def sites():
    return load_sites(EXAMPLE_SITES)


@pytest.fixture
def server(sites):
    with SiteServer(sites, test_routes=True) as srv:
        yield srv


@pytest.fixture
def opts(server):
    """Client options that reach exactly this server (and nothing else on loopback)."""

    def make(**kw) -> NetOptions:
        kw.setdefault("backoff_base", 0.01)
        return NetOptions(allow_hosts=(server.host_port,), **kw)

    return make


@pytest.fixture
def opts_for():
    """Client options that reach exactly the given server."""

    def make(srv: SiteServer, **kw) -> NetOptions:
        return NetOptions(allow_hosts=(srv.host_port,), backoff_base=0.01, **kw)

    return make
