"""Fixtures of the fetch tests: a real local site server with the example sites and a misbehaving one."""

from __future__ import annotations

import pytest
from fetchkit import EXAMPLE_SITES, make_misbehaving_site

from faultserver import FaultSiteServer
from mella.demo.siteserver import SiteSpec, load_sites

ROBOTS = "User-agent: *\nDisallow: /gen/private/\n"


@pytest.fixture(scope="module")
def gen_site(tmp_path_factory):
    return make_misbehaving_site(tmp_path_factory.mktemp("site") / "gen")


@pytest.fixture
def server(gen_site):
    sites = load_sites(EXAMPLE_SITES) + [SiteSpec("gen", gen_site, "en")]
    with FaultSiteServer(sites, robots_txt=ROBOTS) as srv:
        yield srv
