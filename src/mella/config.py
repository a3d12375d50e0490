"""Typed pipeline config, loaded from YAML and validated up front with every problem reported together.

A pipeline file::

    name: demo
    executor: local          # or ray
    workers: 2               # optional; default one per core
    stages:
      - stage: collect
        inputs: [examples/pages]
        context_chars: 300   # the stage's options, named as its CLI flags (--context-chars)
      - stage: filter        # reads the previous stage's output unless it names `inputs`
        min_chars: 5
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mella.errors import ConfigError, MellaError
from mella.options import error_line, load_yaml, read_text
from mella.paths import name_problem
from mella.pipeline.checks import problems_of
from mella.pipeline.entry import Entry, StageOptions
from mella.pipeline.registry import get_stage
from mella.pipeline.shards import REMOTE_PREFIXES, check_inputs

EXECUTORS = ("local", "ray")
TOP_KEYS = {"name": str, "executor": str, "workers": int, "ray_address": str, "stages": list}
STAGE_KEYS = ("stage", "inputs", "id")
STAGE_REF = "stage:"


@dataclass
class StageConfig:
    """One validated stage entry: the stage class, its options, and where it reads from."""

    stage: str
    id: str
    options: StageOptions
    inputs: list[str] | None = None
    after: str | None = None   # the id of the stage whose output it reads, when inputs are not given

    def build(self) -> Entry:
        return get_stage(self.stage)(self.options)

    def input_paths(self, stage_dir: Callable[[str], Path]) -> list[str]:
        """What the entry reads: its inputs, with ``stage:<id>`` made that entry's folder (``stage_dir(id)``),
        or the folder of the entry before it."""
        if self.inputs is None:
            return [str(stage_dir(str(self.after)))]
        return [str(stage_dir(i[len(STAGE_REF):])) if i.startswith(STAGE_REF) else i for i in self.inputs]


@dataclass
class PipelineConfig:
    name: str
    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    stages: list[StageConfig] = field(default_factory=list)
    run_dir: str | None = None

    def resolved(self) -> dict[str, Any]:
        """The config with every default filled in (what run.json records)."""
        return {
            "name": self.name, "executor": self.executor, "workers": self.workers, "ray_address": self.ray_address,
            "stages": [{"stage": s.stage, "id": s.id, "inputs": s.inputs, "after": s.after,
                        **s.options.model_dump(mode="json")} for s in self.stages],
        }


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: Any) -> str:
    return type(value).__name__


def _error_lines(where: str, err: dict[str, Any], fields) -> list[str]:
    """One pydantic error as problem lines: a field's, or those of a check across fields (mella.pipeline.checks)."""
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return [f"{where}: unknown option {loc!r}{_suggest(loc, fields)}; valid options: {', '.join(fields) or 'none'}"]
    if problems_of(err):
        return [f"{where}: {message}" for _, message in problems_of(err)]
    if not loc:  # a model validator's ValueError: the input is the whole mapping, not worth echoing
        return [f"{where}: {err['msg'].removeprefix('Value error, ')}"]
    return [error_line(err, where)]


def option_problems(where: str, cls: type[Entry], raw: dict[str, Any]) -> tuple[StageOptions | None, list[str]]:
    """The stage's Options from ``raw``, or every problem: each field's, then the checks across fields."""
    fields = cls.Options.model_fields
    try:
        return cls.Options.model_validate(raw), []
    except ValidationError as exc:
        errors = exc.errors()
    problems = [line for err in errors for line in _error_lines(where, err, fields)]
    failed = {str(err["loc"][0]) for err in errors if err["loc"]}
    if failed:  # pydantic skips the checks across fields when a field fails: run them without the failed ones
        try:
            cls.Options.model_validate({k: v for k, v in raw.items() if k not in failed})
        except ValidationError as exc:
            problems += [f"{where}: {message}" for err in exc.errors() for names, message in problems_of(err)
                         if not failed & set(names)]
    return None, [_one_line(p) for p in problems]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {i: repr(chr(i))[1:-1] for i in [*range(32), 0x7f]}


def _one_line(problem: str) -> str:
    """A problem with its control characters escaped: a value's newline must not split the message."""
    return problem.translate(_ESCAPES)


def _check_inputs(where: str, inputs: Any, reads: str, base: Path,
                  earlier: set[str]) -> tuple[list[str] | None, list[str]]:
    if isinstance(inputs, str):
        inputs = [inputs]
    if not inputs or not isinstance(inputs, list) or not all(isinstance(i, str) and i for i in inputs):
        return None, [f"{where}.inputs: expected a path or a list of paths (got {inputs!r})"]
    # `stage:<id>` names the output of an earlier entry of this run; it cannot be checked before the run.
    refs = [i for i in inputs if i.startswith(STAGE_REF)]
    problems = [f"{where}.inputs: {r!r} names no earlier stage (earlier: {', '.join(sorted(earlier)) or 'none'})"
                for r in refs if r[len(STAGE_REF):] not in earlier]
    paths = [i for i in inputs if not i.startswith(STAGE_REF)]
    odd = [p for p in paths if _CONTROL.search(p)]  # named with repr: a raw newline would break the message
    problems += [f"{where}.inputs: {p!r} holds a control character" for p in odd]
    paths = [p for p in paths if p not in odd]
    resolved = [i if i.startswith(REMOTE_PREFIXES) or Path(i).is_absolute() else str(base / i) for i in paths]
    problems += [f"{where}.inputs: {p}" for p in check_inputs(resolved, reads)] if resolved else []
    return refs + resolved, problems


def _stage_problems(i: int, entry: Any, ids: set[str], prev: str | None, base: Path) -> tuple[StageConfig | None, list[str]]:
    where = f"stages[{i}]"
    if not isinstance(entry, dict):
        return None, [f"{where}: expected a mapping with a 'stage' key (got {_type_name(entry)})"]
    if "stage" not in entry:
        return None, [f"{where}: missing 'stage' (the stage name)"]
    name = entry["stage"]
    try:
        cls = get_stage(str(name))
    except MellaError as exc:
        return None, [f"{where}: {exc}"]
    where = f"stages[{i}] ({name})"
    raw = {k: v for k, v in entry.items() if k not in STAGE_KEYS}
    options, problems = option_problems(where, cls, raw)
    sid = str(entry.get("id") or name)
    problems += [f"{where}: {p}" for p in [name_problem("id", sid)] if p]  # the id is the stage's folder name
    if sid in ids:
        problems.append(f"{where}: id {sid!r} is used twice; give one of them another 'id'")
    inputs = None
    if "inputs" in entry:
        inputs, more = _check_inputs(where, entry["inputs"], cls.reads, base, ids)
        problems += more
    elif prev is None:
        problems.append(f"{where}: the first stage needs 'inputs'")
    if problems:
        return None, problems
    return StageConfig(stage=str(name), id=sid, options=options, inputs=inputs,
                       after=None if inputs is not None else prev), []


def parse_pipeline(doc: Any, source: str = "pipeline", base: Path | None = None) -> PipelineConfig:
    """Validate a pipeline mapping; raise ConfigError listing every problem at once."""
    base = base or Path.cwd()
    if not isinstance(doc, dict):
        raise ConfigError([f"expected a mapping with 'name' and 'stages' (got {_type_name(doc)})"], source)
    problems: list[str] = []
    for key, value in doc.items():
        if key not in TOP_KEYS:
            problems.append(f"unknown key {key!r}{_suggest(str(key), TOP_KEYS)}; valid keys: {', '.join(TOP_KEYS)}")
        elif value is not None and (not isinstance(value, TOP_KEYS[key]) or isinstance(value, bool)):
            problems.append(f"{key}: expected {TOP_KEYS[key].__name__} (got {value!r})")
    if doc.get("name") is not None and name_problem("name", doc["name"]):
        problems.append(name_problem("name", doc["name"]))  # the default run folder is runs/<name>
    workers = doc.get("workers")
    if isinstance(workers, int) and not isinstance(workers, bool) and workers < 1:
        problems.append(f"workers: must be at least 1 (got {workers}); leave it out for one per core")
    if doc.get("executor", "local") not in EXECUTORS:
        problems.append(f"executor: {doc['executor']!r} is not one of {', '.join(EXECUTORS)}")
    stages_raw = doc.get("stages")
    if not stages_raw or not isinstance(stages_raw, list):
        problems.append("stages: expected a non-empty list of stages")
        stages_raw = []
    stages: list[StageConfig] = []
    prev: str | None = None
    for i, entry in enumerate(stages_raw):
        cfg, more = _stage_problems(i, entry, {s.id for s in stages}, prev, base)
        problems += more
        if cfg is not None:
            stages.append(cfg)
        prev = cfg.id if cfg is not None else (str(entry.get("id") or entry.get("stage")) if isinstance(entry, dict) else prev)
    if problems:
        raise ConfigError([_one_line(p) for p in problems], source)
    return PipelineConfig(name=str(doc.get("name") or Path(source).stem), executor=doc.get("executor", "local"),
                          workers=doc.get("workers"), ray_address=doc.get("ray_address"), stages=stages)


def load_pipeline(path: str, run_dir: str | None = None) -> PipelineConfig:
    """Read and validate a pipeline YAML file; relative inputs are relative to the file's folder.

    Besides the environment, ``${MELLA_PIPELINE_DIR}`` (this file's folder) and ``${MELLA_RUN_DIR}`` (the run
    folder: ``run_dir``, else ``runs/<name>``) can be used in the file's values.
    """
    text = read_text(path, "pipeline file")
    env = {**os.environ, "MELLA_PIPELINE_DIR": str(Path(path).resolve().parent)}
    if run_dir is None:  # the default run folder is named after the pipeline: peek at its name first
        try:
            peeked = load_yaml(text, path, {**env, "MELLA_RUN_DIR": "."})
        except ConfigError:
            peeked = None  # the full parse below reports it
        name = peeked.get("name") if isinstance(peeked, dict) else None
        usable = isinstance(name, str) and name and "\0" not in name  # parse_pipeline names what is wrong
        run_dir = f"runs/{name if usable else Path(path).stem}"
    env["MELLA_RUN_DIR"] = str(Path(run_dir).resolve())
    doc = load_yaml(text, path, env)
    config = parse_pipeline(doc, source=path, base=Path(path).resolve().parent)
    config.run_dir = run_dir
    return config
