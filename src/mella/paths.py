"""Names that become paths, checked where they enter; writes checked to stay under their root.

Stage ids, pipeline names and image/sample keys end up as file names. They are held to one safe
character set (letters, digits, ``_``, ``-``, and ``.`` inside a name), so ``../x``, ``/abs``, ``a/b``,
``..`` and control characters never reach a path. :func:`under` is the second line of defence: every
path mella builds from data is resolved and must stay inside the folder it was meant for.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mella.errors import MellaError

#: Inputs that are addresses, not paths: kept as they are in markers, read through mella.net or fsspec.
REMOTE_PREFIXES = ("http://", "https://", "s3://", "gs://", "gcs://", "az://", "abfs://", "hf://", "cc:")
# A stage id or pipeline name: starts with a letter or digit; no separators, no "..".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# An image or sample key: also a WebDataset key, which ends at the first dot, so no dots at all.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")


def name_problem(kind: str, value: object) -> str | None:
    """Why ``value`` cannot be a ``kind`` (a stage id, a pipeline name), or None when it can."""
    text = str(value)
    if not _NAME.fullmatch(text) or ".." in text:
        return (f"{kind} {text!r} is not a safe folder name (letters, digits, '_', '-', '.'; "
                "starting with a letter or digit; no '/' or '..')")
    return None


def check_key(key: object, where: str) -> str:
    """``key`` when it is a safe image/sample key, else a one-line MellaError naming ``where`` it came from."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise MellaError(f"{where}: key {key!r} is not a safe key (letters, digits, '_', '-'; at most 200); "
                         "keys become file names")
    return key


def is_safe_key(key: object) -> bool:
    return isinstance(key, str) and bool(_KEY.fullmatch(key))


def under(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path`` (relative to ``root`` unless absolute), refused unless it resolves inside ``root``."""
    base = Path(root).resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise MellaError(f"refusing to write {path} outside {root}")
    return target


def contains(outer: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both resolved)."""
    return inner == outer or outer in inner.parents


def portable(path: str, base: str | os.PathLike) -> str:
    """How a marker records the input ``path``: relative to ``base`` (a stage folder) when both lie in
    the same run folder, so the run folder can move; else absolute. URLs are kept as they are."""
    if path.startswith(REMOTE_PREFIXES):
        return path
    target, here = Path(path).resolve(), Path(base).resolve()
    if contains(here.parent, target):
        return os.path.relpath(target, here)
    return str(target)


def from_marker(recorded: str, base: str | os.PathLike) -> str:
    """The path a marker in folder ``base`` recorded: relative ones are relative to ``base``, never to the
    working directory."""
    if recorded.startswith(REMOTE_PREFIXES) or os.path.isabs(recorded):
        return recorded
    return str((Path(base) / recorded).resolve())
