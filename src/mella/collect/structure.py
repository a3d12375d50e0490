"""The structure around an image: its landmark, the link it sits in, its declared size, its place on the page.

These are the reference rules, over selectolax's nodes; the C walk (``_native.c``: ``enclosing``,
``dimension``, ``role_landmark``) implements the same rules and is tested against them row for row.
docs/collect.md ("Structure around the image") says what each column means and why the rules are these.
"""

from __future__ import annotations

import re

from mella.collect.urls import registered_domain

#: The CANDIDATES columns these rules fill, in schema order (null where a rule finds nothing).
STRUCTURE_COLUMNS = ("landmark", "link_url", "link_scope", "link_text", "declared_width", "declared_height",
                     "image_index", "alt_is_link_text")
#: HTML's sectioning and landmark elements, and figure: what a reader sees as the region of the page.
LANDMARK_TAGS = frozenset(("header", "nav", "footer", "aside", "main", "article", "figure"))
#: ARIA landmark roles (and figure) named as the element that carries the role implicitly.
LANDMARK_ROLES = {"banner": "header", "navigation": "nav", "contentinfo": "footer", "complementary": "aside",
                  "main": "main", "article": "article", "figure": "figure"}
LINK_TEXT_CHARS = 200
#: The largest declared size kept: a larger number is a typo or a trick, not a layout.
MAX_DECLARED = 100_000
# An integer or a decimal number, optionally with "px" (any case); ASCII digits only (not Python's \d).
_DIMENSION = re.compile(r"([0-9]+)(?:\.[0-9]+)?(?:[pP][xX])?")
_WEB = ("http://", "https://")


def blank_structure() -> dict[str, None]:
    """The structure columns of a row that has none (WAT rows, dropped pages)."""
    return dict.fromkeys(STRUCTURE_COLUMNS)


def declared_size(value: str | None) -> int | None:
    """A width/height attribute in CSS pixels: ``"120"``, ``"120px"``, ``" 120.7 "`` -> 120; anything else None.

    Percentages, ``auto``, negative numbers, signs and numbers over :data:`MAX_DECLARED` are None: they say
    nothing reliable about the size the image is shown at.
    """
    if not value:
        return None
    m = _DIMENSION.fullmatch(value.strip())
    if m is None:
        return None
    digits = m.group(1).lstrip("0")
    if len(digits) > 6:  # also keeps int() away from its 4300-digit limit
        return None
    n = int(digits or "0")
    return n if n <= MAX_DECLARED else None


def role_landmark(role: str | None) -> str | None:
    """The landmark an ARIA ``role`` names (its first token, any case), or None."""
    if not role:
        return None
    tokens = role.split()
    return LANDMARK_ROLES.get(tokens[0].lower()) if tokens else None


def enclosing(img) -> tuple[str | None, object | None, str]:
    """(landmark, link element, its href) around a selectolax ``img`` node.

    The landmark is the nearest ancestor that is a landmark element or carries a landmark role (the role
    decides when both are there); the link is the nearest ``<a>`` ancestor with a non-blank ``href``.
    """
    landmark = link = None
    href = ""
    node = img.parent
    while node is not None and (landmark is None or link is None):
        if node.is_element_node:
            tag = node.tag
            attrs = node.attributes
            if landmark is None:
                landmark = role_landmark(attrs.get("role")) or (tag if tag in LANDMARK_TAGS else None)
            if link is None and tag == "a":
                value = attrs.get("href")
                if value and not value.isspace():
                    link, href = node, value
        node = node.parent
    return landmark, link, href


def link_target(href: str, resolve, page_domain: str) -> tuple[str | None, str | None]:
    """(link_url, link_scope) of a link's ``href``: resolved as image addresses are; (None, None) unless http(s),
    in any case."""
    url = resolve(href)
    if not url[:8].lower().startswith(_WEB):  # schemes are case-insensitive (urljoin keeps "HTTP:" as written)
        return None, None
    domain = registered_domain(url)
    return url, "same_site" if domain and domain == page_domain else "other_site"
