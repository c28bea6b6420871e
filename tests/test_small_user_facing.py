"""Small things a new user meets: compare, summary, the report's BLAS row, --help, the per-job line,
axis units, damaged records, DataFrame labels."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nmfexp
from nmfexp import results
from nmfexp.experiment import Job, run
from nmfexp.figures import sweep
from nmfexp.figures.report import _environment

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver="hals", rank=1, seed=0) -> dict:
    params = {} if solver == "a1gm" else {"max_iter": 5}
    return {"dataset": {"kind": "uniform", "n_rows": 8}, "mask": {"kind": "grid", "rate": 0.1},
            "solver": {"name": solver, "params": params}, "rank": rank, "timing": dict(QUICK), "seed": seed}


def test_compare_says_when_no_job_is_ok_on_both_sides(tmp_path, capsys):
    for side in ("a", "b"):
        assert run(conf("a1gm", rank=2), tmp_path / side)["status"] == "skipped"  # a1gm is rank-1 only
    assert results.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "a1gm: 1 jobs, status differs for 0; runtime B/A: no job is ok on both sides" in out
    assert "nan" not in out.split("\n\n")[0]


def _plan(folder: Path, name: str, created: str, record: Path, age: float, job: str = "0" * 16) -> Path:
    path = folder / "logs" / f"multirun_{name}" / "plan.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"created": created, "finished": True,
                                "jobs": [{"job": job, "path": str(record), "submitted": True}]}))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_summary_of_a_parent_folder_names_the_newest_sweep_latest(tmp_path):
    root = tmp_path / "results"
    out = run(conf(), root / "fig5")
    _plan(root, "old", "2026-01-01T00:00:00+00:00", root / "gone.h5", age=3600)
    _plan(root / "fig5", "new", "2026-02-01T00:00:00+00:00", Path(out["path"]), age=10, job=out["job"])
    lines = results.sweep_progress(root)
    assert lines[0].startswith("latest sweep into fig5 (planned 2026-02-01T00:00:00+00:00, multirun_new): 1 of 1")
    assert lines[1].startswith("earlier sweep (planned 2026-01-01T00:00:00+00:00, multirun_old): 0 of 1")
    # A plan that is not one is named, not a traceback.
    old = root / "logs" / "multirun_old" / "plan.json"
    old.write_text("{not json")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert results.sweep_progress(root)[1] == f"earlier sweep: its plan {old} is unreadable"


def test_the_blas_row_lists_each_library_once():
    df = pd.DataFrame({"env.blas": ["openblas 0.3.21; mkl 2023.1", "mkl 2023.1; openblas 0.3.21"]})
    page = _environment(df)
    row = page.split("<th class='text'>BLAS</th><td class='text'>")[1].split("</td>")[0]
    assert row == "mkl 2023.1, openblas 0.3.21"


def test_help_lists_the_groups_a_user_picks_from_not_the_schemas(tmp_path):
    exe = Path(sys.executable).parent / "nmfexp-run"
    proc = subprocess.run([str(exe), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\nsolver: a1gm," in proc.stdout and "\nmask: corner," in proc.stdout
    assert "nmfexp_schema" not in proc.stdout


@pytest.mark.parametrize("solver, loss", [("hals", "weighted Frobenius"), ("wnmf_kl", "weighted KL")])
def test_the_per_job_line_says_the_solvers_own_loss(tmp_path, caplog, solver, loss):
    with caplog.at_level(logging.INFO, logger="nmfexp"):
        out = run(conf(solver), tmp_path)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("done "))
    key = {"weighted Frobenius": "weighted_frobenius", "weighted KL": "weighted_kl"}[loss]
    value = nmfexp.record.read_record(out["path"]).groups["metrics"][key]
    assert f": ok, {loss} {value:.6g}, runtime" in line
    assert ("weighted KL" in line) == (loss == "weighted KL")


def test_generic_axes_carry_the_schemas_units():
    df = pd.DataFrame({"solver": ["hals"] * 4, "status": ["ok"] * 4, "seed": [0, 1, 0, 1], "tag": [""] * 4,
                       "mask_rate": [0.1, 0.1, 0.2, 0.2], "n_rows": [10, 10, 20, 20],
                       "runtime_median": [1.0, 2.0, 3.0, 4.0], "relative_error": [0.1, 0.2, 0.3, 0.4]})
    ax = sweep.plot_sweep(df, "mask.rate", "runtime_median").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("mask_rate (%)", "runtime_median (s)")
    ax = sweep.plot_sweep(df, "n_rows", "relative_error").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("n_rows (rows)", "relative_error")


def _damage(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:2000])


def test_a_damaged_record_is_recomputed_with_a_word(tmp_path, caplog):
    out = run(conf(), tmp_path)
    _damage(Path(out["path"]))
    with caplog.at_level(logging.INFO, logger="nmfexp"):
        again = run(conf(), tmp_path)
    assert again["status"] == "ok" and not again["existing"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"the record {out['path']} is damaged or unreadable; computing the job again" \
        in warned[0]


def test_a_sweep_names_the_damaged_records_it_computes_again(tmp_path, caplog, monkeypatch):
    from nmfexp.cli.sweep import _name_unusable, _reusable
    from nmfexp.record import read as record_read

    jobs = [Job.from_config(conf(seed=s), tmp_path) for s in range(5)]
    for job in jobs[:2]:
        run(job.config, tmp_path)
    _damage(jobs[0].path)
    os.symlink(jobs[3].path, jobs[3].path)  # a symlink loop in place of a record
    os.mkfifo(jobs[4].path)
    calls = []
    read_many = record_read._UnverifiedReader.read_many
    monkeypatch.setattr(record_read._UnverifiedReader, "read_many",
                        lambda self, items, header_only=False: calls.append(len(items)) or read_many(self, items,
                                                                                                      header_only))
    kept, headers = _reusable(jobs)
    assert kept == [None, "ok", None, None, None] and calls == [1]  # one reader pass (the damaged one fails its checksum first)
    with caplog.at_level(logging.WARNING):
        assert _name_unusable(jobs, headers) == [jobs[0].path]  # the good record and the missing one are not named
    assert f"1 damaged or unreadable record(s) will be computed again: {jobs[0].path}" in caplog.text
    assert "2 record path(s) hold something that cannot be read as a record" in caplog.text
    assert f"{jobs[3].path} (" in caplog.text and f"{jobs[4].path} (not a regular file)" in caplog.text


@pytest.mark.parametrize("above", [False, True])
def test_a_rerun_takes_headers_from_an_up_to_date_catalogue_and_reads_only_what_it_cannot_vouch_for(tmp_path,
                                                                                                      monkeypatch,
                                                                                                      above):
    from nmfexp.cli.sweep import _reusable
    from nmfexp.record import read as record_read

    out = tmp_path / "fig" if above else tmp_path
    jobs = [Job.from_config(conf(seed=s), out) for s in range(4)]
    for job in jobs[:3]:
        run(job.config, out)
    results.load(tmp_path)  # builds the catalogue beside the records, or in the folder above them
    calls = []
    read_many = record_read._UnverifiedReader.read_many
    monkeypatch.setattr(record_read._UnverifiedReader, "read_many",
                        lambda self, items, header_only=False: calls.append([p for p, _ in items])
                        or read_many(self, items, header_only))
    kept, headers = _reusable(jobs)
    assert kept == ["ok", "ok", "ok", None] and calls == []
    assert all(json.loads(h["inputs"]) == {} for h in headers[:3])
    _damage(jobs[0].path)  # changed behind the catalogue's back: read again, and found damaged
    os.utime(jobs[1].path, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched: read again
    assert _reusable(jobs)[0] == [None, "ok", "ok", None]
    assert calls == [[str(jobs[1].path)]]  # the damaged file fails its checksum before any reader


def test_a_dataframe_in_gives_labelled_dataframes_out():
    X = pd.DataFrame(np.random.default_rng(0).random((6, 4)), index=list("abcdef"), columns=list("wxyz"))
    X.iloc[1, 2] = np.nan
    X_before = X.copy()
    res = nmfexp.factorize(X, solver="wnmf_kl", rank=2, random_state=0, max_iter=20)
    assert list(res.A.index) == list("abcdef") and list(res.A.columns) == ["component_0", "component_1"]
    assert list(res.B.index) == ["component_0", "component_1"] and list(res.B.columns) == list("wxyz")
    R = res.reconstruct()
    assert isinstance(R, pd.DataFrame) and R.index.equals(X.index) and R.columns.equals(X.columns)
    plain = nmfexp.factorize(X.to_numpy(), solver="wnmf_kl", rank=2, random_state=0, max_iter=20)
    assert np.array_equal(res.A.to_numpy(), plain.A) and np.array_equal(res.B.to_numpy(), plain.B)
    assert np.allclose(R.to_numpy(), plain.A @ plain.B) and res.rank == 2
    pd.testing.assert_frame_equal(X, X_before)  # the caller's frame is untouched
    restarts = nmfexp.factorize(X, solver="hals", rank=2, random_state=0, n_restarts=2, max_iter=5)
    assert list(restarts.B.columns) == list("wxyz") and "best_restart" in restarts.info
    assert isinstance(nmfexp.factorize(X.to_numpy(), solver="a1gm").A, np.ndarray)


def test_printed_summary_tables_stay_within_the_terminal_width(monkeypatch, capsys):
    """The reproduction printed the real-data table 249 characters wide (notes and sources included)."""
    import pandas as pd

    from nmfexp.figures import artifacts, fig5, patterns, real_data

    wide = pd.DataFrame({f"a long column name number {k}": [1.23456789e-5 * k, 2.0] for k in range(12)})
    real = pd.DataFrame({c: ["x" * 40, "y"] for c in artifacts.REAL_DATA_PRINTED + ("note", "source")})
    monkeypatch.setattr(fig5, "fig5_summary", lambda df, statistic: wide)
    monkeypatch.setattr(patterns, "patterns_summary", lambda df, statistic: wide.assign(**{"skipped because": ""}))
    monkeypatch.setattr(real_data, "real_data_table", lambda df, tag, statistic: real)
    artifacts._print_tables(pd.DataFrame(), "median")
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= artifacts.PRINT_WIDTH
    assert "a long column name number 11" in out and "source" not in out.split("Real-data table")[1].splitlines()[1]
