"""The analysis of judgements: de-randomised win/tie/loss, Krippendorff's alpha (the package's value and one worked
out by hand), the seeded item bootstrap, Spearman's rho, and ``mella rate-report`` on a small run."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from corekit import SYSTEMS, make_run, write_items_parquet

krippendorff = pytest.importorskip("krippendorff", reason="the rate extra is not installed")

from mella.cli import cli, main  # noqa: E402
from mella.rate.analysis import alpha, analyse, bootstrap_ci, preference_for, spearman  # noqa: E402
from mella.rate.store import RatingStore, default_path  # noqa: E402
from mella.rate.tasks import Item, item_id, pairwise_items  # noqa: E402

X, Y = "base", "tuned"


def judgement(rater, item, value, shown_a, kind="pairwise", question="preference", lang="ru"):
    shown_b = (Y if shown_a == X else X) if kind == "pairwise" else None
    return {"rater": rater, "rater_name": rater, "item_id": item, "kind": kind, "lang": lang, "sample_id": item,
            "question": question, "value": value, "comment": "", "shown_a": shown_a, "shown_b": shown_b,
            "created_at": 0.0, "updated_at": 0.0}


def test_preference_is_de_randomised_through_the_system_shown_as_a():
    assert preference_for(judgement("r", "i", "A", X), X) == 1
    assert preference_for(judgement("r", "i", "A", Y), X) == -1  # "A" was tuned on this item
    assert preference_for(judgement("r", "i", "B", Y), X) == 1
    assert preference_for(judgement("r", "i", "tie", Y), X) == 0


def test_win_tie_loss_count_wins_for_the_system_the_rater_chose_whatever_side_it_was_on():
    # The raters always prefer base; base was shown as A on half the items and as B on the other half.
    rows = [judgement(r, f"i{n}", "A" if n % 2 else "B", X if n % 2 else Y) for n in range(10) for r in "pq"]
    rows += [judgement("p", "i10", "tie", Y), judgement("q", "i10", "A", Y)]  # a tie and a win for tuned
    [res] = analyse(rows, seed=1, n_boot=500)
    assert res["systems"] == [X, Y] and res["items"] == 11 and res["raters"] == 2 and res["judgements"] == 22
    assert res["win"]["value"] == pytest.approx(20 / 22)
    assert res["tie"]["value"] == pytest.approx(1 / 22)
    assert res["loss"]["value"] == pytest.approx(1 / 22)
    for name in ("win", "tie", "loss"):
        assert res[name]["low"] <= res[name]["value"] <= res[name]["high"]


def test_alpha_equals_the_krippendorff_package_on_a_fixed_matrix():
    # 3 raters x 6 items, 1-5 ratings, one missing value
    matrix = [[1, 2, 3, 3, 2, 5],
              [1, 2, 3, 4, 2, 4],
              [np.nan, 3, 3, 3, 2, 5]]
    expected = krippendorff.alpha(reliability_data=np.array(matrix), level_of_measurement="ordinal")
    rows = [judgement(f"r{r}", f"i{c}", str(int(v)), None, "know", "relevance")
            for r, line in enumerate(matrix) for c, v in enumerate(line) if not math.isnan(v)]
    [res] = analyse(rows, n_boot=200)
    assert res["alpha"]["relevance"]["level"] == "ordinal"
    assert res["alpha"]["relevance"]["value"] == pytest.approx(expected, abs=1e-12)
    assert 0.5 < expected < 1  # a sanity check that the matrix agrees more than chance


def test_alpha_equals_a_value_worked_out_by_hand():
    # Two raters, three items, ordinal: item 1 (1, 1), item 2 (1, 2), item 3 (3, 3).
    # Coincidences (each item gives both ordered pairs, / (m_u - 1) = 1): o11 = 2, o12 = o21 = 1, o33 = 2.
    # Marginals: n1 = 3, n2 = 1, n3 = 2, n = 6.
    # Ordinal distances d(c, k) = (sum of n_g for g from c to k - (n_c + n_k) / 2) ** 2:
    #   d(1,2) = (4 - 2) ** 2 = 4;  d(1,3) = (6 - 2.5) ** 2 = 12.25;  d(2,3) = (3 - 1.5) ** 2 = 2.25.
    # Observed: sum o_ck d_ck = 2 * 4 = 8.  Expected: sum n_c n_k d_ck = 2 * (3*1*4 + 3*2*12.25 + 1*2*2.25) = 180.
    # alpha = 1 - (n - 1) * 8 / 180 = 1 - 5 * 8 / 180 = 1 - 2/9 = 7/9.
    rows = [judgement("p", "i1", "1", None, "ling", "fluency"), judgement("q", "i1", "1", None, "ling", "fluency"),
            judgement("p", "i2", "1", None, "ling", "fluency"), judgement("q", "i2", "2", None, "ling", "fluency"),
            judgement("p", "i3", "3", None, "ling", "fluency"), judgement("q", "i3", "3", None, "ling", "fluency")]
    [res] = analyse(rows, n_boot=200)
    assert res["alpha"]["fluency"]["value"] == pytest.approx(7 / 9, abs=1e-12)
    assert res["alpha"]["adequacy"]["value"] is None  # nobody answered it
    assert res["means"]["fluency"]["value"] == pytest.approx((1 + 1 + 1 + 2 + 3 + 3) / 6)


def test_pairwise_alpha_reads_the_preference_for_one_system_on_an_ordered_scale():
    # Item i1: both prefer base (shown on different sides to each: the store records per item, so the same side;
    # here the two raters saw the same order). Item i2: p says tie, q says tuned. Item i3: both say tuned.
    rows = [judgement("p", "i1", "A", X), judgement("q", "i1", "A", X),
            judgement("p", "i2", "tie", Y), judgement("q", "i2", "A", Y),
            judgement("p", "i3", "B", X), judgement("q", "i3", "B", X)]
    matrix = np.array([[1, 0, -1], [1, -1, -1]], dtype=float)  # +1 base better, 0 tie, -1 tuned better
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    [res] = analyse(rows, n_boot=200)
    assert res["alpha"]["preference"]["value"] == pytest.approx(expected, abs=1e-12)


def test_alpha_is_none_when_it_is_not_defined():
    assert alpha({"p": {"i": 3.0}}, [1, 2, 3, 4, 5]) is None  # one rater
    assert alpha({"p": {"i": 3.0, "j": 3.0}, "q": {"i": 3.0, "j": 3.0}}, [1, 2, 3, 4, 5]) is None  # one value


def test_the_bootstrap_is_seeded_and_its_interval_holds_the_point_estimate():
    per_item = [(k, 2) for k in (0, 1, 2, 2, 1, 0, 2, 2, 1, 2)]
    a = bootstrap_ci(per_item, seed=7, n_boot=1000)
    assert a == bootstrap_ci(per_item, seed=7, n_boot=1000)
    assert a != bootstrap_ci(per_item, seed=8, n_boot=1000)
    point, low, high = a
    assert point == pytest.approx(13 / 20) and low < point < high
    assert 0 <= low and high <= 1
    assert bootstrap_ci([], seed=0) == (None, None, None)


def test_spearman_matches_a_hand_example():
    # x ranks 1..5; y = 5, 6, 7, 8, 7 ranks 1, 2, 3.5, 5, 3.5 (the two 7s share 3.5).
    # Deviations from the mean rank 3: x (-2, -1, 0, 1, 2), y (-2, -1, .5, 2, .5).
    # rho = sum dx*dy / sqrt(sum dx^2 * sum dy^2) = (4 + 1 + 0 + 2 + 1) / sqrt(10 * 9.5) = 8 / sqrt(95).
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_pairwise_correlation_uses_the_metric_difference_per_item():
    rows = []
    for n, pref in enumerate(["A", "A", "tie", "B", "B"]):
        rows += [judgement("p", f"s{n}", pref, X), judgement("q", f"s{n}", pref, X)]
    # base minus tuned chrF falls from item 0 to item 4, as the preference for base does
    metrics = {X: {f"s{n}": {"chrf": 50.0 - n, "bleu": 10.0} for n in range(5)},
               Y: {f"s{n}": {"chrf": 40.0 + n, "bleu": 10.0} for n in range(5)}}
    [res] = analyse(rows, metrics=metrics, n_boot=200)
    by_metric = {c["metric"]: c for c in res["correlations"]}
    # human (+1, +1, 0, -1, -1) ranks (4.5, 4.5, 3, 1.5, 1.5); differences (10, 8, 6, 4, 2) ranks (5, 4, 3, 2, 1):
    # sum dx*dy = 1.5*2 + 1.5*1 + 0 + 1.5*1 + 1.5*2 = 9, sum dx^2 = 9, sum dy^2 = 10, rho = 9 / sqrt(90)
    assert by_metric["chrf"]["rho"] == pytest.approx(9 / math.sqrt(90)) and by_metric["chrf"]["n"] == 5
    assert by_metric["bleu"]["rho"] is None  # a constant difference has no ranks to correlate


def _study(run):
    """A store over the run: the pairwise items and two raters who agree that the first system is better."""
    items = pairwise_items(run / SYSTEMS[0], run / SYSTEMS[1], SYSTEMS, "ru", n=None, seed=0)
    know = Item(item_id("know", "ru", "know-ru-1"), "know", "ru", "know-ru-1", None, "", "текст", "", None, None)
    with RatingStore(default_path(run)) as store:
        store.add_items([*items, know])
        for name in ("Анна", "Борис"):
            rater = store.rater(name)
            for it in items:
                store.record(rater, it.item_id, "preference", "A" if it.systems[0] == SYSTEMS[0] else "B")
            store.record(rater, know.item_id, "relevance", "4", "коммент, с запятой")
            store.record(rater, know.item_id, "correctness", "5")
    return items


def test_rate_report_writes_the_judgements_and_the_report(tmp_path):
    run = make_run(tmp_path)
    items = _study(run)
    write_items_parquet(run / "eval_a", SYSTEMS[0], {i.sample_id: {"chrf": 50.0 + n} for n, i in enumerate(items)})
    write_items_parquet(run / "eval_b", SYSTEMS[1], {i.sample_id: {"chrf": 40.0} for i in items})
    result = CliRunner().invoke(cli, ["rate-report", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "ru pairwise: 3 items, 2 raters, 6 judgements" in result.output
    assert f"{SYSTEMS[0]} wins 100% [100, 100]" in result.output and f"{SYSTEMS[1]} wins 0%" in result.output
    assert "spearman preference vs chrf" in result.output and "no automatic metrics" not in result.output
    table = pq.read_table(run / "rate" / "judgements.parquet")
    assert table.num_rows == 10 and set(table["rater_name"].to_pylist()) == {"Анна", "Борис"}
    assert pacsv.read_csv(run / "rate" / "judgements.csv").num_rows == 10
    report = json.loads((run / "rate" / "rate_report.json").read_text(encoding="utf-8"))
    pairwise = next(r for r in report["results"] if r["kind"] == "pairwise")
    first = sorted(SYSTEMS).index(SYSTEMS[0])
    assert pairwise[("win", "loss")[first]]["value"] == 1.0 and pairwise["tie"]["value"] == 0.0
    assert pairwise["alpha"]["preference"]["value"] is None  # everyone said the same thing: alpha undefined
    assert report["metrics"] == {SYSTEMS[0]: str(run / "eval_a" / "items.parquet"),
                                 SYSTEMS[1]: str(run / "eval_b" / "items.parquet")}
    know = next(r for r in report["results"] if r["kind"] == "know")
    assert know["means"]["relevance"]["value"] == 4.0
    assert know["correlations"] == [] or all(c["metric"] == "culture_score" for c in know["correlations"])


def test_rate_report_json_lang_filter_and_explicit_metrics(tmp_path):
    run = make_run(tmp_path)
    items = _study(run)
    a = write_items_parquet(tmp_path / "ea", SYSTEMS[0], {i.sample_id: {"chrf": 1.0} for i in items})
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["rate-report", str(run), "--lang", "ru", "--kind", "pairwise", "--json",
                                      "--out", str(out), "--metrics-a", f"{SYSTEMS[0]}={a}"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [res] = json.loads(result.output)
    assert res["kind"] == "pairwise" and res["correlations"] == []  # the other system has no metrics
    assert (out / "judgements.parquet").is_file()
    assert json.loads((out / "rate_report.json").read_text(encoding="utf-8"))["metrics"] == {SYSTEMS[0]: str(a)}
    empty = CliRunner().invoke(cli, ["rate-report", str(run), "--lang", "th", "--out", str(out)])
    assert empty.exit_code == 0 and "no judgements yet" in empty.output


def test_rate_report_without_a_store_is_one_line(tmp_path, capsys):
    assert main(["rate-report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no rating store" in err and len(err.strip().splitlines()) == 1
