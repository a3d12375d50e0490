"""Checks across the fields of a stage's Options: ordered pairs, fractions that must leave room, list entries.

A stage's Options runs them in one pydantic model validator and hands the result to :func:`raise_problems`::

    @model_validator(mode="after")
    def _check(self):
        raise_problems(ordered(self, "min_words", "max_words") + languages(self, "langs", detected=known_code))
        return self

Each check returns problems as ``(fields, message)``. They are raised together as one pydantic error whose
context keeps them apart, so :func:`mella.config.option_problems` reports each on its own line, alongside the
problems of single fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticCustomError

Problem = tuple[tuple[str, ...], str]
ERROR_TYPE = "option_conflict"


def ordered(opts: Any, low: str, high: str, defaults: dict[str, Any] | None = None) -> list[Problem]:
    """``low`` may not exceed ``high`` (``--min-words 10 --max-words 2`` keeps nothing).

    ``defaults`` stand in for fields left unset (None), e.g. the thresholds of a rules file.
    """
    given = {low: getattr(opts, low), high: getattr(opts, high)}
    if all(v is None for v in given.values()):
        return []
    value = {n: v if v is not None else (defaults or {}).get(n) for n, v in given.items()}
    if value[low] is None or value[high] is None or value[low] <= value[high]:
        return []
    shown = [f"{n} ({value[n]}{'' if given[n] is not None else ', the default'})" for n in (low, high)]
    return [((low, high), f"{shown[0]} is greater than {shown[1]}")]


def fractions_leave_room(opts: Any, *names: str, rest: str = "the rest") -> list[Problem]:
    """Shares given as fractions (0 < value < 1) must sum below 1, or nothing is left for ``rest``."""
    shares = {n: getattr(opts, n) for n in names if 0 < getattr(opts, n) < 1}
    total = sum(shares.values())
    if len(shares) < 2 or total < 1:
        return []
    terms = " + ".join(f"{n} ({v:g})" for n, v in shares.items())
    return [(tuple(shares), f"{terms} = {total:g} leaves nothing for {rest}; fractions must sum below 1")]


def nonblank(opts: Any, *names: str) -> list[Problem]:
    """List options hold no empty entries (``--allow-hosts ""``)."""
    return [((n,), f"{n}: an empty entry (got {list(getattr(opts, n))!r})")
            for n in names if any(not str(v).strip() for v in getattr(opts, n) or ())]


def no_controls(opts: Any, *names: str) -> list[Problem]:
    """Text options that end up in HTTP headers or host lists hold no control characters (``"x\\r\\nHost: y"``)."""
    problems = []
    for name in names:
        value = getattr(opts, name)
        items = [value] if isinstance(value, str) else list(value or ())
        bad = [v for v in items if any(ord(c) < 32 or c == "\x7f" for c in str(v))]
        if bad:
            problems.append(((name,), f"{name}: a control character in {', '.join(map(repr, bad))}"))
    return problems


def languages(opts: Any, name: str, required: bool = False,
              detected: Callable[[str], bool] | None = None) -> list[Problem]:
    """Language tags (a list, or one tag; None is unset): no empty entries, every tag known; the message lists
    the registry's codes. ``detected``: whether the language detectors know a code outside the registry (rows
    carry what ``filter`` detected: ``mella.filter.langid.known_code``); None accepts the registry's codes only
    (a model needs its codes)."""
    from mella.languages import tag_list_problem

    value = getattr(opts, name)
    tags = [value] if isinstance(value, str) else list(value or ())
    also = "or any ISO 639-1 code the language detectors know" if detected else ""
    problem = tag_list_problem(tags, required=required, known=detected, also=also)
    return [((name,), f"{name}: {problem}")] if problem else []


def one_of(opts: Any, name: str, valid: list[str] | tuple[str, ...], required: bool = False) -> list[Problem]:
    """Every entry of a list option is one of ``valid``; ``required``: at least one entry."""
    values = list(getattr(opts, name) or ())
    if required and not values:
        return [((name,), f"{name}: name at least one of {', '.join(valid)}")]
    unknown = [v for v in values if v not in valid]
    if not unknown:
        return []
    return [((name,), f"{name}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")]


def raise_problems(problems: list[Problem]) -> None:
    """Raise every problem at once from a model validator (nothing when the list is empty)."""
    if problems:
        raise PydanticCustomError(ERROR_TYPE, "{message}", {
            "message": "; ".join(message for _, message in problems),
            "problems": [[list(fields), message] for fields, message in problems],
        })


def problems_of(error: dict[str, Any]) -> list[Problem]:
    """The problems carried by one pydantic error dict raised by :func:`raise_problems` (else none)."""
    if error.get("type") != ERROR_TYPE:
        return []
    return [(tuple(fields), message) for fields, message in error.get("ctx", {}).get("problems", [])]
