"""The dataset card: ``README.md`` with Hugging Face YAML metadata, written next to every export.

It states what a user must know before training on the data: counts per language x source x split, the
filter funnel with drop reasons (from the run folder's ``stats.json`` files), what D_know holds of the culture
(kinds, cultural-relevance categories, top entities: :mod:`mella.dataset.culture_stats`), the models that wrote
the captions and translations, one example per language and source, licence notes and known limitations.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from mella.dataset.builddir import build_summary, iter_samples
from mella.dataset.culture_stats import NOT_MEASURED, CultureStats, share
from mella.languages import get_language

SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
# How each format's consumer loads it (the card's "Loading" section).
LOADING = {
    "hf": "`datasets.load_dataset(DIR)` or `load_from_disk(DIR/disk)`. TRL's vision SFT reads it as is: `messages` "
          "holds content blocks (`{\"type\": \"image\"}` then the text, no `<image>` tag) and `images` a list of "
          "one image; `instruction`, `response` and `turns` are the same text in plain columns.",
    "llava": "LLaVA: `--data_path DIR/train.json --image_folder DIR`; the human turn opens with `<image>\\n`.",
    "sharegpt": "LLaMA-Factory: `dataset_dir: DIR` and `dataset: <name>_train` (`dataset_info.json`); the user "
                "turn opens with `<image>`, image paths are relative to `DIR`.",
    "swift": "ms-swift: `--dataset DIR/train.jsonl`; the user turn opens with `<image>`. Image paths are relative "
             "to `DIR`: run from `DIR` or set `ROOT_IMAGE_DIR=DIR` (ms-swift joins a path it cannot open to it).",
    "wds": "`webdataset.WebDataset(\"DIR/train-{000000..NNNNNN}.tar\")`: `<id>.jpg` + `<id>.json`; the json's "
           "`messages` are content blocks (`{\"type\": \"image\"}` then the text), no model's image tag.",
}
LIMITATIONS = """\
- **Alt-texts are what site authors wrote.** They are short, sometimes generic ("screenshot"), sometimes
  partly in another language; the filter removes much of this but not all.
- **D_ling answers are machine translations** of machine captions: fluent-looking errors of either model pass
  through. Check the models below; a model whose name contains `tiny` is a random-weight test model and its
  text is meaningless.
- **Splits are grouped by image** (same sha256, pHash neighbours within the build's distance, optionally the
  domain): no picture is in two splits, but the same *topic* can be.
- **Licences:** images and alt-texts stay under their publishers' terms (see the page URLs); this card does
  not grant rights to them. Respect robots.txt and `noai` decisions recorded at fetch time.
"""


def size_category(n: int) -> str:
    return next((label for bound, label in SIZE_BOUNDS if n < bound), "n>100M")


def _stats(build_dir: Path) -> tuple[Counter, Counter, set[str], list[dict[str, Any]], CultureStats]:
    """Counts per (lang, source, split), models, one example per (lang, source) from the train split, and the
    culture statistics of the D_know samples."""
    counts, models, examples, seen, culture = Counter(), Counter(), [], set(), CultureStats()
    for s in iter_samples(build_dir):
        culture.add(s)
        # A build edited by another tool may hold nulls: they are counted under a name, never a crash.
        s = {**s, "lang": s.get("lang") or "und", "source": s.get("source") or "unknown",
             "split": s.get("split") or "none"}
        counts[(s["lang"], s["source"], s["split"])] += 1
        for field in ("caption_model", "translation_model"):
            if s.get(field):
                models[(field, s[field])] += 1
        if (s["lang"], s["source"]) not in seen:
            seen.add((s["lang"], s["source"]))
            examples.append(s)
    langs = {lang for lang, _, _ in counts}
    return counts, models, langs, sorted(examples, key=lambda s: (s["lang"], s["source"])), culture


def funnel(build_dir: Path) -> list[dict[str, Any]]:
    """Rows in, rows out and drop reasons of the stages that led to ``build_dir``, in run order.

    The run's pipeline stages (``run.json``), then the build's input folder when it was made outside the
    pipeline (an annotation run), then the build itself; sibling builds are left out.
    """
    run_dir = build_dir.parent
    manifest = run_dir / "run.json"
    order = list(json.loads(manifest.read_text()).get("stages", {})) if manifest.exists() else []
    folders = [run_dir / name for name in order]
    source = _input_folder(build_dir)
    for folder in (source, build_dir):
        if folder is not None and folder.resolve() not in {f.resolve() for f in folders}:
            folders.append(folder)
    return [row for row in map(_stage_row, folders) if row]


def _input_folder(build_dir: Path) -> Path | None:
    stats = _read_stats(build_dir)
    sources = [p.get("source") for p in (stats or {}).get("per_part", {}).values() if p.get("source")]
    if not sources:
        return None
    from mella.paths import from_marker

    return Path(from_marker(sources[0], build_dir)).parent  # recorded relative to the build folder


def _read_stats(folder: Path) -> dict[str, Any] | None:
    path = folder / "stats.json"
    return json.loads(path.read_text()) if path.exists() else None


def _stage_row(folder: Path) -> dict[str, Any] | None:
    stats = _read_stats(folder)
    if stats is None:
        return None
    counters = stats.get("counters", {})
    drops = {k.removeprefix("dropped."): v for k, v in counters.items() if k.startswith("dropped.")}
    name = folder.name if stats.get("stage") in (None, folder.name) else f"{folder.name} ({stats['stage']})"
    return {"stage": name, "rows_in": counters.get("rows_in"), "rows_out": stats.get("rows"),
            "dropped": dict(sorted(drops.items(), key=lambda kv: -kv[1]))}


def _language_codes(langs: set[str]) -> list[str]:
    """ISO codes of the registry languages among ``langs`` (tags outside the registry are left out)."""
    from mella.errors import MellaError

    codes = set()
    for tag in langs:
        try:
            codes.add(get_language(tag).code)
        except MellaError:
            continue
    return sorted(codes)


def metadata(langs: set[str], total: int, fmt: str, splits: list[str], name: str) -> dict[str, Any]:
    """The YAML header Hugging Face reads."""
    meta: dict[str, Any] = {
        "pretty_name": f"{name} (MELLA dual-source multimodal data)",
        "language": _language_codes(langs),
        "license": "other",
        "license_name": "publishers-terms",
        "license_details": "Images and alt-texts remain under the terms of the pages they were collected from.",
        "size_categories": [size_category(total)],
        "task_categories": ["image-to-text", "visual-question-answering"],
        "tags": ["mella", "multilingual", "low-resource", "alt-text"],
    }
    if fmt == "hf":
        meta["configs"] = [{"config_name": "default", "data_files": [
            {"split": s, "path": f"data/{s}-*.parquet"} for s in splits]}]
    return meta


def write_card(build_dir: str | Path, out: str | Path, fmt: str, result: dict[str, Any], name: str = "mella") -> Path:
    """Write ``out/README.md`` for the export of ``build_dir``; returns its path."""
    build_dir, out = Path(build_dir), Path(out)
    counts, models, langs, examples, culture = _stats(build_dir)
    splits = list(result.get("counts", {}))
    meta = metadata(langs, sum(counts.values()), fmt, splits, name)
    summary = build_summary(build_dir)
    parts = [
        "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n",
        f"# {meta['pretty_name']}\n",
        _intro(summary, fmt),
        "## Loading\n\n" + LOADING.get(fmt, "") + "\n",
        "## Samples per language, source and split\n\n" + _count_table(counts),
        "## Filter funnel\n\n" + _funnel_table(funnel(build_dir)),
        "## Benchmark decontamination\n\n" + decontamination_section(summary),
        "## Culture (D_know)\n\n" + culture_section(culture),
        "## Models\n\n" + _models(models),
        "## Examples\n\n" + _examples(examples),
        "## Known limitations\n\n" + LIMITATIONS,
    ]
    path = out / "README.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _intro(summary: dict[str, Any], fmt: str) -> str:
    opts = summary.get("options", {})
    return (f"Built by `mella build` (recipe `{opts.get('recipe', '?')}`, seed {opts.get('seed', '?')}) and "
            f"exported with `mella export --format {fmt}`. D_know (`source: know`): image -> the native alt-text "
            "its page gave it (cultural knowledge; its test split serves keyword accuracy). D_ling "
            "(`source: ling`): image -> a caption translated into the language (fluency; its test split serves "
            "BLEU, ROUGE-L, METEOR, chrF). `source: both` is a two-turn conversation of the two.\n\n"
            f"Build options: `{json.dumps(opts, ensure_ascii=False)}`\n")


def _count_table(counts: Counter) -> str:
    splits = [s for s in ("train", "validation", "test") if any(k[2] == s for k in counts)]
    rows = sorted({(lang, src) for lang, src, _ in counts})
    lines = ["| language | source | " + " | ".join(splits) + " |", "|---|---|" + "---:|" * len(splits)]
    lines += [f"| {lang} | {src} | " + " | ".join(str(counts[(lang, src, s)]) for s in splits) + " |"
              for lang, src in rows]
    return "\n".join(lines) + "\n"


def _funnel_table(stages: list[dict[str, Any]]) -> str:
    if not stages:
        return "No stats.json files were found next to the build folder.\n"
    lines = ["| stage | rows in | rows out | dropped (reason: rows) |", "|---|---:|---:|---|"]
    for st in stages:
        drops = ", ".join(f"{k}: {v}" for k, v in st["dropped"].items()) or "-"
        lines.append(f"| {st['stage']} | {st['rows_in'] if st['rows_in'] is not None else '-'} | "
                     f"{st['rows_out']} | {drops} |")
    return "\n".join(lines) + "\n"


def decontamination_section(summary: dict[str, Any]) -> str:
    """How many images the build dropped as a benchmark's images (``--exclude-benchmark``), and why; or that it
    did not check."""
    info = summary.get("decontamination")
    if not info:
        return ("Not checked: this build was made without `--exclude-benchmark`, so training images may include "
                "the images of a benchmark (XM3600 ...) a model trained on it is scored on.\n")
    samples = info.get("samples_dropped", {})
    lines = [f"Training images compared with the {info['benchmark_images']} images of **{info['benchmark']}** "
             f"(`--exclude-benchmark {info['benchmark']}`): **{info['images_dropped']} images dropped** "
             f"({info['rows']} rows; {samples.get('know', 0)} D_know and {samples.get('ling', 0)} D_ling samples "
             "not made).\n",
             f"- same file (sha256): {info['by_sha256']}",
             f"- resized or re-encoded copy (pHash at most {info['phash_distance']} bits apart): {info['by_phash']}"]
    if info.get("benchmark_unhashed"):
        lines.append(f"- benchmark images that could not be decoded (compared by sha256 only): "
                     f"{info['benchmark_unhashed']}")
    return "\n".join(lines) + "\n"


def culture_section(stats: CultureStats) -> str:
    """The card's culture section: kinds, categories and mean score, top entities per language; each one says
    "not measured" where its stage did not run."""
    if not stats.rows:
        return "No D_know samples.\n"
    intro = ("What the D_know samples (`source` know and both) hold, per language: the alt-text's kind (filter), "
             "its cultural-relevance category and score (the culture stage) and the entities named most often "
             f"(entity keywords of the keywords stage). \"{NOT_MEASURED}\": that stage did not run for these "
             "samples.\n")
    return "\n".join([intro, _kind_table(stats), _category_table(stats), _entity_lines(stats)])


def _kind_table(stats: CultureStats) -> str:
    langs = stats.langs()
    kinds = list(dict.fromkeys(k for lang in langs for k in (stats.kind_shares(lang) or {})))
    lines = ["| language | D_know samples | " + " | ".join(kinds or ["kind"]) + " |",
             "|---|---:|" + "---:|" * max(len(kinds), 1)]
    for lang in langs:
        shares = stats.kind_shares(lang)
        cells = [share(*shares[k]) if k in shares else "0" for k in kinds] if shares else [NOT_MEASURED] * max(
            len(kinds), 1)
        lines.append(f"| {lang} | {stats.rows[lang]} | " + " | ".join(cells) + " |")
    return "Kinds (filter):\n\n" + "\n".join(lines) + "\n"


def _category_table(stats: CultureStats) -> str:
    if not stats.any_measured("category"):
        return f"Categories (culture stage): {NOT_MEASURED}.\n"
    langs = stats.langs()
    found = Counter()
    for lang in langs:
        found.update({c: n for c, (n, _) in (stats.category_shares(lang) or {}).items()})
    categories = [c for c, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines = ["| language | mean score | " + " | ".join(categories) + " |", "|---|---:|" + "---:|" * len(categories)]
    for lang in langs:
        shares = stats.category_shares(lang)
        if shares is None:
            lines.append(f"| {lang} | {NOT_MEASURED} | " + " | ".join([NOT_MEASURED] * len(categories)) + " |")
            continue
        mean = stats.mean_score(lang)
        cells = [share(*shares[c]) if c in shares else "0" for c in categories]
        lines.append(f"| {lang} | {'-' if mean is None else f'{mean:.2f}'} | " + " | ".join(cells) + " |")
    return "Categories and mean cultural-relevance score (culture stage, 0-1):\n\n" + "\n".join(lines) + "\n"


def _entity_lines(stats: CultureStats) -> str:
    lines = []
    for lang in stats.langs():
        top = stats.top_entities(lang)
        shown = NOT_MEASURED if top is None else ", ".join(f"{e} ({n})" for e, n in top) or "none found"
        lines.append(f"- **{lang}**: {shown}")
    return "Top entities (keywords stage; D_know samples naming each):\n\n" + "\n".join(lines) + "\n"


def _models(models: Counter) -> str:
    if not models:
        return "No model-written text (D_know only).\n"
    lines = []
    for (field, model), n in sorted(models.items()):
        note = " — **tiny random-weight test model: its output is not meaningful**" if "tiny" in model.lower() else ""
        lines.append(f"- {field.replace('_', ' ')}: `{model}` ({n} samples){note}")
    return "\n".join(lines) + "\n"


def _examples(examples: list[dict[str, Any]]) -> str:
    lines = []
    for s in examples:
        for turn in s.get("turns") or []:
            lines.append(f"- **{s['lang']} / {turn['source']}** ({s['split']}): *{turn['instruction']}* -> "
                         f"{_short(turn['response'])}")
    return "\n".join(lines) + "\n" if lines else "No samples.\n"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
