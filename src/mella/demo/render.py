"""Render the corpus sites' Markdown sources as the HTML pages a real site would serve.

The sources use their generators' link conventions, resolved here so the pages link where the built
sites did: Pelican's `{filename}/...` (the site root), wiki-style root-relative paths (`/algo/...`),
Jekyll's development origin `http://localhost:4000`, the Raspberry Pi Foundation's `--- task ---`
block markers (dropped; the text they carry stays), and react.dev's MDX `<Illustration alt=... src=...>`
(served as the `<img>` the built site renders; other MDX component lines are dropped).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# `--- task ---`, `\--- no-print \---`, `## \--- collapse \---`, `--- task --- Text on the same line`.
_RPI_MARKER = re.compile(r"^[ \t]*(?:#+[ \t]*)?\\?---[ \t]*/?[A-Za-z][\w-]*[ \t]*\\?---[ \t]*", re.M)
_PELICAN_LINK = re.compile(r"\{(?:filename|static|attach)\}/?")
_ROOT_RELATIVE = re.compile(r"""(\s(?:href|src)=["'])/(?!/)""")
_MD_LINK = re.compile(r"""(\shref=["'])(?![a-z][a-z0-9+.-]*:|//)([^"'#?]+)\.md([#?][^"']*)?(["'])""", re.I)
_JEKYLL_DEV = re.compile(r"http://localhost:4000/?")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_MD_MARKUP = re.compile(r"[*_`\[\]]|\{:[^}]*\}|\([^)]*\)")
_MDX_ILLUSTRATION = re.compile(r"<Illustration(?=\s)([^>]*?)\s*/?>")
_MDX_TAG_LINE = re.compile(r"[ \t]*</?[A-Z][A-Za-z]*(?:\s[^>]*)?/?>[ \t]*")
_FENCE = re.compile(r"([ \t]*(?:```|~~~)+)[ \t]*([\w+#-]*).*")


@dataclass(frozen=True)
class Rendered:
    """One Markdown page rendered: its title and the HTML of its body."""

    title: str
    body: str


def strip_rpi_markers(text: str) -> str:
    """Drop Raspberry Pi block markers, keeping any text written after a marker on the same line."""
    return _RPI_MARKER.sub("", text)


def render_markdown(text: str, fallback_title: str) -> Rendered:
    """Markdown source (with optional metadata header) to a title and body HTML."""
    import markdown

    text = _PELICAN_LINK.sub("/", strip_rpi_markers(text.lstrip("\ufeff")))
    text = resolve_mdx(text)
    md = markdown.Markdown(extensions=["tables", "fenced_code", "attr_list", "meta"])
    body = md.convert(text)
    meta_title = (md.Meta.get("title") or [""])[0].strip()  # type: ignore[attr-defined]
    return Rendered(title=meta_title or _first_heading(text) or fallback_title, body=body)


def resolve_mdx(text: str) -> str:
    """MDX (react.dev) as the Markdown library reads it: `<Illustration>` becomes the `<img>` the built site
    shows, other component lines (`<Sandpack>`, `</IllustrationBlock>`) go, and fence info such as
    ```` ```js src/App.js active ```` is cut to the language, so the code inside stays code (not live HTML)."""
    out, in_fence = [], False
    for line in text.split("\n"):
        fence = _FENCE.fullmatch(line)
        if fence:
            line = fence.group(1) + ("" if in_fence else fence.group(2))
            in_fence = not in_fence
        elif not in_fence:
            if _MDX_TAG_LINE.fullmatch(line) and not line.lstrip().startswith("<Illustration "):
                continue
            line = _MDX_ILLUSTRATION.sub(r"<img\1>", line)
        out.append(line)
    return "\n".join(out)


def _first_heading(text: str) -> str:
    match = _HEADING.search(text)
    return _MD_MARKUP.sub("", match.group(1)).strip() if match else ""


def rewrite_links(page: str, prefix: str, origin: str) -> str:
    """Make a page's links point into its site mounted at `prefix` on `origin`.

    Root-relative addresses get the prefix, links to `.md` sources become `.html`, and Jekyll's
    `http://localhost:4000` becomes this server's own origin.
    """
    page = _ROOT_RELATIVE.sub(lambda m: f"{m.group(1)}{prefix}/", page)
    page = _MD_LINK.sub(lambda m: f"{m.group(1)}{m.group(2)}.html{m.group(3) or ''}{m.group(4)}", page)
    return _JEKYLL_DEV.sub(f"{origin}{prefix}/", page)


def page_document(title: str, body: str, lang: str, nav: list[tuple[str, str]]) -> str:
    """A full HTML page around rendered body HTML, with a small navigation bar."""
    links = " | ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in nav)
    return (f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<nav>{links}</nav>\n<main>\n{body}\n"
            "</main>\n</body>\n</html>\n")


def index_document(title: str, lang: str, pages: list[tuple[str, str]]) -> str:
    """A site's index page: one link per page, (title, href) pairs."""
    items = "\n".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>' for text, href in pages)
    return page_document(title, f"<h1>{html.escape(title)}</h1>\n<ul>\n{items}\n</ul>", lang, [])
