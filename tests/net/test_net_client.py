"""The HTTP client against a real local server: caps, retries, timeouts, redirects, headers, per-host delay."""

from __future__ import annotations

import time

from mella.net import get_many
from mella.net.client import parse_retry_after


def one(server, opts, path, **kw):
    return get_many([server.base_url + path], opts(**kw))[0]


def test_site_page_is_fetched_with_an_honest_user_agent(server, opts):
    name = "ru__raspberrypilearning__lost-in-space"
    got = get_many([server.site_url(name) + "ru-RU/step_2.html"], opts())[0]
    assert got.ok and got.status == 200 and got.headers["content-type"].startswith("text/html")
    assert "Космический фон".encode() in got.body  # a real alt-text of the page
    agents = {r.user_agent for r in server.requests}  # robots.txt and the page
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("mella/") and agent.endswith("(+https://github.com/mella-project/mella)")


def test_user_agent_with_contact(server, opts):
    one(server, opts, "/", user_agent="mybot/2", contact_url="mailto:me@example.org")
    assert {r.user_agent for r in server.requests} == {"mybot/2 (+mailto:me@example.org)"}


def test_byte_cap_with_and_without_content_length(server, opts):
    assert one(server, opts, "/_test/big?bytes=5000", max_bytes=4096).error == "too_large"
    capped = one(server, opts, "/_test/big?bytes=5000&length=0", max_bytes=4096)
    assert capped.error == "too_large" and capped.body is None and capped.status == 200
    fits = one(server, opts, "/_test/big?bytes=4096&length=0", max_bytes=4096)
    assert fits.ok and len(fits.body) == 4096


def test_retry_after_429_is_honoured(server, opts):
    start = time.monotonic()
    got = one(server, opts, "/_test/flaky/429?n=2&after=1", retries=3)
    assert got.ok and got.attempts == 3 and b"ok after 2 failures" in got.body
    assert time.monotonic() - start >= 1.9  # two Retry-After: 1 waits
    assert server.requested_paths().count("/_test/flaky/429?n=2&after=1") == 3


def test_retry_after_is_capped(server, opts):
    start = time.monotonic()
    got = one(server, opts, "/_test/flaky/503?n=1&after=3600", retries=1, max_retry_after=0.2)
    assert got.ok and got.attempts == 2
    assert time.monotonic() - start >= 0.2


def test_retries_give_up_with_the_last_status(server, opts):
    got = one(server, opts, "/_test/status/503", retries=2)
    assert got.error == "http_503" and got.status == 503 and got.attempts == 3


def test_client_errors_are_not_retried(server, opts):
    got = one(server, opts, "/_test/status/404", retries=3)
    assert got.error == "http_404" and got.attempts == 1
    assert server.requested_paths().count("/_test/status/404") == 1
    assert one(server, opts, "/no-such-site/x.html").error == "http_404"


def test_stalled_body_times_out_and_is_retried(server, opts):
    got = one(server, opts, "/_test/stall?seconds=20", read_timeout=0.3, retries=1)
    assert got.error == "timeout" and got.attempts == 2 and got.body is None


def test_redirect_limit(server, opts):
    got = one(server, opts, "/_test/redirect-loop/0", max_redirects=3)
    assert got.error == "too_many_redirects" and len(got.redirects) == 3


def test_accept_filters_content_type_before_reading(server, opts):
    got = get_many([server.base_url + "/_test/json"], opts())[0]
    assert got.ok and got.body == b'{"a": 1}'
    import asyncio

    from mella.net import NetClient

    async def fetch():
        async with NetClient(opts()) as client:
            return await client.get(server.base_url + "/_test/json", accept=("text/html",))

    refused = asyncio.run(fetch())
    assert refused.error == "unwanted_content_type" and refused.body is None and refused.status == 200


def test_x_robots_tag_is_recorded(server, opts):
    name = "ko__raspberrypilearning__lost-in-space"
    got = one(server, opts, f"/_test/noai/{name}/ko-KR/images/space-backdrop.png")
    assert got.ok and got.x_robots_tag == "noai" and got.body[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_host_delay_spaces_request_starts(server, opts):
    urls = [f"{server.base_url}/_test/slow?seconds=0&i={i}" for i in range(4)]
    got = get_many(urls, opts(per_host_delay=0.3, per_host_concurrency=4, respect_robots=False))
    assert all(r.ok for r in got)
    times = sorted(r.time for r in server.requests)
    assert len(times) == 4 and times[-1] - times[0] >= 0.85  # 3 gaps of 0.3 s, minus clock slack


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
