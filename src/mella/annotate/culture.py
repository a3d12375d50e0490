"""``mella culture``: a cultural-relevance rating per row: ``culture_score`` (0-1), ``culture_category`` and
``culture_method``. Reads any rows with ``alt`` and ``lang``; uses ``page_title``, filter's ``kind``, the keywords
stage's ``keywords``/``keyword_kinds`` and collect's structure columns when they are there. Never drops a row:
build thresholds and balances on the rating.

Two methods (docs/culture.md#cultural-relevance):

- ``offline`` (the default): deterministic, from packaged per-language word lists and the row's other columns
  (:mod:`mella.annotate.culture_rules`).
- ``rubric``: a model rates each row from a rubric prompt (as Pangea rated its data with an LLM), through the
  usual backends (hf, vllm, openai), batched and cached like caption. It answers JSON ``{"score": 0-10,
  "category": ...}``; an answer that cannot be read falls back to the offline rating for that row and is
  counted (``rubric_unparsed``, ``rubric_bad_category``), never a crash. Text-only models rate from the alt-text
  and page title; with ``with_images`` a multimodal model also sees the image of rows that have one.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from mella.annotate.culture_rules import (
    CATEGORIES,
    OFFLINE_METHOD,
    rate_offline,
    wordlists_digest,
)
from mella.languages import english_name
from mella.models.cache import cache_key
from mella.models.stage import GenerationOptions, ModelOptions, ModelStage
from mella.pipeline.checks import raise_problems
from mella.pipeline.stage import Emitter, runtime_option
from mella.records import CULTURE_READS, FILTERED, RATED, extend

RUBRIC_MODEL = "Qwen/Qwen2.5-7B-Instruct"
MAX_FIELD_CHARS = 500  # an alt-text or title longer than this is cut: the rubric needs its gist, not a document
# One English rubric for every language, naming the language: scores stay comparable across languages, and
# instruction-tuned models follow English rubrics best; the alt-text itself is given as written.
RUBRIC_PROMPT = """\
Rate how culturally specific an image is to the culture of {language} speakers, from what its web page says \
about it.

Alt-text of the image (written in {language}): "{alt}"
Title of the page: "{title}"

Score from 0 to 10:
- 0-1: nothing cultural: a screenshot, a user-interface element, a logo, icon, banner or badge, a product listing.
- 2-4: everyday content with little that belongs to this culture (a generic object, scene or person).
- 5-7: content tied to the culture, named generically: local places, food, clothing, customs, people or events.
- 8-10: a specific item of this culture named the way its speakers name it: a landmark, a dish, a festival, a \
garment, an artwork, a public figure.

Category: one of landmark, food, clothing, festival, art, person, nature, everyday_life, product, screenshot_ui, \
other.

Answer with JSON only, like {"score": 7, "category": "food"}."""
# Model spellings of a category that mean one of ours.
CATEGORY_ALIASES = {"everyday": "everyday_life", "daily_life": "everyday_life", "screenshot": "screenshot_ui",
                    "ui": "screenshot_ui", "screenshot_or_ui": "screenshot_ui", "interface": "screenshot_ui",
                    "people": "person", "festivals": "festival", "landmarks": "landmark"}
RUBRIC_FIELDS = ("backend", "model", "model_options", "max_new_tokens", "temperature", "top_p", "seed",
                 "repetition_penalty", "prompt", "system", "with_images")


class CultureOptions(ModelOptions, GenerationOptions):
    """Options of ``mella culture``."""

    method: Literal["offline", "rubric"] = Field(
        "offline", description="offline (word lists, kind, keywords, structure) or rubric (a model rates each row)")
    model: str = Field(RUBRIC_MODEL, min_length=1, description="rubric: the rating LLM (or MLLM with_images)")
    max_new_tokens: int = Field(48, ge=1)
    prompt: str | None = Field(None, description="rubric: the prompt template with {alt} (and {language}, "
                                                 "{title}); default: the English rubric")
    system: str | None = Field(None, description="rubric: system message")
    with_images: bool = Field(False, description="rubric: show a multimodal model the image of rows that have "
                                                 "a key (needs the fetch folder)")
    images: str | None = runtime_option(None, description="fetch output folder (default: found from the input)")

    @model_validator(mode="after")
    def _check(self):
        problems = []
        if self.prompt is not None and "{alt}" not in self.prompt:
            problems.append((("prompt",), "prompt: the rubric prompt needs an {alt} placeholder for the alt-text"))
        if self.method == "offline":
            problems += [((name,), f"{name}: set, but method is offline (use method: rubric)")
                         for name in ("prompt", "system") if getattr(self, name) is not None]
            if self.with_images:
                problems.append((("with_images",), "with_images: set, but method is offline (use method: rubric)"))
        raise_problems(problems)
        return self


class CultureStage(ModelStage):
    """Rate each row's cultural relevance (score 0-1 and a category): offline rules or a rubric through a model."""

    name = "culture"
    Options = CultureOptions
    requires = CULTURE_READS
    _unpicklable = ModelStage._unpicklable + ("_store",)

    @property
    def rubric(self) -> bool:
        return self.options.method == "rubric"

    @property
    def resources(self) -> dict[str, Any]:  # type: ignore[override]
        return super().resources if self.rubric else {}

    def output_schema(self, input_schema: pa.Schema | None) -> pa.Schema:
        return extend(input_schema or FILTERED, *RATED)

    def fingerprint(self) -> str:
        """The options that change the rating (the model's only for the rubric) and the word lists' digest: an
        edited list is not mixed with parts rated by the old one."""
        import hashlib

        base = self._fingerprint(leave_out=() if self.rubric else RUBRIC_FIELDS)
        return hashlib.sha256(f"{base}:{wordlists_digest()}".encode()).hexdigest()[:16]

    def prepare(self, shards: list, stage_dir) -> None:
        if self.rubric:  # the offline method needs no result cache
            super().prepare(shards, stage_dir)

    def setup(self) -> None:
        if self.rubric:  # the offline method loads no model
            super().setup()

    def process(self, rows: list[dict[str, Any]], out: Emitter) -> None:
        offline = [rate_offline(row) for row in rows]
        if self.rubric:
            ratings = self._rubric(rows, offline, out)
            self.count_tiny(out, len(rows))
        else:
            ratings = [(score, category, OFFLINE_METHOD) for score, category in offline]
        for row, (score, category, method) in zip(rows, ratings, strict=True):
            out.count(f"rated.{method.split(':')[0]}")
            out.count(f"category.{category}")
            out.keep({**row, "culture_score": score, "culture_category": category, "culture_method": method})

    # -- rubric ------------------------------------------------------------------------------------------
    @property
    def rubric_method(self) -> str:
        return f"rubric:{self.backend.name}:{self.model_label}"

    def render(self, row: dict[str, Any]) -> str:
        """The rubric prompt for one row: its language's name, alt-text and page title filled in."""
        values = {"{language}": language_name(row.get("lang")), "{alt}": _clip(row.get("alt")) or "(none)",
                  "{title}": _clip(row.get("page_title")) or "(none)"}
        text = self.options.prompt or RUBRIC_PROMPT
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def _rubric(self, rows: list[dict[str, Any]], offline: list[tuple[float, str]],
                out: Emitter) -> list[tuple[float, str, str]]:
        shas = self._image_shas(rows, out)
        gen = self.options.gen_options()
        inputs: dict[str, tuple[str | None, str]] = {}  # cache key -> (image key or None, prompt)
        keys = []
        for row, sha in zip(rows, shas, strict=True):
            text = self.render(row)
            key = cache_key("culture", self.model_sig, gen.signature(), sha or "", text, self.options.system)
            inputs.setdefault(key, (row.get("key") if sha else None, text))
            keys.append(key)
        answers = self.cached("culture", inputs, self._generate, out)
        return [self._reading(answers[key], fallback, out) for key, fallback in zip(keys, offline, strict=True)]

    def _image_shas(self, rows: list[dict[str, Any]], out: Emitter) -> list[str | None]:
        """Per row, the sha256 of the image the model is shown (None: rated from the text alone)."""
        if not self.options.with_images:
            return [None] * len(rows)
        from mella.models.images import DecodedOnce, check_images

        self._store = DecodedOnce(self.image_store())
        shas = [sha for sha, _ in check_images(rows, self._store)]
        out.count("rated_without_image", sum(sha is None for sha in shas))
        return shas

    def _generate(self, items: list[tuple[str | None, str]]) -> list[str]:
        from mella.models.base import GenRequest
        from mella.models.images import load_images

        images = load_images([k for k, _ in items if k], self._store) if any(k for k, _ in items) else {}
        requests = [GenRequest(prompt=text, image=images.get(k) if k else None, system=self.options.system)
                    for k, text in items]
        return self.backend.generate(requests, self.options.gen_options())

    def _reading(self, answer: str | None, fallback: tuple[float, str], out: Emitter) -> tuple[float, str, str]:
        """The model's rating, or the offline one where its answer cannot be read (counted)."""
        score, category = parse_rating(answer)
        if score is None:
            out.count("rubric_unparsed")
            return fallback[0], fallback[1], OFFLINE_METHOD
        if category is None:
            out.count("rubric_bad_category")
            category = fallback[1]
        return score, category, self.rubric_method


def language_name(tag: str | None) -> str:
    """How the rubric names a row's language: with the script, since Serbian's two are rated apart."""
    return english_name(tag, with_script=True)


def _clip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS].rstrip() + "…"


_OBJECT = re.compile(r"\{[^{}]*\}", re.S)
_SCORE = re.compile(r"score\W{0,4}(\d+(?:\.\d+)?)", re.I)
_CATEGORY = re.compile(r"category\W{0,4}", re.I)
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*$")


def parse_rating(answer: str | None) -> tuple[float | None, str | None]:
    """``(score 0-1, category)`` from a model's answer; None for what it does not give or gives out of range.

    JSON first (the first object holding a score, code fences and prose around it allowed), then ``score: 7``
    and ``category: food`` written out, then an answer that is a bare number (``7`` or ``7/10``).
    """
    text = answer or ""
    for match in _OBJECT.finditer(text):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(data, dict) and "score" in data:
            return _score(data.get("score")), _category(data.get("category"))
    found = _SCORE.search(text) or _NUMBER.match(text)
    named = _CATEGORY.search(text)
    return (_score(found.group(1)) if found else None), (_named_category(text[named.end():]) if named else None)


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    found = _NUMBER.match(str(value))
    number = float(found.group(1)) if found else -1.0
    return round(number / 10, 3) if 0 <= number <= 10 else None


def _category(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = re.sub(r"[^a-z]+", "_", value.strip().lower()).strip("_")
    name = CATEGORY_ALIASES.get(name, name)
    return name if name in CATEGORIES else None


def _named_category(prose: str) -> str | None:
    """The category prose names first after "category" (``category: everyday life, since ...``)."""
    words = re.sub(r"[^a-z]+", "_", prose[:60].lower()).strip("_") + "_"
    names = sorted([*CATEGORIES, *CATEGORY_ALIASES], key=len, reverse=True)
    found = next((n for n in names if words.startswith(n + "_")), None)
    return CATEGORY_ALIASES.get(found, found) if found else None
