"""Where options come from and how their problems are worded, below every layer that has options.

- :func:`error_line`: a pydantic error as one problem line, ``where.field: message (got value)``. Pipeline files
  and stage flags (:mod:`mella.config`), training configs (:mod:`mella.train.config`) and model backends
  (:mod:`mella.models.base`) word their problems with it, so the same mistake reads the same everywhere.
- :func:`runtime_option`: the mark of an option that changes how an entry runs but not what it writes (left out
  of the fingerprint), for option groups declared below the pipeline (:class:`mella.net.NetStageOptions`).
- :func:`read_text` and :func:`load_yaml`: a config file's text (UTF-8, or one problem naming the byte) and its
  YAML with ``${ENV}`` references replaced outside comments, for pipeline files and training configs alike.

It imports only pydantic, yaml (when a file is parsed) and :mod:`mella.errors`, never :mod:`mella.config` or the
pipeline, so every layer can use it without importing the ones above it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from mella.errors import ConfigError, MellaError

# -- options ---------------------------------------------------------------------------------------------------


def runtime_option(default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic Field for an option that changes how an entry runs but not what it outputs."""
    return Field(default, json_schema_extra={"runtime": True}, **kwargs)


def is_runtime(info: FieldInfo) -> bool:
    """Whether a field was declared with :func:`runtime_option` (so fingerprints leave it out)."""
    extra = info.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("runtime"))


def with_default(model: type[BaseModel], name: str, default: Any) -> Any:
    """``model``'s field ``name`` with another default, for a subclass that redeclares it: the type, checks,
    description and runtime mark stay the shared ones, only the starting value is the subclass's own."""
    return FieldInfo.merge_field_infos(model.model_fields[name], default=default)


# -- pydantic errors as problem lines -----------------------------------------------------------------------------


def error_location(err: Mapping[str, Any], where: str = "") -> str:
    """Where one pydantic error is: ``where.field.sub`` (``where`` alone for an error of the whole model)."""
    parts = (where, *err["loc"]) if where else err["loc"]
    return ".".join(str(p) for p in parts)


def error_line(err: Mapping[str, Any], where: str = "", *, echo_input: bool = True) -> str:
    """One pydantic error as one problem: ``where.field: message (got value)``.

    The value is echoed (``repr``) unless the field is missing or ``echo_input`` is False; an error with
    neither ``where`` nor a field is about the whole ``options``.
    """
    got = f" (got {err['input']!r})" if echo_input and "input" in err and err["type"] != "missing" else ""
    return f"{error_location(err, where) or 'options'}: {err['msg']}{got}"


# -- config files --------------------------------------------------------------------------------------------------

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate_env(text: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Replace ``${NAME}`` and ``${NAME:-default}`` with environment values; unset names are problems."""
    env = dict(os.environ) if env is None else env
    missing: list[str] = []

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(f"environment variable {name} is not set (used as ${{{name}}}; "
                       f"set it or write ${{{name}:-default}})")
        return m.group(0)

    return _ENV_REF.sub(sub, text), missing


def read_text(path: str | Path, what: str) -> str:
    """A config file's text; unreadable or non-UTF-8 files are one problem naming the file (and the byte)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MellaError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); "
                           "save the file as UTF-8"], str(path)) from None


def _yaml_problem(exc: Exception, text: str = "") -> str:
    """A YAML error as one line, with where it is."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, most controls)
        line = text.count("\n", 0, exc.position) + 1
        return f"not valid YAML at line {line}: character U+{exc.character:04X} is not allowed ({exc.reason})"
    mark = getattr(exc, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return " ".join(f"not valid YAML{at}: {getattr(exc, 'problem', None) or exc}".split())


def _comment_spans(text: str, source: str) -> list[tuple[int, int]]:
    """Where the comments of a YAML text are, found with the YAML scanner (``#`` inside a quoted or plain
    scalar is no comment). ``${...}`` references are masked first so that the scan sees plain text."""
    import yaml

    masked = _ENV_REF.sub(lambda m: re.sub(r"[^\n]", "x", m.group(0)), text)  # same length, same lines
    try:
        tokens = list(yaml.scan(masked, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc, masked)], source) from None
    spans = []
    for before, after in zip(tokens, tokens[1:], strict=False):
        gap_start, gap_end = before.end_mark.index, after.start_mark.index  # only blanks and comments between
        at = masked.find("#", gap_start, gap_end)
        while at != -1:
            stop = masked.find("\n", at, gap_end)
            stop = gap_end if stop == -1 else stop
            spans.append((at, stop))
            at = masked.find("#", stop, gap_end)
    return spans


def load_yaml(text: str, source: str, env: dict[str, str] | None = None) -> Any:
    """Parse YAML after replacing ``${NAME}`` / ``${NAME:-default}`` with environment values, outside comments.

    Comments are cut first (found by the YAML scanner, so a ``#`` inside quotes stays), then the references
    are replaced as text (a value may be a number, or items of a flow list: ``[${CHECKS:-echo,copy}]``), then
    the text is parsed. Every unset name, or the syntax error, is a ConfigError naming ``source``.
    """
    import yaml

    kept, last = [], 0
    for start, stop in _comment_spans(text, source):
        kept.append(text[last:start])
        last = stop
    text, missing = interpolate_env("".join(kept) + text[last:], env)
    if missing:
        raise ConfigError(list(dict.fromkeys(missing)), source)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc, text)], source) from None
    except RecursionError:
        raise ConfigError(["not valid YAML: nested too deeply"], source) from None
