"""The results API: load() and load_history() round-trip the records; one name per fact, dtypes,
environment columns, duplicates, version mix; the merge, csv, parquet and summary commands."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nmfexp
from nmfexp import results
from nmfexp.experiment import run
from nmfexp.record import read_record, write_record
from nmfexp.results import RecordsWarning

V1 = Path(__file__).parent / "data" / "v1"  # records written by nmfexp 0.1.0 (format_version 1)

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
    assert {"solver.params.max_iter", "timing.repeats", "dataset.kind", "dataset.noise"} <= set(df.columns)
    assert set(results.ENV_COLUMNS) <= set(df.columns)
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
    pd.testing.assert_frame_equal(h1.drop(columns="path"), h2.drop(columns="path"))
    assert set(results.load(merged)["path"]) == {f"{merged}::/records/{o['job']}" for o in outs}


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
        with pytest.warns(RecordsWarning, match="broken.h5"):
            df = results.load(root)
        assert len(df) == len(outs)
    finally:
        (root / "broken.h5").unlink()
        (root / "n10" / "x.h5.123.tmp").unlink()


def test_empty_folder_gives_an_empty_table(tmp_path):
    df = results.load(tmp_path)
    assert df.empty and list(df.columns) == results.COLUMNS + results.ENV_COLUMNS + results.EXECUTION_COLUMNS
    assert results.load_history(tmp_path).empty
    with pytest.raises(FileNotFoundError):
        results.load(tmp_path / "nowhere")


# --------------------------------------------------------------------------- one name per fact, dtypes

def test_each_fact_has_one_column(records):
    root, _ = records
    df = results.load(root)
    for duplicate in ("solver.name", "mask.kind", "mask.rate", "dataset.name", "dataset.n_rows", "dataset.n_cols",
                      "env.version_numpy", "env.threadpools", "env.processor", "env.blas_threads_limit"):
        assert duplicate not in df.columns
    assert df.columns.is_unique
    row = df[df.solver == "wnmf_kl"].iloc[0]
    assert row["solver.params.max_iter"] == 20 and row["timing.repeats"] == 2


def test_columns_have_proper_dtypes(records):
    root, _ = records
    df = results.load(root)
    for col in ("n_iter", "n_rows", "n_cols", "rank", "seed", "n_missing", "n_missing_added", "runtime_samples"):
        assert df[col].dtype == "Int64", col
    for col in ("converged", "grid_like", "env.git_dirty"):
        assert df[col].dtype == "boolean", col
    for col in ("mask_rate", "holdout", "weighted_kl", "relative_error", "runtime_mean", "runtime_min"):
        assert df[col].dtype == np.float64, col
    skipped = df[df.status == "skipped"].iloc[0]
    assert skipped["n_iter"] is pd.NA and skipped["converged"] is pd.NA and np.isnan(skipped["weighted_kl"])
    ok = df[df.status == "ok"]
    assert ok["n_iter"].notna().all() and ok["converged"].notna().all()
    assert (ok.loc[ok.solver == "a1gm", "n_iter"] == 0).all()


def test_environment_columns_come_from_the_records(records):
    root, outs = records
    df = results.load(root).set_index("job")
    for out in outs:
        rec = read_record(out["path"])
        env, row = rec.groups["environment"], df.loc[out["job"]]
        assert row["env.nmfexp"] == rec.attrs["nmfexp_version"]
        for package in ("numpy", "scipy", "h5py", "pandas"):
            assert row[f"env.{package}"] == env[f"version_{package}"]
        assert row["env.hostname"] == env["hostname"] and row["env.python"] == env["python"]
        assert row["env.cpu_count"] == env["cpu_count"]
        if "git_commit" in env:
            assert row["env.git_commit"] == env["git_commit"]
        if rec.attrs["status"] == "ok":  # the BLAS seen by threadpoolctl while the solver was timed
            pools = env["threadpools"]
            pools = json.loads(pools) if isinstance(pools, str) else pools
            blas = [p for p in pools if p["user_api"] == "blas"]
            if blas:
                assert row["env.blas"].split("; ")[0] == f"{blas[0]['internal_api']} {blas[0]['version']}"
                assert row["env.blas_threads"] == max(p["num_threads"] for p in blas)


def test_cpu_model_and_memory_when_recorded(tmp_path, records):
    _, outs = records
    rec = read_record(outs[0]["path"])
    rec.groups["environment"].update(cpu_model="Some CPU @ 2.0GHz", memory_bytes=2 ** 34)
    write_record(tmp_path / "r.h5", rec)
    row = results.load(tmp_path).iloc[0]
    assert row["env.cpu"] == "Some CPU @ 2.0GHz" and row["env.memory_bytes"] == 2 ** 34


def test_legacy_records_give_the_same_table_as_a_merged_legacy_file():
    a = results.load(V1 / "records")
    b = results.load(V1 / "merged.h5")
    assert len(a) == 3 and sorted(a["status"]) == ["ok", "ok", "skipped"]
    pd.testing.assert_frame_equal(a.drop(columns="path"), b.drop(columns="path"))
    assert a["env.blas"].notna().all() or a["status"].eq("skipped").any()


# --------------------------------------------------------------------------- duplicates and versions

def _copy_tree(root: Path, dest: Path) -> None:
    for file in root.rglob("*.h5"):
        target = dest / file.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)


def test_duplicates_in_sub_folders_are_reported_and_resolved(records, tmp_path):
    root, outs = records
    _copy_tree(root, tmp_path / "a")
    _copy_tree(root, tmp_path / "b")
    # in b, one job failed later on: the ok copy in a is kept; another is newer in b: b is kept
    failed, newer = outs[0], outs[1]
    for out, change in ((failed, {"status": "failed", "created": "2999-01-01T00:00:00+00:00"}),
                        (newer, {"created": "2999-01-01T00:00:00+00:00"})):
        target = tmp_path / "b" / Path(out["path"]).relative_to(root)
        rec = read_record(target)
        rec.attrs.update(change)
        write_record(target, rec)
    with pytest.warns(RecordsWarning, match=rf"{len(outs)} job\(s\) found in more than one file "
                                            rf"\({len(outs)} extra copies left out; rule: status ok"):
        df = results.load(tmp_path)
    assert len(df) == len(outs) and df["job"].is_unique
    kept = df.set_index("job")["path"]
    assert kept[failed["job"]].startswith(str(tmp_path / "a"))
    assert kept[newer["job"]].startswith(str(tmp_path / "b"))
    others = [o["job"] for o in outs[2:]]
    assert all(kept[j].startswith(str(tmp_path / "a")) for j in others)  # ties: the first path
    everything = results.load(tmp_path, duplicates="keep")
    assert len(everything) == 2 * len(outs) and everything["path"].is_unique
    with pytest.raises(ValueError, match="duplicates must be"):
        results.load(tmp_path, duplicates="first")


def test_mixed_versions_are_reported(records, tmp_path, capsys):
    root, outs = records
    _copy_tree(root, tmp_path)
    target = tmp_path / Path(outs[0]["path"]).relative_to(root)
    rec = read_record(target)
    rec.attrs["nmfexp_version"] = "0.0.9"
    rec.groups["environment"]["git_commit"] = "0" * 40
    write_record(target, rec)
    with pytest.warns(RecordsWarning) as caught:
        results.load(tmp_path)
    text = " ".join(str(w.message) for w in caught)
    assert f"records of 2 different nmfexp versions: {nmfexp.__version__} (4 records), 0.0.9 (1 record)" in text
    assert "2 different git commits" in text or "git_commit" not in read_record(outs[1]["path"]).groups[
        "environment"]
    assert results.main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "versions: MIXED: records of 2 different nmfexp versions" in out


def test_one_version_gives_no_warning(records):
    root, _ = records
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results.load(root)
        results.load_history(root)


# --------------------------------------------------------------------------- command line

def test_summary_command(records, tmp_path, capsys):
    root, outs = records
    _copy_tree(root, tmp_path / "a")
    _copy_tree(root, tmp_path / "b")
    (tmp_path / "broken.h5").write_bytes(b"junk")
    assert results.main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(outs)} record(s) in {tmp_path}\n")
    assert "a1gm" in out and "wnmf_kl" in out and "skipped" in out
    assert "damaged or unreadable files: 1 (left out;" in out and "broken.h5: damaged: not an HDF5 file" in out
    assert f"duplicate jobs: {len(outs)} ({len(outs)} extra copies; one kept per job" in out
    assert f"versions: nmfexp version: {nmfexp.__version__}" in out


def test_csv_command_history_and_duplicates(records, tmp_path):
    root, outs = records
    out = tmp_path / "h.csv"
    assert results.main(["csv", str(root), "-o", str(out), "--history"]) == 0
    assert len(pd.read_csv(out)) == len(results.load_history(root))
    _copy_tree(root, tmp_path / "a")
    _copy_tree(root, tmp_path / "b")
    assert results.main(["csv", str(tmp_path), "-o", str(out), "--keep-duplicates"]) == 0
    assert len(pd.read_csv(out)) == 2 * len(outs)


def test_parquet_without_pyarrow_says_what_to_install(records, tmp_path, monkeypatch, capsys):
    root, _ = records
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    assert results.main(["parquet", str(root), "-o", str(tmp_path / "t.parquet")]) == 2
    assert "pip install pyarrow" in capsys.readouterr().err
    assert not (tmp_path / "t.parquet").exists()


def test_parquet_command(records, tmp_path):
    pytest.importorskip("pyarrow")
    root, outs = records
    rec = read_record(outs[0]["path"])
    rec.attrs["seed"] = 2 ** 70  # a seed beyond 64 bits, stored as text in Parquet
    rec.attrs["job"] = "f" * 16
    write_record(tmp_path / "src" / "huge-seed.h5", rec)
    _copy_tree(root, tmp_path / "src")
    out = tmp_path / "t.parquet"
    assert results.main(["parquet", str(tmp_path / "src"), "-o", str(out)]) == 0
    back = pd.read_parquet(out)
    assert len(back) == len(outs) + 1 and str(2 ** 70) in set(back["seed"].astype(str))
