"""The ``filter`` stage: language ID, text and structure rules, and what each kept alt is.

``filter`` keeps alt-texts that are in a target language and describe or name what an image shows; it adds
``lang``, ``lang_confidence``, ``alt_norm`` and ``kind`` (description | entity | other). Names written in the
language are kept (:mod:`mella.filter.kinds`); badges, banners and chrome are dropped from the structure
around the image (:mod:`mella.filter.structure`). The ``dedup`` stage (:mod:`mella.filter.dedup`) then drops
duplicates and site chrome across the run.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from pydantic import Field, model_validator

from mella.filter.kinds import CASED, Reading, cues, gazetteer, kind_of, merged_cues, native_marks, read_alt
from mella.filter.langid import LanguageID, base_code, known_code
from mella.filter.rules import Rules, rules_data
from mella.filter.structure import structure_rules
from mella.filter.text import clean_alt, dominant_script, normalize_alt
from mella.pipeline.checks import languages, ordered, raise_problems
from mella.pipeline.stage import Stage, StageOptions
from mella.records import FILTER_READS, FILTERED


def _default_langs() -> list[str]:
    from mella.languages import default_tags

    return default_tags()


class FilterOptions(StageOptions):
    langs: list[str] = Field(default_factory=_default_langs,
                             description="Target languages (any code the detectors know; sr = sr-Cyrl + sr-Latn).")
    min_confidence: float = Field(0.0, ge=0, le=1, description="Drop alts whose language confidence is lower.")
    min_words: int | None = Field(None, ge=0, description="Fewest words (scripts with spaces); default rules.yaml (1).")
    max_words: int | None = Field(None, ge=1, description="Most words; default from rules.yaml.")
    min_chars: int | None = Field(None, ge=0, description="Fewest characters (scripts without spaces).")
    max_chars: int | None = Field(None, ge=1, description="Most characters (scripts without spaces).")
    keep_names: bool = Field(False, description="Also keep names with no mark of the language (brands, foreign "
                                                "names): names written in the language are kept anyway.")
    page_repeat_min: int | None = Field(None, ge=2, description="Same alt on this many images of a page (chrome), "
                                        "or one image file under this many alts (a placeholder).")

    @model_validator(mode="after")
    def _check(self):
        rules = rules_data()  # unset thresholds are the rules file's
        raise_problems(languages(self, "langs", required=True, detected=known_code) + ordered(self, "min_words", "max_words", rules)
                       + ordered(self, "min_chars", "max_chars", rules))
        return self


# A Latin letter (ASCII and the Latin blocks): what a brand name inside a non-Latin name is written in.
_LATIN = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")


class PageFacts:
    """What the rows of one page share, computed at most once: the script of its title and the parts of
    its title ("Headline - Site" -> headline, site)."""

    _SEPARATORS = re.compile(r"\s[-|–—:·»«/]+\s|::")

    def __init__(self, first_row: dict[str, Any]):
        self.row = first_row
        self._script: list[str | None] = []
        self._parts: frozenset[str] | None = None

    def script(self) -> str | None:
        """The script the page's title (else the text of its first image's surroundings) is written in."""
        if not self._script:
            self._script.append(dominant_script(self.row.get("page_title") or self.row.get("context") or ""))
        return self._script[0]

    def title_parts(self) -> frozenset[str]:
        """The normalised title and each part of it between separators."""
        if self._parts is None:
            title = self.row.get("page_title") or ""
            parts = [title, *self._SEPARATORS.split(title)]
            self._parts = frozenset(p for p in map(normalize_alt, parts) if p)
        return self._parts


class FilterStage(Stage):
    """Keep alt-texts in the target languages that pass the quality rules."""

    name = "filter"
    output_version = 3  # 1: headline (alt_is_link_text); 2: credited captions, shared_image, price_offer,
    # placeholders; 3: tit_ only as a file name prefix, mixed_language counts no numbers and splits outside brackets
    Options = FilterOptions
    requires = FILTER_READS
    schema = FILTERED
    _unpicklable = ("lid",)

    def setup(self) -> None:
        o = self.options
        self.lid = LanguageID(o.langs)
        self.lid.load()
        self.rules = Rules({"min_words": o.min_words, "max_words": o.max_words, "min_chars": o.min_chars,
                            "max_chars": o.max_chars, "page_repeat_min": o.page_repeat_min})
        self.structure = structure_rules()
        self.targets = self.lid.targets
        self.codes = tuple(sorted({base_code(t) for t in self.targets}))
        # The run's languages written in Latin script, and the function words of all of them: a Latin name
        # that shows none of these languages is a bare name before language ID is asked.
        latin = tuple(c for c in self.codes if c in self.lid.script_langs.get("Latn", ()))
        # All the run's languages' marks: their function words read names, their photo-credit words the link
        # rules (both before language ID).
        self.run_cues = merged_cues(self.codes)
        self.function = self.run_cues.function
        self.latin_marks = merged_cues(latin)
        self.latin_names = frozenset().union(*(gazetteer(c, "Latn") for c in latin))
        # Before language ID: the run's language of each script without case (its clause markers read the
        # kind), and every run language's gazetteer names.
        self.script_code = {s: next(iter(sorted(c for c in self.codes if c in langs)), "")
                            for s, langs in self.lid.script_langs.items() if s not in CASED}
        self.all_names = frozenset().union(*(gazetteer(c, s) for s, langs in self.lid.script_langs.items()
                                             for c in self.codes if c in langs))
        self.name_max_words = self.rules.cfg["name_max_words"]

    def process(self, rows: list[dict[str, Any]], out) -> None:
        pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            pages[row.get("page_url") or ""].append(row)
        for page_rows in pages.values():
            self._page(page_rows, out)

    def _page(self, rows: list[dict[str, Any]], out) -> None:
        """Filter the rows of one page: page evidence and repeats are computed once per page."""
        alts = [clean_alt(r.get("alt") or "") for r in rows]
        norms = [normalize_alt(a) for a in alts]
        repeats = Counter(norms)
        # The distinct alts each image file carries on this page: a file shown under several alts is a slot's
        # stand-in (see _on_page).
        alts_of: dict[str, set[str]] = defaultdict(set)
        for r, norm in zip(rows, norms, strict=True):
            if r.get("image_url"):
                alts_of[r["image_url"]].add(norm)
        title = normalize_alt(rows[0].get("page_title") or "")
        evidence = None
        page = PageFacts(rows[0])  # the page's script and title parts, found once when a row needs them
        for row, alt, norm in zip(rows, alts, norms, strict=True):
            row = {**row, "lang": None, "lang_confidence": None, "alt_norm": norm, "kind": None}
            script = dominant_script(alt)  # once per row: the rules and language ID both need it
            reason = (self.rules.check(alt, self.codes, script, norm) or self.structure.check(row)
                      or self._on_page(norm, repeats[norm], title, len(alts_of.get(row.get("image_url"), ()))))
            reading = None
            if not reason:
                # Read once for names: the function words of all the run's languages (the alt's is not known yet).
                reading = read_alt(alt, self.function, script, self.name_max_words)
                row["kind"], reason = self._before_langid(row, alt, norm, script, reading, page)
            if reason:
                out.drop(row, reason)
                continue
            if evidence is None and self.lid.needs_evidence(script):
                evidence = self.lid.evidence(rows[0], list(dict.fromkeys(alts)))
            row["lang"], row["lang_confidence"] = self.lid.identify_clean(alt, script, evidence)
            reason = self._after_langid(row, alt)
            if not reason:
                row["kind"], reason = self._judge(row, alt, norm, script, page, reading)
            if reason:
                out.drop(row, reason)
            else:
                out.keep(row)

    @staticmethod
    def _headline(norm: str, page: PageFacts) -> str | None:
        """``same_as_title``: a description that is the page title or a part of it ("Headline - Site") is the
        page's headline, not what the picture shows (an article's lead image, a listing's photo)."""
        return "same_as_title" if norm in page.title_parts() else None

    def _after_langid(self, row: dict[str, Any], alt: str) -> str | None:
        lang = row["lang"]
        if lang not in self.targets:
            return "other_language" if lang != "und" else "no_language"
        if row["lang_confidence"] < self.options.min_confidence:
            return "low_confidence"
        return "mixed_language" if self.lid.mixed(alt, lang) else None

    def _on_page(self, norm: str, repeats: int, title: str, file_alts: int) -> str | None:
        """The page's own evidence, no language needed:

        - ``page_repeat``: the same alt on at least ``page_repeat_min`` images of the page: its chrome;
        - ``shared_image``: the image's file is shown on this page under ``page_repeat_min`` distinct alts or
          more (``file_alts``). A picture shows one thing; one file under three alts is a stand-in for the
          slots a template fills: a placeholder (``blank.gif``, ``nophoto.png``, a lazy-load image whose
          real address is in a script), a spacer or a sprite sheet. The alts name the slots, not the file,
          so the (image, alt) pair that fetch would make is wrong whatever the alt says. Two alts are not
          enough: a tutorial shows the same sprite in two steps, each with its own caption;
        - ``same_as_title``: the alt is the page title.
        """
        if repeats >= self.rules.cfg["page_repeat_min"]:
            return "page_repeat"
        if file_alts >= self.rules.cfg["page_repeat_min"]:
            return "shared_image"
        return "same_as_title" if norm == title else None

    def _before_langid(self, row: dict[str, Any], alt: str, norm: str, script: str | None, reading: Reading,
                       page: PageFacts) -> tuple[str, str | None]:
        """(kind, reason) from what needs no language: the kind as text shows it (cased scripts: capitals and
        the run's function words; other scripts: the clause markers of the run's language written in them),
        then the link and title rules that need it, and Latin names without a mark of any run language.
        Decided here, these rows never cost a language-ID call."""
        code = self.script_code.get(script, "")
        kind = kind_of(alt, reading, cues(code), script, self.all_names, norm)
        reason = (self.structure.linked(row, kind, norm, self.run_cues) or self.structure.repeated(row, kind)
                  or (self._headline(norm, page) if kind == "description" else None))
        if not reason and self._unmarked_name(alt, norm, script, reading):
            reason = "bare_name"
        return kind, reason

    def _unmarked_name(self, alt: str, norm: str, script: str | None, reading: Reading) -> bool:
        """A Latin name with no mark of any of the run's Latin-script languages: ``bare_name`` whichever
        language ID would pick, so it is decided before (language ID is the costly part of the filter)."""
        if script != "Latn" or self.options.keep_names or not reading.name_like:
            return False
        return not native_marks(alt, norm, reading, self.latin_marks, self.latin_names)

    def _judge(self, row: dict[str, Any], alt: str, norm: str, script: str | None, page: PageFacts,
               reading: Reading) -> tuple[str, str | None]:
        """(kind, drop reason or None) of an alt in a target language: names are kept when written in it.

        The kind is read again with the language's own markers (the link and title rules ran on the kind
        before language ID, :meth:`_before_langid`). An alt in a non-Latin script is written in its
        language's script: kept, whatever its kind. A Latin
        alt must show its language (:func:`mella.filter.kinds.native_marks`): a name without a mark is
        ``bare_name`` (``--keep-names`` keeps it), other text ``no_native_word``. A Latin name on a page
        written in a script its language does not use, and a name in another script with a Latin word in
        it, are brands (``latin_brand``).
        """
        code = base_code(row["lang"])
        cue = cues(code)
        names = gazetteer(code, script)
        kind = kind_of(alt, reading, cue, script, names, norm)
        if script != "Latn":
            # A Latin word inside a name in another script is a foreign brand or product ("Чай Greenfield
            # Дракон", "mk뉴스"): the language writes its own names in its own script.
            return kind, "latin_brand" if kind == "entity" and _LATIN.search(alt) else None
        if kind == "entity":
            other = page.script()
            if other not in (None, "Latn") and code not in self.lid.script_langs.get(other, ()):
                return kind, "latin_brand"
        if native_marks(alt, norm, reading, cue, names):
            return kind, None
        if kind == "entity":
            return kind, None if self.options.keep_names else "bare_name"
        return kind, "no_native_word"
