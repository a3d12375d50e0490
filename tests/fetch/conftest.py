"""Fixtures of the fetch tests: a real local site server with the example sites and a misbehaving one."""

from __future__ import annotations

import pytest
from fetchkit import EXAMPLE_SITES, make_misbehaving_site

from mella.demo.siteserver import SiteServer, SiteSpec, load_sites

ROBOTS = "User-agent: *\nDisallow: /gen/private/\n"


@pytest.fixture(scope="module")
def gen_site(tmp_path_factory):
    return make_misbehaving_site(tmp_path_factory.mktemp("site") / "gen")


@pytest.fixture
def server(gen_site):
    sites = load_sites(EXAMPLE_SITES) + [SiteSpec("gen", gen_site, "en")]
    with SiteServer(sites, test_routes=True, robots_txt=ROBOTS) as srv:
        yield srv
