"""``mella keywords``: the culturally salient spans of each alt-text, in the alt's own surface form.

Reads any rows with ``alt`` and ``lang`` (after ``dedup``, or any later stage) and adds ``keywords`` (named
entities and rare content words, as written in the alt), ``keyword_kinds`` (entity | rare, aligned) and
``keyword_method``. Rows are never dropped: an alt without salient spans gets empty lists.

``method: offline`` (the default) runs rules over packaged resources only (:mod:`mella.annotate.salience`):
no model, no download; each resource that is not installed is left out and ``keyword_method`` says what was
used. ``method: model`` asks an LLM through the model backends (hf, vllm, openai) with the language's
``keywords_prompt`` from the language registry, parses the JSON list it answers and keeps only spans that occur
in the alt. Model answers are cached by (model, prompt, generation options) like every model stage's.
docs/culture.md#keywords has the rules and their measurement.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from mella.annotate.salience import COMMON_ZIPF, Extractor, clean
from mella.errors import MellaError
from mella.languages import english_name, get_language
from mella.models.cache import cache_key
from mella.models.stage import GenerationOptions, ModelOptions, ModelStage
from mella.pipeline.checks import raise_problems
from mella.pipeline.stage import Emitter
from mella.records import FILTERED, KEYWORDED, KEYWORDS_READS, extend

#: The offline resources, as keyword_method names them (``without`` may leave any out).
RESOURCES = ("wordfreq", "pystemmer", "babel", "pymorphy3", "simplemma", "kiwipiepy", "pythainlp")
# Options that only matter to one method: left out of the other's fingerprint, so that changing them does not
# invalidate parts it wrote.
MODEL_ONLY = ("backend", "model", "model_options", "prompt", "system", "max_new_tokens", "temperature", "top_p",
              "seed", "repetition_penalty")
OFFLINE_ONLY = ("common_zipf", "without")
KINDS = {"entity": "entity", "name": "entity", "rare": "rare", "word": "rare"}


class KeywordsOptions(ModelOptions, GenerationOptions):
    """Options of ``mella keywords``."""

    method: Literal["offline", "model"] = Field(
        "offline", description="offline: rules over packaged resources (no model); model: an LLM through a backend")
    common_zipf: float = Field(COMMON_ZIPF, ge=0, le=9, description="offline: content words at least this frequent "
                                                                    "(wordfreq Zipf) are too common to be keywords")
    without: list[str] = Field(default_factory=list, description="offline: resources not to use, e.g. kiwipiepy "
                                                                 f"({', '.join(RESOURCES)})")
    model: str = Field("Qwen/Qwen2.5-7B-Instruct", min_length=1, description="model: the LLM asked for the spans")
    max_new_tokens: int = Field(192, ge=1)
    prompt: str | None = Field(None, description="model: prompt template with {alt} and {language} (default: "
                                                 "the row language's keywords_prompt in the registry)")
    system: str | None = Field(None, description="model: system message")

    @model_validator(mode="after")
    def _check(self):
        unknown = [r for r in self.without if r not in RESOURCES]
        problems = [(("without",), f"without: unknown resource {', '.join(map(repr, unknown))}; known: "
                                   f"{', '.join(RESOURCES)}")] if unknown else []
        if self.prompt is not None and "{alt}" not in self.prompt:
            problems.append((("prompt",), "prompt: needs an {alt} placeholder for the alt-text"))
        raise_problems(problems)
        return self


class KeywordsStage(ModelStage):
    """Add the culturally salient spans of each alt (entities, rare words): offline rules or an LLM."""

    name = "keywords"
    Options = KeywordsOptions
    requires = KEYWORDS_READS
    batch_size = 512
    extra = "culture"
    _unpicklable = ModelStage._unpicklable + ("extractor",)

    @property
    def offline(self) -> bool:
        return self.options.method == "offline"

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or FILTERED, *KEYWORDED)

    def fingerprint(self) -> str:
        return self._fingerprint(leave_out=MODEL_ONLY if self.offline else OFFLINE_ONLY)

    def prepare(self, shards: list, stage_dir) -> None:
        if not self.offline:  # the offline method has no model results to cache
            super().prepare(shards, stage_dir)

    def setup(self) -> None:
        """Offline: an extractor that loads each language's resources when its first row comes. Model: the
        backend, the cache and the prompts."""
        self.extractor = Extractor(self.options.common_zipf, frozenset(self.options.without))
        if not self.offline:
            super().setup()
            self.method_label = f"model:{self.backend.name}:{self.model_label}"

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        if self.offline:
            results = [self.extractor.extract(row.get("alt"), row.get("lang")) for row in rows]
        else:
            results = self._ask_model(rows, out)
        for row, (keywords, kinds, method) in zip(rows, results, strict=True):
            out.count("keywords", len(keywords))
            out.count("keywords_entity", kinds.count("entity"))
            if not keywords:
                out.count("rows_without_keywords")
            out.keep({**row, "keywords": keywords, "keyword_kinds": kinds, "keyword_method": method})
        if not self.offline:
            self.count_tiny(out, len(rows))

    # -- the model method ---------------------------------------------------------------------------------
    def _ask_model(self, rows: list[dict[str, Any]], out: Emitter) -> list[tuple[list[str], list[str], str]]:
        gen = self.options.gen_options()
        inputs: dict[str, str] = {}  # cache key -> rendered prompt
        keys: list[str | None] = []
        for row in rows:
            alt = clean(row.get("alt"))
            if not alt:
                keys.append(None)
                continue
            text = render_prompt(self.options.prompt, row.get("lang"), alt)
            key = cache_key("keywords", self.model_sig, gen.signature(), text, self.options.system)
            inputs.setdefault(key, text)
            keys.append(key)
        answers = self.cached("keywords", inputs, self._generate, out)
        results = []
        for row, key in zip(rows, keys, strict=True):
            if key is None:
                results.append(([], [], self.method_label))
                continue
            spans = parse_spans(answers[key] or "")
            keywords, kinds, missing = spans_in_alt(clean(row.get("alt")), spans)
            out.count("model_spans_not_in_alt", missing)
            results.append((keywords, kinds, self.method_label))
        return results

    def _generate(self, prompts: list[str]) -> list[str]:
        from mella.models.base import GenRequest

        requests = [GenRequest(prompt=p, system=self.options.system) for p in prompts]
        return self.backend.generate(requests, self.options.gen_options())


def prompt_template(tag: str | None) -> str:
    """The keywords prompt of a row language: its ``keywords_prompt``, else English's (which names the language)."""
    try:
        lang = get_language(tag) if tag else None
    except MellaError:
        lang = None
    template = lang.extra.get("keywords_prompt") if lang else None
    if not template:
        template = get_language("en").extra.get("keywords_prompt")
    if not template:
        raise MellaError("the language registry has no keywords_prompt for English; add one or pass --prompt")
    return template


def render_prompt(override: str | None, tag: str | None, alt: str) -> str:
    """The prompt for one alt (str.replace, not format: the prompts hold JSON braces)."""
    template = override or prompt_template(tag)
    return template.replace("{language}", english_name(tag)).replace("{alt}", alt)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_spans(answer: str) -> list[tuple[str, str | None]]:
    """The (span, kind or None) pairs of a model answer: a JSON list of strings or of objects with ``text`` (or
    ``span``) and ``kind``, inside code fences or prose; failing that, one span per line or comma. Whatever the
    answer, the result is a list (garbage gives no spans)."""
    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    for candidate in _json_candidates(text):
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        if isinstance(data, list):
            return [s for s in (_one_span(item) for item in data) if s]
    return _plain_spans(text)


def _json_candidates(text: str) -> list[str]:
    """The whole text, then each bracketed stretch from the first ``[`` (or ``{``) to each later closing one."""
    found = [text]
    for opener, closer in (("[", "]"), ("{", "}")):
        start = text.find(opener)
        if start >= 0:
            ends = [i for i, c in enumerate(text) if c == closer and i > start]
            found += [text[start:end + 1] for end in reversed(ends)]
    return found


def _one_span(item: Any) -> tuple[str, str | None] | None:
    if isinstance(item, str):
        return (item.strip(), None) if item.strip() else None
    if isinstance(item, dict):
        text = item.get("text") or item.get("span") or item.get("keyword")
        kind = item.get("kind") or item.get("type")
        if isinstance(text, str) and text.strip():
            return text.strip(), KINDS.get(str(kind).lower()) if kind else None
    if isinstance(item, list) and item and isinstance(item[0], str):
        kind = item[1] if len(item) > 1 and isinstance(item[1], str) else None
        return (item[0].strip(), KINDS.get(kind.lower()) if kind else None) if item[0].strip() else None
    return None


def _plain_spans(text: str) -> list[tuple[str, str | None]]:
    pieces = re.split(r"[\n,;]", text)
    out = []
    for piece in pieces:
        piece = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", piece).strip().strip("\"'«»“”„")
        if piece and len(piece) <= 80:
            out.append((piece, None))
    return out


def spans_in_alt(alt: str, spans: list[tuple[str, str | None]]) -> tuple[list[str], list[str], int]:
    """The spans that occur in the alt, as the alt writes them (found case-insensitively, the alt's surface
    kept), in the alt's order, each once; kinds from the model, else entity when capitalised in a cased
    script, else rare. Also how many spans were not in the alt."""
    found: dict[int, tuple[str, str]] = {}
    missing = 0
    for span, kind in spans:
        span = clean(span)
        if not span:
            continue
        start = alt.find(span)
        if start >= 0:
            surface = alt[start:start + len(span)]
        else:
            match = re.search(re.escape(span), alt, re.IGNORECASE)
            if match is None:
                missing += 1
                continue
            start, surface = match.start(), match.group()
        first = next((c for c in surface if c.isalpha()), "")
        guess = "entity" if first.isupper() else "rare"
        found.setdefault(start, (surface, kind or guess))
    keywords, kinds, seen = [], [], set()
    for _, (surface, kind) in sorted(found.items()):
        if surface.casefold() not in seen:
            seen.add(surface.casefold())
            keywords.append(surface)
            kinds.append(kind)
    return keywords, kinds, missing
