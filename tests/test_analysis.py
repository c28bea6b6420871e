"""The analysis layer: problem identity, best-known optimum, suboptimality, paired statistics, Holm,
performance profiles. Checked against hand-computed small cases and against SciPy called directly."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from conftest import run_here

from nmfexp import analysis as A


def table(rows: list[dict]) -> pd.DataFrame:
    """A load()-shaped table: the identity columns, then what each row sets."""
    base = {"job": None, "tag": "t", "solver": None, "dataset": "uniform", "mask": "random", "mask_rate": 0.05,
            "n_rows": 20, "n_cols": 20, "rank": 2, "seed": 0, "holdout": 0.1, "status": "ok",
            "weighted_kl": np.nan, "weighted_frobenius": np.nan, "heldout_relative_error": np.nan,
            "dataset.kind": "uniform", "solver.params.max_iter": 200, "timing.repeats": 1}
    out = []
    for i, r in enumerate(rows):
        row = {**base, **r}
        row["job"] = row["job"] or f"j{i}"
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- problem_key


def test_problem_key_ignores_solver_settings_and_bookkeeping():
    df = table([
        {"solver": "hals", "tag": "a", "solver.params.max_iter": 200, "timing.repeats": 1, "weighted_kl": 1.0},
        {"solver": "als", "tag": "b", "solver.params.max_iter": 3000, "timing.repeats": 5, "status": "failed",
         "env.hostname": "x", "info.loss": "frobenius", "path": "/elsewhere"},
    ])
    keys = A.problem_key(df)
    assert keys.name == "problem" and keys.iloc[0] == keys.iloc[1]
    assert keys.iloc[0].startswith("p") and len(keys.iloc[0]) == 13


@pytest.mark.parametrize("column, other", [
    ("dataset", "lowrank"), ("mask", "grid"), ("mask_rate", 0.1), ("holdout", 0.2), ("seed", 1), ("rank", 3),
    ("n_rows", 30), ("dataset.kind", "real"), ("dataset.brand_new_option", 7), ("mask.shape", "block"),
])
def test_problem_key_separates_every_part_of_the_problem(column, other):
    df = table([{"solver": "hals"}, {"solver": "hals", column: other}])
    if column not in ("dataset.brand_new_option", "mask.shape"):
        assert column in A.problem_columns(df)
    keys = A.problem_key(df)
    assert keys.iloc[0] != keys.iloc[1]
    assert set(A.problem_columns(df)) >= {"dataset", "seed", "rank", "holdout", "mask", "mask_rate", column}


def test_problem_key_is_stable_under_row_order_types_and_unrelated_columns():
    df = table([{"solver": "hals", "seed": s} for s in range(4)])
    keys = A.problem_key(df)
    assert keys.nunique() == 4
    shuffled = df.iloc[::-1].assign(extra_metric=1.0)[list(reversed(df.columns)) + ["extra_metric"]]
    np.testing.assert_array_equal(A.problem_key(shuffled).loc[df.index], keys)
    typed = df.astype({"seed": "Int64", "rank": float})  # 1 and 1.0, Int64 and int64 are the same problem
    np.testing.assert_array_equal(A.problem_key(typed), keys)


def test_a_record_without_a_built_matrix_joins_its_problem():
    df = table([{"solver": "hals", "n_rows": 50, "n_cols": 7, "dataset": "MASS/x"},
                {"solver": "als", "n_rows": np.nan, "n_cols": np.nan, "dataset": "MASS/x", "status": "failed"},
                {"solver": "hals", "n_rows": np.nan, "n_cols": np.nan, "dataset": "MASS/y", "status": "failed"}])
    keys = A.problem_key(df)
    assert keys.iloc[0] == keys.iloc[1] and keys.iloc[2] != keys.iloc[0]


def test_problem_key_refuses_a_table_that_is_not_from_load():
    with pytest.raises(ValueError, match="no column.*seed"):
        A.problem_key(pd.DataFrame({"dataset": ["x"]}))
    with pytest.raises(ValueError, match="DataFrame"):
        A.problem_key([1, 2])


# --------------------------------------------------------------------------- best-known optimum


def two_problems() -> pd.DataFrame:
    return table([
        # problem seed 0
        {"solver": "hals", "info.loss": "frobenius", "weighted_frobenius": 2.0, "weighted_kl": 9.0},
        {"solver": "als", "info.loss": "frobenius", "weighted_frobenius": 1.5, "weighted_kl": np.inf},
        {"solver": "wnmf_kl", "info.loss": "kl", "weighted_frobenius": 1.7, "weighted_kl": 3.0},
        {"solver": "a1gm", "info.loss": "kl", "weighted_frobenius": 1.4, "weighted_kl": 2.5, "rank": 2},
        {"solver": "gdcls", "status": "failed"},  # no value: does not count
        # problem seed 1: another seed is another problem
        {"solver": "hals", "seed": 1, "info.loss": "frobenius", "weighted_frobenius": 5.0, "weighted_kl": 7.0},
        {"solver": "wnmf_kl", "seed": 1, "status": "skipped"},
    ])


def test_best_known_is_the_lowest_value_of_any_record_on_each_loss():
    df = two_problems()
    fs = A.best_known(df).set_index(["seed", "loss"])
    assert list(A.best_known(df).columns[:2]) == ["problem", "dataset"]
    row = fs.loc[(0, "frobenius")]
    # a KL solver's factorisation is a feasible point of the Frobenius problem too
    assert row["fstar"] == 1.4 and row["solver"] == "a1gm" and row["measure"] == "weighted_frobenius"
    assert row["n_records"] == 4 and row["n_solvers"] == 4 and row["source"] == "final"
    row = fs.loc[(0, "kl")]
    assert row["fstar"] == 2.5 and row["n_records"] == 3  # als's infinite KL is not a value
    assert fs.loc[(1, "frobenius"), "fstar"] == 5.0 and fs.loc[(1, "frobenius"), "n_records"] == 1
    assert len(fs) == 4


def test_best_known_can_leave_out_infeasible_baselines_and_reads_histories():
    df = two_problems()
    fs = A.best_known(df, exclude=["a1gm"]).set_index(["seed", "loss"])
    assert fs.loc[(0, "frobenius"), "fstar"] == 1.5 and fs.loc[(0, "kl"), "fstar"] == 3.0
    # gdcls is not monotone: an iterate below every final value is the best bound known
    df.loc[4, ["status", "weighted_frobenius", "info.loss"]] = ["ok", 1.6, "frobenius"]
    hist = pd.DataFrame({"job": ["j4"] * 3 + ["j0"] * 2, "iteration": [0, 1, 2, 0, 1],
                         "time": [0.0, 0.1, 0.2, 0.0, 0.1], "objective": [4.0, 1.2, 1.6, 3.0, 2.0]})
    fs = A.best_known(df, hist).set_index(["seed", "loss"])
    row = fs.loc[(0, "frobenius")]
    assert row["fstar"] == 1.2 and row["job"] == "j4" and row["source"] == "history"
    assert row["n_records"] == 5  # final values counted; the history adds no record
    assert fs.loc[(0, "kl"), "fstar"] == 2.5  # a Frobenius history says nothing about KL


def test_suboptimality_per_job_on_its_own_loss_and_on_a_common_one():
    df = two_problems()
    fs = A.best_known(df)
    sub = A.suboptimality(df, fs).set_index("job")
    assert sub.loc["j0", "loss"] == "frobenius" and sub.loc["j0", "suboptimality"] == pytest.approx((2.0 - 1.4) / 1.4)
    assert sub.loc["j2", "loss"] == "kl" and sub.loc["j2", "suboptimality"] == pytest.approx((3.0 - 2.5) / 2.5)
    assert sub.loc["j3", "suboptimality"] == 0.0 and sub.loc["j0", "gap"] == pytest.approx(0.6)
    assert np.isnan(sub.loc["j4", "suboptimality"]) and np.isnan(sub.loc["j6", "value"])  # failed, skipped
    common = A.suboptimality(df, fs, loss="frobenius").set_index("job")
    assert common.loc["j2", "suboptimality"] == pytest.approx((1.7 - 1.4) / 1.4)
    with pytest.raises(ValueError, match="loss must be one of"):
        A.suboptimality(df, fs, loss="huber")


def test_suboptimality_with_an_exact_fit_never_divides_by_zero():
    df = table([{"solver": "hals", "info.loss": "frobenius", "weighted_frobenius": 0.0},
                {"solver": "als", "info.loss": "frobenius", "weighted_frobenius": 1e-3}])
    hist = pd.DataFrame({"job": ["j0", "j0", "j1"], "iteration": [0, 1, 0], "time": [0.0, 0.5, 0.0],
                         "objective": [2.0, 0.0, 1e-3]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs = A.best_known(df, hist)
        sub = A.suboptimality(df, fs).set_index("job")
        per_iter = A.suboptimality(df, fs, hist)
    assert fs["fstar"].tolist() == [0.0]
    assert sub.loc["j0", "suboptimality"] == 0.0 and sub.loc["j1", "suboptimality"] == np.inf
    assert sub.loc["j1", "gap"] == 1e-3
    assert per_iter["suboptimality"].tolist() == [np.inf, 0.0, np.inf]
    assert per_iter["gap"].tolist() == [2.0, 0.0, 1e-3]


def test_suboptimality_per_iteration_against_time_and_iteration():
    df = two_problems()
    hist = pd.DataFrame({"job": ["j0"] * 3 + ["j2"] * 2, "iteration": [0, 5, 10, 0, 1],
                         "time": [0.0, 0.2, 0.4, 0.0, 0.3], "objective": [4.2, 2.8, 2.0, 5.0, 3.0]})
    fs = A.best_known(df, hist)
    h = A.suboptimality(df, fs, hist)
    assert list(h.columns) == ["job", "solver", "problem", "loss", "iteration", "time", "objective", "fstar", "gap",
                               "suboptimality"]
    hals = h[h["job"] == "j0"]
    np.testing.assert_allclose(hals["suboptimality"], (np.array([4.2, 2.8, 2.0]) - 1.4) / 1.4)
    assert hals["iteration"].tolist() == [0, 5, 10] and hals["time"].tolist() == [0.0, 0.2, 0.4]
    kl = h[h["job"] == "j2"]
    np.testing.assert_allclose(kl["suboptimality"], (np.array([5.0, 3.0]) - 2.5) / 2.5)
    # on a common loss, only histories that measure it
    assert set(A.suboptimality(df, fs, hist, loss="kl")["job"]) == {"j2"}


# --------------------------------------------------------------------------- paired statistics


def test_wins_ties_losses_use_the_stated_relative_threshold():
    x = np.array([4.0, 4.0, 5.5, 0.0, 0.0, 1.0])
    y = np.array([5.0, 5.5, 4.0, 0.0, 1.0, 1.0])
    s = A.paired_statistics(x, y, tie=0.25, effect="difference")
    # 5 <= 1.25 * 4: tie; 5.5 > 5: win; mirrored: loss; 0 and 0: tie; 0 against 1: win; equal: tie
    assert (s["wins"], s["ties"], s["losses"], s["pairs"]) == (2, 3, 1, 6)
    s = A.paired_statistics(x, y, tie=0.0, effect="difference")
    assert (s["wins"], s["ties"], s["losses"]) == (3, 2, 1)


def test_ratio_effect_reports_median_and_geometric_mean_ratios():
    x, y = np.array([1.0, 2.0, 4.0, 3.0]), np.array([2.0, 2.0, 2.0, 1.0])
    s = A.paired_statistics(x, y)
    ratios = x / y  # 0.5, 1, 2, 3
    assert s["effect"] == "ratio"
    assert sorted(ratios) == [0.5, 1.0, 2.0, 3.0]
    assert s["median"] == pytest.approx(np.sqrt(2.0))  # between 1 and 2 on the log scale: sqrt(1 * 2)
    assert s["mean"] == pytest.approx(3 ** 0.25)  # (0.5 * 1 * 2 * 3) ** (1/4)
    d = A.paired_statistics(x, y, effect="difference")
    assert d["median"] == pytest.approx(1.0) and d["mean"] == pytest.approx(0.75)  # -1, 0, 2, 2


def test_bootstrap_interval_of_two_values_is_their_range():
    # hand computation: resampling two values a < b gives the median a (1/4), (a+b)/2 (1/2) or b (1/4);
    # the 2.5th and 97.5th percentiles of that distribution are a and b
    s = A.paired_statistics([1.0, 3.0], [0.0, 0.0], effect="difference")
    assert (s["median_low"], s["median_high"]) == (1.0, 3.0)
    assert (s["mean_low"], s["mean_high"]) == (1.0, 3.0)


def test_bootstrap_matches_scipy_called_directly_with_the_same_seed():
    rng = np.random.default_rng(3)
    x, y = rng.random(25) + 0.5, rng.random(25) + 0.5
    s = A.paired_statistics(x, y, seed=11, n_resamples=2000, confidence=0.9)
    d = np.log(x / y)
    kw = {"rng": np.random.default_rng(11)} if "rng" in scipy.stats.bootstrap.__code__.co_varnames else {
        "random_state": np.random.default_rng(11)}
    ref = scipy.stats.bootstrap((d,), np.median, n_resamples=2000, confidence_level=0.9, method="percentile", **kw)
    assert s["median_low"] == pytest.approx(np.exp(ref.confidence_interval.low))
    assert s["median_high"] == pytest.approx(np.exp(ref.confidence_interval.high))
    assert s["median_low"] <= s["median"] <= s["median_high"]
    again = A.paired_statistics(x, y, seed=11, n_resamples=2000, confidence=0.9)
    assert again == s  # seeded: the same numbers every time


def test_constant_effects_give_a_collapsed_interval():
    s = A.paired_statistics([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])  # every ratio is 2
    assert s["median"] == s["median_low"] == s["median_high"] == pytest.approx(2.0)


def test_wilcoxon_exact_p_value_by_hand():
    # differences 1, 2, 3, 4, -5: ranks 1..5, W- = 5; 10 of the 32 sign patterns have a sum <= 5, so
    # the exact two-sided p-value is 2 * 10 / 32
    y = np.full(5, 10.0)
    s = A.paired_statistics(y + [1, 2, 3, 4, -5], y, effect="difference")
    assert s["wilcoxon_method"] == "exact" and s["wilcoxon_statistic"] == 5.0
    assert s["p_value"] == pytest.approx(20 / 32)
    assert s["wilcoxon_n"] == 5 and s["zeros"] == 0


def test_wilcoxon_zero_differences_are_ranked_and_split():
    d = np.array([0.0, 0.0, 1.0, 2.0, 3.0, -0.5, 4.0, 5.0])
    s = A.paired_statistics(10.0 + d, np.full(8, 10.0), effect="difference")
    ref = scipy.stats.wilcoxon(d, zero_method="zsplit", method="asymptotic")
    assert s["zeros"] == 2 and s["wilcoxon_n"] == 8 and s["wilcoxon_method"].startswith("asymptotic")
    assert s["p_value"] == pytest.approx(ref.pvalue) and s["wilcoxon_statistic"] == pytest.approx(ref.statistic)
    same = A.paired_statistics(np.ones(4), np.ones(4))
    assert same["p_value"] == 1.0 and same["wilcoxon_method"] == "all differences zero"


def test_paired_statistics_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="exactly one value is 0"):
        A.paired_statistics([0.0, 1.0], [1.0, 1.0])
    assert A.paired_statistics([0.0, 1.0], [1.0, 1.0], effect="difference")["wins"] == 1
    with pytest.raises(ValueError, match="finite"):
        A.paired_statistics([np.nan, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="pair up"):
        A.paired_statistics([1.0], [1.0, 2.0])
    for kwargs, match in [({"tie": 1.5}, "tie must be"), ({"tie": "1%"}, "tie must be"),
                          ({"effect": "odds"}, "effect must be"), ({"confidence": 95}, "confidence must be"),
                          ({"n_resamples": 10}, "n_resamples"), ({"ci_method": "bca"}, "ci_method"),
                          ({"zero_method": "drop"}, "zero_method")]:
        with pytest.raises(ValueError, match=match):
            A.paired_statistics([1.0, 2.0], [1.0, 1.0], **kwargs)


def test_too_few_pairs_leave_intervals_and_p_values_undefined():
    s = A.paired_statistics([], [])
    assert s["pairs"] == 0 and np.isnan(s["median"]) and np.isnan(s["p_value"])
    s = A.paired_statistics([2.0], [1.0])
    assert s["median"] == 2.0 and np.isnan(s["median_low"]) and s["wilcoxon_n"] == 1


def test_holm_by_hand_and_by_its_definition():
    np.testing.assert_allclose(A.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    out = A.holm([0.01, np.nan, 0.04])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)
    assert A.holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    p = np.random.default_rng(0).random(6) * 0.1
    order = np.argsort(p)
    brute = np.empty(6)
    for k, i in enumerate(order):  # max over j <= k of min(1, (m - j) p_(j)), 0-based j
        brute[i] = max(min(1.0, (6 - j) * p[order[j]]) for j in range(k + 1))
    np.testing.assert_allclose(A.holm(p), brute)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        A.holm([1.5])


# --------------------------------------------------------------------------- compare_solvers


def zoo_table() -> pd.DataFrame:
    """Six problems (seeds); 'base' is skipped on one and missing on another, 'b' failed on one."""
    base = [0.50, 0.40, 0.30, 0.20, None, "skipped"]
    a = [0.45, 0.30, 0.31, 0.10, 0.30, 0.40]
    b = [0.60, "failed", 0.50, 0.21, 0.20, 0.40]
    rows = []
    for solver, vals in (("base", base), ("a", a), ("b", b)):
        for seed, v in enumerate(vals):
            if v is None:
                continue
            if isinstance(v, str):
                rows.append({"solver": solver, "seed": seed, "status": v})
            else:
                rows.append({"solver": solver, "seed": seed, "heldout_relative_error": v})
    return table(rows)


def test_paired_table_states_every_problem_and_status():
    t = A.paired(zoo_table(), "heldout_relative_error", "b", "base").set_index("seed")
    assert len(t) == 6
    assert t.loc[1, "status_solver"] == "failed" and t.loc[4, "status_baseline"] == "missing"
    assert t.loc[5, "status_baseline"] == "skipped" and np.isnan(t.loc[5, "ratio"])
    assert t.loc[0, "outcome"] == "loss" and t.loc[0, "ratio"] == pytest.approx(0.6 / 0.5)
    assert t.loc[3, "outcome"] == "loss"  # 0.21 against 0.20: 5% apart, beyond the default 1%
    wide = A.paired(zoo_table(), "heldout_relative_error", "b", "base", tie=0.06).set_index("seed")
    assert wide.loc[3, "outcome"] == "tie"


def test_compare_solvers_against_a_baseline_counts_what_it_leaves_out():
    df = zoo_table()
    out = A.compare_solvers(df, "heldout_relative_error", baseline="base", tie=0.05, n_resamples=500)
    assert list(out["solver"]) == ["a", "b"] and (out["baseline"] == "base").all()
    ra, rb = out.iloc[0], out.iloc[1]
    assert ra["problems"] == 6 and ra["pairs"] == 4
    assert (ra["baseline_missing"], ra["baseline_skipped"], ra["solver_failed"]) == (1, 1, 0)
    assert (ra["wins"], ra["ties"], ra["losses"]) == (3, 1, 0)  # 0.45<0.5, 0.3<0.4, 0.31~0.30, 0.1<0.2
    assert rb["pairs"] == 3 and rb["solver_failed"] == 1 and (rb["wins"], rb["ties"], rb["losses"]) == (0, 1, 2)
    x, y = np.array([0.45, 0.30, 0.31, 0.10]), np.array([0.50, 0.40, 0.30, 0.20])
    assert ra["median"] == pytest.approx(np.exp(np.median(np.log(x / y))))
    p = [scipy.stats.wilcoxon(np.log(x / y), method="exact").pvalue,
         scipy.stats.wilcoxon(np.log(np.array([0.6, 0.5, 0.21]) / [0.5, 0.3, 0.2]), method="exact").pvalue]
    np.testing.assert_allclose(out["p_value"], p)
    np.testing.assert_allclose(out["p_holm"], A.holm(p))
    assert out.attrs["records"] == len(df) and out.attrs["statuses"] == {"ok": 15, "skipped": 1, "failed": 1}
    assert out.attrs["problems"] == 6


def test_compare_all_pairs_and_by_groups():
    df = zoo_table()
    pairs = A.compare_solvers(df, "heldout_relative_error", n_resamples=500)
    assert list(zip(pairs["solver"], pairs["baseline"], strict=True)) == [("a", "b"), ("a", "base"),
                                                                           ("b", "base")]
    two = pd.concat([df, df.assign(tag="u", job=df["job"] + "u")], ignore_index=True)
    by = A.compare_solvers(two, "heldout_relative_error", baseline="base", by="tag", n_resamples=500)
    assert list(by["tag"]) == ["t", "t", "u", "u"]
    one = A.compare_solvers(df, "heldout_relative_error", baseline="base", n_resamples=500)
    np.testing.assert_allclose(by["p_holm"].to_numpy(), np.tile(one["p_holm"].to_numpy(), 2))  # a family per tag
    with pytest.raises(ValueError, match=r"differ in tag.*by=\['tag'\]"):
        A.compare_solvers(two, "heldout_relative_error", baseline="base")


def test_compare_solvers_names_what_is_wrong():
    df = zoo_table()
    with pytest.raises(ValueError, match="no records of baseline 'column_mean'.*a, b, base"):
        A.compare_solvers(df, "heldout_relative_error", baseline="column_mean")
    with pytest.raises(ValueError, match="no column 'heldout_error'"):
        A.compare_solvers(df, "heldout_error")
    with pytest.raises(ValueError, match="no record with status ok has a finite weighted_kl"):
        A.compare_solvers(df, "weighted_kl")
    with pytest.raises(ValueError, match="no records of solver"):
        A.compare_solvers(df, "heldout_relative_error", solvers=["c"])
    twice = pd.concat([df, df[df["solver"] == "a"].assign(**{"solver.params.max_iter": 3000})], ignore_index=True)
    with pytest.raises(ValueError, match=r"differ in solver\.params\.max_iter"):
        A.compare_solvers(twice, "heldout_relative_error", baseline="base")


def test_report_says_what_was_compared_and_on_what():
    text = A.comparison_report(zoo_table(), "heldout_relative_error", "base", n_resamples=500)
    assert "6 problem(s)" in text and "17 record(s): 15 ok, 1 failed, 1 skipped" in text
    assert "| a " in text and "base: 1 missing, 1 skipped" in text and "b: 1 failed" in text
    assert "Holm" in text and "percentile bootstrap" in text
    csv = A.comparison_report(zoo_table(), "heldout_relative_error", "base", fmt="csv", n_resamples=500)
    assert csv.splitlines()[0].startswith("solver,baseline,metric,problems,pairs,wins")
    with pytest.raises(ValueError, match="fmt must be"):
        A.comparison_report(zoo_table(), "heldout_relative_error", "base", fmt="html")


# --------------------------------------------------------------------------- performance profiles


def test_performance_profile_by_hand():
    # problem 0: a 1, b 2, c failed; problem 1: a 0 (exact), b 0.5, c 0; problem 2: nobody; problem 3: c only 4
    rows = [{"solver": "a", "seed": 0, "heldout_relative_error": 1.0},
            {"solver": "b", "seed": 0, "heldout_relative_error": 2.0},
            {"solver": "c", "seed": 0, "status": "failed"},
            {"solver": "a", "seed": 1, "heldout_relative_error": 0.0},
            {"solver": "b", "seed": 1, "heldout_relative_error": 0.5},
            {"solver": "c", "seed": 1, "heldout_relative_error": 0.0},
            {"solver": "a", "seed": 2, "status": "skipped"},
            {"solver": "c", "seed": 3, "heldout_relative_error": 4.0}]
    df = table(rows)
    r = A.performance_ratios(df, "heldout_relative_error")
    by_seed = r.rename(index=dict(zip(A.problem_key(df), df["seed"], strict=True))).sort_index()
    expected = pd.DataFrame({"a": [1.0, 1.0, np.inf, np.inf], "b": [2.0, np.inf, np.inf, np.inf],
                             "c": [np.inf, 1.0, np.inf, 1.0]}, index=[0, 1, 2, 3])
    np.testing.assert_array_equal(by_seed.to_numpy(), expected.to_numpy())
    prof = A.performance_profile(df, "heldout_relative_error").set_index(["solver", "tau"])
    assert prof.loc[("a", 1.0), "fraction"] == 0.5 and prof.loc[("b", 1.0), "fraction"] == 0.0
    assert prof.loc[("b", 2.0), "fraction"] == 0.25 and prof.loc[("c", 2.0), "fraction"] == 0.5
    assert (prof["problems"] == 4).all() and (prof["unsolved"] == 1).all()
    assert prof.loc[("c", 1.0), "failures"] == 2
    assert sorted(set(prof.index.get_level_values("tau"))) == [1.0, 2.0]
    # against a reference (a best-known value per problem) instead of the best solver
    ref = pd.Series({k: 0.5 for k in A.problem_key(df)})
    rr = A.performance_ratios(df, "heldout_relative_error", reference=ref)
    assert rr.loc[A.problem_key(df).iloc[0], "a"] == 2.0
    with pytest.raises(ValueError, match="taus"):
        A.performance_profile(df, "heldout_relative_error", taus=[0.5])


def test_profiles_at_every_tau_agree_with_counting_directly():
    rng = np.random.default_rng(1)
    rows = [{"solver": s, "seed": k, "heldout_relative_error": float(rng.random())}
            for s, k in itertools.product("abc", range(7))]
    df = table(rows)
    prof = A.performance_profile(df, "heldout_relative_error", taus=[1.0, 1.5, 3.0])
    values = df.pivot(index="seed", columns="solver", values="heldout_relative_error")
    ratio = values.div(values.min(axis=1), axis=0)
    for _, row in prof.iterrows():
        assert row["fraction"] == pytest.approx((ratio[row["solver"]] <= row["tau"]).mean())


# --------------------------------------------------------------------------- the command, end to end


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A tiny real sweep: three solvers, two masks, three seeds, 10% held out; A1GM is skipped on the
    random mask (no complete row), so its comparisons rest on the grid-mask problems only."""
    root = tmp_path_factory.mktemp("sweep")
    args = ["-m", "solver=a1gm,wnmf_kl,hals", "dataset=uniform", "dataset.n_rows=12", "mask=grid,random",
            "mask.rate=0.5", "holdout=0.1", "seed=0,1,2", "timing=quick", "tag=tiny", f"results_dir={root}"]
    done = run_here(*args, cwd=root)  # in this process: the records are the point, not the command's process
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.mark.slow
def test_compare_solvers_command_end_to_end(sweep, capsys):
    from nmfexp import results

    df = results.load(sweep)
    a1gm = df[df["solver"] == "a1gm"]
    assert set(a1gm["status"]) == {"ok", "skipped"}  # the case the command must state
    skipped = int((a1gm["status"] == "skipped").sum())
    assert results.main(["compare-solvers", str(sweep), "--metric", "heldout_relative_error",
                         "--baseline", "wnmf_kl"]) == 0
    out = capsys.readouterr().out
    assert "6 problem(s)" in out and f"18 record(s): {18 - skipped} ok, {skipped} skipped" in out
    assert "wnmf_kl" in out and f"a1gm: {skipped} skipped" in out
    row = [line for line in out.splitlines() if line.startswith("| a1gm")][0]
    assert f"| {6 - skipped} of 6 " in row

    assert results.main(["compare-solvers", str(sweep), "--metric", "heldout_relative_error", "--baseline",
                         "wnmf_kl", "--format", "csv", "--by", "tag", "--tie", "0.05"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = A.compare_solvers(df, "heldout_relative_error", "wnmf_kl", by="tag", tie=0.05)
    pd.testing.assert_frame_equal(csv, expected, check_dtype=False)
    assert csv.set_index("solver").loc["a1gm", "solver_skipped"] == skipped
    assert (csv["tie"] == 0.05).all() and (csv["tag"] == "tiny").all()

    # the console script, once in a subprocess
    done = subprocess.run([sys.executable, "-m", "nmfexp.results", "compare-solvers", str(sweep), "--metric",
                           "relative_error"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "every pair of solvers" in done.stdout and "| a1gm     | hals" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--metric", "heldout_relative_error", "--baseline", "column_mean"], "no records of baseline 'column_mean'"),
    (["--metric", "heldout_error"], "no column 'heldout_error'"),
    (["--metric", "truth_relative_error"], "no record with status ok has a finite truth_relative_error"),
    (["--metric", "relative_error", "--tie", "2"], "tie must be"),
])
def test_compare_solvers_command_explains_bad_requests(sweep, capsys, args, message):
    from nmfexp import results

    assert results.main(["compare-solvers", str(sweep), *args]) == 2
    assert message in capsys.readouterr().err


def test_compare_solvers_command_on_a_missing_folder(tmp_path, capsys):
    from nmfexp import results

    assert results.main(["compare-solvers", str(tmp_path / "nowhere"), "--metric", "relative_error"]) == 2
    assert "does not exist" in capsys.readouterr().err
