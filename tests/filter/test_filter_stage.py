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
        part = [{k: r[k] for k in CANDIDATES.names} for r in rows if files.index(r["source"]) % n_parts == i]
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


def test_dropped_rows_carry_reason_and_language(filtered):
    out, _ = filtered
    dropped = pq.read_table(sorted((out / "_dropped").glob("part-*.parquet"))).to_pylist()
    reasons = {d["drop_reason"] for d in dropped}
    assert {"other_language", "too_short", "boilerplate", "url", "file_name"} <= reasons
    for d in dropped:
        # The text rules run first; language ID runs on what they keep.
        ran_langid = d["drop_reason"] not in {"url", "file_name", "hash", "dimensions", "no_letters", "symbols",
                                              "digits", "empty", "too_short", "too_long", "boilerplate", "bare_name"}
        assert (d["lang"] is not None) == ran_langid, d
    stats = json.loads((out / "stats.json").read_text())
    assert stats["counters"]["dropped.other_language"] == sum(d["drop_reason"] == "other_language" for d in dropped)
    assert stats["rows"] + stats["dropped"] == 482


def test_gold_precision_and_recall(filtered, gold_rows):
    _, deduped = filtered
    kept = read(deduped)
    targets = FilterStage().options.langs
    from mella.filter.langid import expand_targets

    fig = gold.kept_figures(gold_rows, kept, expand_targets(targets))
    good, total = fig["precision"]
    found, wanted = fig["recall"]
    assert good / total >= 0.93, fig
    assert found / wanted >= 0.95, fig
    assert all(r["lang"] in expand_targets(targets) and r["alt_norm"] for r in kept)


def test_dedup_stage_drops_site_chrome_across_parts(filtered):
    _, deduped = filtered
    dropped = pq.read_table(sorted((deduped / "_dropped").glob("part-*.parquet"))).to_pylist()
    chrome = {d["alt"] for d in dropped if d["drop_reason"] == "site_chrome"}
    assert "Jófogás.hu-s apróhirdetések" in chrome  # on 4 jofogas.hu pages, in different parts


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
