"""Rules from the structure around an image: where it sits, where its link goes, its declared size, its path.

collect records the nearest landmark (``header``, ``nav``, ``footer``, ``aside``, ``main``, ``article``,
``figure``), the link around the image (``link_url``, ``link_scope`` = same_site | other_site) and the
declared ``width``/``height``. These say what an alt cannot: a partner badge and a landmark photo may both be
"Туристичка организација Београд", but only the badge links off-site from the footer. Each rule returns a
named reason or None; a null column never fires a rule (rows from older collect outputs pass). The values are
data (``data/filter/structure.yaml``), each with its reason there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.filter.kinds import Cues
from mella.filter.text import normalize_alt, url_parts

# Path words: split at anything that is not a letter, and between a lowercase and an uppercase letter.
_PATH_SPLIT = re.compile(r"[^A-Za-z]+|(?<=[a-z])(?=[A-Z])")
# What else a default picture's file name may hold (avatar-default-small.png, default_user_avatar.jpg): with
# anything more ("default-image-settings.png", a screenshot) "default" names no placeholder.
_PLAIN_NAME_WORDS = frozenset({"default", "small", "big", "large", "medium", "mini", "user", "male", "female", "man",
                               "woman", "png", "jpg", "jpeg", "gif", "svg", "webp"})
# A home page in a language or script folder: /en/, /sr-latn/, /ru, /lat/, /cir/ (Serbian sites' scripts).
_LANG_HOME = re.compile(r"/[a-z]{2,3}(?:[-_][a-z]{2,4})?/?")
_ARCHIVED = re.compile(r"https?://web\.archive\.org/web/\d+[a-z_]*/(https?://.+)$", re.IGNORECASE)


@lru_cache(maxsize=1)
def structure_data() -> dict[str, Any]:
    """The packaged structure rule values (``data/filter/structure.yaml``)."""
    import yaml

    text = resources.files("mella").joinpath("data/filter/structure.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True)
class StructureRules:
    """The structure rules with their values; :meth:`check` gives the first reason a row breaks."""

    chrome: frozenset[str]
    nav: frozenset[str]
    tiny_max: int
    icon_max: int
    banner_max_height: int
    banner_min_ratio: float
    path_words: frozenset[str]
    services: frozenset[str]
    home_paths: frozenset[str]
    counters: frozenset[str]
    placeholder_words: frozenset[str]
    # A price in the text around the image (price_offer), from the packaged currencies.
    _price: re.Pattern = field(default=re.compile("$^"), compare=False)
    # Any path word anywhere in the lowercased address (a case-blind regex is ten times slower).
    _any_word: re.Pattern = field(default=re.compile("$^"), compare=False)
    # Role prefixes that name chrome only at the start of the file's own name ("tit_hot_issue.gif").
    path_prefixes: tuple[str, ...] = ()

    @classmethod
    def load(cls) -> StructureRules:
        d = structure_data()
        words = frozenset(w.lower() for w in d["path_words"])
        return cls(frozenset(d["chrome_landmarks"]), frozenset(d["nav_landmarks"]), int(d["tiny_max_side"]),
                   int(d["icon_max_side"]), int(d["banner_max_height"]), float(d["banner_min_ratio"]),
                   words, frozenset(h.lower() for h in d["service_hosts"]), frozenset(d["home_paths"]),
                   frozenset(h.lower() for h in d["counter_hosts"]),
                   frozenset(w.lower() for w in d["placeholder_picture_words"]), price_pattern(d["currencies"]),
                   re.compile("|".join(sorted(map(re.escape, words)))),
                   path_prefixes=tuple(p.lower() for p in d.get("path_prefixes") or ()))

    def check(self, row: dict[str, Any]) -> str | None:
        """The first structure rule ``row`` breaks, or None. Cheapest first: dictionary lookups, the link's and
        the image's address each parsed once, the image path split only when a chrome word may be in it, and
        last one search of the text around a linked image."""
        reason = self._size(row.get("declared_width"), row.get("declared_height"))
        if reason:
            return reason
        url = row.get("link_url")
        target = unarchive(url) if url else None
        reason = self._link(row, target)
        if reason:
            return reason
        image_url = row.get("image_url")
        if image_url and not image_url.startswith("data:"):
            host, path = url_parts(image_url)
            name = path.rpartition("/")[2].lower()  # the file's own name, read by two rules
            reason = self._path(image_url, path, name) or self._placeholder(name) or self._counter(host)
            if reason:
                return reason
        return self._offer(row, target)

    def _offer(self, row: dict[str, Any], target: str | None) -> str | None:
        """``price_offer``: the image links on (``target``: to another page or to its full size) and the text
        around it holds a price: a product card or a classified ad, whose alt is the product's or the ad's title
        whatever its words ("Шампунь Garnier Природный уход Авокадо и карите"). A photo that is not a link
        passes: an article's picture may stand beside a paragraph about prices."""
        context = row.get("context")
        if not target or not context or _same_page(target, row.get("page_url")):
            return None
        return "price_offer" if self._price.search(context) else None

    def _counter(self, host: str) -> str | None:
        """``counter_image``: the image (served from ``host``) comes from a web counter or statistics service:
        its counter button or a tracking pixel."""
        return "counter_image" if _under(host, self.counters) else None

    def _size(self, w: int | None, h: int | None) -> str | None:
        """tiny_image: a declared side at most one text line (32 px), or both at most an icon (48 px);
        banner_size: the shape of an IAB ad unit (at most 90 px high, at least 4 times as wide)."""
        sides = [s for s in (w, h) if s is not None and s > 0]
        if not sides:
            return None
        if min(sides) <= self.tiny_max or (len(sides) == 2 and max(sides) <= self.icon_max):
            return "tiny_image"
        if w and h and h <= self.banner_max_height and w >= self.banner_min_ratio * h:
            return "banner_size"
        return None

    def _link(self, row: dict[str, Any], target: str | None) -> str | None:
        """The link rules that need no kind; ``target`` is the link's address, unarchived (None: no link)."""
        if not target:
            return None
        host, path = url_parts(target)
        if self._service(host):
            return "service_link"
        landmark, scope = row.get("landmark"), row.get("link_scope")
        if scope == "other_site":
            if landmark in self.chrome and not _is_image_file(path):
                return "partner_badge"
        elif scope == "same_site" and (path in self.home_paths or _LANG_HOME.fullmatch(path)):
            return "site_logo"
        if landmark in self.nav:
            return "nav_link"
        return None

    def linked(self, row: dict[str, Any], kind: str | None, norm: str, credits: Cues | None = None) -> str | None:
        """The link rules that need the alt's kind (run after language ID); ``norm`` is the normalised alt and
        ``credits`` the run's photo-credit words (:meth:`mella.filter.kinds.Cues.is_credit_word`).

        The alt of an image inside a link names where the link goes (WCAG's rule for functional images),
        unless it was written for the picture:

        - ``link_title``: a description that is the link's only text or repeats the link's text: the title of
          the linked page (a listing's title, a teaser's headline), which says what that page is about, not
          what the picture shows. When the link's text goes on after the alt with a photo credit
          ("... | Foto: Reuters"), the link wraps the picture with its caption (a gallery's opener) and the
          alt is that caption: kept. A description that differs from the link's own text was written for
          the picture, a caption beside a teaser's headline ("Jedno z havarovaných aut na Pražském okruhu"):
          kept too (docs/filter.md says why a rule that dropped these was not kept);
        - ``partner_badge``: a name (or one word) in a link to another site: that site's name, a sponsor or a
          partner, wherever on the page.

        A name in a same-site link is kept: a gallery of places or dishes links each picture to its page,
        and the name of the page is the name of what is shown. Links to an image file (the picture at full
        size) or back to the page itself are not the image's purpose and change nothing.
        """
        url = row.get("link_url")
        if not url:
            return None
        target = unarchive(url)
        if _is_image_file(url_parts(target)[1]) or _same_page(target, row.get("page_url")):
            return None
        if kind == "description":
            text = normalize_alt(row.get("link_text") or "")
            if not text:
                return "link_title"
            if f" {norm} " in f" {text} ":
                rest = text[len(norm):].split() if text.startswith(f"{norm} ") else ()
                return None if rest and credits is not None and credits.is_credit_word(rest[0]) else "link_title"
            return None
        return "partner_badge" if row.get("link_scope") == "other_site" else None

    @staticmethod
    def repeated(row: dict[str, Any], kind: str | None) -> str | None:
        """``headline``: an alt that is word for word the text of a link to another page (``alt_is_link_text``,
        read by collect) and is not a name.

        The same words on the picture and on a link beside it were written for the link: a teaser's headline
        in a listing (the title of another article, not what its picture shows), a shop's category tile, a
        menu entry. WCAG calls this a redundant text alternative (technique H2). A caption is not a link's text
        (a ``<figcaption>`` is none), and neither is a section heading or a table of contents entry (``#...``)
        that a screenshot's label may repeat, so a description written for the picture passes. A name passes
        too: a gallery of places or people titles each picture's link with the name of what is shown.
        """
        if kind == "entity" or not row.get("alt_is_link_text"):
            return None
        return "headline"

    def _service(self, host: str) -> bool:
        """The host or one of its parent domains is an app store, social network, share or counter service."""
        return _under(host, self.services)

    def _placeholder(self, name: str) -> str | None:
        """``placeholder_image``: the file's own name says it stands in for a missing picture ("placeholder",
        ``no-image.gif``, ``nophoto.png``, ``no_author_photo_small.gif``, ``avatar-default.png``): it shows
        nothing of what its alt names. Only the file name counts, not the folders; "default" only in a name that
        holds nothing but it, a picture word and sizes (not ``default-image-settings.png``); ``name`` is the
        image file's own name, lower-cased."""
        if "no" not in name and "default" not in name and "placeholder" not in name:
            return None
        words = [w for w in _PATH_SPLIT.split(name) if w]
        pictures = self.placeholder_words
        for i, w in enumerate(words):
            if (w == "placeholder" or (w.startswith("no") and w[2:] in pictures)
                    or (w == "no" and not pictures.isdisjoint(words[i + 1:i + 3]))
                    or (w == "default" and not pictures.isdisjoint(words[max(0, i - 1):i + 2])
                        and all(x in pictures or x in _PLAIN_NAME_WORDS for x in words))):
                return "placeholder_image"
        return None

    def _path(self, image_url: str, path: str, name: str) -> str | None:
        """``chrome_path``: a word of the image's ``path`` names chrome, or its file's own ``name`` (lower-cased)
        starts with a role prefix (``tit_``)."""
        if self.path_prefixes and name.startswith(self.path_prefixes):
            return "chrome_path"
        # One search first (a few microseconds): most image addresses hold none of the words anywhere.
        if not self._any_word.search(image_url.lower()):
            return None
        words = _PATH_SPLIT.split(path)
        return "chrome_path" if any(w.lower() in self.path_words for w in words if w) else None


def price_pattern(currencies: list[str]) -> re.Pattern:
    """A price: an amount as shops print it (digits, thousands grouped by a space, dot or comma or not; up to
    two decimals; Czech ",-") and a currency after it, or a currency sign before it. Currencies are whole
    words, case-blind; signs (``€``, ``$``, ``₽``) may also come first."""
    names = sorted({str(c) for c in currencies}, key=len, reverse=True)
    cur = "|".join(map(re.escape, names))
    signs = "".join(re.escape(c) for c in names if len(c) == 1 and not c.isalnum())
    # At most five groups of thousands (and 15 leading digits): linear in the context, whatever it holds.
    amount = r"\d{1,15}(?:[ .,\u00a0\u202f]\d{3}){0,5}(?:[.,]\d{1,2})?(?:[.,]-)?"
    return re.compile(rf"(?<![\w.,]){amount}\s?(?:{cur})(?!\w)|(?<!\w)[{signs}]\s?\d", re.IGNORECASE)


def _under(host: str, hosts: frozenset[str]) -> bool:
    """Whether ``host`` or one of its parent domains is in ``hosts``."""
    host = host.removeprefix("www.")
    while host:
        if host in hosts:
            return True
        host = host.partition(".")[2]
    return False


def unarchive(url: str) -> str:
    """The archived address inside a web-archive address (``web.archive.org/web/<time>/<url>``): saved pages
    from archives keep their links wrapped, and the home page or the app store is the inner address's."""
    m = _ARCHIVED.match(url)
    return m.group(1) if m else url


def _same_page(url: str, page_url: str | None) -> bool:
    """True when the link leads back to the page it is on (``href="#"``, a link to itself)."""
    return bool(page_url) and url.split("#", 1)[0].rstrip("/") == unarchive(page_url).split("#", 1)[0].rstrip("/")


def _is_image_file(path: str) -> bool:
    """A link to an image file is the enlarged picture (a photo linked to its full size on a CDN), not a badge."""
    return path.lower().endswith((".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".tif", ".tiff"))


@lru_cache(maxsize=1)
def structure_rules() -> StructureRules:
    """The packaged structure rules, loaded once per process."""
    return StructureRules.load()
