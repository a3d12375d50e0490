"""What ``--overwrite`` may delete: only what mella wrote, never an input or another stage's folder.

Before anything is deleted, the output folder is checked against every input and every stage folder
around it; any overlap is refused with one line naming both paths:

- the output is, holds, or lies inside an input (a file or folder the stage reads);
- the output holds another stage's folder or a run folder (``run.json``), or lies inside the folder
  of another stage;
- the output is the folder of another stage (its ``stats.json`` names a different stage).

Then only files mella writes are removed: parts (``part-NNNNN.*``), their temporaries, ``_dropped/``,
``_global/``, ``stats.json``, ``_SUCCESS`` and the files a step's ``_SUCCESS`` lists as its own. Any
other file stays where it is.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
from pathlib import Path

from mella.errors import MellaError
from mella.paths import REMOTE_PREFIXES, contains

log = logging.getLogger("mella")

# Files and folders of a stage folder that only mella writes.
_OWNED = re.compile(r"(part-\d{5}\..+|\.part-\d{5}\..+\.tmp|\..+\.tmp|stats\.json|_SUCCESS|_dropped|_global|_retry)")
RUN_MANIFEST = "run.json"


def _stage_of(folder: Path) -> str | None:
    """The stage that wrote ``folder`` (from its stats.json or _SUCCESS), or None when mella did not."""
    for name in ("stats.json", "_SUCCESS"):
        path = folder / name
        if path.is_file() and path.stat().st_size:
            try:
                info = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(info, dict) and info.get("stage"):
                return str(info["stage"])
    if (folder / "stats.json").exists() or any(folder.glob("part-*._SUCCESS")):
        return "unknown"
    return None


def _local_inputs(inputs: list[str]) -> list[Path]:
    out = []
    for item in inputs:
        if item.startswith(REMOTE_PREFIXES):
            continue
        if any(ch in item for ch in "*?["):  # a glob: the folders before its first wildcard
            fixed = list(itertools.takewhile(lambda p: not any(ch in p for ch in "*?["), Path(item).parts))
            item = os.path.join(*fixed) if fixed else "."
        out.append(Path(item).resolve())
    return out


def overlap_problem(out: str | os.PathLike, inputs: list[str], stage: str) -> str | None:
    """Why deleting ``out`` could lose data (one line), or None when it is safe."""
    target = Path(out).resolve()
    for src in _local_inputs(inputs):
        if contains(target, src):
            what = "is" if src == target else "holds"
            return f"--overwrite would delete {out}, which {what} the input {src}"
        if contains(src, target):
            return f"--overwrite would delete {out}, which lies inside the input {src}"
    for parent in target.parents:
        other = _stage_of(parent)
        if other is not None and other != stage:
            return f"--overwrite would delete {out}, which lies inside the output of stage {other} ({parent})"
        if (parent / RUN_MANIFEST).exists():
            break  # the run folder: stages above it are not ours to judge
    if (target / RUN_MANIFEST).exists():
        return f"--overwrite would delete {out}, which is a run folder (it has {RUN_MANIFEST}); name the stage's folder"
    other = _stage_of(target) if target.is_dir() else None
    if other not in (None, stage, "unknown"):
        return f"--overwrite would delete {out}, which is the output of stage {other}, not {stage}"
    if target.is_dir():
        for sub in target.rglob("*"):
            if sub.is_dir() and not sub.name.startswith(("_", ".")) and \
                    (_stage_of(sub) is not None or (sub / RUN_MANIFEST).exists()):
                return f"--overwrite would delete {out}, which holds the output of another stage ({sub})"
    return None


def other_stage_problem(out: str | os.PathLike, stage: str) -> str | None:
    """Why ``stage`` may not write into ``out`` (another stage's folder, or a run folder), or None."""
    path = Path(out)
    if not path.is_dir():
        return None
    if (path / RUN_MANIFEST).exists():
        return f"{out} is a run folder (it has {RUN_MANIFEST}); give {stage} a folder of its own"
    other = _stage_of(path)
    if other not in (None, stage, "unknown"):
        return f"{out} is the output of stage {other}; {stage} needs a folder of its own"
    return None


def owned_files(folder: Path) -> list[Path]:
    """What mella wrote in ``folder``: its parts, markers and stats, and the files its steps recorded."""
    owned = [p for p in folder.iterdir() if _OWNED.fullmatch(p.name)]
    marker = folder / "_SUCCESS"
    if marker.is_file() and marker.stat().st_size:
        try:
            listed = json.loads(marker.read_text(encoding="utf-8")).get("files") or []
        except (OSError, ValueError, AttributeError):
            listed = []
        from mella.paths import under

        for rel in listed:
            try:
                owned.append(under(folder, rel))
            except MellaError:
                log.warning("%s: _SUCCESS lists %s, outside the folder; left alone", folder, rel)
    return sorted(set(owned))


def clear_output(out: str | os.PathLike, inputs: list[str], stage: str) -> None:
    """``--overwrite``: refuse any overlap with inputs or other stages, then delete only what mella wrote."""
    path = Path(out)
    if not path.exists():
        return
    if not path.is_dir():
        raise MellaError(f"--out {out} is a file, not a folder")
    problem = overlap_problem(path, inputs, stage)
    if problem:
        raise MellaError(problem)
    for item in owned_files(path):
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        elif item.exists() or item.is_symlink():
            item.unlink()
    for folder in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()  # folders emptied above (a step's images/); never one holding other files
    left = [p for p in path.rglob("*") if p.is_file() and p.name != ".mella.lock"]
    if left:
        log.warning("%s: %d files mella did not write were left in place (e.g. %s)", out, len(left), left[0])


def record_files(folder: Path, skip: set[str] = frozenset({"_SUCCESS", "stats.json", ".mella.lock"})) -> list[str]:
    """Every file under ``folder`` (relative, sorted): what a step's ``_SUCCESS`` records as its own."""
    return sorted(rel for rel in (p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                  if p.is_file() and not p.name.startswith("."))
                  if rel not in skip)
