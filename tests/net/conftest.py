"""A real local site server for the net tests, serving the example sites copied from the corpus."""

from __future__ import annotations

import pytest

from mella.demo.siteserver import SiteServer
from mella.net import NetOptions


@pytest.fixture(scope="module")
def sites(example_sites):
    return example_sites


@pytest.fixture
def server(site_server):
    return site_server


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
