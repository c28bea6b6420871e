"""Figures and tables from records: robustness to failed and skipped jobs, the statistics, the
redesigned figures, generic sweep figures, the HTML report and the artifact registry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _helpers import capture_figures, corpus_records

from nmfexp import plotting, results
from nmfexp.data.real import PAPER_DATASETS
from nmfexp.experiment import run
from nmfexp.figures import corpus, fig5, patterns, stats, sweep, zoo
from nmfexp.figures.artifacts import ARTIFACTS, DEFAULT_ARTIFACTS, plot_all
from nmfexp.figures.report import DEVIATIONS_HEADING, deviations_markdown, markdown_to_html

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver, dataset, *, mask="given", rate=0.0, seed=0, tag="", **extra) -> dict:
    params = {} if solver == "a1gm" else {"max_iter": 30, "tol": 1e-4}
    c = {"dataset": dataset, "mask": {"kind": mask, "rate": rate}, "solver": {"name": solver, "params": params},
         "timing": dict(QUICK), "seed": seed, "tag": tag}
    c.update(extra)
    return c


def uniform(n):
    return {"kind": "uniform", "name": "uniform", "n_rows": n}


# --------------------------------------------------------------------------- failed and skipped records


@pytest.fixture(scope="module")
def paper_records(tmp_path_factory):
    """real_data_paper records without the data files: two failed data sets, one that runs
    (galamiss, packaged) and one where A1GM is skipped (chmiss)."""
    root = tmp_path_factory.mktemp("paper")
    mp = pytest.MonkeyPatch()
    mp.setenv("NMFEXP_DATA_DIR", str(root / "no-data"))
    try:
        for name in ("arrhythmia", "secom", "galamiss", "chmiss"):
            for solver in ("a1gm", "wnmf_kl"):
                out = run(conf(solver, {"kind": "real", "name": name}, tag="real_data_paper"), root / "results")
                assert out["status"] == {"arrhythmia": "failed", "secom": "failed"}.get(
                    name, "skipped" if (name, solver) == ("chmiss", "a1gm") else "ok"), out
    finally:
        mp.undo()
    return root / "results"


def test_failed_records_do_not_stop_the_figures(paper_records, tmp_path):
    # the blocker: int(first["n_missing"]) on a failed record raised "cannot convert float NaN to integer"
    out = plotting.plot_all(paper_records, tmp_path, verbose=False)
    assert [p.name for p in out["real_data_paper"]] == [f"real_data_paper_table.{e}" for e in ("csv", "md", "tex")]
    table = pd.read_csv(tmp_path / "real_data_paper_table.csv").set_index("dataset")
    assert list(table.index) == list(PAPER_DATASETS) + ["chmiss", "galamiss"]  # the preset's, in its order, first
    # the data-set files are missing: not available, with where to get them (not a failure of the method)
    assert table.loc["arrhythmia", "status"] == "not available" and "not found" in table.loc["arrhythmia", "note"]
    assert table.loc["nomao", "status"] == "not available" and table.loc["nomao", "seeds"] == 0  # no record at all
    assert table.loc["galamiss", "source"].startswith("faraway ")
    assert pd.isna(table.loc["arrhythmia", "missing"]) and pd.isna(table.loc["arrhythmia", "shape"])
    assert table.loc["chmiss", "status"] == "A1GM skipped" and "complete column" in table.loc["chmiss", "note"]
    assert table.loc["chmiss", "missing"] == 20 and pd.isna(table.loc["chmiss", "A1GM KL"])
    assert table.loc["galamiss", "status"] == "ok" and table.loc["galamiss", "relative KL (A1GM/WNMF)"] > 0.99


def test_nmfexp_plot_finishes_on_failed_records(paper_records, tmp_path, capsys):
    assert plotting.main([str(paper_records), "--plots-dir", str(tmp_path), "--report"]) == 0
    assert (tmp_path / "real_data_paper_table.md").exists() and (tmp_path / "index.html").exists()
    page = (tmp_path / "index.html").read_text()
    assert "arrhythmia" in page and "failed" in page


# --------------------------------------------------------------------------- statistics


def fig5_rows(n_seeds=5, outlier=True):
    """Fig. 5 records on a 'busy machine': one seed's A1GM timing has a huge mean and SD (a few slow
    samples) while its median stays put; WNMF is 10x slower on every matrix."""
    rows = []
    for n in (10, 100):
        for seed in range(n_seeds):
            base = 1e-4 * n * (1 + 0.1 * seed)
            slow = outlier and seed == 0
            rows.append(dict(tag="fig5_synthetic", status="ok", solver="a1gm", n_rows=n, seed=seed, mask_rate=0.05,
                             runtime_median=base, runtime_min=0.9 * base, runtime_mean=base * (20 if slow else 1),
                             runtime_std=base * (60 if slow else 0.1), runtime_samples=50, weighted_kl=100.0 * n,
                             n_iter=0, job=f"a{n}{seed}", message=""))
            rows.append(dict(tag="fig5_synthetic", status="ok", solver="wnmf_kl", n_rows=n, seed=seed, mask_rate=0.05,
                             runtime_median=10 * base, runtime_min=9 * base, runtime_mean=10 * base,
                             runtime_std=base, runtime_samples=50, weighted_kl=100.0 * n * (1 + 1e-8 * (seed + 1)),
                             n_iter=3, job=f"w{n}{seed}", message=""))
    return pd.DataFrame(rows)


def test_speed_ratios_are_paired_per_seed_and_robust_to_slow_samples():
    df = fig5_rows()
    table = fig5.fig5_summary(df).set_index("n")
    # every seed's own ratio is exactly 10 (same matrix, median timing sample), whatever the outlier
    assert table.loc[10, "speed ratio (WNMF/A1GM)"] == pytest.approx(10.0)
    assert table.loc[10, "ratio q25"] == pytest.approx(10.0) and table.loc[10, "ratio q75"] == pytest.approx(10.0)
    assert table.loc[10, "A1GM runtime (s)"] == pytest.approx(np.median(1e-3 * (1 + 0.1 * np.arange(5))))
    assert table.loc[10, "seeds"] == 5
    # the reference statistic (pooled mean of all samples, ratio of means) is still there, and differs
    ref = fig5.fig5_summary(df, statistic="mean").set_index("n")
    means = 1e-3 * (1 + 0.1 * np.arange(5)) * np.array([20, 1, 1, 1, 1])
    assert ref.loc[10, "A1GM runtime (s)"] == pytest.approx(means.mean())
    assert ref.loc[10, "speed ratio (WNMF/A1GM)"] == pytest.approx(10e-3 * np.mean(1 + 0.1 * np.arange(5))
                                                                   / means.mean())
    assert ref.loc[10, "speed ratio (WNMF/A1GM)"] < 4  # the outlier drags the ratio of means down
    assert fig5.fig5_summary(df, statistic="min").loc[0, "speed ratio (WNMF/A1GM)"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="median, min, mean"):
        fig5.fig5_summary(df, statistic="average")


def test_pooled_mean_and_sd_of_the_reference_code():
    g = pd.DataFrame({"runtime_mean": [1.0, 3.0], "runtime_std": [0.0, 0.0], "runtime_samples": [10, 10]})
    assert stats.pooled_mean_sd(g) == pytest.approx((2.0, 1.0))  # between-job spread only
    g = pd.DataFrame({"runtime_mean": [2.0], "runtime_std": [0.5], "runtime_samples": [4]})
    assert stats.pooled_mean_sd(g) == pytest.approx((2.0, 0.5))


def test_quartiles_with_failures():
    assert stats.quartiles_inf([1, 2, 3, np.inf]) == pytest.approx((2.5, 1.75, np.inf))
    assert stats.quartiles_inf([1, np.inf, np.inf])[0] == np.inf
    assert np.isnan(stats.quartiles_inf([np.nan])).all()
    assert stats.quartiles([3, 1, 2, np.nan]) == pytest.approx((2.0, 1.5, 2.5))


def test_performance_profile_by_hand():
    cost = pd.DataFrame({"x": [1.0, 2.0, 4.0, np.nan], "y": [2.0, 2.0, 1.0, 3.0], "z": [0.0, np.inf, np.inf, np.nan]},
                        index=["p1", "p2", "p3", "p4"])
    r = stats.profile_ratios(cost)
    assert r.loc["p1"].tolist() == [np.inf, np.inf, 1.0]  # a perfect score: ratio 1, others inf
    assert r.loc["p2"].tolist() == [1.0, 1.0, np.inf] and r.loc["p3"].tolist() == [4.0, 1.0, np.inf]
    assert r.loc["p4"].tolist() == [np.inf, 1.0, np.inf]
    prof = stats.performance_profile(cost, taus=np.array([1.0, 4.0]))
    got = prof.set_index(["solver", "tau"])["fraction"]
    assert got[("x", 1.0)] == 0.25 and got[("x", 4.0)] == 0.5
    assert got[("y", 1.0)] == 0.75 and got[("z", 4.0)] == 0.25
    # a problem where every solver failed tells nothing and is left out
    assert len(stats.profile_ratios(pd.DataFrame({"x": [np.nan, 1.0]}))) == 1


def zoo_problem():
    """One problem, three solvers: 'fast' ends 10x worse than the best (its own final value
    early), 'good' reaches the best, 'kl' (a KL solver) ends within 1% on the common measure."""
    base = dict(tag="solver_comparison", status="ok", dataset="lowrank", mask="random", mask_rate=0.2, n_rows=50,
                n_cols=50, rank=2, seed=0, holdout=0.1, runtime_median=1.0, n_iter=3)
    df = pd.DataFrame([
        dict(base, job="f", solver="fast", weighted_frobenius=10.0, **{"info.loss": "frobenius"}),
        dict(base, job="g", solver="good", weighted_frobenius=1.0, **{"info.loss": "frobenius"}),
        dict(base, job="k", solver="kl", weighted_frobenius=1.005, **{"info.loss": "kl"}),
    ])
    hist = pd.DataFrame({"job": ["f"] * 3 + ["g"] * 4 + ["k"] * 3, "iteration": [0, 1, 2, 0, 1, 2, 3, 0, 1, 2],
                         "time": [0, 0.001, 0.002, 0, 1.0, 2.0, 3.0, 0, 0.5, 2.0],
                         "objective": [100, 10.0, 10.0, 100, 5.0, 1.005, 1.0, 50, 20, 9]})
    return df, hist


def test_time_to_target_measures_against_the_best_solver_on_a_common_measure():
    df, hist = zoo_problem()
    t = stats.time_to_target(df, hist, (0.01, 10.0)).set_index(["solver", "rtol"])
    # 'fast' reaches its own final value at once, but never gets within 1% of the best solver's
    assert not t.loc[("fast", 0.01), "reached"] and np.isinf(t.loc[("fast", 0.01), "time"])
    assert t.loc[("good", 0.01), "time"] == 2.0 and t.loc[("good", 0.01), "bound"] == "exact"
    # the KL solver's history is KL: on the Frobenius measure only its end point counts, as an upper bound
    assert t.loc[("kl", 0.01), "time"] == 2.0 and t.loc[("kl", 0.01), "bound"] == "upper"
    assert t.loc[("fast", 10.0), "time"] == 0.001  # within 11x of the best: reached early
    assert (t["best"] == 1.0).all()


def test_zoo_gap_curves_use_the_best_of_all_solvers():
    df, hist = zoo_problem()
    g = zoo.gap_curves(df, hist)
    assert set(g["solver"]) == {"fast", "good"}  # the KL solver's history is on another measure
    assert g[g["job"] == "f"]["gap"].iloc[-1] == pytest.approx(9.0)
    assert g[g["job"] == "g"]["gap"].iloc[-1] == 0.0


# --------------------------------------------------------------------------- the redesigned figures


@pytest.fixture
def figures(monkeypatch):
    """Every Figure saved by the figure modules, by file stem (nothing written)."""
    return capture_figures(monkeypatch, fig5, patterns, zoo, corpus)


def texts(fig) -> str:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [ax.get_title(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_yticklabels()]
    if fig._supxlabel is not None:
        out.append(fig._supxlabel.get_text())
    return "\n".join(out)


def test_fig5_figures_say_their_statistic_and_their_jobs(figures, tmp_path):
    df = fig5_rows()
    df = df[~((df["n_rows"] == 100) & (df["seed"] == 4))]  # one matrix lost
    fig5.plot_fig5(df, tmp_path)
    runtime, error = figures["fig5_runtime"], figures["fig5_error"]
    assert "median timing sample" in texts(runtime) and "18 jobs: 18 ok" in texts(runtime)
    assert "4/5 seeds" in texts(runtime)  # the incomplete point says so
    assert len(error.axes) == 2 and "same matrix" in texts(error)  # the relative-difference panel
    diffs = np.concatenate([c.get_offsets()[:, 1] for c in error.axes[1].collections])
    assert np.allclose(sorted(set(np.round(diffs * 1e8))), [-5, -4, -3, -2, -1])  # per seed, -1e-8 (seed + 1)
    fig5.plot_fig5(df, tmp_path, statistic="mean")
    assert "mean +/- SD" in texts(figures["fig5_runtime"])


def test_fig5_x_axis_is_n_or_the_reference_3n(figures, tmp_path):
    df = fig5_rows()
    for axis, factor, label in (("n", 1, "matrix size n (n x n matrix)"), ("3n", 3, "matrix size N = 3n")):
        fig5.plot_fig5(df, tmp_path, x_axis=axis)
        for fig in (figures["fig5_runtime"], figures["fig5_error"]):
            lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() in (fig5.solver_style("a1gm")["label"], fig5.solver_style("wnmf_kl")["label"])]
            assert lines and all(sorted(ln.get_xdata()) == [10 * factor, 100 * factor] for ln in lines)
            assert label in fig.axes[-1].get_xlabel()
        dots = figures["fig5_runtime"].axes[1].collections[0].get_offsets()[:, 0]
        assert set(dots) == {10 * factor, 100 * factor}
    assert list(pd.read_csv(tmp_path / "fig5_table.csv")["n"]) == [10, 100]  # the table keeps n
    with pytest.raises(ValueError, match="x_axis"):
        fig5.plot_fig5(df, tmp_path, x_axis="N")


def pattern_rows():
    """A1GM records with known certificates: corner (grid-like, gap 0), random (gap 1e-4 at 0.1%, 1e-2 at 1%;
    at n = 1000 and 1% A1GM runs for 1 seed of 3, uncertified), rows (gap 1e-3, certified), mnar (skipped)."""
    rows = []
    for n in (100, 1000):
        for pattern in ("corner", "random", "rows", "mnar"):
            for rate in (0.001, 0.01):
                for seed in range(3):
                    key = dict(tag="a1gm_missing_patterns", solver="a1gm", mask=pattern, mask_rate=rate, n_rows=n,
                               seed=seed, runtime_median=1e-3, message="", n_missing=100,
                               job=f"{n}{pattern}{rate}{seed}")
                    if pattern == "corner":
                        a = dict(status="ok", a1gm_gap=0.0, a1gm_certified=True, n_missing_added=0)
                    elif pattern == "rows":
                        a = dict(status="ok", a1gm_gap=1e-3 * (1 + seed), a1gm_certified=True, n_missing_added=300)
                    elif pattern == "random" and rate == 0.001:
                        a = dict(status="ok", a1gm_gap=1e-4, a1gm_certified=True, n_missing_added=900)
                    elif pattern == "random" and (n == 100 or seed == 0):
                        a = dict(status="ok", a1gm_gap=1e-2, a1gm_certified=n == 100, n_missing_added=4000)
                    else:
                        a = dict(status="skipped", a1gm_gap=np.nan, a1gm_certified=np.nan, n_missing_added=np.nan,
                                 message="A1GM needs at least one complete row (a row with no missing entry), but ...")
                    rows.append(dict(key, **a))
    return pd.DataFrame(rows)


def test_missing_pattern_table_gives_gap_quantiles_certified_share_and_added_entries():
    table = patterns.patterns_summary(pattern_rows()).set_index(["pattern", "missing rate", "n"])
    r = table.loc[("rows", 0.01, 100)]
    assert r["A1GM runs"] == "3/3" and r[patterns.GAP] == pytest.approx(2e-3)  # median of 1e-3, 2e-3, 3e-3
    assert r["gap (max)"] == pytest.approx(3e-3) and r["gap (90th percentile)"] == pytest.approx(2.8e-3)
    assert r["certified"] == 1.0 and r["entries added (median)"] == 300 and r[patterns.ADDED] == 3.0
    assert not r["grid-like"] and table.loc[("corner", 0.001, 1000), "grid-like"]
    weak = table.loc[("random", 0.01, 1000)]
    assert weak["A1GM runs"] == "1/3" and weak["certified"] == 0.0 and weak[patterns.GAP] == pytest.approx(1e-2)
    assert table.loc[("mnar", 0.01, 100), "A1GM runs"] == "0/3"
    assert np.isnan(table.loc[("mnar", 0.01, 100), patterns.GAP])
    assert table.loc[("mnar", 0.01, 100), "skipped because"] == "A1GM needs at least one complete row"
    assert patterns.uncertified_points(table.reset_index()) == ["random 1% n=1000 (0/1 certified)"]


def test_missing_pattern_figure_draws_certified_gaps_with_grid_like_on_the_floor(figures, tmp_path):
    df = pattern_rows()
    patterns.plot_missing_patterns(df, tmp_path)
    fig = figures["a1gm_good_enough"]
    top = [ax for ax in fig.axes if ax.get_yscale() == "log"]
    assert [ax.get_title() for ax in top] == ["n = 100 (100 x 100)", "n = 1000 (1000 x 1000)"]
    labels = [t.get_text() for t in top[0].get_yticklabels()]
    assert labels[0].startswith("exact") and labels[-1] == "cannot\nrun" and "1%" in labels
    offsets = [(c, c.get_offsets()) for c in top[1].collections if len(c.get_offsets())]
    ys = np.concatenate([o[:, 1] for _, o in offsets])
    # the corner (gap 0) on the floor, the gaps at their values, the skipped mnar jobs in the top band
    assert patterns.FLOOR in ys and 1e-4 in ys and 2e-3 in ys and 1e-2 in ys and ys.max() > 10 * 1e-2
    hollow = [o for c, o in offsets if np.allclose(c.get_facecolor()[:, :3], 1.0)]
    assert len(hollow) == 1 and hollow[0].tolist() == [[pytest.approx(0.01 * patterns_dodge("random")), 1e-2]]
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert "bottom-right block: grid-like (paper's pattern)" in legend
    words = texts(fig)
    assert "1/3" in words  # a point backed by 1 of 3 seeds says so
    assert "Not certified: random 1% n=1000 (0/1 certified)" in words and "48 jobs: 34 ok, 14 skipped" in words
    table = pd.read_csv(tmp_path / "a1gm_good_enough_table.csv")
    assert {"gap (90th percentile)", "certified", "entries added (median)"} <= set(table.columns)


def patterns_dodge(pattern, present=("random", "rows", "mnar", "corner")):
    order = [p for p in patterns.STYLES if p in present]
    return 1.0 + 0.06 * (order.index(pattern) - (len(order) - 1) / 2)


def corpus_rows():
    return corpus_records({"P/exact": (0, 1.0 - 1e-9), "P/close": (10, 1.0005), "P/far": (50, 1.2), "P/none": None})


def test_corpus_table_summary_and_figure(figures, tmp_path):
    df = corpus_rows()
    table = corpus.corpus_table(df).set_index("dataset")
    assert table.loc["P/far", "share added"] == pytest.approx(50 / 1000)
    assert table.loc["P/far", "KL excess"] == pytest.approx(0.2)
    assert table.loc["P/far", "speed ratio (WNMF/A1GM)"] == pytest.approx(4.0)
    assert table.loc["P/none", "status"] == "A1GM skipped"
    summary = corpus.corpus_summary(table.reset_index()).set_index("quantity")["value"]
    assert summary["tables on which A1GM runs"] == "3 of 4"
    # grid-like (P/exact) and other tables (P/close, P/far) are counted apart
    assert summary["grid-like tables (step 1 adds nothing: A1GM exact by theorem)"] == "1 of 3"
    assert summary["grid-like tables: A1GM's KL within 0.1% of WNMF's"] == "1 of 1 (100%)"
    assert summary["other tables: A1GM's KL within 0.1% of WNMF's"] == "1 of 2 (50%)"
    assert summary["other tables: A1GM's KL within 10.0% of WNMF's"] == "1 of 2 (50%)"
    assert summary["  skipped because: A1GM needs at least one complete column"] == "1"
    assert summary["speed ratio WNMF/A1GM over tables: median [q25, q75]"] == "4 [4, 4]"
    written = corpus.make_corpus(df, pd.DataFrame(), tmp_path)
    assert {p.name for p in written} >= {"corpus_summary.csv", "corpus_table.md", "corpus_table.tex"}
    paper_columns = ["dataset", "shape", "size", "missing", "missing after A1GM completion", "ratio", "WNMF KL",
                     "A1GM KL", "relative KL (A1GM/WNMF)", "WNMF runtime (s)", "A1GM runtime (s)",
                     "relative runtime (A1GM/WNMF)"]
    assert pd.read_csv(tmp_path / "corpus_table.csv").columns[:12].tolist() == paper_columns
    assert "A1GM cannot run: 1 table" in texts(figures["corpus_a1gm"])


def test_corpus_zoo_performance_profiles(figures, tmp_path):
    rows, hist = [], []
    for table in ("T/a", "T/b"):
        for seed in (0, 1):
            for solver, err, loss in (("hals", 0.1, "frobenius"), ("als", 0.2 if table == "T/a" else 0.05, "frobenius"),
                                      ("wnmf_kl", 0.4, "kl")):
                job = f"{table}{seed}{solver}"
                rows.append(dict(tag="real_data_corpus_zoo", dataset=table, seed=seed, solver=solver, status="ok",
                                 heldout_relative_error=err, weighted_frobenius=err * 10, rank=2, holdout=0.1,
                                 mask="given", mask_rate=0.0, n_rows=50, n_cols=5, job=job, runtime_median=1.0,
                                 **{"info.loss": loss}))
                hist.append(pd.DataFrame({"job": job, "iteration": [0, 1], "time": [0.0, 1.0 if solver == "hals" else 2.0],
                                          "objective": [100.0, err * 10 if loss == "frobenius" else 7.0]}))
    df, h = pd.DataFrame(rows), pd.concat(hist, ignore_index=True)
    ratios = corpus.zoo_ratios(df, h)
    assert ratios["held-out error"].loc["T/a"].to_dict() == {"hals": 1.0, "als": 2.0, "wnmf_kl": 4.0}
    assert ratios["held-out error"].loc["T/b"].to_dict() == {"hals": 2.0, "als": 1.0, "wnmf_kl": 8.0}
    t = ratios["time to 1% of f*"]  # each solver on its own loss: wnmf_kl defines KL's f* and reaches it at 2 s
    assert t.loc["T/a", "hals"] == 1.0 and np.isinf(t.loc["T/a", "als"]) and t.loc["T/b", "hals"] == np.inf
    assert t.loc["T/a", "wnmf_kl"] == 2.0
    written = corpus.make_corpus_zoo(df, h, tmp_path)
    assert any(p.name == "corpus_zoo_table.csv" for p in written)
    summary = pd.read_csv(tmp_path / "corpus_zoo_table.csv").set_index("solver")
    assert summary.loc["hals", "held-out error: within 1x of best"] == 0.5
    assert summary.loc["wnmf_kl", "held-out error: within 10x of best"] == 1.0
    assert "each solver on its own loss" in texts(figures["corpus_zoo_profiles"])


def test_profile_axis_is_not_stretched_by_a_near_exact_fit(figures, tmp_path):
    # one table that a solver fits almost exactly gives ratios like 1e17: the tau axis stops at
    # TAU_AXIS_MAX and says how many ratios are off it, instead of squeezing every curve against tau = 1
    r = pd.DataFrame({"hals": [1.0, 1.0, 1.0], "als": [1.5, 3.0, 2e17]}, index=["T/a", "T/b", "T/c"])
    sel = pd.DataFrame({"solver": ["hals", "als"], "status": ["ok", "ok"], "tag": "real_data_corpus_zoo"})
    corpus.plot_corpus_zoo({"held-out error": r}, sel, tmp_path)
    ax = figures["corpus_zoo_profiles"].axes[0]
    assert ax.get_xlim()[1] == corpus.TAU_AXIS_MAX
    assert "1 finite ratio(s) beyond it" in texts(figures["corpus_zoo_profiles"])
    r.loc["T/c", "als"] = 4.0
    corpus.plot_corpus_zoo({"held-out error": r}, sel, tmp_path)
    assert figures["corpus_zoo_profiles"].axes[0].get_xlim()[1] == pytest.approx(4.8)


# --------------------------------------------------------------------------- any sweep


@pytest.fixture(scope="module")
def own_sweep(tmp_path_factory):
    """A sweep of one's own (tag 'mysweep'): 2 solvers x 2 sizes x 2 masks x 2 seeds."""
    root = tmp_path_factory.mktemp("own") / "results"
    for solver in ("a1gm", "wnmf_kl"):
        for n in (10, 40):
            for mask in ("grid", "random"):
                for seed in (0, 1):
                    run(conf(solver, uniform(n), mask=mask, rate=0.05, seed=seed, tag="mysweep"), root)
    return root


@pytest.mark.slow
def test_plot_all_draws_a_sweep_that_no_preset_claims(own_sweep, tmp_path):
    out = plot_all(own_sweep, tmp_path, verbose=False)
    files = {p.name for p in out["sweep:mysweep"]}  # today's code wrote "0 file(s) (no records)"
    assert {"sweep_mysweep_relative_error.png", "sweep_mysweep_runtime_median.png",
            "sweep_mysweep_convergence.png"} <= files
    table = pd.read_csv(tmp_path / "sweep_mysweep_runtime_median.csv")
    assert set(table.columns) >= {"solver", "n_rows", "mask", "median", "q25", "q75", "jobs"}
    assert (table["jobs"] == 2).all()  # two seeds behind each point


def test_sweep_figure_and_summary(own_sweep, tmp_path):
    df, hist = results.load_all(own_sweep)
    s = sweep.sweep_summary(df, "dataset.n_rows", "weighted_kl", hue="solver", col="mask")
    assert len(s) == 8 and (s["jobs"] == 2).all()
    g = df[(df["solver"] == "a1gm") & (df["n_rows"] == 40) & (df["mask"] == "random")]["weighted_kl"]
    row = s[(s["solver"] == "a1gm") & (s["n_rows"] == 40) & (s["mask"] == "random")].iloc[0]
    assert row["median"] == pytest.approx(g.median()) and row["q25"] == pytest.approx(g.quantile(0.25))
    fig = sweep.plot_sweep(df, "n_rows", "runtime_median", hue="solver", col="mask")
    assert [ax.get_title() for ax in fig.axes] == ["mask = grid", "mask = random"]
    assert {ln.get_label() for ln in fig.axes[0].get_lines()} == {"A1GM", "WNMF (KL)"}
    assert "Median over seed (2 values)" in fig._supxlabel.get_text()
    with pytest.raises(ValueError, match=r"unknown --x 'mask.rat'; available columns: .*mask_rate"):
        sweep.plot_sweep(df, "mask.rat", "weighted_kl")
    with pytest.raises(ValueError, match="not numeric"):
        sweep.plot_sweep(df, "n_rows", "solver")
    conv = sweep.convergence_summary(hist, hue="solver", x="iteration")
    assert set(conv["solver"]) == {"wnmf_kl"} and conv["median"].iloc[0] == 1.0  # normalised by iteration 0
    assert conv["jobs"].iloc[0] == 8


@pytest.mark.slow
def test_nmfexp_plot_with_columns(own_sweep, tmp_path, capsys):
    assert plotting.main([str(own_sweep), "--plots-dir", str(tmp_path), "--x", "mask.rate", "--y", "n_rows"]) == 0
    assert plotting.main([str(own_sweep), "--plots-dir", str(tmp_path), "--x", "n_rows", "--y", "weighted_kl",
                          "--hue", "solver", "--col", "mask"]) == 0
    assert (tmp_path / "sweep_weighted_kl_vs_n_rows_by_solver_per_mask.png").stat().st_size > 1000
    assert plotting.main([str(own_sweep), "--plots-dir", str(tmp_path), "--convergence", "--hue", "solver",
                          "--iterations"]) == 0
    assert (tmp_path / "convergence_iteration_by_solver.png").exists()
    assert plotting.main([str(own_sweep), "--plots-dir", str(tmp_path), "--x", "nope", "--y", "weighted_kl"]) == 2
    assert "unknown --x 'nope'; available columns:" in capsys.readouterr().err


# --------------------------------------------------------------------------- report


def test_report_has_figures_environment_deviations_and_references(own_sweep, tmp_path):
    out = plot_all(own_sweep, tmp_path, verbose=False, report=True)
    page = (tmp_path / "index.html").read_text()
    images = re.findall(r"<img src='([^']+)'", page)
    assert images and all((tmp_path / src).is_file() for src in images)  # relative links that resolve
    assert "sweep_mysweep_relative_error.png" in images
    # One's own sweep: no paper wording (deviations, speed ratio WNMF/A1GM, presets without records).
    assert "Runtimes are true seconds" not in page and "Deviations from the paper" not in page
    assert "WNMF/A1GM" not in page and "Artifacts without records here" not in page
    assert "ghalamkari2022fast" in page and "lee2001algorithms" in page  # what to cite for a1gm + wnmf_kl
    assert "Algorithms for Non-negative Matrix Factorization</em>" in page  # rendered from the BibTeX fields
    assert (tmp_path / "references.bib").read_text().count("@") >= 3
    assert "<th class='text'>BLAS</th>" in page and "nmfexp jobs timed at once" in page
    assert out["report"] == [tmp_path / "index.html"]


def _doc_section(text: str, heading: str) -> str:
    """The body of the Markdown section titled ``heading`` (up to the next heading of its level or above)."""
    m = re.search(rf"^(#+)\s+{re.escape(heading)}.*$", text, flags=re.M)
    assert m, f"docs/reproduction.md has no section {heading!r}"
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{len(m.group(1))}}}\s", rest, flags=re.M)
    return rest[:end.start() if end else len(rest)].strip()


def test_the_packaged_deviations_say_what_the_docs_say():
    md = deviations_markdown()
    doc = (ROOT / "docs" / "reproduction.md").read_text(encoding="utf-8")
    # the same text; the document's links are relative to docs/, the package's to the repository
    assert md.replace("](docs/", "](") == _doc_section(doc, DEVIATIONS_HEADING)
    bullets = re.findall(r"^- \*\*(.+?)\*\*", md, flags=re.M)
    assert len(bullets) >= 3
    rendered = markdown_to_html(md)
    assert rendered.count("<li>") == len(bullets) and f"<strong>{bullets[0]}</strong>" in rendered
    assert markdown_to_html("- **A.** `code` and [link](https://e.org)\n  more") == (
        "<ul><li><strong>A.</strong> <code>code</code> and <a href=\"https://e.org\">link</a> more</li></ul>")


def test_the_report_reads_no_readme(own_sweep, paper_records, tmp_path, monkeypatch):
    """The page is made from package data: no file named README.md is opened while it is written."""
    import builtins
    import io
    import pathlib

    opened = []
    real_open, real_read = builtins.open, pathlib.Path.read_text

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_read(self, *args, **kwargs):
        opened.append(str(self))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(pathlib.Path, "read_text", spy_read)
    plot_all(own_sweep, tmp_path, verbose=False, report=True)
    page = (tmp_path / "index.html").read_text()
    assert not [p for p in opened if p.endswith("README.md")]
    plot_all(paper_records, tmp_path, verbose=False, report=True)
    page = (tmp_path / "index.html").read_text()
    assert "Runtimes are true seconds" in page and "Deviations from the paper" in page  # a paper artifact's report
    assert not [p for p in opened if p.endswith("README.md")]


# --------------------------------------------------------------------------- registry


def test_artifacts_registry_matches_the_presets():
    assert DEFAULT_ARTIFACTS == ("fig5_synthetic", "a1gm_missing_patterns", "real_data", "solver_comparison",
                                 "real_data_corpus", "real_data_corpus_zoo")
    for art in ARTIFACTS.values():
        assert (ROOT / "experiments" / f"{art.preset()}.yaml").is_file()
        assert (ROOT / "experiments" / f"{art.preset(quick=True)}.yaml").is_file()
        assert yaml.safe_load((ROOT / "experiments" / f"{art.preset()}.yaml").read_text())["tag"] == art.name
