"""Rating items made from a run folder: blind pairwise comparisons of two systems' predictions, and single-item
ratings of D_know alt-texts and D_ling translations from a build folder.

An item's id is a hash of what it is (kind, language, sample id, the two systems as a set), so building the same
items again gives the same ids and :meth:`mella.rate.store.RatingStore.add_items` keeps what raters already did.
Which system is shown as A is drawn per item from the seed and the sample id: stable for a seed, independent of
how many items are drawn, and recorded with every judgement (``shown_a``) so the analysis can undo it.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mella.errors import MellaError

KINDS = ("pairwise", "know", "ling")


@dataclass(frozen=True)
class Item:
    """One thing to rate. ``systems`` (pairwise: the names shown as A and B) is never sent to the page."""

    item_id: str
    kind: str
    lang: str
    sample_id: str
    image_key: str | None
    prompt: str
    text: str
    source_text: str
    outputs: tuple[str, str] | None
    systems: tuple[str, str] | None


def item_id(kind: str, lang: str, sample_id: str, systems: tuple[str, str] | None = None) -> str:
    """16 hex digits of sha256 over (kind, lang, sample id, the systems in sorted order)."""
    blob = json.dumps([kind, lang, sample_id, sorted(systems) if systems else None], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def lang_matches(row_lang: str | None, lang: str) -> bool:
    """A row belongs to the study's language: the same tag, or a script of it (``sr`` takes ``sr-Cyrl`` rows)."""
    return bool(row_lang) and (row_lang == lang or row_lang.split("-", 1)[0] == lang)


def _draw(rows: list[Any], n: int | None, seed: int, label: str) -> list[Any]:
    """A seeded sample of ``n`` rows (all when ``n`` is None), in a seeded order (not the build's order)."""
    rng = random.Random(f"{seed}:{label}")
    rows = list(rows)
    rng.shuffle(rows)
    return rows if n is None else rows[:n]


def _flip(seed: int, sample_id: str) -> bool:
    """Whether this item shows the second system as A: a coin per (seed, sample) so it does not depend on n."""
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return bool(digest[0] & 1)


# -- pairwise --------------------------------------------------------------------------------------

def _read_rows(path: Path) -> list[dict[str, Any]]:
    from mella.evaluate.io import read_predictions

    return read_predictions(path)


def _sample_files(predictions: Path, samples: Path | None) -> list[Path]:
    """The sample parts the predictions were made from: ``samples`` when given, else the input parts the
    prediction parts' markers name, else a sibling ``build`` folder's parts; [] when none is found."""
    from mella.paths import from_marker

    if samples is not None:
        return [samples] if samples.is_file() else sorted(samples.glob("part-*.parquet"))
    files: list[Path] = []
    if predictions.is_dir():
        for marker in sorted(predictions.glob("part-*._SUCCESS")):
            try:
                source = json.loads(marker.read_text(encoding="utf-8")).get("source")
            except (OSError, ValueError):
                source = None
            if source and source.endswith(".parquet"):
                path = Path(from_marker(source, predictions))
                if path.is_file():
                    files.append(path)
        if not files and (predictions.parent / "build").is_dir():
            files = sorted((predictions.parent / "build").glob("part-*.parquet"))
    return files


def _samples_behind(files: list[Path]) -> dict[str, dict[str, Any]]:
    """id -> {key, instruction} of the samples in ``files`` (each file read once; the first file with an id wins)."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, Any]] = {}
    for f in dict.fromkeys(files):
        names = pq.read_schema(f).names
        cols = [c for c in ("id", "key", "instruction") if c in names]
        if "id" in cols:
            for row in pq.read_table(f, columns=cols).to_pylist():
                out.setdefault(row["id"], row)
    return out


def pairwise_items(predictions_a: Path, predictions_b: Path, names: tuple[str, str], lang: str, *,
                   n: int | None, seed: int, samples: Path | None = None) -> list[Item]:
    """Blind A/B items: the two systems' predictions joined on sample id, for ``lang``.

    Samples either system has no prediction for are left out. The image key and instruction come from the
    predictions rows when they carry them, else from the samples behind the predictions (``samples``, or the
    parts the prediction parts were made from). ``n``: how many (None: all), drawn with ``seed``.
    """
    if len(names) != 2 or names[0] == names[1] or not all(names):
        raise MellaError(f"pairwise items need two different system names, not {names!r}")
    rows_a = {r["id"]: r for r in _read_rows(Path(predictions_a))
              if lang_matches(r.get("lang"), lang) and r.get("prediction") is not None}
    rows_b = {r["id"]: r for r in _read_rows(Path(predictions_b))
              if lang_matches(r.get("lang"), lang) and r.get("prediction") is not None}
    # system A's samples first, so they win where both sets name a sample; a file both share is read once
    behind = _samples_behind(_sample_files(Path(predictions_a), samples) + _sample_files(Path(predictions_b), samples))
    items = []
    for sid in sorted(set(rows_a) & set(rows_b)):
        a, b = rows_a[sid], rows_b[sid]
        sample = behind.get(sid, {})
        shown = (names[1], names[0]) if _flip(seed, sid) else names
        outputs = (b["prediction"], a["prediction"]) if shown[0] == names[1] else (a["prediction"], b["prediction"])
        items.append(Item(
            item_id=item_id("pairwise", lang, sid, names), kind="pairwise", lang=lang, sample_id=sid,
            image_key=a.get("key") or sample.get("key") or None,
            prompt=a.get("instruction") or sample.get("instruction") or "", text="", source_text="",
            outputs=outputs, systems=shown))
    return _draw(items, n, seed, f"pairwise:{lang}")


# -- single-item ratings ---------------------------------------------------------------------------

def _turn(row: dict[str, Any], source: str) -> str | None:
    """The row's text of ``source`` (know: the alt-text, ling: the translation); a two-turn sample's own turn."""
    if row.get("source") == source:
        return row.get("response")
    for turn in row.get("turns") or []:
        if turn.get("source") == source:
            return turn.get("response")
    return None


def _rating_items(build_dir: Path, lang: str, kind: str, n: int, seed: int) -> list[Item]:
    from mella.dataset.builddir import iter_samples

    if not Path(build_dir).is_dir():
        raise MellaError(f"{build_dir}: no such build folder")
    seen: set[tuple[Any, str]] = set()
    items = []
    for row in iter_samples(build_dir):
        if not lang_matches(row.get("lang"), lang) or row.get("source") not in (kind, "both"):
            continue
        if row.get("variant") == "code_switch":
            continue  # a synthetic mix of two languages: nothing a native speaker rates as a translation
        text = (_turn(row, kind) or "").strip()
        if not text or (row.get("key"), text) in seen:
            continue  # one item per image and text, whichever splits and samples share them
        seen.add((row.get("key"), text))
        items.append(Item(
            item_id=item_id(kind, lang, row["id"]), kind=kind, lang=lang, sample_id=row["id"],
            image_key=row.get("key") or None, prompt="", text=text,
            source_text=(row.get("caption") or "") if kind == "ling" else "", outputs=None, systems=None))
    items.sort(key=lambda i: i.sample_id)
    return _draw(items, n, seed, f"{kind}:{lang}")


def know_items(build_dir: Path, lang: str, *, n: int, seed: int) -> list[Item]:
    """Up to ``n`` D_know alt-texts of ``lang`` (one per image and text) for relevance and correctness."""
    return _rating_items(build_dir, lang, "know", n, seed)


def ling_items(build_dir: Path, lang: str, *, n: int, seed: int) -> list[Item]:
    """Up to ``n`` D_ling translations of ``lang`` with their English captions, for adequacy and fluency."""
    return _rating_items(build_dir, lang, "ling", n, seed)


# -- the run folder --------------------------------------------------------------------------------

def _has_tars(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("part-*.tar"))


def image_folder(run_dir: Path) -> Path | None:
    """The run's fetch folder (image bytes by key): its ``fetch/``, else the one its build recorded, else the
    first folder of the run holding part tars; None when the run has none."""
    from mella.dataset.builddir import build_summary

    run_dir = Path(run_dir)
    if _has_tars(run_dir / "fetch"):
        return run_dir / "fetch"
    for build in sorted(run_dir.glob("*/_global/build/summary.json")):
        recorded = build_summary(build.parents[2]).get("images_dir")
        if recorded and _has_tars(Path(recorded)):
            return Path(recorded)
    return next((d for d in sorted(run_dir.iterdir()) if _has_tars(d)), None) if run_dir.is_dir() else None


def predictions_folders(run_dir: Path) -> dict[str, Path]:
    """Folder name -> folder of every finished predictions output of the run (``predict_base``, ...): the
    default system names of a pairwise study."""
    import pyarrow.parquet as pq

    out = {}
    for folder in sorted(p for p in Path(run_dir).iterdir() if p.is_dir()):
        parts = sorted(folder.glob("part-*.parquet"))
        if (folder / "_SUCCESS").exists() and parts and "prediction" in pq.read_schema(parts[0]).names:
            out[folder.name] = folder
    return out


def evaluation_items(run_dir: Path) -> dict[str, Path]:
    """Predictions folder name -> the ``items.parquet`` of the evaluate step that scored it (from the step's
    ``_SUCCESS`` inputs), for every evaluate folder of the run."""
    from mella.paths import from_marker

    out = {}
    for items in sorted(Path(run_dir).glob("*/items.parquet")):
        try:
            inputs = json.loads((items.parent / "_SUCCESS").read_text(encoding="utf-8")).get("inputs") or []
        except (OSError, ValueError):
            continue
        if len(inputs) == 1:
            out.setdefault(Path(from_marker(inputs[0], items.parent)).name, items)
    return out


# -- images ----------------------------------------------------------------------------------------

_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"))


def content_type(data: bytes) -> str:
    """The image's media type from its first bytes (what fetch stores: JPEG or WebP; PNG and GIF too)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for sig, t in _SIGNATURES if data.startswith(sig)), "application/octet-stream")


@lru_cache(maxsize=8)
def _store(folder: str):
    from mella.models.images import ImageSource

    return ImageSource(folder).store(None)


def image_bytes(folder: Path, key: str) -> tuple[bytes, str]:
    """(encoded bytes, media type) of the image ``key`` of a fetch folder; KeyError when it has no such image."""
    store = _store(str(Path(folder).resolve()))
    if key not in store:
        raise KeyError(key)
    data = store[key]
    return data, content_type(data)
