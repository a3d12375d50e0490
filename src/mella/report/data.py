"""What the report shows, read from a run folder: stage stats, languages, drop reasons, images, scores, and the
culture statistics of D_know.

Only the columns each view needs are read (``lang``, ``drop_reason``, ...), so a report of a large run
stays cheap. Nothing here renders; :mod:`mella.report.html` does.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mella.errors import InputError
from mella.pipeline.shards import parquet_schema, read_parquet

if TYPE_CHECKING:
    from mella.dataset.culture_stats import CultureStats

GALLERY_TEXT = ("alt", "caption", "caption_thick", "translation", "translation_thick")


@dataclass
class StageInfo:
    """One stage folder of the run."""

    name: str
    path: Path
    stats: dict[str, Any]
    columns: list[str] = field(default_factory=list)

    @property
    def parts(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    @property
    def dropped_parts(self) -> list[Path]:
        return sorted((self.path / "_dropped").glob("part-*.parquet"))

    @property
    def has_images(self) -> bool:
        return any(self.path.glob("part-*.tar"))


def _read_columns(files: list[Path], wanted: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in files:
        names = parquet_schema(f).names
        cols = [c for c in wanted if c in names]
        if cols:
            rows.extend(read_parquet(f, columns=cols).to_pylist())
    return rows


class RunData:
    """A run folder as the report sees it."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        manifest = self.path / "run.json"
        self.manifest = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else {}
        self.stages = self._stages()

    @property
    def name(self) -> str:
        return self.manifest.get("name") or self.path.name

    def _stages(self) -> list[StageInfo]:
        order = list((self.manifest.get("stages") or {}).keys())
        found = {p.parent.name: p.parent for p in self.path.glob("*/stats.json")}
        names = [n for n in order if n in found] + sorted(n for n in found if n not in order)
        out = []
        for name in names:
            stats = json.loads((found[name] / "stats.json").read_text(encoding="utf-8"))
            info = StageInfo(name, found[name], stats)
            info.columns = parquet_schema(info.parts[0]).names if info.parts else []
            out.append(info)
        if not out:
            raise InputError(_no_stages(self.path))
        return out

    def translate_checks(self) -> list[dict[str, Any]]:
        """Per translate stage in the run's config: the output checks it ran and those it left off."""
        from mella.annotate.checks import CHECKS

        out = []
        for stage in (self.manifest.get("config") or {}).get("stages") or []:
            if stage.get("stage") == "translate":
                ran = list(stage.get("checks") or [])
                out.append({"id": stage.get("id"), "ran": ran, "off": [c for c in CHECKS if c not in ran]})
        return out

    def funnel(self) -> tuple[list[str], dict[str, list[int | None]]]:
        """Stage names and, per language, the rows each stage kept (None before language ID); "(all)": totals."""
        stages = [s for s in self.stages if s.parts]  # row stages; steps (report, evaluate) have no parts
        per_lang: dict[str, list[int | None]] = {}
        for i, stage in enumerate(stages):
            if "lang" not in stage.columns:
                continue  # before language identification: only the total is known
            for lang, n in Counter(r["lang"] or "?" for r in _read_columns(stage.parts, ["lang"])).items():
                per_lang.setdefault(lang, [None if "lang" not in s.columns else 0 for s in stages])[i] = n
        out = dict(sorted(per_lang.items()))
        out["(all)"] = [int(s.stats.get("rows", 0)) for s in stages]
        return [s.name for s in stages], out

    def drop_reasons(self) -> dict[str, dict[str, Counter]]:
        """Per stage, per language (or '?' where language ID had not run): drop reason counts."""
        out: dict[str, dict[str, Counter]] = {}
        for stage in self.stages:
            rows = _read_columns(stage.dropped_parts, ["lang", "drop_reason"])
            if not rows:
                continue
            table: dict[str, Counter] = {}
            for r in rows:
                table.setdefault(r.get("lang") or "?", Counter())[r["drop_reason"]] += 1
            out[stage.name] = dict(sorted(table.items()))
        return out

    def values(self, column: str) -> dict[str, list[float]]:
        """A numeric column of the last stage that has it, per language."""
        for stage in reversed(self.stages):
            if column in stage.columns:
                rows = _read_columns(stage.parts, ["lang", column])
                out: dict[str, list[float]] = {}
                for r in rows:
                    if r.get(column) is not None:
                        out.setdefault(r.get("lang") or "?", []).append(float(r[column]))
                return dict(sorted(out.items()))
        return {}

    def gallery(self, per_lang: int = 6, thumb: int = 240) -> tuple[dict[str, list[dict[str, Any]]], Counter]:
        """Up to ``per_lang`` images per language with their texts, as inline thumbnails; and the images left out.

        Left out, counted by reason: ``image_missing``, ``image_too_large``, ``image_unreadable``.
        """
        skipped: Counter = Counter()
        image_stage = next((s for s in self.stages if s.has_images), None)
        last = next((s for s in reversed(self.stages) if {"key", "lang", "alt"} <= set(s.columns)), None)
        if image_stage is None or last is None:
            return {}, skipped
        from mella.fetch.images import StoredImageError
        from mella.fetch.wds import ImageStore

        store = ImageStore(image_stage.path)
        wanted = ["key", "lang", "image_url", "page_url", "lang_confidence", "relevance", "relevance_alt",
                  *GALLERY_TEXT]
        out: dict[str, list[dict[str, Any]]] = {}
        for row in _read_columns(last.parts, wanted):
            items = out.setdefault(row.get("lang") or "?", [])
            if len(items) >= per_lang or any(i["key"] == row["key"] for i in items):
                continue
            row = {**dict.fromkeys(wanted), **row}
            try:
                row["thumb"] = _thumbnail(store.open(row["key"]), thumb)
            except KeyError:
                skipped["image_missing"] += 1
                continue
            except StoredImageError as exc:  # a hostile or broken tar member: counted, shown, never fatal
                skipped[exc.reason] += 1
                continue
            items.append(row)
        return dict(sorted(out.items())), skipped

    def culture(self) -> dict[str, tuple[str, CultureStats] | None]:
        """Per culture statistic (kind, entities, category): the stage it was read from and the statistics of
        that stage's D_know rows; None where no stage of the run wrote its columns (not measured).

        Each is read from the last stage that has its columns, predictions left out: the build's D_know samples
        when build carries them, else the rows of an earlier stage (every row before build is a D_know candidate).
        """
        from mella.dataset.culture_stats import GROUPS, culture_stats

        out: dict[str, tuple[str, CultureStats] | None] = {}
        for statistic, columns in GROUPS.items():
            # predictions carry keywords too, but only of the test split: they are not D_know
            stage = next((s for s in reversed(self.stages)
                          if s.parts and columns[0] in s.columns and "prediction" not in s.columns), None)
            if stage is None:
                out[statistic] = None
                continue
            samples = "response" in stage.columns  # a build: only its know and both samples are D_know
            wanted = ["lang", *(["source"] if samples else []), *columns]
            out[statistic] = (stage.name, culture_stats(_read_columns(stage.parts, wanted)))
        return out

    def evaluations(self) -> dict[str, list[dict[str, Any]]]:
        """Every ``scores.json`` under the run folder, by its folder's path relative to the run."""
        out = {}
        for path in sorted(self.path.rglob("scores.json")):
            out[str(path.parent.relative_to(self.path)) or "."] = json.loads(path.read_text(encoding="utf-8"))
        return out

    def totals(self) -> dict[str, int]:
        return {s.name: int(s.stats.get("rows", 0)) for s in self.stages}


def _no_stages(path: Path) -> str:
    if (path / "stats.json").is_file():
        return f"{path} is one stage's folder; give its run folder ({path.parent}) to report the whole run"
    return f"{path} holds no stage output (no <stage>/stats.json): nothing to report; give a run folder"


def _thumbnail(img, size: int) -> str:
    """A JPEG data URI of at most ``size`` pixels on the longer side (the report embeds every image)."""
    from mella.fetch.images import encode

    img = img.convert("RGB")
    img.thumbnail((size, size))
    return "data:image/jpeg;base64," + base64.b64encode(encode(img, "jpg", 80)).decode("ascii")
