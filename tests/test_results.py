"""The results API: load() and load_history() round-trip the records; merge and csv commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nmfexp import results
from nmfexp.experiment import run
from nmfexp.record import read_record

QUICK = {"warmup": 0, "repeats": 2, "min_time": 0.0, "max_repeats": 2, "max_time": 60.0, "blas_threads": 1}


def conf(solver: str, n: int, mask: str = "random", rate: float = 0.05, seed: int = 0) -> dict:
    return {
        "dataset": {"kind": "uniform", "name": "uniform", "n_rows": n},
        "mask": {"kind": mask, "rate": rate},
        "solver": {"name": solver, "params": {} if solver == "a1gm" else {"max_iter": 20}},
        "timing": dict(QUICK),
        "seed": seed,
        "tag": "t",
    }


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    outs = [run(conf(s, n), root / f"n{n}") for s in ("a1gm", "wnmf_kl") for n in (10, 15)]
    outs.append(run(conf("a1gm", 10, rate=0.6), root / "n10"))  # skipped: no complete row
    return root, outs


def test_load_has_one_row_per_job_with_the_documented_columns(records):
    root, outs = records
    df = results.load(root)
    assert len(df) == len(outs) and set(df["job"]) == {o["job"] for o in outs}
    assert list(df.columns[: len(results.COLUMNS)]) == results.COLUMNS
    assert {"dataset.n_rows", "mask.rate", "solver.params.max_iter", "timing.repeats"} <= set(df.columns)
    assert sorted(df["status"]) == ["ok"] * 4 + ["skipped"]
    ok = df[df.status == "ok"]
    assert ok["runtime_samples"].eq(2).all() and (ok["runtime_min"] <= ok["runtime_mean"]).all()
    assert ok.loc[ok.solver == "wnmf_kl", "n_missing_added"].isna().all()
    assert ok.loc[ok.solver == "a1gm", "n_missing_added"].notna().all()
    assert df.loc[df.status == "skipped", "weighted_kl"].isna().all()


def test_load_values_match_the_records(records):
    root, outs = records
    df = results.load(root).set_index("job")
    for out in outs:
        rec = read_record(out["path"])
        row = df.loc[out["job"]]
        assert row["path"] == out["path"] and row["status"] == rec.attrs["status"]
        if rec.attrs["status"] == "ok":
            assert row["weighted_kl"] == rec.groups["metrics"]["weighted_kl"]
            assert row["runtime_mean"] == pytest.approx(rec.arrays["timing/samples"].mean())
            assert row["n_rows"] == 10 or row["n_rows"] == 15


def test_load_single_file_and_merged_file(records, tmp_path):
    root, outs = records
    assert len(results.load(outs[0]["path"])) == 1
    merged = tmp_path / "all.h5"
    assert results.main(["merge", str(root), "-o", str(merged)]) == 0
    a = results.load(root).drop(columns="path")
    b = results.load(merged).drop(columns="path")
    pd.testing.assert_frame_equal(a, b)
    h1, h2 = results.load_history(root), results.load_history(merged)
    pd.testing.assert_frame_equal(h1, h2)


def test_load_history_long_table(records):
    root, _ = records
    h = results.load_history(root)
    assert list(h.columns[:15]) == ["job", "tag", "solver", "dataset", "mask", "mask_rate", "n_rows", "n_cols",
                                    "rank", "seed", "holdout", "status", "iteration", "time", "objective"]
    assert set(h["solver"]) == {"wnmf_kl"}  # a1gm is a closed form: no iterations
    for _, g in h.groupby("job"):
        assert g["iteration"].tolist() == list(range(len(g)))
        assert g["time"].iloc[0] == 0 and np.all(np.diff(g["time"]) >= 0)


def test_csv_command(records, tmp_path):
    root, outs = records
    out = tmp_path / "table.csv"
    assert results.main(["csv", str(root), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(outs)


def test_temp_and_unreadable_files_are_ignored(records, tmp_path):
    root, outs = records
    (root / "n10" / "x.h5.123.tmp").write_bytes(b"partial")
    (root / "broken.h5").write_bytes(b"not hdf5")
    try:
        with pytest.warns(UserWarning, match="broken.h5"):
            df = results.load(root)
        assert len(df) == len(outs)
    finally:
        (root / "broken.h5").unlink()
        (root / "n10" / "x.h5.123.tmp").unlink()


def test_empty_folder_gives_an_empty_table(tmp_path):
    df = results.load(tmp_path)
    assert df.empty and list(df.columns) == results.COLUMNS
    assert results.load_history(tmp_path).empty
    with pytest.raises(FileNotFoundError):
        results.load(tmp_path / "nowhere")
