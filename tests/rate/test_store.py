"""The rating store: a judgement is on disk when record() returns (SIGKILL right after), items are added once,
answers are upserted, raters resume where they stopped, sessions outlive the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mella.errors import MellaError
from mella.rate.store import RatingStore, default_path
from mella.rate.tasks import Item, item_id


def know(n: int, lang: str = "ru") -> Item:
    sid = f"know-{lang}-{n}"
    return Item(item_id("know", lang, sid), "know", lang, sid, f"{n:020x}", "", f"текст {n}", "", None, None)


def pair(n: int) -> Item:
    sid = f"know-ru-{n}"
    systems = ("base", "tuned") if n % 2 else ("tuned", "base")
    return Item(item_id("pairwise", "ru", sid, systems), "pairwise", "ru", sid, None, "Опишите.", "", "",
                (f"out-{systems[0]}", f"out-{systems[1]}"), systems)


@pytest.fixture
def store(tmp_path):
    with RatingStore(default_path(tmp_path)) as s:
        yield s


def test_a_judgement_survives_sigkill_right_after_record_returns(tmp_path):
    path = default_path(tmp_path)
    script = textwrap.dedent(f"""
        import os, signal, sys
        from mella.rate.store import RatingStore
        from mella.rate.tasks import Item
        store = RatingStore({str(path)!r})
        store.add_items([Item("i1", "know", "ru", "s1", None, "", "текст", "", None, None)])
        rater = store.rater("Анна")
        store.record(rater, "i1", "relevance", "4", "хорошо")
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit, no flush of anything
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with RatingStore(path) as store:
        [j] = store.judgements()
        assert (j["rater_name"], j["item_id"], j["question"], j["value"], j["comment"]) == \
            ("Анна", "i1", "relevance", "4", "хорошо")


def test_the_store_is_wal_with_full_sync(store):
    assert store._read("PRAGMA journal_mode")[0][0] == "wal"
    assert store._read("PRAGMA synchronous")[0][0] == 2  # FULL


def test_add_items_is_idempotent_and_appends_new_items_in_order(store):
    first = [know(i) for i in range(3)]
    assert store.add_items(first) == 3
    assert store.add_items(first) == 0
    assert store.add_items([know(1), know(5), know(4)]) == 2
    assert [it.sample_id for it in store.items()] == ["know-ru-0", "know-ru-1", "know-ru-2", "know-ru-5",
                                                      "know-ru-4"]
    assert store.items("ru", "know")[0] == first[0]  # an item comes back as it went in
    store.add_items([pair(1), pair(2)])
    assert [it.systems for it in store.items(kind="pairwise")] == [("base", "tuned"), ("tuned", "base")]
    assert store.items("ko") == [] and len(store.items(lang="ru")) == 7


def test_add_items_refuses_a_pairwise_item_without_systems(store):
    bad = Item("x", "pairwise", "ru", "s", None, "", "", "", None, None)
    with pytest.raises(MellaError, match="two outputs and two systems"):
        store.add_items([bad])
    assert store.items() == []


def test_record_upserts_one_answer_per_rater_item_and_question(store):
    store.add_items([know(1), pair(1)])
    rater = store.rater("Анна")
    store.record(rater, know(1).item_id, "relevance", "2")
    first = store.judgements()[0]
    time.sleep(0.01)
    store.record(rater, know(1).item_id, "relevance", "5", "передумала")
    [j] = store.judgements()
    assert (j["value"], j["comment"]) == ("5", "передумала")
    assert j["created_at"] == first["created_at"] and j["updated_at"] > first["updated_at"]
    store.record(rater, pair(1).item_id, "preference", "B")
    shown = [j for j in store.judgements() if j["kind"] == "pairwise"][0]
    assert (shown["shown_a"], shown["shown_b"], shown["value"]) == ("base", "tuned", "B")
    assert store.judgements("ko") == []


@pytest.mark.parametrize(("question", "value", "message"), [
    ("relevance", "6", "not one of"), ("relevance", "A", "not one of"), ("preference", "A", "no question"),
    ("fluency", "3", "no question")])
def test_record_refuses_answers_the_scale_does_not_have(store, question, value, message):
    store.add_items([know(1)])
    with pytest.raises(MellaError, match=message):
        store.record(store.rater("Анна"), know(1).item_id, question, value)
    assert store.judgements() == []


def test_record_refuses_unknown_items_and_raters(store):
    store.add_items([know(1)])
    with pytest.raises(MellaError, match="no item"):
        store.record(store.rater("Анна"), "nope", "relevance", "3")
    with pytest.raises(MellaError, match="no rater"):
        store.record("r-unknown", know(1).item_id, "relevance", "3")


def test_raters_are_get_or_create_by_trimmed_name(store):
    a = store.rater("Анна")
    assert store.rater("  Анна ") == a and store.rater("Борис") != a
    for bad in ("", "   ", "x" * 201, "a\nb"):
        with pytest.raises(MellaError, match="rater name"):
            store.rater(bad)


def test_next_item_and_progress_count_an_item_done_only_when_every_question_is_answered(store):
    items = [know(i) for i in range(3)]
    store.add_items(items + [know(9, "ko")])
    anna, boris = store.rater("Анна"), store.rater("Борис")
    assert store.next_item(anna, "ru", "know") == items[0]
    assert store.progress(anna, "ru", "know") == (0, 3)
    store.record(anna, items[0].item_id, "relevance", "3")
    assert store.next_item(anna, "ru", "know") == items[0]  # correctness still open
    store.record(anna, items[0].item_id, "correctness", "4")
    assert store.next_item(anna, "ru", "know") == items[1]
    assert store.progress(anna, "ru", "know") == (1, 3)
    store.record(anna, items[2].item_id, "relevance", "1")
    store.record(anna, items[2].item_id, "correctness", "1")
    assert store.next_item(anna, "ru", "know") == items[1]  # the first unfinished one, in the items' order
    assert store.progress(boris, "ru", "know") == (0, 3) and store.next_item(boris, "ru", "know") == items[0]
    store.record(anna, items[1].item_id, "relevance", "5")
    store.record(anna, items[1].item_id, "correctness", "5")
    assert store.next_item(anna, "ru", "know") is None and store.progress(anna, "ru", "know") == (3, 3)
    assert store.progress(anna, "ru", "pairwise") == (0, 0) and store.next_item(anna, "ko", "know") == know(9, "ko")


def test_a_rater_resumes_after_the_store_is_reopened(tmp_path):
    path = default_path(tmp_path)
    items = [know(i) for i in range(3)]
    with RatingStore(path) as store:
        store.add_items(items)
        rater = store.rater("Анна")
        session, csrf = store.new_session(rater)
        for q in ("relevance", "correctness"):
            store.record(rater, items[0].item_id, q, "3")
        store.record(rater, items[1].item_id, "relevance", "2")
    with RatingStore(path) as store:
        assert store.add_items(items) == 0  # building the study again keeps everything
        assert store.session(session) == (rater, csrf)
        assert store.rater("Анна") == rater
        assert store.next_item(rater, "ru", "know") == items[1]
        assert store.answered(rater, items[1].item_id) == {"relevance": ("2", "")}
        assert store.progress(rater, "ru", "know") == (1, 3)


def test_sessions_are_random_stored_and_unknown_ones_are_none(store):
    rater = store.rater("Анна")
    s1, s2 = store.new_session(rater), store.new_session(rater)
    assert s1 != s2 and len(s1[0]) >= 32 and len(s1[1]) >= 32
    assert store.session(s1[0]) == (rater, s1[1])
    assert store.session("forged") is None and store.session("") is None
    with pytest.raises(MellaError, match="no rater"):
        store.new_session("r-unknown")


def test_a_file_that_is_not_sqlite_is_one_line_error(tmp_path):
    bad = tmp_path / "judgements.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(MellaError, match="not a usable rating store"):
        RatingStore(bad)


def test_two_store_objects_on_one_file_see_each_others_writes(tmp_path):
    # the app and rate-report may hold the file at once
    path = default_path(tmp_path)
    with RatingStore(path) as writer, RatingStore(path) as reader:
        writer.add_items([know(1)])
        writer.record(writer.rater("Анна"), know(1).item_id, "relevance", "3")
        assert [j["value"] for j in reader.judgements()] == ["3"]
    assert Path(path).is_file() and os.path.getsize(path) > 0
