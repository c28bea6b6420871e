"""The paper's data sets from offline copies: pinned files, the Orange fetch, the reference preprocessing."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import refuse_connections

from nmfexp.data import cli, offline, real
from nmfexp.data.offline import DataUnavailable, PackageFile
from nmfexp.data.real import (
    REAL_DATASETS,
    _read_orange_heart,
    load_file,
    load_real,
    locate,
    paper_preprocess,
    reference_preprocess,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    refuse_connections(monkeypatch, "a data loader tried to open a network connection")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A cache and a data dir of our own, and no installed Orange."""
    monkeypatch.setenv("NMFEXP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path / "data"))
    real_lookup = PackageFile.installed
    monkeypatch.setattr(PackageFile, "installed", lambda self: None if self.module == "Orange" else real_lookup(self))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- the reference preprocessing


def test_reference_preprocess_is_load_mtx():
    X = np.array([[-2.0, 0.0, np.nan], [4.0, 0.0, 6.0]])
    before = X.copy()
    Y = reference_preprocess(X)
    np.testing.assert_array_equal(X, before)
    mean = (2 + 0 + 1 + 4 + 0 + 6) / 6  # placeholder 1 at the gap, absolute values, mean of all six cells
    np.testing.assert_array_equal(Y, [[2.0, mean, np.nan], [4.0, mean, 6.0]])
    # the two preprocessings differ only in the value given to zeros
    P = paper_preprocess(X)
    assert np.array_equal(np.isnan(P), np.isnan(Y))
    keep = ~np.isnan(X) & (X != 0)
    np.testing.assert_array_equal(P[keep], Y[keep])


def test_load_real_reference_option_changes_only_the_zero_fill():
    a, b = load_real("auto_mpg"), load_real("auto_mpg", preprocess="reference")
    assert b.meta["preprocessing"].startswith("reference code")
    n, m = a.X.shape
    raw = np.where(np.isnan(a.X), 1.0, a.X)  # auto_mpg has no zero and no negative cell
    assert a.meta["n_zeros_replaced"] == b.meta["n_zeros_replaced"] == 0
    np.testing.assert_array_equal(a.X, b.X)
    assert b.meta["zero_fill_value"] == pytest.approx(raw.sum() / (n * m))
    with pytest.raises(ValueError, match="preprocess"):
        load_real("auto_mpg", preprocess="raw")


# --------------------------------------------------------------------------- pinned copies


@pytest.mark.parametrize("name", ["auto_mpg", "life_expectancy"])
def test_core_copies_are_the_pinned_files(name):
    src = locate(name)
    assert src.kind == "copy"
    assert hashlib.sha256(src.path.read_bytes()).hexdigest() == src.copy.sha256
    meta = load_real(name).meta
    assert meta["origin"] == src.copy.describe() and meta["origin_sha256"] == src.copy.sha256
    assert src.copy.version in meta["origin"] and meta["copy_note"]


def test_a_changed_copy_is_refused(tmp_path):
    good = offline.VEGA_CARS.path()
    bad = tmp_path / "cars.json"
    bad.write_bytes(good.read_bytes().replace(b"18", b"19", 1))
    with pytest.raises(DataUnavailable, match="not the file of vega_datasets 0.9.0"):
        offline.VEGA_CARS.verified(bad)


def test_auto_mpg_398_is_the_original_without_missing_mpg():
    full, cut = load_real("auto_mpg"), load_real("auto_mpg_398")
    mpg = full.meta["columns"].index("Miles_per_Gallon")
    keep = ~np.isnan(full.X[:, mpg])
    assert cut.X.shape == (398, 8) and cut.meta["n_missing"] == 6  # UCI auto-mpg.data: 6 missing horsepower
    np.testing.assert_array_equal(cut.X, full.X[keep])


def test_life_expectancy_copy_keeps_only_unaltered_columns():
    ds = load_real("life_expectancy")
    cols = ds.meta["columns"]
    assert len(cols) == 18 and "Year" in cols and "Status" in cols  # Year, Status and 16 measurements
    assert not any("(men)" in c or "(women)" in c or "Hepatitis" in c for c in cols)
    assert "Country" in ds.meta["columns_dropped"]
    raw = pd.read_csv(offline.LIFE_EXPECTANCY_CSV.path())
    np.testing.assert_array_equal(np.isnan(ds.X), raw[cols].isna().to_numpy())
    assert ds.meta["n_missing"] == 1990  # the Kaggle file's 2,563 gaps minus those of the 3 altered columns


def test_placed_file_is_preferred_to_the_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    (tmp_path / "life_expectancy").mkdir()
    (tmp_path / "life_expectancy" / "Life Expectancy Data.csv").write_text(
        "Country,Year,Status,Life expectancy ,Adult Mortality,infant deaths,Hepatitis B\n"
        "Afghanistan,2015,Developing,65,263,62,65\nAlbania,2015,Developing,77.8,74,0,\n")
    src = locate("life_expectancy")
    assert src.kind == "file"
    ds = load_real("life_expectancy")
    assert ds.X.shape == (2, 6) and ds.meta["origin_kind"] == "file" and np.isnan(ds.X[1, 5])


# --------------------------------------------------------------------------- heart disease from Orange's file

# The first rows of UCI's processed.cleveland.data (rows 1, 3, 4 and the one whose thal is '?') and the same
# patients in Orange's heart_disease.tab (its 3 header lines, tab-separated, text categories).
UCI_ROWS = """63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0
67.0,1.0,4.0,120.0,229.0,0.0,2.0,129.0,1.0,2.6,2.0,2.0,7.0,1
37.0,1.0,3.0,130.0,250.0,0.0,0.0,187.0,0.0,3.5,3.0,0.0,3.0,0
53.0,0.0,3.0,128.0,216.0,0.0,2.0,115.0,0.0,0.0,1.0,0.0,?,0
52.0,1.0,3.0,138.0,223.0,0.0,0.0,169.0,0.0,0.0,1.0,?,3.0,0
55.0,0.0,4.0,180.0,327.0,0.0,1.0,117.0,1.0,3.4,2.0,0.0,3.0,2
"""
ORANGE_HEADER = (
    "age\tgender\tchest pain\trest SBP\tcholesterol\tfasting blood sugar > 120\trest ECG\tmax HR\texerc ind ang\t"
    "ST by exercise\tslope peak exc ST\tmajor vessels colored\tthal\tdiameter narrowing\n"
    "c\td\td\tc\tc\td\tnormal left\\ vent\\ hypertrophy ST-T\\ abnormal\tc\t0 1\tc\tupsloping flat downsloping\tc\t"
    "normal reversable\\ defect fixed\\ defect\td\n"
    "\t\t\t\t\t\t\t\t\t\t\t\t\tclass\n"
)
ORANGE_ROWS = """63\tmale\ttypical ang\t145\t233\t1\tleft vent hypertrophy\t150\t0\t2.3\tdownsloping\t0\tfixed defect\t0
67\tmale\tasymptomatic\t120\t229\t0\tleft vent hypertrophy\t129\t1\t2.6\tflat\t2\treversable defect\t1
37\tmale\tnon-anginal\t130\t250\t0\tnormal\t187\t0\t3.5\tdownsloping\t0\tnormal\t0
53\tfemale\tnon-anginal\t128\t216\t0\tleft vent hypertrophy\t115\t0\t0\tupsloping\t0\t?\t0
52\tmale\tnon-anginal\t138\t223\t0\tnormal\t169\t0\t0\tupsloping\t?\tnormal\t0
55\tfemale\tasymptomatic\t180\t327\t0\tST-T abnormal\t117\t1\t3.4\tflat\t0\tnormal\t1
"""


def test_orange_heart_file_recoded_equals_uci_processed_file(tmp_path):
    uci = tmp_path / "processed.cleveland.data"
    uci.write_text(UCI_ROWS)
    tab = tmp_path / "heart_disease.tab"
    tab.write_text(ORANGE_HEADER + ORANGE_ROWS)
    a = load_file(uci, header=None, preprocess=None).X  # the UCI reader, an independent path
    b = _read_orange_heart(tab).to_numpy()
    np.testing.assert_array_equal(a[:, :13], b[:, :13])  # every attribute, gaps included
    np.testing.assert_array_equal(b[:, 13], (a[:, 13] > 0).astype(float))  # Orange's class is num > 0
    # a user-placed Orange file goes through the same reader
    ds = load_real("heart_disease", path=tab, preprocess="paper")
    assert ds.meta["columns"][-1] == "num>0" and ds.meta["n_missing"] == 2


def test_orange_heart_reader_rejects_other_files(tmp_path):
    tab = tmp_path / "heart_disease.tab"
    tab.write_text(ORANGE_HEADER + ORANGE_ROWS.replace("fixed defect", "fixed"))
    with pytest.raises(ValueError, match="categories"):
        _read_orange_heart(tab)
    tab.write_text("a\tb\nc\td\n\t\n1\t2\n")
    with pytest.raises(ValueError, match="columns of Orange"):
        _read_orange_heart(tab)


def _fake_wheel(folder: Path, member: bytes, name: str = "orange3-3.40.0-cp311-cp311-manylinux.whl") -> Path:
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("Orange/__init__.py", "raise SystemExit('never imported')\n")
        zf.writestr("Orange/datasets/heart_disease.tab", member)
        zf.writestr("Orange/datasets/iris.tab", b"other data")
    return wheel


def test_fetch_keeps_one_verified_file_and_nothing_else(empty_cache, monkeypatch):
    content = (ORANGE_HEADER + ORANGE_ROWS).encode()
    fake = PackageFile("orange3", "3.40.0", "Orange", "datasets/heart_disease.tab",
                       hashlib.sha256(content).hexdigest(), "GPL-3", "nmfexp-data fetch heart_disease")
    monkeypatch.setitem(offline.FETCHABLE, "heart_disease", fake)
    monkeypatch.setitem(REAL_DATASETS, "heart_disease", dataclasses.replace(REAL_DATASETS["heart_disease"], copy=fake))
    with pytest.raises(DataUnavailable, match="nmfexp-data fetch heart_disease"):
        locate("heart_disease")
    calls = []

    def download(folder):
        calls.append(folder)
        return _fake_wheel(folder, content)

    path = offline.fetch("heart_disease", download=download)
    assert path.read_bytes() == content and path.parent.parent == empty_cache
    assert sorted(p.name for p in empty_cache.rglob("*") if p.is_file()) == ["heart_disease.tab"]
    assert not calls[0].exists()  # the wheel's temporary folder is gone
    offline.fetch("heart_disease", download=download)  # already cached: no second download
    assert len(calls) == 1
    ds = load_real("heart_disease")
    assert ds.X.shape == (6, 14) and ds.meta["origin_kind"] == "copy" and ds.meta["origin_sha256"] == fake.sha256
    assert real.availability("heart_disease") == ""


def test_fetch_refuses_a_wrong_file_and_reports_a_failed_download(empty_cache, tmp_path):
    with pytest.raises(DataUnavailable, match="was not kept"):
        offline.fetch("heart_disease", download=lambda folder: _fake_wheel(folder, b"age\tgender\n"))
    assert not any(empty_cache.rglob("*.tab"))

    def no_index(folder):
        raise DataUnavailable("pip could not download orange3==3.40.0 from the package index")

    with pytest.raises(DataUnavailable, match="package index"):
        offline.fetch("heart_disease", download=no_index)
    assert "nmfexp-data fetch heart_disease" in real.availability("heart_disease")
    with pytest.raises(ValueError, match="cannot be fetched"):
        offline.fetch("auto_mpg")


def test_fetch_uses_pip_with_the_pinned_wheel_hash(monkeypatch, tmp_path):
    seen = {}

    def run(cmd, **kwargs):
        seen["cmd"] = cmd
        seen["req"] = Path(cmd[cmd.index("-r") + 1]).read_text()
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(offline.subprocess, "run", run)
    with pytest.raises(DataUnavailable, match="No matching distribution"):
        offline._pip_download(tmp_path)
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert "--require-hashes" in cmd
    assert seen["req"].strip() == f"orange3==3.40.0 --hash=sha256:{offline._ORANGE_WHEEL['sha256']}"


@pytest.mark.skipif(real.availability("heart_disease") != "", reason="Orange's file is not fetched here")
def test_the_real_orange_file_is_uci_cleveland():
    ds = load_real("heart_disease")
    assert ds.X.shape == (303, 14) and ds.meta["n_missing"] == 6
    cols = ds.meta["columns"]
    assert np.isnan(ds.X[:, cols.index("ca")]).sum() == 4 and np.isnan(ds.X[:, cols.index("thal")]).sum() == 2
    raw = _read_orange_heart(locate("heart_disease").path)
    assert set(raw["thal"].dropna()) == {3.0, 6.0, 7.0} and set(raw["cp"]) == {1.0, 2.0, 3.0, 4.0}


def test_status_command_names_each_source(capsys):
    assert cli.main(["status", "auto_mpg", "arrhythmia"]) == 0
    out = capsys.readouterr().out
    assert "auto_mpg: vega_datasets 0.9.0" in out and "arrhythmia: not available" in out


def test_reproduction_leaves_out_unavailable_data_and_the_table_says_so(empty_cache, tmp_path):
    from nmfexp.experiment import run
    from nmfexp.figures.real_data import preset_datasets, real_data_table
    from nmfexp.reproduce import data_overrides
    from nmfexp.results import load

    def no_index(folder):
        raise DataUnavailable("pip could not download orange3==3.40.0 from the package index")

    real_prepare = real.prepare
    try:  # no package index: the fetch fails, heart_disease is left out of the sweep
        real.prepare = lambda names: real_prepare(names, download=no_index)
        overrides, missing = data_overrides("real_data_quick")
    finally:
        real.prepare = real_prepare
    names = preset_datasets("real_data_quick")
    assert names == preset_datasets("real_data") and names[:4] == ["heart_disease", "life_expectancy", "auto_mpg",
                                                                      "sleep_data"]
    assert list(missing) == ["heart_disease"] and "package index" in missing["heart_disease"]
    assert overrides == [f"hydra.sweeper.params.dataset='{','.join(names[1:])}'"]

    base = {"mask": {"kind": "given"}, "timing": {"warmup": 0, "repeats": 1, "min_time": 0, "max_repeats": 1},
            "tag": "real_data_quick"}
    for solver in ("a1gm", "wnmf_kl"):
        run({**base, "dataset": {"kind": "real", "name": "galamiss"}, "solver": {"name": solver}}, tmp_path / "r")
    # a job run anyway on the missing data set fails at its data stage, and the table words it as unavailable
    run({**base, "dataset": {"kind": "real", "name": "heart_disease"}, "solver": {"name": "a1gm"}}, tmp_path / "r")
    table = real_data_table(load(tmp_path / "r"), "real_data", expected=names, sources=True).set_index("dataset")
    assert list(table.index) == names
    assert table.loc["heart_disease", "status"] == "not available"
    assert "nmfexp-data fetch heart_disease" in table.loc["heart_disease", "note"]
    assert table.loc["kanga", "status"] == "not run" and table.loc["galamiss", "status"] == "ok"
    assert table.loc["galamiss", "source"].startswith("faraway 0.0.") and "MIT" in table.loc["galamiss", "source"]


def test_real_data_options_are_checked_before_anything_runs(tmp_path):
    from nmfexp.experiment import ConfigError, Job, run

    base = {"mask": {"kind": "given"}, "solver": {"name": "a1gm"}, "timing": {"warmup": 0, "repeats": 1}}
    for options, match in (({"bogus": 1}, "not options"), ({"preprocess": "raw"}, "preprocess must be")):
        with pytest.raises(ConfigError, match=match):
            Job.from_config({**base, "dataset": {"kind": "real", "name": "galamiss", "options": options}}, tmp_path)
    assert not list(tmp_path.iterdir())
    ref = run({**base, "dataset": {"kind": "real", "name": "galamiss", "options": {"preprocess": "reference"}}},
              tmp_path)
    plain = run({**base, "dataset": {"kind": "real", "name": "galamiss"}}, tmp_path)
    assert ref["status"] == plain["status"] == "ok" and ref["job"] != plain["job"]
