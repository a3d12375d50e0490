"""The build's global pass: which sample each annotated row yields, in which split, or why not.

Runs once in the driver (``BuildStage.prepare``). It reads only the columns it needs, part by part, then:

1. candidates: a D_know sample per row with an alt-text, a D_ling sample per row with a translation;
   repeats are dropped (``duplicate_sample``): the same alt-text for the same image and language, and all
   but the first translation of one image per language (its caption does not change with the page);
2. image groups (:mod:`mella.dataset.groups`) and their splits (:mod:`mella.dataset.splits`), computed over
   all candidates whatever the recipe, so every recipe built from one input has the same test images;
   D_know rows may also be held back by their ``kind`` (``know_kinds``) or ``culture_score``
   (``min_culture_score``), before splits, like the relevance thresholds;
3. the recipe's sources; D_know's train split balanced by ``kind`` and ``culture_category``
   (:mod:`mella.dataset.balance`), then the train split mixed (ratio, per-language cap, balancing) by seeded rank;
4. with ``conversation: two_turn``, a row whose two samples both stay in train or validation becomes one
   two-turn sample.

It writes ``plan/part-NNNNN.parquet`` (one row per input row) and ``summary.json`` to its work folder.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mella.dataset.balance import cap_labels
from mella.dataset.groups import image_groups, labels
from mella.dataset.splits import assign_splits, merge_fixed, mix
from mella.errors import MellaError
from mella.filter.text import key64, normalize_alt
from mella.records import PLAN

log = logging.getLogger("mella")

COLUMNS = ["key", "sha256", "phash", "domain", "lang", "alt", "alt_norm", "relevance", "relevance_alt",
           "kind", "culture_score", "culture_category"]
# Options that drop D_know rows by a column, and the stage that writes that column: an input without it is refused.
KNOW_FILTERS = {"know_kinds": ("kind", "mella filter"), "min_culture_score": ("culture_score", "mella culture")}
# Options that balance D_know's train split by a column: rows without it form one label of their own.
KNOW_BALANCE = {"max_kind_share": ("kind", "kind_share"), "max_category_share": ("culture_category", "category_share")}
# The score of the text a D_ling sample will contain: score writes one per translation column.
RELEVANCE_OF = {"translation": "relevance", "translation_thick": "relevance_thick"}
RECIPE_SOURCES = {"mella": ("know", "ling"), "know-only": ("know",), "ling-only": ("ling",), "sdrrl": ("ling",)}


def sample_id(source: str, lang: str, key: str, text_key: str = "") -> str:
    """A stable id: the same image, language, source (and alt-text for D_know) give the same id."""
    return f"{source}-{lang}-{key64(source, lang, key, text_key) & 0xFFFFFFFFFFFF:012x}"


def know_text_key(row: dict[str, Any]) -> str:
    return row.get("alt_norm") or normalize_alt(row.get("alt") or "")


@dataclass
class Candidates:
    """Per input row: its image, language and the samples it may yield (None: no candidate + reason)."""

    part: list[int] = field(default_factory=list)
    image: list[int] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    know: list[str | None] = field(default_factory=list)   # sample id or None
    kind: list[str | None] = field(default_factory=list)    # the row's kind (filter), when present
    category: list[str | None] = field(default_factory=list)  # the row's culture_category, when present
    ling: list[str | None] = field(default_factory=list)
    drops: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, source) -> reason
    images: dict[str, int] = field(default_factory=dict)    # key -> image index
    image_sha: list[str | None] = field(default_factory=list)
    image_phash: list[str | None] = field(default_factory=list)
    image_domain: list[str | None] = field(default_factory=list)
    image_keys: list[str] = field(default_factory=list)


def read_candidates(parts: list[str], opts) -> Candidates:
    """Stream the needed columns of every part into :class:`Candidates` (deduplicating samples)."""
    cand = Candidates()
    seen: set[str] = set()
    present: set[str] = set()
    from mella.pipeline.shards import parquet_batches, parquet_schema

    for index, path in enumerate(parts):
        names = set(parquet_schema(path).names)
        present |= names
        _check_relevance_column(path, names, opts)
        _check_know_columns(path, names, opts)
        cols = [c for c in [*COLUMNS, opts.ling_field, f"{opts.ling_field}_qe", RELEVANCE_OF[opts.ling_field]]
                if c in names]
        for batch in parquet_batches(path, 65536, cols):  # a corrupt part is named, with its stage
            for row in batch.to_pylist():
                _add_row(cand, index, row, opts, seen)
    for option, (column, _) in KNOW_BALANCE.items():
        if getattr(opts, option) is not None and column not in present:
            log.warning("build: --%s: no input has a %s column, so there is nothing to balance",
                        option.replace("_", "-"), column)
    return cand


def _check_relevance_column(path: str, names: set[str], opts) -> None:
    """``--min-relevance`` judges the score of the D_ling text; an input without that score is refused."""
    column = RELEVANCE_OF[opts.ling_field]
    if opts.min_relevance is not None and column not in names:
        raise MellaError(f"build: --min-relevance with --ling-field {opts.ling_field} reads {column}, which "
                         f"{path} lacks; run `mella score` on the translate output (it writes {column})")


def _check_know_columns(path: str, names: set[str], opts) -> None:
    """An option that drops D_know rows by a column refuses an input without it (it would drop every row)."""
    for option, (column, writer) in KNOW_FILTERS.items():
        if getattr(opts, option) and column not in names:
            raise MellaError(f"build: --{option.replace('_', '-')} reads {column}, which {path} lacks; "
                             f"run `{writer}` on the rows first (it writes {column})")


def _add_row(cand: Candidates, part: int, row: dict[str, Any], opts, seen: set[str]) -> None:
    i, key, lang = len(cand.part), row.get("key") or "", row.get("lang") or "und"
    if key not in cand.images:
        cand.images[key] = len(cand.images)
        cand.image_sha.append(row.get("sha256"))
        cand.image_phash.append(row.get("phash"))
        cand.image_domain.append(row.get("domain"))
    cand.part.append(part)
    cand.image.append(cand.images[key])
    cand.lang.append(lang)
    cand.kind.append(_label(row.get("kind")))
    cand.category.append(_label(row.get("culture_category")))
    for source, text_key in (("know", know_text_key(row)), ("ling", "")):
        reason = _ineligible(row, source, lang, opts)
        sid = sample_id(source, lang, key, text_key) if reason is None else None
        if sid is not None and sid in seen:
            sid, reason = None, "duplicate_sample"
        if sid is not None:
            seen.add(sid)
        else:
            cand.drops[(i, source)] = reason
        getattr(cand, source).append(sid)


def _label(value: Any) -> str | None:
    """A kind or category, interned: a handful of distinct strings held once, not once per row."""
    return sys.intern(value) if isinstance(value, str) else None


def _ineligible(row: dict[str, Any], source: str, lang: str, opts) -> str | None:
    if opts.langs and lang not in opts.langs and lang.split("-")[0] not in opts.langs:
        return "other_language"
    text = row.get("alt") if source == "know" else row.get(opts.ling_field)
    if not (text or "").strip():
        return "no_alt" if source == "know" else "no_translation"
    score, floor = ((row.get("relevance_alt"), opts.min_relevance_alt) if source == "know"
                    else (row.get(RELEVANCE_OF[opts.ling_field]), opts.min_relevance))
    if floor is not None and (score is None or score < floor):
        return "low_relevance"
    if source == "know":
        return _know_ineligible(row, opts)
    if opts.min_translation_qe is not None:
        qe = row.get(f"{opts.ling_field}_qe")  # the QE of the text the sample will contain
        if qe is None or qe < opts.min_translation_qe:
            return "low_translation_qe"
    return None


def _know_ineligible(row: dict[str, Any], opts) -> str | None:
    """D_know's own conditions: the alt-text's kind, its culture score (a missing score is below any floor)."""
    if opts.know_kinds and row.get("kind") not in opts.know_kinds:
        return "excluded_kind"
    score = row.get("culture_score")
    if opts.min_culture_score is not None and (score is None or score < opts.min_culture_score):
        return "low_culture_score"
    return None


def make_plan(parts: list[str], opts, work: Path, reference: list[str] | None = None,
              images_dir: str | None = None) -> dict[str, Any]:
    """Run the global pass over ``parts`` and write the plan files to ``work``; returns the summary.

    ``images_dir``: the fetch folder of the rows' images (``--exclude-benchmark`` hashes the benchmark's images
    under its resize options)."""
    cand = read_candidates(parts, opts)
    excluded = _exclude_benchmark(cand, opts, images_dir)
    group_of_image = image_groups(labels(cand.image_sha), cand.image_phash,
                                  labels(cand.image_domain) if opts.group_by_domain else None,
                                  opts.phash_distance)
    keys = np.array(list(cand.images), dtype=object)
    # A group is named by the key of its root image: stable across reruns of the same input.
    group = keys[group_of_image[np.asarray(cand.image, dtype=np.int64)]] if cand.part else np.zeros(0, object)
    fixed = _reference_splits(reference, cand, group_of_image) if reference else None
    group_cells: dict[str, Counter] = defaultdict(Counter)
    for i, g in enumerate(group.tolist()):
        for source in ("know", "ling"):
            if getattr(cand, source)[i]:
                group_cells[g][(cand.lang[i], source)] += 1
    sizes = {"test": opts.test_size, "validation": opts.validation_size}
    split_of = assign_splits(group_cells, sizes, opts.seed, fixed)
    decisions = _decide(cand, group, split_of, opts)
    _write(work, parts, cand, group, decisions)
    summary = _summary(cand, decisions, split_of)
    if excluded is not None:
        summary["decontamination"] = excluded
    (work / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def _exclude_benchmark(cand: Candidates, opts, images_dir: str | None) -> dict[str, Any] | None:
    """With ``--exclude-benchmark``: rows whose image is one of the benchmark's lose their samples
    (``benchmark_image``); returns what the card reports (None without the option)."""
    if not getattr(opts, "exclude_benchmark", None):
        return None
    from mella.dataset.decontaminate import benchmark_hashes, find_matches

    bench = benchmark_hashes(opts.exclude_benchmark, opts.benchmark_images, images_dir)
    found = find_matches(cand.image_sha, cand.image_phash, bench, opts.phash_distance)
    samples: Counter = Counter()
    rows = 0
    for i, image in enumerate(cand.image):
        if image not in found:
            continue
        rows += 1
        for source in ("know", "ling"):
            if getattr(cand, source)[i] is not None:  # a row that had no sample anyway keeps its own reason
                getattr(cand, source)[i] = None
                cand.drops[(i, source)] = "benchmark_image"
                samples[source] += 1
    keys = keys_of(cand)
    how = Counter(match for match, _, _ in found.values())
    log.info("build: %d images of the input are %s images (%s)", len(found), opts.exclude_benchmark, dict(how))
    return {"benchmark": opts.exclude_benchmark, "benchmark_images": len(bench.keys),
            "benchmark_unhashed": len(bench.unhashed), "phash_distance": opts.phash_distance,
            "images_dropped": len(found), "by_sha256": how["sha256"], "by_phash": how["phash"], "rows": rows,
            "samples_dropped": {s: samples[s] for s in ("know", "ling")},
            "matches": [{"key": keys[i], "benchmark_key": key, "match": match, "bits": bits}
                        for i, (match, key, bits) in sorted(found.items())[:100]]}


def _reference_splits(reference: list[str], cand: Candidates, group_of_image: np.ndarray) -> dict[str, str]:
    """Groups of this input placed where a reference build put their images (``--splits-from``)."""
    from mella.pipeline.shards import read_parquet

    pairs = []
    for path in reference:
        table = read_parquet(path, columns=["key", "split"])
        for key, split in zip(table["key"].to_pylist(), table["split"].to_pylist(), strict=True):
            if key in cand.images:
                pairs.append((keys_of(cand)[int(group_of_image[cand.images[key]])], split))
    return merge_fixed(pairs)


def keys_of(cand: Candidates) -> list[str]:
    if len(cand.image_keys) != len(cand.images):
        cand.image_keys = list(cand.images)
    return cand.image_keys


def _decide(cand: Candidates, group: np.ndarray, split_of: dict[str, str], opts) -> dict[str, list]:
    """Per row: the split (or drop reason) of its know and ling sample, and whether they pair up."""
    wanted = RECIPE_SOURCES[opts.recipe]
    out: dict[str, list] = {s: [None] * len(cand.part) for s in ("know", "know_drop", "ling", "ling_drop")}
    train: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for source in ("know", "ling"):
        for i, sid in enumerate(getattr(cand, source)):
            if sid is None:
                out[f"{source}_drop"][i] = cand.drops[(i, source)]
            elif source not in wanted:
                out[f"{source}_drop"][i] = "not_in_recipe"
            else:
                split = split_of[group[i]]
                out[source][i] = split
                if split == "train":
                    train[(cand.lang[i], source)].append((key64(str(opts.seed), sid), i))
    for (lang, source), ranked in train.items():
        if source == "know":
            train[(lang, source)] = _balance_know(ranked, cand, opts, out)
    keep = mix({c: len(v) for c, v in train.items()}, opts.know_ratio, opts.max_per_lang, opts.balance)
    for (lang, source), ranked in train.items():
        for _, i in sorted(ranked)[keep[(lang, source)]:]:
            out[source][i], out[f"{source}_drop"][i] = None, "mixing"
    out["pair"] = [opts.conversation == "two_turn" and k is not None and k == g and k != "test"
                   for k, g in zip(out["know"], out["ling"], strict=True)]
    return out


def _balance_know(ranked: list[tuple[int, int]], cand: Candidates, opts, out: dict[str, list]
                  ) -> list[tuple[int, int]]:
    """One language's D_know train candidates with no kind, then no category, above its share."""
    for option, labels_of in (("max_kind_share", cand.kind), ("max_category_share", cand.category)):
        ranked, cut = cap_labels(ranked, labels_of, getattr(opts, option))
        for _, i in cut:
            out["know"][i], out["know_drop"][i] = None, KNOW_BALANCE[option][1]
    return ranked


def _write(work: Path, parts: list[str], cand: Candidates, group: np.ndarray, decisions: dict[str, list]) -> None:
    folder = work / "plan"
    folder.mkdir(parents=True, exist_ok=True)
    part = np.asarray(cand.part, dtype=np.int64)
    for index in range(len(parts)):
        rows = np.flatnonzero(part == index)
        columns = {name: [values[i] for i in rows] for name, values in decisions.items()}
        columns["group"] = [group[i] for i in rows]
        pq.write_table(pa.table(columns, schema=PLAN), folder / f"part-{index:05d}.parquet")


def read_plan(work: Path, index: int) -> list[dict[str, Any]]:
    return pq.read_table(work / "plan" / f"part-{index:05d}.parquet").to_pylist()


def _summary(cand: Candidates, decisions: dict[str, list], split_of: dict[str, str]) -> dict[str, Any]:
    counts: Counter = Counter()
    drops: Counter = Counter()
    for source in ("know", "ling"):
        for lang, split, reason in zip(cand.lang, decisions[source], decisions[f"{source}_drop"], strict=True):
            if split:
                counts[f"{lang}/{source}/{split}"] += 1
            else:
                drops[f"{source}.{reason}"] += 1
    return {"rows": len(cand.part), "images": len(cand.images), "groups": len(split_of),
            "group_splits": dict(Counter(split_of.values())), "samples": dict(sorted(counts.items())),
            "dropped": dict(sorted(drops.items())), "pairs": sum(decisions["pair"])}
