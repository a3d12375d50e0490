"""The ``build`` stage: annotated fetch rows -> D_know and D_ling samples with leakage-free splits.

Input: rows of the fetch stage plus the annotation columns (``records.ANNOTATIONS``). Per row, a D_know
sample (image -> the page's native alt-text: cultural knowledge) and a D_ling sample (image -> the caption
translated into the row's language: fluency), each with a native instruction template. Which samples are
kept and in which split is decided once for the whole input in :meth:`BuildStage.prepare`
(:mod:`mella.dataset.plan`); parts then map row to samples. D_know samples carry the row's culture columns
(``kind``, ``keywords``, ``keyword_kinds``, ``culture_category``, ``culture_score``) when the input has them, so
predict and evaluate can score keywords and entities. See docs/dataset.md.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mella.dataset import plan
from mella.dataset.baselines import code_switch
from mella.dataset.templates import pick, to_script
from mella.errors import MellaError
from mella.filter.langid import known_code
from mella.pipeline.checks import fractions_leave_room, languages, raise_problems
from mella.pipeline.stage import Stage, StageOptions, runtime_option
from mella.records import BUILD_READS, BUILT

log = logging.getLogger("mella")

# The caption each translation column was translated from.
CAPTION_OF = {"translation": "caption", "translation_thick": "caption_thick"}
# What a D_know sample carries over from its row (null where the input lacks the column; null on D_ling samples).
KNOW_COLUMNS = ("kind", "keywords", "keyword_kinds", "culture_category", "culture_score")
# build --exclude-benchmark (mella.dataset.decontaminate).
BENCHMARK_OPTIONS = ("exclude_benchmark", "benchmark_images")


class BuildOptions(StageOptions):
    recipe: Literal["mella", "know-only", "ling-only", "sdrrl"] = Field(
        "mella", description="Which samples: both sources, one of them, or the SDRRL baseline.")
    langs: list[str] = Field(default_factory=list, description="Languages to keep (default: all).")
    ling_field: Literal["translation", "translation_thick"] = Field(
        "translation", description="Column whose text is the D_ling answer.")
    min_relevance: float | None = Field(None, ge=-1, le=1, description="Drop D_ling samples scoring below this "
                                        "(relevance, or relevance_thick under --ling-field translation_thick).")
    min_relevance_alt: float | None = Field(None, ge=-1, le=1, description="Drop D_know samples scoring below this.")
    min_translation_qe: float | None = Field(
        None, description="Drop D_ling samples whose translation QE (translate's <ling_field>_qe) is below this.")
    know_kinds: list[Literal["description", "entity", "other"]] = Field(
        default_factory=list, description="D_know: the alt-text kinds (filter's kind) to keep (default: all).")
    min_culture_score: float | None = Field(
        None, ge=0, le=1, description="D_know: drop rows whose culture_score (mella culture) is below this.")
    max_kind_share: float | None = Field(
        None, gt=0, le=1, description="D_know train, per language: no kind above this share (the largest are cut).")
    max_category_share: float | None = Field(
        None, gt=0, le=1, description="D_know train, per language: no culture_category above this share.")
    test_size: float = Field(0.1, ge=0, description="Test samples per language and source (<1: fraction).")
    validation_size: float = Field(0.05, ge=0, description="Validation samples per language and source.")
    phash_distance: int = Field(4, ge=-1, le=31, description="pHash bits apart that still count as one image.")
    group_by_domain: bool = Field(False, description="Keep every domain inside one split.")
    splits_from: str | None = Field(None, description="Build folder whose image splits this build reuses.")
    know_ratio: float | None = Field(None, ge=0, le=1, description="Share of D_know in train per language.")
    max_per_lang: int | None = Field(None, ge=1, description="Most train samples per language.")
    balance: Literal["none", "equal"] = Field("none", description="equal: every language gets the smallest "
                                                                  "language's train size.")
    conversation: Literal["single", "two_turn"] = Field(
        "single", description="two_turn: both sources of one image as one conversation (train/validation).")
    code_switch_rate: float = Field(0.3, gt=0, le=1, description="sdrrl: share of lexicon matches switched.")
    seed: int = Field(0, description="Seed of template choice, split order and mixing.")
    exclude_benchmark: Literal["xm3600"] | None = Field(
        None, description="Drop rows whose image is one of this benchmark's images (same sha256, or pHash within "
                          "--phash-distance); needs --benchmark-images.")
    benchmark_images: str | None = Field(None, description="The benchmark's local image folder "
                                                           "(--exclude-benchmark).")
    images: str | None = runtime_option(None, description="Fetch folder with the image tars (default: found "
                                                           "next to the input).")

    @model_validator(mode="after")
    def _check(self):
        raise_problems(languages(self, "langs", detected=known_code)
                       + fractions_leave_room(self, "test_size", "validation_size", rest="train")
                       + _benchmark_problems(self))
        return self


def _benchmark_problems(opts: BuildOptions) -> list:
    """--exclude-benchmark and --benchmark-images go together."""
    if opts.exclude_benchmark and not opts.benchmark_images:
        return [(("benchmark_images",), "benchmark_images: --exclude-benchmark needs the benchmark's image folder")]
    if opts.benchmark_images and not opts.exclude_benchmark:
        return [(("exclude_benchmark",), "exclude_benchmark: --benchmark-images names no benchmark; add "
                                         "--exclude-benchmark xm3600")]
    return []


class BuildStage(Stage):
    """Build D_know + D_ling samples with native instructions and leakage-free splits."""

    name = "build"
    Options = BuildOptions
    requires = BUILD_READS
    schema = BUILT

    def fingerprint(self) -> str:
        """Without ``--exclude-benchmark`` its two options are left out: a build made before they existed resumes."""
        unused = () if self.options.exclude_benchmark else BENCHMARK_OPTIONS
        return self._fingerprint(leave_out=unused)

    def prepare(self, shards: list, stage_dir=None) -> Path:
        """The global pass (``Stage.prepare``): plan every row's samples and splits, once."""
        parts = [s.uri if hasattr(s, "uri") else str(s) for s in shards]
        out = Path(getattr(stage_dir, "path", stage_dir) or Path(parts[0]).parent / "_build_plan")
        work = out / "_global" / "build"
        work.mkdir(parents=True, exist_ok=True)
        reference = _reference_parts(self.options.splits_from) if self.options.splits_from else None
        images_dir = self.options.images or find_images(parts)
        summary = plan.make_plan(parts, self.options, work, reference, images_dir)
        summary["images_dir"] = images_dir
        summary["options"] = self.options.model_dump(mode="json")
        (work / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        self._parts, self._work = parts, work
        log.info("build plan: %s", summary["samples"])
        return work

    def read(self, shard):
        from mella.pipeline.shards import read_rows

        if getattr(self, "_work", None) is None or shard.uri not in self._parts:
            raise MellaError("the build stage needs its global pass (prepare) before parts run")
        decisions = plan.read_plan(self._work, self._parts.index(shard.uri))
        n = 0
        for batch in read_rows(shard, self.batch_size):
            for row in batch:
                row["_plan"] = decisions[n]
                n += 1
            yield batch

    def process(self, rows: list[dict[str, Any]], out) -> None:
        for row in rows:
            decision = row.pop("_plan")
            samples = self._samples(row, decision)
            for sample in samples:
                out.keep(sample)
                out.count(f"samples.{sample['lang']}.{sample['source']}.{sample['split']}")
            for source in ("know", "ling"):
                reason = decision[f"{source}_drop"]
                if reason:
                    out.drop(self._sample(row, source, None, decision), f"{source}_{reason}")

    def _samples(self, row: dict[str, Any], d: dict[str, Any]) -> list[dict[str, Any]]:
        know = self._sample(row, "know", d["know"], d) if d["know"] else None
        ling = self._sample(row, "ling", d["ling"], d) if d["ling"] else None
        if d["pair"] and know and ling:
            return [_two_turn(ling, know)]
        out = [s for s in (know, ling) if s]
        if ling and self.options.recipe == "sdrrl":
            out += self._code_switched(row, ling)
        return out

    def _sample(self, row: dict[str, Any], source: str, split: str | None, d: dict[str, Any]) -> dict[str, Any]:
        lang, key = row.get("lang") or "und", row.get("key") or ""
        text_key = plan.know_text_key(row) if source == "know" else ""
        sid = plan.sample_id(source, lang, key, text_key)
        response = (row.get("alt") if source == "know" else row.get(self.options.ling_field)) or ""
        response = to_script(response.strip(), lang) if source == "ling" else response.strip()
        instruction = pick(lang, source, sid, self.options.seed) if split else None
        return {
            "id": sid, "key": key, "lang": lang, "source": source, "instruction": instruction,
            "response": response, "split": split, "variant": self._variant(source), "recipe": self.options.recipe,
            "turns": [{"source": source, "instruction": instruction, "response": response}] if split else None,
            "group": d["group"], "image_sha256": row.get("sha256"), "phash": row.get("phash"),
            "width": row.get("width"), "height": row.get("height"), "image_url": row.get("image_url"),
            "page_url": row.get("page_url"), "domain": row.get("domain"),
            "caption": row.get(CAPTION_OF[self.options.ling_field]) if source == "ling" else None,
            "caption_lang": row.get("caption_lang") if source == "ling" else None,
            "caption_model": row.get("caption_model") if source == "ling" else None,
            "translation_model": row.get("translation_model") if source == "ling" else None,
            **{c: row.get(c) if source == "know" else None for c in KNOW_COLUMNS},
        }

    def _variant(self, source: str) -> str:
        if source == "know":
            return "alt"
        return "self_translation" if self.options.recipe == "sdrrl" else "translation"

    def _code_switched(self, row: dict[str, Any], ling: dict[str, Any]) -> list[dict[str, Any]]:
        text = code_switch(ling["response"], row.get("caption") or "", ling["lang"],
                           self.options.code_switch_rate, f"{self.options.seed}:{ling['id']}")
        if not text or text == ling["response"]:
            return []
        turns = [{**ling["turns"][0], "response": text}]
        return [{**ling, "id": ling["id"] + "-cs", "response": text, "variant": "code_switch", "turns": turns}]


def _two_turn(ling: dict[str, Any], know: dict[str, Any]) -> dict[str, Any]:
    """One conversation: describe the image (D_ling), then say what it shows (D_know)."""
    sid = "both-" + ling["id"].split("-", 1)[1] + "-" + know["id"].rsplit("-", 1)[1]
    return {**ling, "id": sid, "source": "both", "variant": "conversation", "turns": ling["turns"] + know["turns"],
            **{c: know[c] for c in KNOW_COLUMNS}}  # its D_know turn's alt-text, kind and keywords


def find_images(parts: list[str]) -> str | None:
    """The fetch folder holding the images of ``parts``: their own folder or a sibling with part tars."""
    folder = Path(parts[0]).parent if parts else None
    if folder is None:
        return None
    for candidate in [folder, folder.parent / "fetch", *sorted(folder.parent.iterdir())]:
        if candidate.is_dir() and any(candidate.glob("part-*.tar")):
            return str(candidate.resolve())
    return None


def _reference_parts(folder: str) -> list[str]:
    from mella.runstore import StageDir

    parts = StageDir(folder).committed_part_files(strict=True)
    if not parts:
        raise MellaError(f"--splits-from {folder}: no committed build parts there")
    return [str(p) for p in parts]
