"""The filter and dedup stages end to end through the local executor, over gold candidate rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from mella.filter import gold
from mella.filter.dedup import DedupStage
from mella.filter.filter import FilterStage
from mella.pipeline.local import LocalExecutor
from mella.pipeline.runner import run_stage
from mella.records import CANDIDATES


def write_candidates(folder, rows, n_parts=3):
    """Gold rows as CANDIDATES parquet files, split by source page so pages stay whole."""
    folder.mkdir()
    files = sorted({r["source"] for r in rows})
    for i in range(n_parts):
        part = [{k: r.get(k) for k in CANDIDATES.names} for r in rows if files.index(r["source"]) % n_parts == i]
        pq.write_table(pa.Table.from_pylist(part, schema=CANDIDATES), folder / f"candidates-{i}.parquet")
    return folder


def read(folder):
    return pq.read_table(sorted(folder.glob("part-*.parquet"))).to_pylist()


@pytest.fixture(scope="module")
def filtered(tmp_path_factory, gold_rows):
    tmp = tmp_path_factory.mktemp("stage")
    inputs = write_candidates(tmp / "in", gold_rows)
    out = tmp / "filter"
    run_stage(FilterStage(), [str(inputs)], out, LocalExecutor(2, progress=False))
    deduped = tmp / "dedup"
    run_stage(DedupStage(), [str(out)], deduped, LocalExecutor(2, progress=False))
    return out, deduped


# Reasons the text and structure rules give before language ID (so those rows have no lang). Two reasons come
# at either point: bare_name (before: a Latin name with no mark of any of the run's languages; after: none of
# the language found) and partner_badge (before: from the page's chrome; after: a name in an off-site link).
EITHER = {"bare_name", "partner_badge"}
BEFORE_LANGID = {"url", "file_name", "hash", "dimensions", "handle", "no_letters", "symbols", "digits", "empty",
                 "too_short", "too_long", "boilerplate", "site_name", "logo", "store_badge", "product",
                 "tiny_image", "banner_size", "service_link", "site_logo", "nav_link", "chrome_path", "price_offer",
                 "placeholder_image", "page_repeat", "shared_image", "same_as_title", "link_title", "headline"}


def test_dropped_rows_carry_reason_and_language(filtered):
    out, _ = filtered
    dropped = pq.read_table(sorted((out / "_dropped").glob("part-*.parquet"))).to_pylist()
    reasons = {d["drop_reason"] for d in dropped}
    assert {"other_language", "boilerplate", "url", "file_name", "bare_name", "product"} <= reasons
    for d in dropped:
        # The text rules run first; language ID runs on what they keep; kind comes with the names decision.
        if d["drop_reason"] not in EITHER:
            assert (d["lang"] is not None) == (d["drop_reason"] not in BEFORE_LANGID), d
        if d["drop_reason"] in ("bare_name", "latin_brand", "no_native_word"):
            assert d["kind"] in ("description", "entity", "other"), d
    stats = json.loads((out / "stats.json").read_text())
    assert stats["counters"]["dropped.other_language"] == sum(d["drop_reason"] == "other_language" for d in dropped)
    assert stats["rows"] + stats["dropped"] == 482


def test_gold_precision_and_recall_without_structure(filtered, gold_rows):
    """Rows without the structure columns (an older collect output): names and headlines are kept, since
    nothing tells a teaser from a caption; the figures of the real path are in test_filter_measure.py."""
    _, deduped = filtered
    kept = read(deduped)
    from mella.filter.langid import expand_targets

    targets = expand_targets(FilterStage().options.langs)
    fig = gold.kept_figures(gold_rows, kept, targets)  # right = the gold language, not boilerplate or a file name
    good, total = fig["precision"]
    assert good / total >= 0.8, fig
    by_id = {gold.id_of(r): r for r in kept}
    wanted = [r for r in gold_rows if r["gold_kind"] in ("description", "entity") and r["gold_lang"] in targets]
    found = [r for r in wanted if by_id.get(gold.id_of(r), {}).get("lang") == r["gold_lang"]]
    assert len(found) / len(wanted) >= 0.9, [r["alt"] for r in wanted if r not in found]
    assert all(r["lang"] in targets and r["alt_norm"] for r in kept)
    assert {r["kind"] for r in kept} <= {"description", "entity", "other"}
    entities = {r["alt"] for r in kept if r["kind"] == "entity"}
    assert {"Bộ Ba Rắc Rối", "KHE NỨT SAN ANDREAS", "Aleš Vávra"} <= entities  # names kept, in the language


def test_dedup_stage_drops_site_chrome_across_parts(filtered):
    _, deduped = filtered
    dropped = pq.read_table(sorted((deduped / "_dropped").glob("part-*.parquet"))).to_pylist()
    chrome = {d["alt"] for d in dropped if d["drop_reason"] == "site_chrome"}
    assert "Seznam Zprávy" in chrome  # the site's logo on 3 seznamzpravy.cz pages, in different parts


def test_langs_option_accepts_any_known_code_and_rejects_unknown():
    assert FilterStage(langs=["tr", "sr-Latn"]).options.langs == ["tr", "sr-Latn"]
    with pytest.raises(ValidationError, match="unknown language 'xx'"):  # like every option check
        FilterStage(langs=["xx"])


def test_one_language_run(tmp_path, gold_rows):
    inputs = write_candidates(tmp_path / "in", gold_rows, n_parts=1)
    run_stage(FilterStage(langs=["sr-Latn"]), [str(inputs)], tmp_path / "out", LocalExecutor(1, progress=False))
    kept = read(tmp_path / "out")
    assert kept and {r["lang"] for r in kept} == {"sr-Latn"}
    assert all(r["domain"] == "krstarica.com" for r in kept)
