"""From a ``dataset`` config to a :class:`~nmfexp.data.Dataset`: the data-set kinds.

A ``dataset`` config names its builder in one of two ways:

- ``kind``: a built-in kind, a key of :data:`DATASET_KINDS` (``uniform``,
  ``lowrank``, ``real``, ``file``);
- ``_target_``: the dotted path of any callable, imported inside the job
  (so it works in worker processes when importable there) and called with
  the config's remaining keys and ``rng=`` (a seeded
  ``numpy.random.Generator``). It returns a :class:`Dataset`, or a 2-D array
  with NaN at the data set's own missing cells::

      # conf/dataset/sensors.yaml (a user's own config folder)
      _target_: mylab.data.load_sensors
      name: sensors            # label in tables (not passed to the target)
      path: /data/sensors.csv

Deterministic targets. A target that ignores ``rng`` (it reads a file or a
package's table) may say so with the attribute ``deterministic = True``; its
data sets are then built once per process and shared by every job of a sweep
that uses the same config (and the same input-file contents), as the built-in
real data sets are.

Input files. The files a data set is read from take part in the job's
identity through a content digest (:func:`dataset_inputs`), so that editing
such a file makes the next run recompute instead of reusing stale records.
They are the ``path`` of ``kind: file``, the user's file of a ``kind:
real`` set when one is given or placed (offline copies inside packages are
pinned by release and SHA-256 instead), and for ``_target_`` configs every string
value of its keyword arguments (any key: ``path``, ``filename``, ``labels``, ...;
inside lists and mappings too) that names an existing regular file; and, for
any config, the files declared under ``inputs`` (a path or a list of paths;
a folder stands for every file beneath it), which is not passed to the
loader. A loader declares the files it reads by taking them from its config
or by listing them under ``inputs``: that is the only way for files opened by
C libraries (HDF5 through h5py, netCDF), which Python cannot see being opened.
A file opened through Python that neither names is reported
(:class:`~nmfexp.data.digests.UndeclaredInputWarning`); one opened by a C
library and not declared is not digested.
A job takes the digests again just before and just after its data set is
built, and records those (the bytes it read); when they differ, the file
changed while it was read and the job fails, to be retried.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import Dataset, synthetic

__all__ = ["DATASET_KINDS", "DatasetKind", "build_dataset", "dataset_inputs", "dataset_label", "import_target"]


@dataclass(frozen=True)
class DatasetKind:
    """A built-in data-set kind: how to build it and which files it reads."""

    build: Callable[[dict, np.random.Generator], Dataset]
    inputs: Callable[[dict], list[Path]] = lambda dcfg: []


def _need(dcfg: dict, key: str) -> Any:
    if dcfg.get(key) is None:
        raise ValueError(f"dataset.{key} is required for dataset kind {dcfg['kind']!r}.")
    return dcfg[key]


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, name: str | None, path: str | None, options_json: str, digest: str) -> Dataset:
    # Real data are read once per process (a sweep reuses them across solvers and seeds);
    # ``digest`` is part of the key so an edited file is read again.
    from . import real  # optional dependencies of the packaged sets load lazily

    if kind == "real":
        return real.load_real(name, path, **json.loads(options_json))
    return real.load_file(path, **json.loads(options_json))


def _real_file(dcfg: dict) -> Path | None:
    from . import real

    return real.placed_file(dcfg.get("name"), dcfg.get("path"))



def _digest_key(paths: list[Path]) -> str:
    from .digests import file_digest

    return ",".join(file_digest(p) for p in paths if p.is_file())


def _build_real(dcfg: dict, rng: np.random.Generator) -> Dataset:
    name = _need(dcfg, "name")
    from .real import check_real_options

    options_json = json.dumps(check_real_options(dcfg.get("options")), sort_keys=True)
    return _load_cached("real", name, dcfg.get("path"), options_json, _digest_key(_real_inputs(dcfg)))


def _real_inputs(dcfg: dict) -> list[Path]:
    path = _real_file(dcfg)
    return [path] if path is not None else []


def _build_file(dcfg: dict, rng: np.random.Generator) -> Dataset:
    path = _need(dcfg, "path")
    options = json.dumps(dcfg.get("options") or {}, sort_keys=True)
    return _load_cached("file", None, path, options, _digest_key([Path(path)]))


#: ``dataset.kind`` -> builder. Data sets from outside the package use ``_target_`` instead.
DATASET_KINDS: dict[str, DatasetKind] = {
    "uniform": DatasetKind(lambda d, rng: synthetic.uniform(_need(d, "n_rows"), d.get("n_cols"), rng=rng)),
    "lowrank": DatasetKind(lambda d, rng: synthetic.lowrank(_need(d, "n_rows"), d.get("n_cols"),
                                                            true_rank=_need(d, "true_rank"),
                                                            noise=d.get("noise") or 0.0, rng=rng)),
    "real": DatasetKind(_build_real, _real_inputs),
    "file": DatasetKind(_build_file, lambda d: [Path(d["path"])] if d.get("path") else []),
}

_TARGET = "_target_"
#: Key of a dataset config declaring the files its loader reads (not passed to the loader).
INPUTS = "inputs"
_NOT_PASSED = (_TARGET, "name", INPUTS)


def import_target(path: str, what: str) -> Any:
    """Import the object at dotted ``path`` (``package.module.attribute``) with a clear error."""
    import importlib

    if not isinstance(path, str) or "." not in path:
        raise ValueError(f"{what}._target_ must be a dotted path such as mylab.data.load, got {path!r}.")
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # the module exists but one of its own imports is missing: show that
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(
        f"cannot import {what}._target_ {path!r}. The module must be importable in the job's process: "
        "run from the folder that holds it, or add that folder to PYTHONPATH."
    )


def build_dataset(dcfg: dict, rng: np.random.Generator) -> Dataset:
    """Build the data set a ``dataset`` config describes.

    Parameters
    ----------
    dcfg : dict
        Either ``kind`` (a key of :data:`DATASET_KINDS`) and the fields that
        kind uses, or ``_target_`` and the target's keyword arguments.
    rng : numpy.random.Generator
        Seeded by the experiment; synthetic kinds draw from it, files ignore it.

    Returns
    -------
    Dataset
        ``X`` a 2-D float64 matrix with NaN at the data set's own missing cells.
    """
    if dcfg.get(_TARGET) is not None:
        func = import_target(dcfg[_TARGET], "dataset")
        if getattr(func, "deterministic", False):
            kwargs = json.dumps({k: v for k, v in dcfg.items() if k not in _NOT_PASSED}, sort_keys=True, default=str)
            digests = _digest_key(dataset_inputs(dcfg))
            data = _build_deterministic(dcfg[_TARGET], kwargs, dataset_label(dcfg), digests)
        else:
            data = _call_target(func, dcfg, rng)
    else:
        kind = dcfg.get("kind")
        if kind not in DATASET_KINDS:
            raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(DATASET_KINDS)} "
                             "(or give _target_: a dotted path to your own loader).")
        data = DATASET_KINDS[kind].build(dcfg, rng)
    X = data.X
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype != np.float64:
        raise ValueError(f"data set {data.name!r} must be a 2-D float64 matrix, got "
                         f"{getattr(X, 'dtype', type(X).__name__)} {getattr(X, 'shape', '')}.")
    return data


def _call_target(func, dcfg: dict, rng) -> Dataset:
    out = func(**{k: v for k, v in dcfg.items() if k not in _NOT_PASSED}, rng=rng)
    return out if isinstance(out, Dataset) else _as_dataset(out, dataset_label(dcfg), dcfg[_TARGET])


@functools.lru_cache(maxsize=8)
def _build_deterministic(target: str, kwargs_json: str, label: str, digests: str) -> Dataset:
    dcfg = {_TARGET: target, "name": label, **json.loads(kwargs_json)}
    return _call_target(import_target(target, "dataset"), dcfg, None)


def _as_dataset(out, name: str, target: str) -> Dataset:
    try:
        X = np.array(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dataset target {target} must return an nmfexp.data.Dataset or a 2-D numeric array "
                         f"with NaN at missing cells; got {type(out).__name__} ({exc}).") from None
    return Dataset(name=name, X=X, meta={"source": target})


def _named_files(value) -> list[Path]:
    """Every string inside ``value`` (a config value: text, or lists and mappings of them), as a path."""
    if isinstance(value, str):
        return [Path(value)] if value else []
    if isinstance(value, dict):
        return [p for v in value.values() for p in _named_files(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _named_files(v)]
    return []


def declared_inputs(dcfg: dict) -> list[Path]:
    """The files a dataset config declares under ``inputs``: a path or a list of paths, each a file or a
    folder (which stands for every regular file beneath it, symbolic links to folders not followed).

    Raises
    ------
    ValueError
        ``inputs`` is not a path or a list of paths, or names something that is neither a file nor a folder.
    """
    value = dcfg.get(INPUTS)
    if value is None:
        return []
    items = [value] if isinstance(value, (str, os.PathLike)) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, (str, os.PathLike)) and str(i) for i in items):
        raise ValueError(f"dataset.{INPUTS} must be a path or a list of paths (the files or folders the loader "
                         f"reads), got {value!r}.")
    out: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file())
        else:
            raise ValueError(f"dataset.{INPUTS} names {str(item)!r}, which is neither a file nor a folder: give "
                             "the files the loader reads (or their folder), or remove the entry.")
    return out


def dataset_inputs(dcfg: dict) -> list[Path]:
    """The files a data set is read from (see the module docstring), existing ones only, resolved.

    For a ``_target_`` config: every value of its keyword arguments (under any key, inside lists
    and mappings too) that names an existing regular file. For any config: the files declared
    under ``inputs`` (:func:`declared_inputs`; raises ``ValueError`` for a bad declaration).
    """
    if dcfg.get(_TARGET) is not None:
        paths = [p for k, v in dcfg.items() if k not in _NOT_PASSED for p in _named_files(v)]
    elif dcfg.get("kind") in DATASET_KINDS:
        paths = DATASET_KINDS[dcfg["kind"]].inputs(dcfg)
    else:
        paths = []
    return [p.resolve() for p in [*paths, *declared_inputs(dcfg)] if p.is_file()]


def dataset_label(dcfg: dict) -> str:
    """The data set's name before it is built: ``name``, else the file's stem, else a ``table`` key
    (or ``package/item``), else the kind or the target's name. (Records use the built data set's own name when the
    config has none.)"""
    if dcfg.get("name"):
        return str(dcfg["name"])
    if dcfg.get("path") and (dcfg.get("kind") == "file" or dcfg.get(_TARGET)):
        return Path(str(dcfg["path"])).stem
    if isinstance(dcfg.get("table"), str):
        return dcfg["table"]
    if isinstance(dcfg.get("package"), str) and isinstance(dcfg.get("item"), str):
        return f"{dcfg['package']}/{dcfg['item']}"  # the R collection's other spelling of a table
    if dcfg.get(_TARGET):
        return str(dcfg[_TARGET]).rsplit(".", 1)[-1]
    return str(dcfg.get("kind"))
