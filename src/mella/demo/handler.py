"""Request handler of :class:`mella.demo.siteserver.SiteServer`: site pages, sitemaps, and test routes."""

from __future__ import annotations

import gzip
import mimetypes
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

HTML = "text/html; charset=utf-8"
XML = "application/xml"


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the site content or a `/_test/` route."""

    server_version = "mella-siteserver"

    @property
    def site_server(self):
        return self.server.site_server  # type: ignore[attr-defined]

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
        # The server keeps its own request log; stderr noise would bury test output.
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        s = self.site_server
        s.record(self.command, self.path, self.headers.get("User-Agent", ""))
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            self._route(path, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a byte cap, a timeout): nothing left to answer

    def _route(self, path: str, query: dict[str, str]) -> None:
        s = self.site_server
        if path == "/robots.txt":
            return self._robots()
        if path == "/":
            return self.send(200, s.render_root().encode(), HTML)
        if path == "/sitemap.xml":
            return self.send(200, self._sitemap_index().encode(), XML)
        if path.startswith("/_test/") and s.test_routes:
            return TestRoutes(self).handle(path[len("/_test/"):], query)
        name, _, rel = path[1:].partition("/")
        site = s.sites.get(name)
        if site is None:
            return self.send(404, b"not found", "text/plain")
        if rel in ("sitemap.xml", "sitemap.xml.gz"):
            return self._site_sitemap(site, rel.endswith(".gz"))
        return self._site_path(site, rel)

    def _robots(self) -> None:
        text = self.site_server.robots_txt
        if text is None:
            return self.send(404, b"not found", "text/plain")
        self.send(200, text.replace("{base_url}", self.site_server.base_url).encode(), "text/plain")

    def _site_path(self, site, rel: str) -> None:
        s = self.site_server
        kind, target = s.resolve(site, rel)
        if kind == "index":
            return self.send(200, s.render_index(site).encode(), HTML)
        if kind == "page":
            return self.send(200, s.render_page(site, target, rel).encode(), HTML)
        if kind == "file":
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return self.send(200, target.read_bytes(), ctype)
        if kind == "redirect":
            return self.redirect(f"/{quote(site.spec.name)}/{quote(target)}", 301)
        self.send(404, b"not found", "text/plain")

    def _sitemap_index(self) -> str:
        s = self.site_server
        items = "".join(f"<sitemap><loc>{escape(s.site_url(n))}sitemap.xml.gz</loc></sitemap>\n" for n in s.sites)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{items}</sitemapindex>\n')

    def _site_sitemap(self, site, gz: bool) -> None:
        urls = self.site_server.page_urls(site.spec.name)
        items = "".join(f"<url><loc>{escape(u)}</loc></url>\n" for u in urls)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{items}</urlset>\n').encode()
        if gz:
            return self.send(200, gzip.compress(body), "application/gzip")
        self.send(200, body, XML)

    # -- response helpers
    def send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        """Send a complete response (no body for HEAD)."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        """Send a redirect to `location`."""
        self.send(status, b"", "text/plain", {"Location": location})


class TestRoutes:
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

    def __init__(self, handler: Handler):
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


# Not a pytest class, despite the name.
TestRoutes.__test__ = False  # type: ignore[attr-defined]
