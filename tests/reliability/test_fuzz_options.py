"""Property test: any combination of option values for any registered stage either validates or is refused with
a ConfigError listing one-line problems (exit 2), never another exception, through the path the CLI uses
(``mella.cli._stage.build_options``). Valid options keep the promises of the checks (no min above its max, shares
that leave train rows) and survive the round trip through what ``run.json`` records.

Bounded for CI (a couple of dozen examples per stage, derandomized); ``make fuzz`` raises the count with
MELLA_FUZZ_EXAMPLES and draws new examples each run.
"""

from __future__ import annotations

import json
import os
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mella.cli._stage import _unwrap_optional, build_options
from mella.errors import ConfigError
from mella.pipeline.registry import get_stage, stage_names

EXAMPLES = int(os.environ.get("MELLA_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="MELLA_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow])

EDGE_NUMBERS = [-3, -1, 0, 1e-9, 0.05, 0.5, 0.9, 0.99, 1, 2, 10, 100, 10**12, -0.0,
                float("inf"), float("-inf"), float("nan")]
WORDS = ["", " ", ",", "ru", "sr-Latn", "sr-Grek", "xx", "de", "und", "all", "auto", "hf", "openai", "vllm", "echo",
         "bleu", "llava", "{}", '{"max_pixels": 1}', '{"nope": 1}', "[1]", "Qwen/Qwen2.5-VL-3B-Instruct",
         "/no/such/dir", "${X}", "127.0.0.1:8000", "a\nb", "\x00", "ﾟ"]

text = st.text(max_size=10) | st.sampled_from(WORDS)
scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.sampled_from(EDGE_NUMBERS) | st.floats() | text
anything = scalar | st.lists(scalar, max_size=4).map(tuple) | st.dictionaries(text, scalar, max_size=3)


def typed(annotation: Any) -> st.SearchStrategy:
    """Values of roughly the field's type (in and out of range), as the CLI or a YAML file hands them over."""
    tp = _unwrap_optional(annotation)
    origin = get_origin(tp)
    if origin is Literal:
        return st.sampled_from([str(a) for a in get_args(tp)])
    if origin in (list, tuple, set, frozenset):
        inner = typed(get_args(tp)[0]) if get_args(tp) else text
        return st.lists(inner, max_size=3).map(tuple)
    if origin is dict or tp is dict:
        return st.dictionaries(text, scalar, max_size=3) | text
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(0, 300) | st.sampled_from([n for n in EDGE_NUMBERS if isinstance(n, int)])
    if tp is float:
        return st.floats(0, 1) | st.sampled_from(EDGE_NUMBERS) | st.floats(-2, 200)
    if tp is typing.Any:
        return anything
    return st.sampled_from(WORDS) | text


def holds_promises(name: str, opts: Any) -> None:
    """What the checks promise of options that validated."""
    if name == "filter":
        from mella.filter.rules import rules_data

        rules = rules_data()
        for low, high in (("min_words", "max_words"), ("min_chars", "max_chars")):
            lo, hi = getattr(opts, low), getattr(opts, high)
            assert (lo if lo is not None else rules[low]) <= (hi if hi is not None else rules[high]) or (
                lo is None and hi is None)
        assert opts.langs and all(t.strip() for t in opts.langs)
    if name == "build":
        shares = [s for s in (opts.test_size, opts.validation_size) if 0 < s < 1]
        assert len(shares) < 2 or sum(shares) < 1
        assert all(t.strip() for t in opts.langs)
    if name == "translate":
        assert opts.min_length_ratio <= opts.max_length_ratio


@pytest.mark.fuzz
@pytest.mark.parametrize("name", stage_names())
@FUZZ
@given(data=st.data())
def test_fuzz_option_combinations_validate_or_list_problems(name, data):
    cls = get_stage(name)
    fields = cls.Options.model_fields
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=6), label="fields")
    # Mostly values of the field's type (so that many combinations validate and the checks across fields
    # matter); one in eight anything at all.
    values = {f: data.draw(typed(fields[f].annotation) if data.draw(st.integers(0, 7)) else anything, label=f)
              for f in chosen}
    if not data.draw(st.integers(0, 7), label="unknown option"):
        values[data.draw(st.sampled_from(["bogus", "min_word", "lang", "out"]))] = data.draw(scalar)
    try:
        opts = build_options(cls, values)
    except ConfigError as exc:
        event("refused")
        assert exc.exit_code == 2 and exc.problems
        assert all(isinstance(p, str) and p.strip() and "\n" not in p for p in exc.problems), exc.problems
        return
    event("valid")
    assert isinstance(opts, cls.Options)
    holds_promises(name, opts)
    recorded = json.loads(json.dumps(opts.model_dump(mode="json")))  # what run.json and stats.json hold
    assert build_options(cls, recorded).model_dump(mode="json") == recorded  # and reads back as the same


def test_found_by_fuzzing_a_newline_in_a_value_stays_inside_its_problem_line():
    # model_options {"\n": None}: the backend's message held the raw key and split the problem in two lines.
    with pytest.raises(ConfigError) as err:
        build_options(get_stage("caption"), {"model_options": {"\n": None}})
    assert err.value.problems == ["backend 'hf': \\n: Extra inputs are not permitted"]
