"""Request handler of :class:`mella.demo.siteserver.SiteServer`: site pages, their files, robots.txt, sitemaps.

Only what the demo serves. The tests add their misbehaving routes (redirects, stalls, 429/503 ...) in a
subclass that overrides :meth:`Handler.route` (``tests/faultserver.py``), so none of that ships in the package.
"""

from __future__ import annotations

import gzip
import mimetypes
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

HTML = "text/html; charset=utf-8"
XML = "application/xml"


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the site content; a subclass adds routes by overriding :meth:`route`."""

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
            self.route(path, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a byte cap, a timeout): nothing left to answer

    def route(self, path: str, query: dict[str, str]) -> None:
        """Answer a GET of ``path`` (unquoted, no query) with ``query`` (last value of each key)."""
        s = self.site_server
        if path == "/robots.txt":
            return self._robots()
        if path == "/":
            return self.send(200, s.render_root().encode(), HTML)
        if path == "/sitemap.xml":
            return self.send(200, self._sitemap_index().encode(), XML)
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
