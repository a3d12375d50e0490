"""The tests' site server: the demo's :class:`SiteServer` plus `/_test/...` routes that misbehave as real sites do.

    with FaultSiteServer(load_sites(...)) as server:
        get(f"{server.base_url}/_test/status/503?after=1")

The routes live here, not in the package: only the tests need a server that stalls, loops or answers 429.
"""

from __future__ import annotations

import mimetypes
import threading
from urllib.parse import quote
from xml.sax.saxutils import escape

from mella.demo.handler import HTML, Handler
from mella.demo.siteserver import SiteServer

PREFIX = "/_test/"


class FaultHandler(Handler):
    """The demo's handler, with `/_test/...` routed to :class:`FaultRoutes` first."""

    def route(self, path: str, query: dict[str, str]) -> None:
        if path.startswith(PREFIX):
            return FaultRoutes(self).handle(path[len(PREFIX):], query)
        super().route(path, query)


class FaultSiteServer(SiteServer):
    """A :class:`SiteServer` that also answers `/_test/...` (see :class:`FaultRoutes`)."""

    handler = FaultHandler

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()  # set by stop(): a slow or stalled route gives up waiting
        self._counts: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    def count(self, key: str) -> int:
        """Increment and return a per-key counter (the flaky routes answer by how often a URL was asked)."""
        with self._count_lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


class FaultRoutes:
    """`/_test/...`: the misbehaviour real sites show, for the tests.

    - `redirect?to=URL&code=302`: a redirect to any URL (another host, 127.0.0.1, 169.254.169.254, ...).
    - `redirect-loop/N`: redirects to `redirect-loop/N+1` forever.
    - `slow?seconds=S`: a page after S seconds.
    - `stall?seconds=S`: headers and a few bytes of a longer body, then silence for S seconds (default 30).
    - `status/CODE?after=S`: always that status, with `Retry-After: S` when given.
    - `flaky/CODE?n=N&after=S`: the status (with Retry-After) for the first N requests of that URL, then a page.
    - `big?bytes=N&length=1`: N bytes of HTML; `length=0` leaves Content-Length out.
    - `noai/<site>/<path>`: a site file with `X-Robots-Tag: noai`.
    - `file/<site>/<path>?fail=N&code=429&after=S&tag=T`: a site file, after answering the first N requests
      of that URL with the status (and Retry-After: S); `tag` sends it with `X-Robots-Tag: T`.
    - `links`: a page whose links exercise the crawler (off-site, files, schemes, fragments).
    - `json`: a JSON document, linked from `links`.
    """

    def __init__(self, handler: FaultHandler):
        self.h = handler

    def handle(self, route: str, q: dict[str, str]) -> None:
        """Answer one test route."""
        head, _, rest = route.partition("/")
        method = getattr(self, "r_" + head.replace("-", "_"), None)
        if method is None:
            return self.h.send(404, b"no such test route", "text/plain")
        method(rest, q)

    def r_redirect(self, rest: str, q: dict[str, str]) -> None:
        self.h.redirect(q.get("to", "/"), int(q.get("code", 302)))

    def r_redirect_loop(self, rest: str, q: dict[str, str]) -> None:
        self.h.redirect(f"/_test/redirect-loop/{int(rest or 0) + 1}")

    def r_slow(self, rest: str, q: dict[str, str]) -> None:
        self.h.site_server.stopping.wait(float(q.get("seconds", 2)))
        self.h.send(200, _page("slow"), HTML)

    def r_stall(self, rest: str, q: dict[str, str]) -> None:
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", HTML)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b"<html><body>")
        h.wfile.flush()
        h.site_server.stopping.wait(float(q.get("seconds", 30)))

    def r_status(self, rest: str, q: dict[str, str]) -> None:
        extra = {"Retry-After": q["after"]} if "after" in q else {}
        self.h.send(int(rest or 500), b"status", "text/plain", extra)

    def r_flaky(self, rest: str, q: dict[str, str]) -> None:
        seen = self.h.site_server.count(self.h.path)
        if seen <= int(q.get("n", 1)):
            return self.r_status(rest, q)
        self.h.send(200, _page(f"ok after {seen - 1} failures"), HTML)

    def r_big(self, rest: str, q: dict[str, str]) -> None:
        size = int(q.get("bytes", 1024))
        body = (b"<html><body>" + b"x" * size)[:size]
        if q.get("length", "1") != "0":
            return self.h.send(200, body, HTML)
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", HTML)
        h.end_headers()  # HTTP/1.0 without Content-Length: the body ends when the connection closes
        for start in range(0, size, 65536):
            h.wfile.write(body[start:start + 65536])

    def r_noai(self, rest: str, q: dict[str, str]) -> None:
        self.r_file(rest, {**q, "tag": "noai"})

    def r_file(self, rest: str, q: dict[str, str]) -> None:
        if int(q.get("fail", 0)) and self.h.site_server.count(self.h.path) <= int(q["fail"]):
            return self.r_status(q.get("code", "503"), q)
        name, _, rel = rest.partition("/")
        site = self.h.site_server.sites.get(name)
        kind, target = self.h.site_server.resolve(site, rel) if site else ("missing", None)
        if kind != "file":
            return self.h.send(404, b"not found", "text/plain")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        extra = {"X-Robots-Tag": q["tag"]} if "tag" in q else {}
        self.h.send(200, target.read_bytes(), ctype, extra)

    def r_links(self, rest: str, q: dict[str, str]) -> None:
        s = self.h.site_server
        other = q.get("other", "http://localhost:9/")
        hrefs = ["/_test/json", "/file.pdf", "/picture.JPG?x=1", "/archive.tar.gz", other, "mailto:a@b.c",
                 "javascript:void(0)", "#top", "/_test/links#again", "/_test/slow?seconds=0"]
        hrefs += [f"/{quote(n)}/" for n in s.sites]
        body = "".join(f'<a href="{escape(h)}">{escape(h)}</a>\n' for h in hrefs)
        self.h.send(200, _page(body, raw=True), HTML)

    def r_json(self, rest: str, q: dict[str, str]) -> None:
        self.h.send(200, b'{"a": 1}', "application/json")


def _page(text: str, raw: bool = False) -> bytes:
    inner = text if raw else escape(text)
    return f'<!DOCTYPE html><html lang="en"><head><title>test</title></head><body>{inner}</body></html>'.encode()
