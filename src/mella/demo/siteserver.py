"""A real local HTTP server for the demo and the tests: serves example sites, one per `/<name>/` prefix.

`with SiteServer(load_sites("examples/sites")) as server: ... server.base_url ...`

Markdown pages are rendered to full HTML (`step_2.md` is served as `step_2.html`), HTML files are served
with their links resolved into the site, everything else as-is with its content type. Each site gets an
index page linking every page, and a sitemap (`/<name>/sitemap.xml`, `.xml.gz`); `/sitemap.xml` is a
sitemap index of them. A subclass may serve more by naming its own `handler` (a subclass of
:class:`mella.demo.handler.Handler`): the tests' `FaultSiteServer` (tests/faultserver.py) adds `/_test/...`, the
misbehaviour real sites show (redirects, slow and stalled answers, 429/503 with Retry-After, oversized bodies).
"""

from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from mella.demo.handler import Handler
from mella.demo.render import index_document, page_document, render_markdown, rewrite_links

DEFAULT_ROBOTS = "User-agent: *\nAllow: /\n"
PAGE_SUFFIXES = (".md", ".html", ".htm")


@dataclass(frozen=True)
class SiteSpec:
    """One site to serve: URL name, folder and the language its pages declare in `<html lang>`."""

    name: str
    root: Path
    lang: str


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received."""

    method: str
    path: str
    user_agent: str
    time: float


def load_sites(folder: str | Path) -> list[SiteSpec]:
    """The sites listed in `<folder>/SITES.tsv` (columns `folder` and `lang`), named after their folders."""
    folder = Path(folder)
    with open(folder / "SITES.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [SiteSpec(name=row["folder"], root=folder / row["folder"], lang=row["lang"]) for row in rows]


def _natural_key(path: str) -> list:
    # step_2 before step_10, as the tutorials are meant to be read.
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


@dataclass
class _Site:
    spec: SiteSpec
    pages: list[str] = field(default_factory=list)  # served paths of the pages, relative to the site

    @classmethod
    def scan(cls, spec: SiteSpec) -> _Site:
        files = [p.relative_to(spec.root).as_posix() for p in spec.root.rglob("*") if p.is_file()]
        pages = [_served_name(f) for f in files if f.lower().endswith(PAGE_SUFFIXES)]
        return cls(spec, sorted(pages, key=_natural_key))


def _served_name(rel: str) -> str:
    return rel[:-3] + ".html" if rel.lower().endswith(".md") else rel


class SiteServer:
    """ThreadingHTTPServer in a background thread serving `sites`; a context manager giving `base_url`."""

    #: What answers each request; a subclass names its own to serve more routes.
    handler: ClassVar[type[Handler]] = Handler

    def __init__(self, sites: list[SiteSpec], *, host: str = "127.0.0.1", port: int = 0,
                 robots_txt: str | None = DEFAULT_ROBOTS):
        self.sites = {spec.name: _Site.scan(spec) for spec in sites}
        self.host, self.port = host, port
        self.robots_txt = robots_txt
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> SiteServer:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        httpd = ThreadingHTTPServer((self.host, self.port), self.handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a client that stops reading must not hold up stop()
        httpd.site_server = self  # type: ignore[attr-defined]
        self._httpd, self.port = httpd, httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"siteserver-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- addresses
    @property
    def base_url(self) -> str:
        """http://host:port, no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def host_port(self) -> str:
        """host:port, the form `NetOptions.allow_hosts` takes to exempt exactly this server."""
        return f"{self.host}:{self.port}"

    def site_url(self, name: str) -> str:
        """The URL of a site's index page."""
        return f"{self.base_url}/{quote(name)}/"

    def page_urls(self, name: str | None = None) -> list[str]:
        """Every page URL of one site (or of all sites), index pages included."""
        names = [name] if name else list(self.sites)
        urls = []
        for n in names:
            urls.append(self.site_url(n))
            urls += [self.site_url(n) + quote(p) for p in self.sites[n].pages]
        return urls

    # -- request log (handler threads write, tests read)
    def record(self, method: str, path: str, user_agent: str) -> None:
        """Log one request."""
        with self._lock:
            self.requests.append(RequestRecord(method, path, user_agent, time.monotonic()))

    def requested_paths(self) -> list[str]:
        """Paths (with query) of every request so far, in arrival order."""
        with self._lock:
            return [r.path for r in self.requests]

    # -- content
    def resolve(self, site: _Site, rel: str) -> tuple[str, object]:
        """What a site path serves: ("index", None), ("page", source), ("file", path), ("redirect", rel) or
        ("missing", None)."""
        root = site.spec.root.resolve()
        path = (root / rel).resolve()
        if not path.is_relative_to(root):
            return "missing", None
        if rel in ("", "index.html") and not (root / "index.html").is_file():
            return "index", None
        if path.is_dir():
            if rel and not rel.endswith("/"):
                return "redirect", rel + "/"
            return ("page", path / "index.html") if (path / "index.html").is_file() else ("missing", None)
        if path.is_file():
            return ("page", path) if path.suffix.lower() in PAGE_SUFFIXES else ("file", path)
        if rel.endswith(".html") and path.with_suffix(".md").is_file():
            return "page", path.with_suffix(".md")
        public = (root / "public" / rel).resolve()
        if rel and public.is_file() and public.is_relative_to(root):
            return "file", public  # a Next.js site (react.dev) serves its public/ folder at the root
        if path.with_name(path.name + ".md").is_file():
            # Wiki links leave the extension off; the page lives at .html, as on the built site.
            return "redirect", rel + ".html"
        return "missing", None

    def render_page(self, site: _Site, source: Path, served: str) -> str:
        """The full HTML of a page: rendered from Markdown, or a site HTML file, with links resolved."""
        if source.suffix.lower() == ".md":
            rendered = render_markdown(source.read_text(encoding="utf-8"), fallback_title=source.stem)
            doc = page_document(rendered.title, rendered.body, site.spec.lang, self._nav(site, served))
        else:
            doc = source.read_text(encoding="utf-8", errors="replace")
        return rewrite_links(doc, f"/{quote(site.spec.name)}", self.base_url)

    def _nav(self, site: _Site, rel: str) -> list[tuple[str, str]]:
        # Site-root-relative paths (pages sit at different depths); rewrite_links mounts them under the prefix.
        prefix = "/"
        nav = [("index", prefix)]
        i = site.pages.index(rel) if rel in site.pages else -1
        if i > 0:
            nav.append(("previous", prefix + quote(site.pages[i - 1])))
        if 0 <= i < len(site.pages) - 1:
            nav.append(("next", prefix + quote(site.pages[i + 1])))
        return nav

    def render_index(self, site: _Site) -> str:
        """A site's index page linking every page."""
        links = [(p, quote(p)) for p in site.pages]
        return index_document(site.spec.name, site.spec.lang, links)

    def render_root(self) -> str:
        """The server's front page linking each site's index."""
        links = [(name, f"{quote(name)}/") for name in self.sites]
        return index_document("sites", "en", links)
