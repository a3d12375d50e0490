"""The selectolax engine of :func:`mella.collect.html.extract_page`: the extraction rules through
selectolax's Python API over lexbor's tree. It is the reference that the native C walk
(:mod:`mella.collect._native`) is tested against row for row, and the engine of an installation
built without the extension.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from mella.collect.urls import image_source


def parse_tree(html: bytes):
    """selectolax's lexbor tree of UTF-8 ``html``."""
    from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

    # No mutation events: the tree stays what the source says and parsing is about twice as fast.
    return LexborHTMLParser(html, options=LexborDocumentOptions.WO_EVENTS)


# One selector pass finds everything extraction reads, in document order: each pass over the tree
# costs about a fifth of the parse. The head selectors search the whole document, not just <head>:
# a <noscript><img> in <head> closes it early (HTML5 rules), and every later <meta>/<link> lands in <body>.
# <template> content is a separate fragment: neither selectors nor text() look into it.
NODES = ("title, base[href], meta[property], meta[http-equiv], link[rel][href], "
          "img, figure, picture, script, style, a[href]")
_JUNK = frozenset(("script", "style"))
_HEAD = frozenset(("base", "meta", "link"))


def _empty_info() -> dict[str, str]:
    return {"title": "", "base": "", "og_locale": "", "canonical": "", "og_url": "", "meta_language": ""}


def scan(tree, headers: Mapping[str, str] | None) -> tuple[dict[str, str], list, list, list, list, list]:
    """One pass: page metadata, and the <img>, <figure>, <picture>, script/style and link nodes (links to other
    pages: their text is what an alt may repeat, :func:`linked_images`)."""
    info = _empty_info()
    images, figures, pictures, junk, links = [], [], [], [], []
    title = None
    for node in tree.css(NODES):
        tag = node.tag
        if tag == "img":
            images.append(node)
        elif tag == "a":
            if away_link(node):
                links.append(node)
        elif tag in _JUNK:
            junk.append(node)
        elif tag == "figure":
            figures.append(node)
        elif tag == "picture":
            pictures.append(node)
        elif tag == "title":
            if title is None:
                title = node
        else:
            _head_node(node, info)
    if title is not None:
        info["title"] = title.text()
    return _finish_info(tree, info, headers), images, figures, pictures, junk, links


# What separates words in words_key: any run of characters that are not word characters (letters, digits, "_").
_NOT_WORD = re.compile(r"\W+")


def words_key(text: str) -> str:
    """The words of a text, lowercased, one space between them: what ``alt_is_link_text`` compares ("Как
    археологи строят «правильное» прошлое" and a link's "как археологи строят "правильное" прошлое." have the
    same key). The text is NFC first; lowercase is ``str.lower()``, whose final sigma is read as sigma (the C walk
    lowers one character at a time); every run of characters that are not letters, digits or ``_`` is one space.
    ``_native.words_key`` is the same in C (tests/collect/test_structure.py compares them on every code point)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _NOT_WORD.sub(" ", text.lower().replace("\u03c2", "\u03c3")).strip(" ")


def linked_images(alts: list[tuple[int, str]], links: list) -> set[int]:
    """The image indexes of ``alts`` ((image index, raw alt) of the kept images) whose alt has the words of the
    text of one of ``links`` (the page's links to other pages, :func:`away_link`): the picture repeats a
    headline or a menu entry. Links are read until every alt's key is found."""
    keys = [(index, words_key(alt)) for index, alt in alts]
    wanted = {key for _, key in keys if key}
    found: set[str] = set()
    for link in links:
        if len(found) == len(wanted):
            break
        key = words_key(link.text(separator=" "))
        if key in wanted:
            found.add(key)
    return {index for index, key in keys if key in found}


def away_link(node) -> bool:
    """An ``<a>`` whose ``href``, stripped, is neither empty nor a fragment of this page (``#top``): its text
    titles another page. A table of contents' links name this page's sections, as its headings do."""
    href = (node.attributes.get("href") or "").lstrip()
    return bool(href) and href[0] != "#"


def _finish_info(tree, info: dict[str, str], headers: Mapping[str, str] | None) -> dict[str, str]:
    root = tree.root
    attrs = root.attributes if root is not None else {}
    info["lang"] = attrs.get("lang") or attrs.get("xml:lang") or ""
    info["content_language"] = header(headers, "content-language") or info["meta_language"]
    return info


def _head_node(node, info: dict[str, str]) -> None:
    attrs = node.attributes
    tag = node.tag
    if tag == "base":
        info["base"] = info["base"] or (attrs.get("href") or "")
    elif tag == "link":
        if "canonical" in (attrs.get("rel") or "").lower().split():
            info["canonical"] = info["canonical"] or (attrs.get("href") or "")
    elif tag == "meta":
        prop = (attrs.get("property") or "").lower()
        if prop == "og:locale":
            info["og_locale"] = info["og_locale"] or (attrs.get("content") or "")
        elif prop == "og:url":
            info["og_url"] = info["og_url"] or (attrs.get("content") or "")
        elif (attrs.get("http-equiv") or "").lower() == "content-language":
            info["meta_language"] = info["meta_language"] or (attrs.get("content") or "")


def _figures_and_pictures(figures: list, pictures: list) -> tuple[dict[int, str], dict[int, tuple[str, ...]]]:
    """Figcaption text and <picture><source srcset> values, keyed by the mem_id of each <img> inside."""
    captions: dict[int, str] = {}
    sources: dict[int, tuple[str, ...]] = {}
    # Document order: an inner figure comes after its outer one and overwrites its caption.
    for figure in figures:
        caption = figure.css_first("figcaption")
        if caption is not None:
            text = caption.text(separator=" ")
            for img in figure.css("img"):
                captions[img.mem_id] = text
    for picture in pictures:
        srcsets = tuple(s.attributes.get("srcset") or "" for s in picture.css("source[srcset]"))
        srcsets = tuple(s for s in srcsets if s and s.lstrip()[:5].lower() != "data:")
        if srcsets:
            for img in picture.css("img"):
                sources[img.mem_id] = srcsets
    return captions, sources


def candidates(images: list, figures: list, pictures: list):
    """(alt, raw source, title, caption, (node, index)) of each <img> with a non-blank alt; ``index`` is the
    image's position among all the page's <img>s (``image_index``)."""
    captions, sources = _figures_and_pictures(figures, pictures) if figures or pictures else ({}, {})
    for index, img in enumerate(images):
        attrs = img.attributes
        alt = attrs.get("alt")
        if not alt or alt.isspace():
            continue
        raw = image_source(attrs, sources.get(img.mem_id, ()) if sources else ())
        yield alt, raw, attrs.get("title"), captions.get(img.mem_id, "") if captions else "", (img, index)


_USUAL_SPELLING = {"content-type": "Content-Type", "content-language": "Content-Language"}


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """Header ``name`` (lower case), whatever the case of its key."""
    if not headers:
        return ""
    value = headers.get(_USUAL_SPELLING.get(name, name))  # the usual spelling first: one lookup
    if value is not None:
        return value
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""
