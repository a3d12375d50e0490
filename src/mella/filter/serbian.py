"""Serbian in Latin script vs Croatian/Bosnian: word-form evidence from ``data/filter/serbian.yaml``.

Every packaged detector calls Serbian Latin text Croatian or Bosnian (lingua's Serbian model is
Cyrillic, fastText's short-text guesses scatter over hr/bs/sl/sh). The standard languages differ
in the reflex of jat (ekavian ``vreme`` vs ijekavian ``vrijeme``) and in everyday vocabulary
(``hleb``/``kruh``, ``voz``/``vlak``, ``istorija``/``povijest``), so counting such word forms in the
alt, and in the rest of its page, tells them apart where the detectors cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from mella.filter.text import words


@dataclass(frozen=True)
class Markers:
    """Word forms that point to Serbian and to its Croatian/Bosnian neighbours."""

    serbian: frozenset[str]
    other: frozenset[str]
    cyrillic_letters: str

    def votes(self, text: str) -> int:
        """Serbian word forms minus Croatian/Bosnian ones in ``text`` (> 0 means Serbian)."""
        tokens = words(text.casefold())
        # Set lookups mapped in C: this runs over every page's text.
        return sum(map(self.serbian.__contains__, tokens)) - sum(map(self.other.__contains__, tokens))

    def serbian_cyrillic(self, text: str) -> bool:
        """True when ``text`` has a letter only Serbian Cyrillic uses (ђ, ћ)."""
        return any(ch in self.cyrillic_letters for ch in text.casefold())


@lru_cache(maxsize=1)
def markers() -> Markers:
    """The packaged marker lists."""
    import yaml

    text = resources.files("mella").joinpath("data/filter/serbian.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return Markers(
        serbian=frozenset(w.casefold() for w in data["serbian"]),
        other=frozenset(w.casefold() for w in data["other"]),
        cyrillic_letters=data.get("cyrillic_letters", ""),
    )
