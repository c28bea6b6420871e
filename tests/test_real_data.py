"""Real data loaders: offline packaged sets, the user-file reader, the paper's preprocessing."""

from __future__ import annotations

import socket
from pathlib import Path

import h5py
import numpy as np
import pytest

from nmfexp.data.real import (
    OFFLINE_PAPER_DATASETS,
    PACKAGED,
    PAPER_DATASETS,
    REAL_DATASETS,
    load_file,
    load_real,
    paper_preprocess,
)

CONF = Path(__file__).resolve().parents[1] / "conf" / "dataset"

# Shapes after dropping ID/name columns; none of these sets has an entirely missing row or column.
EXPECTED_SHAPES = {
    "auto_mpg": (406, 8),
    "auto_mpg_398": (398, 8),
    "life_expectancy": (2938, 18),
    "penguins": (344, 8),
    "chmiss": (47, 6),
    "galamiss": (30, 6),
    "kanga": (148, 20),
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: every packaged set must load offline."""

    def refuse(*args, **kwargs):
        raise AssertionError("a data loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


# ---------------------------------------------------------------------------
# Packaged data sets
# ---------------------------------------------------------------------------


def test_registry_lists():
    assert set(EXPECTED_SHAPES) == set(PACKAGED)
    assert len(PAPER_DATASETS) == 23 and len(set(PAPER_DATASETS)) == 23
    assert set(PAPER_DATASETS) <= set(REAL_DATASETS)
    assert all(REAL_DATASETS[n].in_paper for n in PAPER_DATASETS)
    assert OFFLINE_PAPER_DATASETS == ("heart_disease", "life_expectancy", "auto_mpg", "sleep_data")
    for spec in REAL_DATASETS.values():
        assert (spec.frame is None) or (spec.copy is None)  # one offline source at most
        assert spec.packaged <= (spec.frame is not None or spec.copy is not None)
        assert spec.packaged or spec.file
        assert (spec.copy is None) == (spec.copy_frame is None)


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_loader_matches_source(name):
    ds = load_real(name)
    X = ds.X
    assert X.dtype == np.float64
    assert X.shape == EXPECTED_SHAPES[name]
    observed = ~np.isnan(X)
    assert np.all(X[observed] > 0)  # abs + zeros replaced: strictly positive where observed
    assert ds.meta["n_missing"] == np.count_nonzero(~observed) > 0  # genuine gaps

    # Independent check: NaN exactly where the package's own DataFrame is NA, on the kept columns.
    spec = REAL_DATASETS[name]
    raw = spec.frame() if spec.frame is not None else spec.copy_frame(spec.copy.path())
    raw.columns = [str(c) for c in raw.columns]
    kept = ds.meta["columns"]
    assert ds.meta["n_rows_dropped_all_missing"] == 0
    np.testing.assert_array_equal(np.isnan(X), raw[kept].isna().to_numpy())
    assert set(ds.meta["columns_dropped"]).isdisjoint(kept)
    assert len(kept) + len(ds.meta["columns_dropped"]) == raw.shape[1]


def test_packaged_numeric_columns_keep_their_values():
    """Positive numeric columns pass through unchanged (paper preprocessing only touches zeros/negatives)."""
    ds = load_real("kanga")
    raw = REAL_DATASETS["kanga"].frame()
    col = ds.meta["columns"].index("palate_width")
    np.testing.assert_array_equal(ds.X[:, col], raw["palate_width"].to_numpy(dtype=float))


def test_auto_mpg_encodings():
    ds = load_real("auto_mpg")
    cols = ds.meta["columns"]
    assert "Name" not in cols
    years = ds.X[:, cols.index("Year")]
    assert years.min() == 1970 and years.max() == 1982
    assert set(np.unique(ds.X[:, cols.index("Origin")])) == {1.0, 2.0, 3.0}


def test_penguins_missing_sex_stays_missing():
    ds = load_real("penguins")
    sex = ds.X[:, ds.meta["columns"].index("sex")]
    assert np.count_nonzero(np.isnan(sex)) == 11
    assert set(np.unique(sex[~np.isnan(sex)])) == {1.0, 2.0}


def test_meta_is_hdf5_storable(tmp_path):
    ds = load_real("chmiss")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        for key, value in ds.meta.items():
            f.attrs[key] = value
    for key in ("source", "columns", "columns_dropped", "categorical", "preprocessing", "original_shape", "n_missing"):
        assert key in ds.meta


def test_configs_exist_for_every_real_dataset():
    for name in REAL_DATASETS:
        lines = (CONF / f"{name}.yaml").read_text().splitlines()
        assert lines[0].startswith("# ")
        assert lines[1:3] == ["defaults:", "  - /nmfexp_schema/dataset@_here_   # typed keys of the built-in kinds"]
        assert lines[-3:] == ["kind: real", f"name: {name}", "path: null"]


# ---------------------------------------------------------------------------
# The paper's preprocessing
# ---------------------------------------------------------------------------


def test_paper_preprocess_properties():
    X = np.array([[-2.0, 0.0, np.nan], [4.0, 0.0, 6.0]])
    before = X.copy()
    Y = paper_preprocess(X)
    np.testing.assert_array_equal(X, before)  # input unchanged
    mean = (2 + 0 + 4 + 0 + 6) / 5
    np.testing.assert_array_equal(Y, [[2.0, mean, np.nan], [4.0, mean, 6.0]])
    assert Y.dtype == np.float64


@pytest.mark.parametrize("X", [np.array([[1.0, np.inf]]), np.full((2, 2), np.nan), np.array([["a", "b"]])])
def test_paper_preprocess_rejects_bad_input(X):
    with pytest.raises(ValueError):
        paper_preprocess(X)


# ---------------------------------------------------------------------------
# User files
# ---------------------------------------------------------------------------


def test_csv_with_question_marks_like_arrhythmia(tmp_path):
    f = tmp_path / "tiny.data"
    f.write_text("75,0,190,?,1\n56,1,165,64,?\n?,?,?,?,?\n54,0,172,95,10\n")
    ds = load_file(f, header=None)
    assert ds.X.shape == (3, 5)  # the entirely missing row is dropped
    assert ds.meta["n_rows_dropped_all_missing"] == 1
    expected = np.array([[75, 0, 190, np.nan, 1], [56, 1, 165, 64, np.nan], [54, 0, 172, 95, 10]], float)
    np.testing.assert_array_equal(np.isnan(ds.X), np.isnan(expected))
    np.testing.assert_array_equal(ds.X, paper_preprocess(expected))
    assert ds.meta["n_zeros_replaced"] == 2


def test_load_real_reads_placed_file(tmp_path, monkeypatch):
    """A paper set resolves data/<name>/<file> under NMFEXP_DATA_DIR and applies its reader options."""
    folder = tmp_path / "myocardial_infarction"
    folder.mkdir()
    (folder / "MI.data").write_text("1,63,?,2\n2,55,1,?\n")
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    ds = load_real("myocardial_infarction")
    assert ds.meta["columns"] == ["1", "2", "3"]  # the ID column is dropped
    np.testing.assert_array_equal(np.isnan(ds.X), [[False, True, False], [False, False, True]])
    assert load_real("myocardial_infarction", path=folder).X.shape == (2, 3)


def _tiny_file_like(spec) -> tuple[str, np.ndarray]:
    """Text shaped like the spec's file: its separator, decimal mark, NA marker and dropped columns.

    Returns the text and the expected missing pattern of the kept columns (3 rows, 3 kept columns).
    """
    opts = spec.reader
    sep = {None: ",", r"\s+": " "}.get(opts.get("sep"), opts.get("sep"))
    na = (opts.get("na_values") or ("",))[0]
    dec = opts.get("decimal", ".")
    drops = list(opts.get("drop_columns", ()))
    kept = ["a", "b", "c"]
    if opts.get("header", "infer") is None:
        n_cols = len(drops) + 3
        drops_set = set(drops)
        kept = [str(j) for j in range(n_cols) if str(j) not in drops_set]
        columns = [str(j) for j in range(n_cols)]
        header = []
    else:
        columns = drops + kept
        header = [sep.join(columns)]
    missing = np.array([[True, False, False], [False, False, True], [False, False, False]])
    rows = []
    for i in range(3):
        cells = []
        for col in columns:
            if col in drops:
                cells.append(f"id{i}" if opts.get("header", "infer") is not None else "7")
            else:
                k = kept.index(col)
                cells.append(na if missing[i, k] else f"{i + k + 1}{dec}5")
        rows.append(sep.join(cells))
    return "\n".join(header + rows) + "\n", missing


@pytest.mark.parametrize("name", [n for n in PAPER_DATASETS if not REAL_DATASETS[n].packaged])
def test_paper_reader_on_tiny_file_of_the_same_shape(name, tmp_path, monkeypatch):
    spec = REAL_DATASETS[name]
    text, missing = _tiny_file_like(spec)
    (tmp_path / name).mkdir()
    (tmp_path / name / spec.file).write_text(text)
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    ds = load_real(name)
    assert ds.X.shape == (3, 3)
    np.testing.assert_array_equal(np.isnan(ds.X), missing)
    np.testing.assert_array_equal(ds.X[2], [3.5, 4.5, 5.5])
    assert ds.meta["url"] == spec.url


def test_hr_analytics_recodes_experience(tmp_path, monkeypatch):
    (tmp_path / "hr_analytics").mkdir()
    (tmp_path / "hr_analytics" / "aug_train.csv").write_text(
        "enrollee_id,city,experience,last_new_job,training_hours\n1,city_1,>20,never,36\n2,city_2,<1,>4,\n3,,5,2,83\n"
    )
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    ds = load_real("hr_analytics")
    cols = ds.meta["columns"]
    exp = ds.X[:, cols.index("experience")]
    mean = ds.meta["zero_fill_value"]
    np.testing.assert_array_equal(exp, [21, mean, 5])  # '<1' -> 0 -> replaced by the mean
    assert np.isnan(ds.X[2, cols.index("city")]) and np.isnan(ds.X[1, cols.index("training_hours")])


def test_tsv_with_header_and_categorical_modes(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("id\tcolor\tsize\tweight\nA\tred\t1.5\t\nB\t\t2\t3\nC\tblue\t-1\t4\n")
    ds = load_file(f, drop_columns=["id"], preprocess=None)
    assert ds.meta["columns"] == ["size", "weight"] and "color" in ds.meta["columns_dropped"]
    np.testing.assert_array_equal(ds.X, [[1.5, np.nan], [2, 3], [-1, 4]])

    codes = load_file(f, drop_columns=["id"], categorical="codes", preprocess=None)
    np.testing.assert_array_equal(codes.X[:, 0], [2, np.nan, 1])  # blue=1, red=2, missing kept

    onehot = load_file(f, drop_columns=["id"], categorical="onehot", preprocess=None)
    assert onehot.meta["columns"][:2] == ["color=blue", "color=red"]
    np.testing.assert_array_equal(onehot.X[:, :2], [[0, 1], [np.nan, np.nan], [1, 0]])


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_array_files_round_trip(tmp_path, suffix, with_mask):
    rng = np.random.default_rng(0)
    X = rng.random((6, 4)) + 0.1
    mask = rng.random((6, 4)) > 0.3
    mask[:, 0] = True
    stored = X.copy() if with_mask else np.where(mask, X, np.nan)
    f = tmp_path / f"m{suffix}"
    if suffix == ".npz":
        np.savez(f, **({"X": stored, "mask": mask} if with_mask else {"data": stored}))
    else:
        with h5py.File(f, "w") as h:
            h["X"] = stored
            if with_mask:
                h["mask"] = mask
    ds = load_file(f)
    np.testing.assert_array_equal(np.isnan(ds.X), ~mask)
    np.testing.assert_array_equal(ds.X[mask], X[mask])
    assert ds.meta["n_missing"] == np.count_nonzero(~mask)


def test_missing_paper_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NMFEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError) as info:
        load_real("arrhythmia")
    msg = str(info.value)
    assert "archive.ics.uci.edu" in msg and "arrhythmia.data" in msg
    assert str(tmp_path / "arrhythmia" / "arrhythmia.data") in msg


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown real data set"):
        load_real("no_such_set")
    with pytest.raises(ValueError, match="takes no path"):
        load_real("chmiss", path=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_file(tmp_path / "absent.csv")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(ValueError, match="unknown file type"):
        load_file(tmp_path / "x.xlsx")
    stray = tmp_path / "stray.csv"
    stray.write_text("a,b\n" + "".join(f"{i},{i + 1}\n" for i in range(30)) + "x,5\n")
    with pytest.raises(ValueError, match="na_values"):  # an undeclared marker in a numeric column
        load_file(stray)
    text = tmp_path / "text.csv"
    text.write_text("a,b\nx,y\nz,w\n")
    with pytest.raises(ValueError, match="no numeric cells"):
        load_file(text)
    with pytest.raises(ValueError, match="drop_columns"):
        load_file(stray, drop_columns=["nope"], na_values=["x"])
    with pytest.raises(ValueError, match="categorical"):
        load_file(stray, categorical="ordinal", na_values=["x"])
    np.savez(tmp_path / "two.npz", A=np.ones((2, 2)), B=np.ones((2, 2)))
    with pytest.raises(ValueError, match="dataset_key"):
        load_file(tmp_path / "two.npz")
    np.savez(tmp_path / "vec.npz", X=np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        load_file(tmp_path / "vec.npz")
