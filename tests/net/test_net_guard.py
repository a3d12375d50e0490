"""SSRF guard: address classes, literal IPs, DNS results, redirects, and the allowlist."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from mella.demo.siteserver import SiteServer
from mella.net import NetOptions, get_many
from mella.net.guard import Allowlist, BlockedAddressError, check_url, guarded_resolver, is_public_ip


@pytest.mark.parametrize("ip,public", [
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False),
    ("100.64.0.1", False), ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False),
    ("fc00::1", False), ("ff02::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.1.2.3", False),
    ("93.184.216.34", True), ("1.1.1.1", True), ("2606:4700:4700::1111", True), ("::ffff:1.1.1.1", True),
])
def test_address_classes(ip, public):
    assert is_public_ip(ipaddress.ip_address(ip)) is public


@pytest.mark.parametrize("url,reason", [
    ("http://10.0.0.1/", "blocked_address"),
    ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
    ("http://[::1]:8080/", "blocked_address"),
    ("http://[::ffff:127.0.0.1]/", "blocked_address"),
    ("https://0.0.0.0/", "blocked_address"),
    ("ftp://example.org/a", "bad_scheme"),
    ("file:///etc/passwd", "bad_scheme"),
    ("gopher://example.org/", "bad_scheme"),
    ("http:///nohost", "invalid_url"),
    ("http://1.1.1.1/", None),
    ("https://example.org/a", None),  # names are checked after DNS, by the resolver
])
def test_check_url(url, reason):
    assert check_url(url, Allowlist()) == reason


def test_allowlist_entries():
    allow = Allowlist(["127.0.0.1:8080", "Example.ORG", "::1", "[::1]:9000"])
    assert allow.allows("127.0.0.1", 8080) and not allow.allows("127.0.0.1", 8081)
    assert allow.allows("example.org", 1) and allow.allows("EXAMPLE.org.", 443)
    assert allow.allows("::1", 5) and allow.allows("[::1]", 9000)
    assert check_url("http://127.0.0.1:8080/", allow) is None
    assert check_url("http://127.0.0.1:8081/", allow) == "blocked_address"


def test_literal_private_ips_are_refused_before_any_connection():
    urls = ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "ftp://10.0.0.1/"]
    got = get_many(urls, NetOptions(retries=3))
    assert [r.error for r in got] == ["blocked_address", "blocked_address", "blocked_address", "bad_scheme"]
    # attempts counts connection attempts: zero means the guard answered before any socket was opened.
    assert [r.attempts for r in got] == [0, 0, 0, 0]
    assert all(r.status is None and r.body is None for r in got)


def test_resolver_drops_loopback_answers_unless_allowlisted():
    async def resolve(allow):
        resolver = guarded_resolver(Allowlist(allow))
        try:
            return await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    with pytest.raises(BlockedAddressError):
        asyncio.run(resolve([]))
    hosts = {r["host"] for r in asyncio.run(resolve(["localhost"]))}
    assert hosts and all(not is_public_ip(ipaddress.ip_address(h)) for h in hosts)


def test_hostname_resolving_to_loopback_is_blocked(server):
    got = get_many([f"http://localhost:{server.port}/"], NetOptions(respect_robots=False))[0]
    assert got.error == "blocked_address"
    assert server.requested_paths() == []


def test_redirect_from_allowed_host_to_loopback_name_is_blocked(server, opts):
    target = f"http://localhost:{server.port}/_test/json?marker=1"
    got = get_many([f"{server.base_url}/_test/redirect?to={target}"], opts())[0]
    assert got.error == "blocked_address" and got.redirects == [target]
    assert not any(p.startswith("/_test/json") for p in server.requested_paths())


def test_redirect_to_another_loopback_port_is_blocked(server, sites, opts):
    with SiteServer(sites) as other:
        got = get_many([f"{server.base_url}/_test/redirect?to={other.base_url}/"], opts())[0]
        assert got.error == "blocked_address"
        assert other.requested_paths() == []  # not even its robots.txt


def test_redirect_to_metadata_address_is_blocked(server, opts):
    got = get_many([f"{server.base_url}/_test/redirect?to=http://169.254.169.254/latest/meta-data/"], opts())[0]
    assert got.error == "blocked_address" and got.status is None and got.body is None


def test_redirect_within_the_allowed_host_is_followed(server, opts):
    name = next(iter(server.sites))
    got = get_many([f"{server.base_url}/_test/redirect?to=/{name}/&code=301"], opts())[0]
    assert got.ok and got.status == 200 and got.final_url == server.site_url(name)
    assert got.redirects == [server.site_url(name)]


def test_redirect_with_non_http_scheme_is_refused(server, opts):
    got = get_many([f"{server.base_url}/_test/redirect?to=file:///etc/passwd"], opts())[0]
    assert got.error == "bad_scheme"
