"""Property test: any pipeline file, from random YAML documents to mutations of examples/demo.yaml (its values
swapped, keys dropped or invented, its text cut, spliced or given bytes that are not UTF-8), loads through
``mella.config.load_pipeline`` into a validated config or is refused with a MellaError (a ConfigError listing
one-line problems), never another exception. A config that loads can be recorded in run.json.

Bounded for CI (derandomized, a few dozen examples each); ``make fuzz`` raises the count with MELLA_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mella.config import PipelineConfig, load_pipeline, load_yaml
from mella.errors import ConfigError, MellaError

EXAMPLES = int(os.environ.get("MELLA_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="MELLA_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEMO_ENV = {"MELLA_DEMO_URL": "http://127.0.0.1:8000", "MELLA_DEMO_HOST": "127.0.0.1:8000",
            "MELLA_CAPTION_MODEL": "tiny/captioner", "MELLA_MT_MODEL": "tiny/mt", "MELLA_SCORE_MODEL": "tiny/siglip"}
DEMO_TEXT = (EXAMPLES_DIR / "demo.yaml").read_text(encoding="utf-8")

# Pieces of YAML and of mella's syntax that matter: indicators, anchors, tags, env references, stage refs.
SNIPPETS = [":", ": ", "- ", "-", "#", " #", "'", '"', "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "!!int ",
            "!!python/object ", "|", ">", "%YAML 1.1\n", "---\n", "...\n", "\n", "\t", "  ", "${", "}", "${X}",
            "${MELLA_RUN_DIR}", "${NOT_SET_ANYWHERE}", "${Y:-a,b}", "stage:", "stage: filter", "inputs: ",
            "id: ", "../", "/", "\\0", "\\x00", "\ufeff", "\u2028", "é", "0x1F", ".nan", "-.inf", "1e309", "null",
            "~", "yes", "<<: *a", "? ", "@", "`"]

scalar = (st.none() | st.booleans() | st.integers(-10**6, 10**20) | st.floats() | st.text(max_size=12)
          | st.sampled_from(["", "filter", "build", "local", "ray", "stage:collect", "stage:nope", "../x", "/abs",
                             "ru", "xx", "-3", "0.9", "a\nb", "x\r\ny", "\x00"]))
value = st.recursive(scalar, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=8) | st.sampled_from(["stage", "inputs", "id", "langs", "workers", "min_words"]), kids,
    max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder holding the demo's training config; every example's pipeline file is written here."""
    root = tmp_path_factory.mktemp("fuzz_pipeline")
    shutil.copy(EXAMPLES_DIR / "train-demo.yaml", root / "train-demo.yaml")
    with pytest.MonkeyPatch.context() as mp:
        for name, val in DEMO_ENV.items():
            mp.setenv(name, val)
        mp.delenv("NOT_SET_ANYWHERE", raising=False)
        yield root


def loads_or_refuses(path: Path, run_dir: Path) -> None:
    """The property: a validated config, recordable as JSON, or a one-line-per-problem MellaError."""
    try:
        config = load_pipeline(str(path), run_dir=str(run_dir))
    except ConfigError as exc:
        event("refused (config)")
        assert exc.exit_code == 2 and exc.problems
        assert all(isinstance(p, str) and p.strip() and "\n" not in p for p in exc.problems), exc.problems
        return
    except MellaError as exc:
        event("refused")
        assert str(exc).strip()
        return
    event("valid")
    assert isinstance(config, PipelineConfig) and config.stages
    json.dumps(config.resolved())  # what run.json records


# The demo as parsed (references expanded): what the structured mutations start from.
DEMO_DOC = load_yaml(DEMO_TEXT, "demo.yaml", {**DEMO_ENV, "MELLA_PIPELINE_DIR": ".", "MELLA_RUN_DIR": "runs/demo"})


def test_the_demo_itself_loads(folder):
    path = folder / "demo.yaml"
    path.write_text(DEMO_TEXT, encoding="utf-8")
    assert load_pipeline(str(path), run_dir=str(folder / "run")).name == "demo"


@pytest.mark.fuzz
@FUZZ
@given(data=st.data())
def test_fuzz_mutated_demo_documents(folder, data):
    doc = copy.deepcopy(DEMO_DOC)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        stages = doc.get("stages") if isinstance(doc.get("stages"), list) else []
        target = doc
        if stages and data.draw(st.booleans(), label="in a stage"):
            i = data.draw(st.integers(0, len(stages) - 1), label="stage")
            target = stages[i] if isinstance(stages[i], dict) else doc
        keys = sorted(map(str, target)) or ["name"]
        key = data.draw(st.sampled_from(keys + ["bogus", "min_word", "workers", "inputs", "id"]), label="key")
        action = data.draw(st.sampled_from(["set", "drop", "shuffle", "duplicate"]), label="action")
        if action == "set":
            target[key] = data.draw(value, label="value")
        elif action == "drop":
            target.pop(key, None)
        elif stages:
            order = data.draw(st.permutations(range(len(stages))), label="order")
            doc["stages"] = [stages[j] for j in order] + (stages[:1] if action == "duplicate" else [])
    path = folder / "mutated.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=data.draw(st.booleans())), encoding="utf-8")
    loads_or_refuses(path, folder / "run")


@pytest.mark.fuzz
@FUZZ
@given(data=st.data())
def test_fuzz_demo_text_edits(folder, data):
    raw = DEMO_TEXT.encode("utf-8")
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        cut = data.draw(st.integers(0, 40), label="cut")
        piece = data.draw(st.sampled_from(SNIPPETS).map(str.encode) | st.binary(max_size=6)
                          | st.text(max_size=6).map(str.encode), label="insert")
        raw = raw[:at] + piece + raw[at + cut:]
    path = folder / "edited.yaml"
    path.write_bytes(raw)
    loads_or_refuses(path, folder / "run")


@pytest.mark.fuzz
@FUZZ
@given(doc=value | st.fixed_dictionaries({"name": scalar, "stages": st.lists(value, max_size=3)},
                                          optional={"workers": scalar, "executor": scalar, "ray_address": scalar}))
def test_fuzz_random_documents(folder, doc):
    path = folder / "random.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    loads_or_refuses(path, folder / "run")


def test_found_by_fuzzing_nul_bytes_and_newlines_are_one_line_problems(folder):
    path = folder / "found.yaml"
    path.write_bytes(b"\x00" + DEMO_TEXT.encode())
    with pytest.raises(ConfigError) as err:  # was a three-line message from the YAML reader
        load_pipeline(str(path), run_dir=str(folder / "run"))
    assert err.value.problems == ["not valid YAML at line 1: character U+0000 is not allowed "
                                  "(special characters are not allowed)"]
    path.write_text('name: n\nstages:\n  - stage: collect\n    inputs: ["a\\nb"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:  # the input's newline split the message
        load_pipeline(str(path), run_dir=str(folder / "run"))
    assert err.value.problems == ["stages[0] (collect).inputs: 'a\\nb' holds a control character"]
