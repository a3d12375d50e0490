"""robots.txt: checked before every request, fetched once per origin, Google's conventions when missing."""

from __future__ import annotations

import time

import pytest

from mella.demo.siteserver import SiteServer
from mella.net import get_many
from mella.net.robots import rules_from_response

RU = "ru__raspberrypilearning__lost-in-space"


def test_disallowed_path_is_never_requested(sites, opts_for):
    robots = f"User-agent: *\nDisallow: /{RU}/ru-RU/step_3.html\n"
    with SiteServer(sites, robots_txt=robots) as srv:
        base = srv.site_url(RU)
        got = get_many([base + "ru-RU/step_3.html", base + "ru-RU/step_4.html", base], opts_for(srv))
        assert [r.error for r in got] == ["robots_disallowed", None, None]
        paths = srv.requested_paths()
        assert f"/{RU}/ru-RU/step_3.html" not in paths
        assert paths.count("/robots.txt") == 1  # fetched once for the three requests


def test_rules_for_our_token_apply(sites, opts_for):
    robots = "User-agent: mella\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    with SiteServer(sites, robots_txt=robots) as srv:
        assert get_many([srv.site_url(RU)], opts_for(srv))[0].error == "robots_disallowed"
        assert get_many([srv.site_url(RU)], opts_for(srv, user_agent="otherbot/1"))[0].ok


def test_missing_robots_allows_everything(sites, opts_for):
    with SiteServer(sites, robots_txt=None) as srv:
        assert get_many([srv.site_url(RU)], opts_for(srv))[0].ok


def test_robots_can_be_switched_off(sites, opts_for):
    with SiteServer(sites, robots_txt="User-agent: *\nDisallow: /\n") as srv:
        assert get_many([srv.site_url(RU)], opts_for(srv, respect_robots=False))[0].ok
        assert "/robots.txt" not in srv.requested_paths()


def test_crawl_delay_is_honoured_and_capped(sites, opts_for):
    with SiteServer(sites, robots_txt="User-agent: *\nCrawl-delay: 0.4\n") as srv:
        urls = [srv.site_url(RU) + f"?i={i}" for i in range(3)]
        assert all(r.ok for r in get_many(urls, opts_for(srv, per_host_concurrency=3)))
        times = [r.time for r in srv.requests if r.path.startswith(f"/{RU}/")]
        assert max(times) - min(times) >= 0.75
    with SiteServer(sites, robots_txt="User-agent: *\nCrawl-delay: 3600\n") as srv:
        start = time.monotonic()
        urls = [srv.site_url(RU) + f"?i={i}" for i in range(2)]
        assert all(r.ok for r in get_many(urls, opts_for(srv, max_crawl_delay=0.2)))
        assert time.monotonic() - start >= 0.2


@pytest.mark.parametrize("status,error,allowed", [
    (404, "http_404", True), (403, "http_403", True), (410, "http_410", True),
    (429, "http_429", False), (500, "http_500", False), (503, "http_503", False),
    (None, "timeout", False), (None, "connection_error", False),
])
def test_unavailable_robots_conventions(status, error, allowed):
    rules = rules_from_response(status, None, error)
    assert rules.allows("http://example.org/page", "mella") is allowed


def test_parsed_robots_rules():
    rules = rules_from_response(200, b"User-agent: *\nDisallow: /private\n", None)
    assert not rules.allows("http://example.org/private/x", "mella")
    assert rules.allows("http://example.org/public", "mella")


def test_unreachable_robots_reports_the_network_error(server):
    from mella.net import NetOptions

    got = get_many([f"http://localhost:{server.port}/"], NetOptions())[0]
    assert got.error == "blocked_address"  # not "robots_disallowed": robots.txt was never reachable
