"""The ``filter`` stage (language ID + quality rules) and the ``dedup`` stage (global dedup).

``filter`` keeps alt-texts that are in a target language and describe an image; it adds ``lang``,
``lang_confidence`` and ``alt_norm``. ``dedup`` reads every part of its input once (a global
pass, :mod:`mella.filter.dedup_index`) and then drops duplicates and site chrome part by part.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pydantic import Field, model_validator

from mella.filter.langid import LanguageID, base_code, known_code
from mella.filter.rules import Rules, rules_data
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
    min_words: int | None = Field(None, ge=0, description="Fewest words (scripts with spaces); default rules.yaml.")
    max_words: int | None = Field(None, ge=1, description="Most words; default from rules.yaml.")
    min_chars: int | None = Field(None, ge=0, description="Fewest characters (scripts without spaces).")
    max_chars: int | None = Field(None, ge=1, description="Most characters (scripts without spaces).")
    keep_names: bool = Field(False, description="Keep alts that are only a capitalised name (person, brand).")
    page_repeat_min: int | None = Field(None, ge=2, description="Same alt on this many images of a page: chrome.")

    @model_validator(mode="after")
    def _check(self):
        rules = rules_data()  # unset thresholds are the rules file's
        raise_problems(languages(self, "langs", required=True, detected=known_code) + ordered(self, "min_words", "max_words", rules)
                       + ordered(self, "min_chars", "max_chars", rules))
        return self


class FilterStage(Stage):
    """Keep alt-texts in the target languages that pass the quality rules."""

    name = "filter"
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
        self.targets = self.lid.targets
        self.codes = tuple(sorted({base_code(t) for t in self.targets}))

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
        title = normalize_alt(rows[0].get("page_title") or "")
        evidence = None
        for row, alt, norm in zip(rows, alts, norms, strict=True):
            row = {**row, "lang": None, "lang_confidence": None, "alt_norm": norm}
            script = dominant_script(alt)  # once per row: the rules and language ID both need it
            reason = self.rules.check(alt, self.codes, script, norm)
            if reason and not (reason == "bare_name" and self.options.keep_names):
                out.drop(row, reason)
                continue
            if evidence is None and self.lid.needs_evidence(script):
                evidence = self.lid.evidence(rows[0], list(dict.fromkeys(alts)))
            row["lang"], row["lang_confidence"] = self.lid.identify_clean(alt, script, evidence)
            reason = self._after_langid(row, alt, repeats[norm], norm == title)
            if reason:
                out.drop(row, reason)
            else:
                out.keep(row)

    def _after_langid(self, row: dict[str, Any], alt: str, repeats: int, is_title: bool) -> str | None:
        lang = row["lang"]
        if lang not in self.targets:
            return "other_language" if lang != "und" else "no_language"
        if row["lang_confidence"] < self.options.min_confidence:
            return "low_confidence"
        if repeats >= self.rules.cfg["page_repeat_min"]:
            return "page_repeat"
        if is_title:
            return "same_as_title"
        return "mixed_language" if self.lid.mixed(alt, lang) else None
