"""SSRF guard: only http(s), and never an address inside the user's own network.

Hostnames are checked by :class:`GuardedResolver` *after* DNS resolution, and the connection then uses only
the addresses that passed, so a name cannot resolve to a public address for the check and to a private one
for the connection. Literal-IP hosts skip DNS in aiohttp, so :func:`check_url` checks those up front. The
client calls both on every redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

BLOCKED = "blocked_address"
SCHEMES = frozenset({"http", "https"})


class BlockedAddressError(OSError):
    """A host resolved only to addresses the guard refuses (loopback, private, link-local, ...)."""


# IPv6 ranges that carry an IPv4 address: judged as the IPv4 inside (a 6to4 or NAT64 address of
# 169.254.169.254 reaches the metadata service as surely as the IPv4 itself).
_SIXTOFOUR = ipaddress.ip_network("2002::/16")      # 2002:AABB:CCDD:: embeds AA.BB.CC.DD
_NAT64 = ipaddress.ip_network("64:ff9b::/96")       # well-known NAT64 prefix, IPv4 in the last 32 bits
# IPv6 ranges refused whatever they carry: Teredo (tunnels to an obfuscated IPv4), IPv4-compatible
# (deprecated, ::a.b.c.d), SIIT IPv4-translated (::ffff:0:a.b.c.d) and local-use NAT64 (any embedding).
_ALWAYS_BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "2001::/32", "::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address; an IPv6 address that carries an IPv4 one
    (IPv4-mapped, 6to4, NAT64) is judged as that IPv4; Teredo and IPv4-compatible are refused."""
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _ALWAYS_BLOCKED):
            return False
        ip = embedded_ipv4(ip) or ip
    # is_global alone lets multicast through (224.0.0.0/4 is "global"), so every class is named.
    bad = (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
           or ip.is_unspecified or not ip.is_global)
    return not bad


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The host as an IP address, or None when it is a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class Allowlist:
    """Hosts exempt from the guard: `host` (any port) or `host:port` (that port only)."""

    def __init__(self, entries: Iterable[str] = ()):
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        for entry in entries:
            self._add(entry.strip().lower())

    def _add(self, entry: str) -> None:
        host, sep, port = entry.rpartition(":")
        # "::1" has colons but no port; a bracketed "[::1]:8080" or "name:8080" has one.
        if sep and port.isdigit() and (not host.count(":") or host.startswith("[")):
            self.host_ports.add((host.strip("[]"), int(port)))
        elif entry:
            self.hosts.add(entry.strip("[]"))

    def allows(self, host: str, port: int | None) -> bool:
        """True when this host (and port) is on the list."""
        host = host.lower().strip("[]").rstrip(".")
        return host in self.hosts or (host, port) in self.host_ports

    def __bool__(self) -> bool:
        return bool(self.hosts or self.host_ports)


def url_host_port(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def check_url(url: str, allow: Allowlist) -> str | None:
    """The reason this URL may not be requested ("bad_scheme", "invalid_url", "blocked_address"), or None."""
    try:
        scheme, host, port = url_host_port(url)
    except ValueError:
        return "invalid_url"
    if scheme not in SCHEMES:
        return "bad_scheme"
    if not host:
        return "invalid_url"
    ip = parse_ip(host)
    if ip is not None and not is_public_ip(ip) and not allow.allows(host, port):
        return BLOCKED
    return None


def _guarded_resolver_class():
    # aiohttp is imported here, not at module import, so `mella.net.guard` stays cheap to import.
    from aiohttp.abc import AbstractResolver
    from aiohttp.resolver import DefaultResolver

    class GuardedResolver(AbstractResolver):
        """A DNS resolver that drops every non-public address unless the host is allowlisted."""

        def __init__(self, allow: Allowlist):
            self.allow = allow
            self.inner = DefaultResolver()

        async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
            results = await self.inner.resolve(host, port, family)
            if self.allow.allows(host, port):
                return results
            kept = [r for r in results if is_public_ip(ipaddress.ip_address(r["host"].split("%", 1)[0]))]
            if not kept:
                raise BlockedAddressError(f"{host} resolves only to non-public addresses")
            return kept

        async def close(self) -> None:
            await self.inner.close()

    return GuardedResolver


def guarded_resolver(allow: Allowlist):
    """A new aiohttp resolver enforcing the guard for `allow`."""
    return _guarded_resolver_class()(allow)
