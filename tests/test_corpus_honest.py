"""Corpus figures honest about A1GM (exact only where certified, grid-like tables apart) and the
corpus zoo's profiles (baselines in, each solver on its own loss, ratios that cannot blow up)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _helpers import capture_figures, corpus_records

from nmfexp.figures import corpus
from nmfexp.figures.stats import ok


def a1gm_rows(certificate: dict | None):
    """Three tables: 'G/cert' grid-like and certified, 'G/ucla' grid-like where A1GM's KL is far below
    WNMF's (WNMF stopped early) and the certificate says no, 'O/far' not grid-like."""
    tables = {"G/cert": (0, 1.0), "G/ucla": (0, 1e-5), "O/far": (50, 1.2)}
    if certificate is None:
        return corpus_records(tables)
    return corpus_records(tables, {name: {"a1gm_certified": certificate[name][0], "a1gm_gap": certificate[name][1]}
                                   for name in tables})


@pytest.fixture
def saved(monkeypatch):
    return capture_figures(monkeypatch, corpus)


def markers(fig) -> dict:
    """Legend label -> number of points drawn with it, in panel (a)."""
    ax = fig.axes[0]
    return {c.get_label(): len(c.get_offsets()) for c in ax.collections if not c.get_label().startswith("_")}


def test_exact_only_where_the_records_certify_it(saved, tmp_path):
    cert = {"G/cert": (True, 0.0), "G/ucla": (False, 3.2), "O/far": (False, 0.4)}
    df = a1gm_rows(cert)
    table = corpus.corpus_table(df).set_index("dataset")
    assert table["A1GM certificate"].to_dict() == {"G/cert": "certified", "G/ucla": "not certified",
                                                   "O/far": "not certified"}
    assert table["grid-like"].to_dict() == {"G/cert": True, "G/ucla": True, "O/far": False}
    corpus.plot_corpus(table.reset_index(), df, tmp_path)
    drawn = markers(saved["corpus_a1gm"])
    assert drawn == {"A1GM certified exact": 1, "grid-like gaps, not certified": 1, "other tables": 1}
    # a certificate with a gap above the threshold does not count
    df.loc[df["dataset"].eq("G/cert") & df["solver"].eq("a1gm"), "a1gm_gap"] = 10 * corpus.CERTIFIED_GAP
    assert corpus.certification(df)["G/cert"] == "not certified"


def test_without_the_certificate_nothing_is_drawn_exact(saved, tmp_path):
    df = a1gm_rows(None)
    table = corpus.corpus_table(df)
    assert set(table["A1GM certificate"]) == {"not recorded"}
    corpus.plot_corpus(table, df, tmp_path)
    fig = saved["corpus_a1gm"]
    assert "A1GM certified exact" not in markers(fig)
    assert markers(fig)["grid-like gaps, not certified"] == 2
    text = " ".join(fig.get_supxlabel().split())
    assert "no table is drawn as certified" in text
    assert "1 tables more than 1% below WNMF" in text  # G/ucla: WNMF far from the optimum
    summary = corpus.corpus_summary(table).set_index("quantity")["value"]
    assert summary["grid-like tables (step 1 adds nothing: A1GM exact by theorem)"] == "2 of 3"
    assert "not recorded" in summary[next(k for k in summary.index if k.startswith("tables whose A1GM"))]
    assert summary["other tables: A1GM's KL within 10.0% of WNMF's"] == "0 of 1 (0%)"
    assert summary["grid-like tables: A1GM's KL below WNMF's"] == "1 of 2"


def zoo_rows(best_err: float = 1e-17):
    """Two tables x one seed: hals, als, wnmf_kl, the baselines column_mean (closed form) and soft_impute
    (no NMF: lowest Frobenius value, never timed). On 'T/exact' als fits the held-out entries to rounding."""
    rows, hist = [], []
    for table in ("T/a", "T/exact"):
        for solver, err, fro, kl, loss in (("hals", 0.1, 1.0, 5.0, "frobenius"), ("als", 0.2, 1.2, 5.0, "frobenius"),
                                           ("wnmf_kl", 0.3, 2.0, 3.0, "kl"),
                                           ("column_mean", 0.05, 1.005, 9.0, "frobenius"),
                                           ("soft_impute", 0.04, 0.5, 9.0, "frobenius")):
            if table == "T/exact" and solver == "als":
                err = best_err
            job = f"{table}-{solver}"
            rows.append(dict(tag="real_data_corpus_zoo", dataset=table, seed=0, solver=solver, status="ok",
                             heldout_relative_error=err, weighted_frobenius=fro, weighted_kl=kl, rank=2, holdout=0.1,
                             mask="given", mask_rate=0.0, n_rows=50, n_cols=5, job=job, runtime_median=0.5,
                             **{"info.loss": loss}))
            if solver in ("hals", "als", "wnmf_kl"):
                final = kl if loss == "kl" else fro
                hist.append(pd.DataFrame({"job": job, "iteration": [0, 1, 2], "time": [0.0, 1.0, 3.0],
                                          "objective": [100.0, final * 1.005, final]}))
    return pd.DataFrame(rows), pd.concat(hist, ignore_index=True)


def test_held_out_ratios_include_the_baselines_and_cannot_blow_up():
    df, hist = zoo_rows()
    r = corpus.zoo_ratios(df, hist)["held-out error"]
    assert {"column_mean", "soft_impute"} <= set(r.columns)
    assert r.loc["T/a"].to_dict() == pytest.approx({"hals": 2.5, "als": 5.0, "wnmf_kl": 7.5, "column_mean": 1.25,
                                                    "soft_impute": 1.0})
    # best 1e-17 counts as the floor: ratios are cost / 1e-6, not cost / 1e-17
    assert r.loc["T/exact", "als"] == 1.0
    assert r.loc["T/exact", "hals"] == pytest.approx(0.1 / corpus.HELDOUT_FLOOR)
    assert np.isfinite(r.to_numpy()).all()


def test_time_profile_scores_each_solver_on_its_own_loss():
    df, hist = zoo_rows()
    t = corpus.own_loss_time_to_target(df, hist).set_index(["dataset", "solver"])["time"]
    # Frobenius f* = 1.0 (hals; soft_impute's 0.5 is no NMF and does not count): hals within 1% at t = 1;
    # column_mean (1.005, a closed form) at its runtime; als (1.2) never
    assert t[("T/a", "hals")] == 1.0 and t[("T/a", "column_mean")] == 0.5 and np.isinf(t[("T/a", "als")])
    # KL f* = 3.0 (wnmf_kl's own): on its own loss it reaches 1% at t = 1 (on the Frobenius measure it never would)
    assert t[("T/a", "wnmf_kl")] == 1.0
    assert "soft_impute" not in set(t.index.get_level_values("solver"))
    r = corpus.zoo_ratios(df, hist)["time to 1% of f*"]
    assert "soft_impute" not in r.columns
    assert r.loc["T/a"].to_dict() == {"hals": 2.0, "als": np.inf, "wnmf_kl": 2.0, "column_mean": 1.0}


def test_reference_runs_lower_the_corpus_f_star_and_are_never_scored(tmp_path):
    """The corpus zoo's 'within 1% of f*' is measured against the reference runs when they are loaded:
    a HALS reference run 2% below the zoo's best Frobenius value on T/a leaves no solver within 1% there."""
    from nmfexp.analysis.problems import CORPUS_REFERENCE_TAG

    df, hist = zoo_rows()
    ref = df[(df["dataset"] == "T/a") & (df["solver"] == "hals")].assign(
        tag=CORPUS_REFERENCE_TAG, job="ref-T/a-hals", weighted_frobenius=0.98, stop_reason="tol")
    t = corpus.zoo_ratios(df, hist)["time to 1% of f*"]
    assert t.loc["T/a", "hals"] == 2.0  # without the reference: hals's own 1.0 is f*
    both = pd.concat([df, ref], ignore_index=True)
    t = corpus.zoo_ratios(df, hist, ok(ref))["time to 1% of f*"]
    # 1.0 and 1.005 are > 1% above 0.98: no Frobenius solver reaches the target; KL's f* is unchanged
    assert np.isinf(t.loc["T/a", ["hals", "als", "column_mean"]]).all() and t.loc["T/a", "wnmf_kl"] == 1.0
    assert t.loc["T/exact", "hals"] == 2.0  # the other table has no reference run: unchanged
    written = corpus.make_corpus_zoo(both, hist, tmp_path)
    assert "corpus_zoo_reference_table.csv" in {p.name for p in written}
    ref_table = pd.read_csv(tmp_path / "corpus_zoo_reference_table.csv").set_index("loss")
    assert ref_table.loc["frobenius", "lower by > 1e-6"] == 1
    assert ref_table.loc["frobenius", "f* lower by (max)"] == pytest.approx(1.0 / 0.98 - 1)
    assert ref_table.loc["frobenius", "reference runs converged"] == "1/1"
    zoo_table = pd.read_csv(tmp_path / "corpus_zoo_table.csv")
    assert len(zoo_table) == df["solver"].nunique()  # the reference run is not a row
