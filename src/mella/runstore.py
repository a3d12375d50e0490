"""The run folder: ``runs/<name>/<stage>/part-NNNNN.parquet``, markers, stats and the manifest.

Layout of one stage folder::

    part-00000.parquet          kept rows of input shard 0
    part-00000._SUCCESS         JSON marker: written last, so a part with a marker is complete
    part-00000.tar              optional side output of the part (e.g. image shards)
    _dropped/part-00000.parquet dropped rows with ``drop_reason``
    stats.json                  counters merged over all parts (recomputed from the markers)
    _SUCCESS                    the whole stage finished

Every file is written under a hidden temporary name and renamed when complete, so killing a run
at any moment loses nothing committed and leaves nothing half-written under a final name.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mella.errors import MellaError
from mella.paths import from_marker, portable
from mella.records import with_drop_reason

PART_GLOB = "part-[0-9][0-9][0-9][0-9][0-9].parquet"


def part_name(index: int) -> str:
    return f"part-{index:05d}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=False, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def source_record(uri: str, stage_dir: StageDir) -> dict[str, str]:
    """How a part marker names its input: ``source`` relative to the stage folder inside the run folder (else
    absolute, never relative to the working directory), and ``source_fingerprint``, the fingerprint of the
    stage that wrote that input part, so a reader can tell when the input was rewritten since."""
    record = {"source": portable(uri, stage_dir.path)}
    upstream = Path(uri).with_suffix("._SUCCESS") if uri.endswith(".parquet") else None
    if upstream is not None and upstream.is_file():
        try:
            fp = read_json(upstream).get("fingerprint")
        except (OSError, ValueError):
            fp = None
        if fp:
            record["source_fingerprint"] = fp
    return record


class ArtifactSink:
    """Temporary paths for one part's side outputs (a stage's ``out.artifact("tar")``); committed with the part."""

    def __init__(self, directory: Path, part_name: str, token: str):
        self.directory, self.part_name, self.token = directory, part_name, token
        self.paths: dict[str, Path] = {}

    def path(self, suffix: str) -> Path:
        if suffix not in self.paths:
            self.paths[suffix] = self.directory / f".{self.part_name}.{suffix}.{self.token}.tmp"
        return self.paths[suffix]

    def final(self, suffix: str) -> Path:
        return self.directory / f"{self.part_name}.{suffix}"


class PartWriter:
    """Streams one part's kept and dropped rows to temporary files; :meth:`commit` makes them final."""

    def __init__(self, stage_dir: StageDir, index: int, schema: pa.Schema):
        self.stage_dir, self.index, self.schema = stage_dir, index, schema
        self.name = part_name(index)
        self.token = uuid.uuid4().hex[:8]
        stage_dir.clean_part(index)
        self._kept_tmp = stage_dir.path / f".{self.name}.parquet.{self.token}.tmp"
        self._dropped_tmp = stage_dir.dropped_dir / f".{self.name}.parquet.{self.token}.tmp"
        self._kept = pq.ParquetWriter(self._kept_tmp, schema)
        self._dropped: pq.ParquetWriter | None = None
        self.artifacts = ArtifactSink(stage_dir.path, self.name, self.token)
        self.rows = 0
        self.dropped = 0

    def _table(self, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
        try:
            return pa.Table.from_pylist(rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise MellaError(f"{self.stage_dir.path.name}/{self.name}: rows do not match the stage schema: {exc}") from None

    def write(self, kept: list[dict[str, Any]], dropped: list[dict[str, Any]]) -> None:
        if kept:
            self._kept.write_table(self._table(kept, self.schema))
            self.rows += len(kept)
        if dropped:
            if self._dropped is None:
                self.stage_dir.dropped_dir.mkdir(exist_ok=True)
                self._dropped = pq.ParquetWriter(self._dropped_tmp, with_drop_reason(self.schema))
            self._dropped.write_table(self._table(dropped, with_drop_reason(self.schema)))
            self.dropped += len(dropped)

    def commit(self, marker: dict[str, Any]) -> None:
        self._kept.close()
        os.replace(self._kept_tmp, self.stage_dir.path / f"{self.name}.parquet")
        if self._dropped is not None:
            self._dropped.close()
            os.replace(self._dropped_tmp, self.stage_dir.dropped_dir / f"{self.name}.parquet")
        for suffix, tmp in self.artifacts.paths.items():
            if tmp.exists():
                os.replace(tmp, self.artifacts.final(suffix))
        marker = {**marker, "part": self.name, "rows": self.rows, "dropped": self.dropped, "committed_at": now_iso()}
        write_json_atomic(self.stage_dir.marker(self.index), marker)

    def abort(self) -> None:
        for w in (self._kept, self._dropped):
            try:
                if w is not None:
                    w.close()
            except Exception:  # already failing; removing the temporaries is what matters
                pass
        self.stage_dir.clean_part(self.index)


class StageDir:
    """One stage's output folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def dropped_dir(self) -> Path:
        return self.path / "_dropped"

    def marker(self, index: int) -> Path:
        return self.path / f"{part_name(index)}._SUCCESS"

    def part_file(self, index: int) -> Path:
        return self.path / f"{part_name(index)}.parquet"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def clean_part(self, index: int) -> None:
        """Remove leftovers of an earlier, interrupted attempt at this part."""
        name = part_name(index)
        for folder in (self.path, self.dropped_dir):
            if folder.is_dir():
                for tmp in folder.glob(f".{name}.*.tmp"):
                    tmp.unlink(missing_ok=True)
        (self.path / "_SUCCESS").unlink(missing_ok=True)

    def committed(self, index: int, fingerprint: str, source: str) -> bool:
        """Whether part ``index`` is done for this stage config and input; a mismatch is an error."""
        marker = self.marker(index)
        if not (marker.exists() and self.part_file(index).exists()):
            return False
        info = read_json(marker)
        raw = info.get("source")
        recorded = from_marker(raw, self.path) if raw is not None else None
        if info.get("fingerprint") != fingerprint:
            raise MellaError(
                f"{self.path}: {part_name(index)} was written with other options of this stage (or by a version "
                "of mella whose output differs); "
                "use a new output folder or --overwrite"
            )
        here = from_marker(portable(source, self.path), self.path)
        # Markers written before inputs were recorded this way hold the input as given (relative to the cwd).
        legacy = raw is not None and "source_fingerprint" not in info and not os.path.isabs(raw) \
            and not raw.startswith("../") and str(Path(raw).resolve()) == here
        if recorded != here and not legacy:
            raise MellaError(
                f"{self.path}: {part_name(index)} was written from input {recorded}, not {source}; "
                "use a new output folder or --overwrite"
            )
        return True

    def check_part_count(self, n_shards: int) -> None:
        """Refuse a folder holding parts beyond this run's inputs (they would be read as output)."""
        extra = [p.name for p in self.path.glob(PART_GLOB) if int(p.name[5:10]) >= n_shards]
        if extra:
            raise MellaError(
                f"{self.path} holds {len(extra)} parts beyond the {n_shards} inputs of this run "
                f"(e.g. {sorted(extra)[0]}); use a new output folder or --overwrite"
            )

    def markers(self) -> list[dict[str, Any]]:
        return [read_json(p) for p in sorted(self.path.glob("part-*._SUCCESS"))]

    def is_complete(self) -> bool:
        return (self.path / "_SUCCESS").exists()

    def committed_part_files(self, strict: bool = False) -> list[Path]:
        """Part files that have their marker. ``strict`` requires the whole stage to have finished."""
        if strict and not self.is_complete():
            raise MellaError(
                f"{self.path} is the output of a stage that has not finished (no _SUCCESS); rerun that stage first"
            )
        return [p for p in sorted(self.path.glob(PART_GLOB)) if p.with_suffix("._SUCCESS").exists()]

    def write_stats(self, stage: str, options: dict[str, Any], extra: dict[str, Any] | None = None,
                    complete: bool = False) -> dict[str, Any]:
        """Merge the counters of every committed part into ``stats.json`` (and mark the stage done)."""
        markers = self.markers()
        counters: Counter = Counter()
        for m in markers:
            counters.update(m.get("counters", {}))
        stats = {
            "stage": stage,
            "options": options,
            "parts": len(markers),
            "rows": sum(m.get("rows", 0) for m in markers),
            "dropped": sum(m.get("dropped", 0) for m in markers),
            "counters": dict(sorted(counters.items())),
            "per_part": {m["part"]: {"source": m.get("source"), "rows": m.get("rows", 0),
                                     "counters": m.get("counters", {})} for m in markers},
            "complete": complete,
            **(extra or {}),
        }
        write_json_atomic(self.path / "stats.json", stats)
        if complete:
            (self.path / "_SUCCESS").touch()
        return stats

    def read_stats(self) -> dict[str, Any]:
        path = self.path / "stats.json"
        return read_json(path) if path.exists() else {}


def package_versions() -> dict[str, str]:
    """Versions of mella and the libraries that change results (read from metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["mella", "pyarrow", "pydantic", "torch", "transformers", "accelerate", "peft", "trl", "ray",
             "vllm", "sacrebleu", "nltk", "pythainlp", "fastwarc", "selectolax", "lingua-language-detector",
             "pillow"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_commit() -> dict[str, Any] | None:
    """The commit of the mella source tree, when it runs from a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(dirty)}


class RunStore:
    """A run folder: one subfolder per stage plus ``run.json``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def stage_dir(self, name: str) -> StageDir:
        return StageDir(self.path / name)

    @property
    def manifest_path(self) -> Path:
        return self.path / "run.json"

    def read_manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path) if self.manifest_path.exists() else {}

    def start(self, config: dict[str, Any]) -> dict[str, Any]:
        self.path.mkdir(parents=True, exist_ok=True)
        previous = self.read_manifest()
        manifest = {
            "name": config.get("name"),
            "status": "running",
            "config": config,
            "versions": package_versions(),
            "git": git_commit(),
            "host": {"hostname": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count()},
            "started_at": now_iso(),
            "ended_at": None,
            "attempts": previous.get("attempts", 0) + 1,
            "stages": {},
        }
        write_json_atomic(self.manifest_path, manifest)
        self._t0 = time.time()
        return manifest

    def update(self, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest()
        manifest.update(fields)
        write_json_atomic(self.manifest_path, manifest)
        return manifest

    def finish(self, status: str, stages: dict[str, Any]) -> dict[str, Any]:
        return self.update(status=status, ended_at=now_iso(), stages=stages)
