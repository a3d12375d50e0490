"""Row schemas of every stage and step, defined once: each column's Arrow type and its meaning.

Stages add columns; they never reshape silently. Every stage imports its output schema from here, and the tables
of docs/formats.md are generated from this module (``python tools/gen_formats.py``). A column's meaning is kept in
:data:`MEANINGS`, beside the schemas and not in Arrow field metadata: field metadata would be written into every
parquet footer and change the files mella writes. ``with_drop_reason`` gives a stage's ``_dropped/`` schema.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

#: One column: name, Arrow type, meaning (one line).
Column = tuple[str, pa.DataType, str]

#: Every schema below by its name in docs/formats.md.
SCHEMAS: dict[str, pa.Schema] = {}
#: schema name -> column -> meaning.
MEANINGS: dict[str, dict[str, str]] = {}
#: schema name -> the schema whose columns it starts with (the docs list only the columns it adds).
BASES: dict[str, str] = {}


def _schema(name: str, columns: Iterable[Column], base: str | None = None) -> pa.Schema:
    """Schema ``name``: ``base``'s columns (when given), then ``columns``; registered with its meanings."""
    fields = list(SCHEMAS[base]) if base else []
    meanings = dict(MEANINGS[base]) if base else {}
    for column, type_, meaning in columns:
        if column in meanings:
            raise ValueError(f"records: schema {name} defines column {column} twice")
        fields.append(pa.field(column, type_))  # no metadata: the parquet footers stay as they were
        meanings[column] = meaning
    SCHEMAS[name], MEANINGS[name] = pa.schema(fields), meanings
    if base:
        BASES[name] = base
    return SCHEMAS[name]


def _like(schema: str, column: str) -> Column:
    """``column`` as ``schema`` defines it (type and meaning), for a schema that carries it over unchanged."""
    return column, SCHEMAS[schema].field(column).type, MEANINGS[schema][column]


# -- collect, filter, dedup ----------------------------------------------------------------------
CANDIDATES = _schema("candidates", [
    ("page_url", pa.string(), "address of the page the image is on"),
    ("image_url", pa.string(), "address of the image, resolved against the page"),
    ("alt", pa.string(), "the image's alt-text as the page gives it (D_know's native text)"),
    ("img_title", pa.string(), "the `<img>`'s `title` attribute"),
    ("figcaption", pa.string(), "the `<figcaption>` of the `<figure>` around the `<img>`"),
    ("context", pa.string(), "bounded window of text around the `<img>`"),
    ("page_title", pa.string(), "the page's `<title>`"),
    ("html_lang", pa.string(), "`<html lang>`"),
    ("content_language", pa.string(), "HTTP `Content-Language`"),
    ("og_locale", pa.string(), "`<meta property=\"og:locale\">`"),
    ("domain", pa.string(), "registered domain of the page"),
    ("source", pa.string(), "input file (or URL) the row came from"),
    ("source_offset", pa.int64(), "byte offset of the WARC/WAT record in source (-1 for saved pages)"),
    # The structure around the image (docs/collect.md#structure): what tells a banner or a badge from a photo.
    ("landmark", pa.string(), "nearest landmark around the `<img>`: header, nav, footer, aside, main, article or "
                              "figure (ARIA roles banner, navigation, contentinfo, complementary, main, article, "
                              "figure count as these); null outside all of them"),
    ("link_url", pa.string(), "where the link around the `<img>` goes, resolved against the page; null outside a link"),
    ("link_scope", pa.string(), "same_site | other_site: whether link_url's registered domain is the page's; "
                                "null outside a link"),
    ("link_text", pa.string(), "the text of the link around the `<img>` (cleaned, at most 200 characters); null "
                               "outside a link"),
    ("declared_width", pa.int32(), "the `<img>`'s width attribute in CSS pixels; null when absent or not a number"),
    ("declared_height", pa.int32(), "the `<img>`'s height attribute in CSS pixels; null when absent or not a number"),
    ("image_index", pa.int32(), "0-based position of the `<img>` among the page's `<img>` elements"),
    ("alt_is_link_text", pa.bool_(), "whether the alt has the words of the text of a link of the page to another "
                                     "page (an `<a>` whose href is not empty nor `#...`; case and punctuation "
                                     "aside): a headline or menu label repeated on the picture; null where no tree "
                                     "was read (WAT rows)"),
])

PAIRS = _schema("pairs", [
    ("lang", pa.string(), "language of the alt-text: ISO 639-1; Serbian as sr-Cyrl / sr-Latn"),
    ("lang_confidence", pa.float64(), "the language-ID cascade's confidence in lang (0 to 1)"),
], base="candidates")

#: What ``filter`` (and ``dedup``, which keeps its input's columns) writes.
FILTERED = _schema("filtered", [
    ("alt_norm", pa.string(), "alt case-, width- and space-folded: the form dedup and equality rules compare"),
    ("kind", pa.string(), "description (says what is shown) | entity (names a place, work, dish, person... in the "
                          "language) | other: build balances D_know on it"),
], base="pairs")

# -- keywords, culture -----------------------------------------------------------------------------
#: What ``keywords`` adds to its input rows (any rows with alt and lang).
KEYWORDED = _schema("keyworded", [
    ("keywords", pa.list_(pa.string()), "the alt's culturally salient spans in its own surface form: named "
                                        "entities and rare content words"),
    ("keyword_kinds", pa.list_(pa.string()), "per keyword, in the same order: entity | rare"),
    ("keyword_method", pa.string(), "how they were found: `offline:<resources>` or `model:<backend>:<model>`"),
])

#: What ``culture`` adds to its input rows: a cultural-relevance rating.
RATED = _schema("rated", [
    ("culture_score", pa.float64(), "cultural relevance of the row, 0 (none) to 1 (a landmark, dish, festival... "
                                    "named the way natives name it)"),
    ("culture_category", pa.string(), "landmark | food | clothing | festival | art | person | nature | "
                                      "everyday_life | product | screenshot_ui | other"),
    ("culture_method", pa.string(), "how: `rubric:<backend>:<model>` or `offline:<version>` (from kind, keywords "
                                    "and structure)"),
])

# -- fetch -----------------------------------------------------------------------------------------
#: The image columns mella's readers know; fetch writes them and :data:`FETCHED`'s.
IMAGES = _schema("images", [
    ("key", pa.string(), "20 hex digits of sha256 of the normalised image URL: the image's id in the tars"),
    _like("candidates", "image_url"),
    ("status", pa.string(), "ok, or the reason (http_404, robots_disallowed, duplicate, ...)"),
    ("error", pa.string(), "the status in words (empty when ok)"),
    ("http_status", pa.int32(), "HTTP status of the last response (after redirects)"),
    ("sha256", pa.string(), "sha256 of the original downloaded bytes"),
    ("phash", pa.string(), "64-bit perceptual hash, 16 hex digits"),
    ("width", pa.int32(), "width of the stored (resized) image"),
    ("height", pa.int32(), "height of the stored (resized) image"),
    ("bytes", pa.int64(), "size of the original download"),
])

#: What ``fetch`` adds to its input rows: the image columns and these (``image_url`` stays where it was).
FETCHED = _schema("fetched", [
    ("x_robots_tag", pa.string(), "the response's `X-Robots-Tag`, recorded whatever it says"),
    ("original_width", pa.int32(), "width of the original, after EXIF orientation"),
    ("original_height", pa.int32(), "height of the original, after EXIF orientation"),
    ("duplicate_of", pa.string(), "key of the kept image this one copies (duplicate / near_duplicate)"),
    ("tar_offset", pa.int64(), "where the image bytes start in `part-NNNNN.tar`"),
    ("tar_size", pa.int64(), "how many bytes the image takes in `part-NNNNN.tar`"),
], base="images")

# -- caption, translate, score ---------------------------------------------------------------------
# With caption mode "both", `caption` is the plain caption (image alone, MELLA's D_ling) and `caption_thick` the
# culturally grounded one (alt-text and page title given as context); translate then fills `translation_thick`
# too (the preference stage's "chosen" answer).
SEGMENT = pa.struct([("source", pa.string()), ("target", pa.string())])

#: What ``caption`` adds to its input rows.
CAPTIONED = _schema("captioned", [
    ("caption", pa.string(), "the caption in caption_lang (mode thick: the thick one; mode both: the plain one)"),
    ("caption_lang", pa.string(), "language the captions are written in"),
    ("caption_mode", pa.string(), "plain | thick | both"),
    ("caption_model", pa.string(), "the captioning model (`tiny-random:<architecture>` for a tiny test model)"),
    ("prompt_hash", pa.string(), "16 hex digits of sha256 over mode, caption language, prompts and system message"),
    ("caption_thick", pa.string(), "mode both: the caption given alt-text and page title as context"),
    ("caption_backend", pa.string(), "the model backend that ran the captioning model"),
])

#: What ``translate`` adds to its input rows.
TRANSLATED = _schema("translated", [
    ("translation", pa.string(), "caption translated into the row's lang"),
    ("translation_thick", pa.string(), "caption_thick translated into the row's lang"),
    ("translation_lang", pa.string(), "language of the translations (the row's lang)"),
    ("translation_model", pa.string(), "the translating model (`tiny-random:<architecture>` for a tiny test model)"),
    ("translation_segments", pa.list_(SEGMENT), "one {source, target} per sentence of translation, in order"),
    ("translation_thick_segments", pa.list_(SEGMENT),
     "one {source, target} per sentence of translation_thick, in order"),
    ("translation_qe", pa.float64(), "quality estimate of translation"),
    ("translation_thick_qe", pa.float64(), "quality estimate of translation_thick"),
    ("translation_qe_method", pa.string(), "method and model of the estimates, e.g. `roundtrip-chrf:<model>`"),
    ("translation_backend", pa.string(), "the model backend that ran the translating model"),
])

#: What ``score`` adds to its input rows.
SCORED = _schema("scored", [
    ("relevance", pa.float64(), "cosine similarity of image and translation (D_ling), in [-1, 1]"),
    ("relevance_thick", pa.float64(), "image vs translation_thick (D_ling built with --ling-field translation_thick)"),
    ("relevance_alt", pa.float64(), "image vs the native alt-text (D_know)"),
    ("relevance_model", pa.string(), "the dual encoder that scored them"),
])

#: The annotation columns mella's readers know (the stages' ``*_backend`` and ``relevance_model`` aside).
ANNOTATIONS = _schema("annotations", [
    _like("images", "key"),
    *(_like("captioned", c) for c in CAPTIONED.names if c != "caption_backend"),
    *(_like("translated", c) for c in TRANSLATED.names if c != "translation_backend"),
    *(_like("scored", c) for c in ("relevance", "relevance_alt", "relevance_thick")),
])

# -- build -----------------------------------------------------------------------------------------
SAMPLES = _schema("samples", [
    ("id", pa.string(), "stable sample id: the same image, language, source (and alt-text) give the same id"),
    _like("images", "key"),
    ("lang", pa.string(), "the sample's language (the row's lang)"),
    ("source", pa.string(), "know (native alt-text) | ling (translated caption) | both (two-turn sample)"),
    ("instruction", pa.string(), "the native instruction template the sample asks"),
    ("response", pa.string(), "the answer: the alt-text (know) or the translation (ling)"),
    ("split", pa.string(), "train | validation | test"),
])

TURN = pa.struct([("source", pa.string()), ("instruction", pa.string()), ("response", pa.string())])

#: What ``build`` writes: SAMPLES + what trainers, exporters and the card need.
BUILT = _schema("built", [
    ("variant", pa.string(), "alt | translation | self_translation | code_switch | conversation"),
    ("recipe", pa.string(), "mella | know-only | ling-only | sdrrl"),
    ("turns", pa.list_(TURN), "the whole conversation, one {source, instruction, response} per turn"),
    ("group", pa.string(), "split group: key of the group's root image"),
    ("image_sha256", pa.string(), "the image's sha256 (fetch's sha256)"),
    _like("images", "phash"),
    _like("images", "width"),
    _like("images", "height"),
    _like("candidates", "image_url"),
    _like("candidates", "page_url"),
    _like("candidates", "domain"),
    ("caption", pa.string(), "ling: the caption the response was translated from (caption_thick's text under "
                             "--ling-field translation_thick)"),
    ("caption_lang", pa.string(), "ling: language of caption"),
    ("caption_model", pa.string(), "ling: the captioning model"),
    ("translation_model", pa.string(), "ling: the translating model"),
    ("kind", pa.string(), "know: the alt-text's kind (description | entity | other), when filter gave one"),
    ("keywords", pa.list_(pa.string()), "know: the alt-text's keywords (keyword and entity accuracy), when the "
                                        "keywords stage ran"),
    ("keyword_kinds", pa.list_(pa.string()), "know: per keyword, entity | rare"),
    ("culture_category", pa.string(), "know: the culture stage's category, when it ran"),
    ("culture_score", pa.float64(), "know: the culture stage's score, when it ran"),
], base="samples")

#: build's plan (``build/_global/build/plan/part-NNNNN.parquet``): one row per input row of that part.
PLAN = _schema("build_plan", [
    ("know", pa.string(), "split of the row's D_know sample, or null"),
    ("know_drop", pa.string(), "why the row has no D_know sample"),
    ("ling", pa.string(), "split of the row's D_ling sample, or null"),
    ("ling_drop", pa.string(), "why the row has no D_ling sample"),
    ("pair", pa.bool_(), "the two samples become one two-turn sample"),
    ("group", pa.string(), "split group: key of the group's root image"),
])

# -- benchmark ------------------------------------------------------------------------------------
#: What ``benchmark`` writes: an external benchmark's test samples (SAMPLES, split "test", source the benchmark's
#: name) with every reference, and the image in the part's tar as fetch stores it, so ``predict`` reads it as it
#: reads a build.
BENCHMARK = _schema("benchmark", [
    ("references", pa.list_(pa.string()), "every reference of the image in the language (response: the first)"),
    ("benchmark", pa.string(), "the benchmark the sample comes from (xm3600)"),
    ("image_locale", pa.string(), "xm3600: the image's image/locale (the language region it was chosen for)"),
    ("sha256", pa.string(), "sha256 of the benchmark's image file (stored unchanged in the tar)"),
    _like("fetched", "tar_offset"),
    _like("fetched", "tar_size"),
], base="samples")

# -- rate ------------------------------------------------------------------------------------------
#: ``judgements.parquet`` (and ``.csv``) of ``rate-report``: one row per (rater, item, question).
JUDGEMENTS = _schema("judgements", [
    ("rater", pa.string(), "the rater's id in the store"),
    ("rater_name", pa.string(), "the name the rater signed in with (labelstudio:<user> for imported ones)"),
    ("item_id", pa.string(), "the rated item: 16 hex digits of sha256 over kind, language, sample id, systems"),
    ("kind", pa.string(), "pairwise | know | ling"),
    ("lang", pa.string(), "the item's language (mella tag)"),
    ("sample_id", pa.string(), "the sample (build's or predictions' id) the item shows"),
    ("question", pa.string(), "preference (pairwise) | relevance, correctness (know) | adequacy, fluency (ling)"),
    ("value", pa.string(), "pairwise: A | tie | B as shown on screen; ratings: 1-5"),
    ("comment", pa.string(), "the rater's free-text comment on the item"),
    ("shown_a", pa.string(), "pairwise: the system shown as A (never sent to the page); else null"),
    ("shown_b", pa.string(), "pairwise: the system shown as B; else null"),
    ("created_at", pa.timestamp("ms", tz="UTC"), "when the answer was first given"),
    ("updated_at", pa.timestamp("ms", tz="UTC"), "when it was last changed"),
])

# -- every stage's _dropped/ ----------------------------------------------------------------------
DROPPED = _schema("dropped", [
    ("drop_reason", pa.string(), "why the row was dropped (a status or rule name, e.g. duplicate_alt, http_404)"),
])
DROP_REASON = DROPPED.field("drop_reason")

# -- predict, evaluate -----------------------------------------------------------------------------
PREDICTIONS = _schema("predictions", [
    _like("samples", "id"),
    _like("samples", "lang"),
    _like("samples", "source"),
    ("prediction", pa.string(), "the model's answer to the instruction"),
    ("references", pa.list_(pa.string()), "reference answers (the sample's response)"),
    ("keywords", pa.list_(pa.string()), "culture keywords the answer should name (keyword accuracy)"),
    ("keyword_kinds", pa.list_(pa.string()), "per keyword, entity | rare (entity accuracy counts the entities)"),
    ("model", pa.string(), "the predicting model (or --model-name)"),
])

#: ``items.parquet`` of ``evaluate``: per-item scores, one column per metric output (those computed).
#: Written with the types pyarrow infers, so a column whose every value is null has type null.
EVALUATION_ITEMS = _schema("evaluation_items", [
    _like("samples", "id"),
    _like("samples", "lang"),
    _like("samples", "source"),
    ("bleu", pa.float64(), "sentence BLEU (effective order), 0-100"),
    ("chrf", pa.float64(), "sentence chrF, 0-100"),
    ("chrf++", pa.float64(), "sentence chrF++, 0-100"),
    ("rougeL", pa.float64(), "ROUGE-L F1, 0-1"),
    ("meteor", pa.float64(), "METEOR, 0-1"),
    ("keyword_accuracy", pa.float64(), "share of the keywords the prediction names (null without keywords)"),
    ("keyword_hits", pa.int64(), "keywords the prediction names"),
    ("keyword_total", pa.int64(), "keywords of the item"),
    ("entity_named", pa.float64(), "1 when the prediction names every entity keyword of the item, else 0 (null "
                                   "without entity keywords)"),
    ("output_lang_rate", pa.float64(), "1 when the prediction passes the target-language check, else 0"),
])

#: ``scores.json`` of ``evaluate`` (JSON rows, not parquet): one row per (lang, source, metric).
SCORES = _schema("scores", [
    ("lang", pa.string(), "the group's language"),
    ("source", pa.string(), "the group's source (know | ling | both)"),
    ("metric", pa.string(), "the metric output (bleu, chrf, chrf++, rougeL, meteor, keyword_accuracy, ...)"),
    ("score", pa.float64(), "the corpus score (BLEU, chrF 0-100; others 0-1)"),
    ("n", pa.int64(), "items the score is over"),
    ("signature", pa.string(), "the metric's settings and versions (sacrebleu-style)"),
])


def documented_types() -> dict[str, list[pa.DataType]]:
    """Every column of every schema above with the types it is documented with (one, unless names clash)."""
    found: dict[str, list[pa.DataType]] = {}
    for schema in SCHEMAS.values():
        for f in schema:
            types = found.setdefault(f.name, [])
            if not any(t.equals(f.type) for t in types):
                types.append(f.type)
    return found


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
KEYWORDS_READS = ("alt", "lang")
CULTURE_READS = ("alt", "lang")
DEDUP_READS = ("page_url", "image_url", "alt", "domain")
FETCH_READS = ("image_url",)
CAPTION_READS = ("key",)
TRANSLATE_READS = ("lang", "caption")
SCORE_READS = ("key",)
BUILD_READS = ("key", "lang", "alt")
BENCHMARK_READS = ("image/key",)  # xm3600: captions.jsonl
PREDICT_READS = ("id", "lang", "instruction")
PREDICT_IMAGE_READS = ("key",)     # predict with images
PREDICT_SPLIT_READS = ("split",)   # predict one split (not --split all)
EVALUATE_READS = ("prediction", "references")
EXPORT_READS = ("id", "key", "lang", "source", "instruction", "response", "split")
TRAIN_READS = ("key", "instruction", "response", "split")

# Pipeline order of the stages that write columns, each with the columns it adds first.
_WRITERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("collect", tuple(CANDIDATES.names)),
    ("filter", ("lang", "lang_confidence", "alt_norm", "kind")),
    ("keywords", tuple(KEYWORDED.names)),
    ("culture", tuple(RATED.names)),
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
    # The reader-contract schemas (and filter's alt_norm); the stages' own extra columns are not checked.
    found = {"alt_norm": FILTERED.field("alt_norm").type}
    for schema in (CANDIDATES, PAIRS, IMAGES, ANNOTATIONS, SAMPLES, PREDICTIONS, SCORES):
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
