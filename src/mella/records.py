"""Row schemas of every stage, defined once. Stages add columns; they never reshape silently.

Each schema is an Arrow schema; ``DROP_REASON`` is appended to a stage's schema for its
``_dropped/`` output. See docs/formats.md for the meaning of every column.
"""

from __future__ import annotations

import pyarrow as pa

DROP_REASON = pa.field("drop_reason", pa.string())

CANDIDATES = pa.schema([
    ("page_url", pa.string()),
    ("image_url", pa.string()),
    ("alt", pa.string()),
    ("img_title", pa.string()),
    ("figcaption", pa.string()),
    ("context", pa.string()),          # bounded window of text around the <img>
    ("page_title", pa.string()),
    ("html_lang", pa.string()),        # <html lang>
    ("content_language", pa.string()), # HTTP Content-Language
    ("og_locale", pa.string()),
    ("domain", pa.string()),           # registered domain of the page
    ("source", pa.string()),           # input file (or URL) the row came from
    ("source_offset", pa.int64()),     # byte offset of the WARC/WAT record (or -1)
])

PAIRS = pa.schema(list(CANDIDATES) + [
    ("lang", pa.string()),             # ISO 639-1; Serbian as sr-Cyrl / sr-Latn
    ("lang_confidence", pa.float64()),
])

IMAGES = pa.schema([
    ("key", pa.string()),
    ("image_url", pa.string()),
    ("status", pa.string()),           # ok, or the reason (http_404, robots_disallowed, duplicate, ...)
    ("error", pa.string()),
    ("http_status", pa.int32()),
    ("sha256", pa.string()),
    ("phash", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("bytes", pa.int64()),
])

# Columns the annotation stages add to the fetch rows (pairs + images): caption adds the caption_* columns,
# translate the translation_* ones, score the relevance ones. With caption mode "both", `caption` is the plain
# caption (image alone, MELLA's D_ling) and `caption_thick` the culturally grounded one (alt-text and page title
# given as context); translate then fills `translation_thick` too (the preference stage's "chosen" answer).
ANNOTATIONS = pa.schema([
    ("key", pa.string()),
    ("caption", pa.string()),
    ("caption_lang", pa.string()),
    ("caption_mode", pa.string()),     # plain | thick | both
    ("caption_model", pa.string()),
    ("prompt_hash", pa.string()),
    ("caption_thick", pa.string()),
    ("translation", pa.string()),
    ("translation_thick", pa.string()),
    ("translation_lang", pa.string()),
    ("translation_model", pa.string()),
    # translate: the sentence alignment of each translation (one {source, target} per sentence, in order) and
    # its quality estimate (translation_qe_method names the method and model, e.g. roundtrip-chrf:<model>)
    ("translation_segments", pa.list_(pa.struct([("source", pa.string()), ("target", pa.string())]))),
    ("translation_thick_segments", pa.list_(pa.struct([("source", pa.string()), ("target", pa.string())]))),
    ("translation_qe", pa.float64()),
    ("translation_thick_qe", pa.float64()),
    ("translation_qe_method", pa.string()),
    ("relevance", pa.float64()),       # image vs translation (D_ling)
    ("relevance_alt", pa.float64()),   # image vs native alt-text (D_know)
    ("relevance_thick", pa.float64()), # image vs translation_thick (D_ling built with --ling-field translation_thick)
])

SAMPLES = pa.schema([
    ("id", pa.string()),
    ("key", pa.string()),
    ("lang", pa.string()),
    ("source", pa.string()),           # know | ling
    ("instruction", pa.string()),
    ("response", pa.string()),
    ("split", pa.string()),            # train | validation | test
])

PREDICTIONS = pa.schema([
    ("id", pa.string()),
    ("lang", pa.string()),
    ("source", pa.string()),
    ("prediction", pa.string()),
    ("references", pa.list_(pa.string())),
    ("keywords", pa.list_(pa.string())),
    ("model", pa.string()),
])

SCORES = pa.schema([
    ("lang", pa.string()),
    ("source", pa.string()),
    ("metric", pa.string()),
    ("score", pa.float64()),
    ("n", pa.int64()),
    ("signature", pa.string()),
])

SCHEMAS: dict[str, pa.Schema] = {
    "candidates": CANDIDATES,
    "pairs": PAIRS,
    "images": IMAGES,
    "annotations": ANNOTATIONS,
    "samples": SAMPLES,
    "predictions": PREDICTIONS,
    "scores": SCORES,
}


def with_drop_reason(schema: pa.Schema) -> pa.Schema:
    """The schema of a stage's ``_dropped/`` rows: its output columns plus ``drop_reason``."""
    if schema.get_field_index("drop_reason") >= 0:
        return schema
    return schema.append(DROP_REASON)


def extend(schema: pa.Schema, *fields: pa.Field | tuple[str, pa.DataType]) -> pa.Schema:
    """``schema`` plus new columns (existing names are kept as they are)."""
    out = schema
    for f in fields:
        f = f if isinstance(f, pa.Field) else pa.field(*f)
        if out.get_field_index(f.name) < 0:
            out = out.append(f)
    return out


# -- what each stage reads ----------------------------------------------------------------------
# The columns a stage or step needs in its input. An input that lacks one, or holds it with an unusable type, is
# refused before any work (mella.pipeline.inputs.check_input_columns) with a line naming the stage that writes it.
# Columns a stage only reads when present (page_title, caption_lang, relevance ...) are not listed.
FILTER_READS = ("page_url", "alt")
DEDUP_READS = ("page_url", "image_url", "alt", "domain")
FETCH_READS = ("image_url",)
CAPTION_READS = ("key",)
TRANSLATE_READS = ("lang", "caption")
SCORE_READS = ("key",)
BUILD_READS = ("key", "lang", "alt")
PREDICT_READS = ("id", "lang", "instruction")
PREDICT_IMAGE_READS = ("key",)     # predict with images
PREDICT_SPLIT_READS = ("split",)   # predict one split (not --split all)
EVALUATE_READS = ("prediction", "references")
EXPORT_READS = ("id", "key", "lang", "source", "instruction", "response", "split")
TRAIN_READS = ("key", "instruction", "response", "split")

# Pipeline order of the stages that write columns, each with the columns it adds first.
_WRITERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("collect", tuple(CANDIDATES.names)),
    ("filter", ("lang", "lang_confidence", "alt_norm")),
    ("fetch", tuple(IMAGES.names)),
    ("caption", ("caption", "caption_lang", "caption_mode", "caption_model", "prompt_hash", "caption_thick")),
    ("translate", ("translation", "translation_thick", "translation_lang", "translation_model",
                   "translation_segments", "translation_thick_segments", "translation_qe", "translation_thick_qe",
                   "translation_qe_method")),
    ("score", ("relevance", "relevance_alt", "relevance_thick")),
    ("build", tuple(SAMPLES.names)),
    ("predict", tuple(PREDICTIONS.names)),
    ("evaluate", tuple(SCORES.names)),
)
WRITER_ORDER: tuple[str, ...] = tuple(stage for stage, _ in _WRITERS)


def _first_writers() -> dict[str, str]:
    found: dict[str, str] = {}
    for stage, names in _WRITERS:
        for name in names:
            found.setdefault(name, stage)
    return found


def _declared_types() -> dict[str, pa.DataType]:
    found = {"alt_norm": pa.string()}  # filter's normalised alt (mella.filter.filter.FILTERED)
    for schema in SCHEMAS.values():
        for f in schema:
            found.setdefault(f.name, f.type)
    return found


#: The first stage (in pipeline order) that writes each column.
WRITTEN_BY: dict[str, str] = _first_writers()
#: The declared type of each column, from the first schema above that has it (what readers expect).
COLUMN_TYPES: dict[str, pa.DataType] = _declared_types()


def writer_of(columns: list[str] | tuple[str, ...]) -> str | None:
    """The stage whose output carries all of ``columns``: the latest writer among them (stages add columns)."""
    stages = [WRITTEN_BY[c] for c in columns if c in WRITTEN_BY]
    return max(stages, key=WRITER_ORDER.index) if stages else None
