"""What a record holds: every field and metric, declared once.

A :class:`Field` names one attribute or dataset of a record, its group in the
HDF5 file, its type, its role, its unit, one line of documentation, and the
column of :func:`nmfexp.results.load` it becomes. Everything else is derived
from :data:`FIELDS`:

- the writer (:mod:`nmfexp.experiment.run`, :mod:`nmfexp.experiment.evaluate`)
  builds each group with :func:`attrs`, which refuses a name that is not
  declared here and gives every value its declared type, and checks the whole
  record with :func:`problems` before writing it;
- the tables (:mod:`nmfexp.results`): the columns of ``load()``, their order
  and dtypes (:data:`COLUMNS`, :data:`ENV_COLUMNS`, :func:`column_dtype`), the
  leading columns of ``load_history()`` and of ``compare()``
  (:data:`KEY_COLUMNS`), the metrics compared (:data:`METRICS`);
- the figures: which columns are swept settings (:func:`column_role`), which
  metric a solver loss minimises (:func:`metric_for_loss`);
- the field tables of ``docs/records.md`` (:func:`markdown`, rewritten by
  ``python docs/make_records_tables.py``; a test fails when the document and
  this module differ).

Adding a metric is its function in :data:`nmfexp.experiment.evaluate.METRICS`
plus one :class:`Field` in group ``metrics`` here; adding a record field is
one :class:`Field` plus the line of the writer that computes its value.

Roles
    ``setting``: what the user chose (the config, and the short columns that
    name config keys: ``solver``, ``mask_rate``, ``rank``, ...);
    ``result``: what the job found or measured (metrics, runtimes,
    iterations, facts about the matrix and masks it built);
    ``bookkeeping``: identity, status, provenance, environment, where and
    how the job ran.

Open groups (``info``, ``environment``, ``execution``, ``dataset_meta``,
``history``) may hold keys that are not declared (a solver's own facts, the
environment variables set, a data set's provenance, other per-iteration
series); they reach ``load()`` as ``<prefix><key>`` columns (see
:data:`OPEN_GROUPS`). The other groups are closed: the writer refuses an
undeclared name.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Field", "FIELDS", "SchemaError", "ROLES", "GROUPS", "OPEN_GROUPS", "CONFIG_TEXT", "RUN_CONTROL_KEYS",
    "COLUMNS", "ENV_COLUMNS", "EXECUTION_COLUMNS", "DECLARED_OTHER_COLUMNS", "KEY_COLUMNS", "METRICS",
    "CONFIG_ALIASES", "PATH_COLUMN", "doc_groups", "main",
    "field_of", "fields_of", "check_declarations", "column_sources", "column_role", "column_dtype", "metric_for_loss", "open_column", "attrs", "problems",
    "markdown", "rewrite_doc",
]

ROLES = ("setting", "result", "bookkeeping")

#: Where a field lives in a record file, with the heading the documentation gives it.
GROUPS: dict[str, str] = {
    "": "Root attributes",
    "data": "`/data` (attributes): facts about the matrix and masks",
    "metrics": "`/metrics` (attributes), only for status `ok`",
    "info": "`/info` (attributes), only for status `ok`",
    "timing": "`/timing`, only for status `ok`",
    "history": "`/history` (datasets), only for status `ok`",
    "factors": "`/factors` (datasets), only with `save_factors=true`",
    "environment": "`/environment` (attributes)",
    "execution": "`/execution` (attributes): where the job ran",
    "dataset_meta": "`/dataset_meta` (attributes): the data set's provenance",
}

#: Groups that may hold undeclared keys, and the column prefix those keys get in ``load()``
#: (``history`` series become columns of ``load_history()`` under their own name).
OPEN_GROUPS: dict[str, str] = {"info": "info.", "environment": "env.", "execution": "execution.",
                               "dataset_meta": "dataset_meta.", "history": ""}

#: Config keys that say where and whether a record is written, not what the job is (role bookkeeping;
#: left out of the job's hash).
RUN_CONTROL_KEYS = ("results_dir", "save_factors", "overwrite")

#: The ``column`` of the root attributes that hold the config itself: they reach ``load()`` as the
#: flattened config columns (``dataset.kind``, ``solver.params.max_iter``, ...).
CONFIG_TEXT = "(config columns)"

_DTYPES = {"str", "int", "float", "bool", "json", "str[]", "float[]", "int[]"}
_WRITTEN = {"always", "ok", "failure", "optional"}
_DEFAULT = object()


class SchemaError(ValueError):
    """A record field that is not declared in :mod:`nmfexp.record.schema`, or a value of the wrong type."""


@dataclass(frozen=True)
class Field:
    """One attribute or dataset of a record.

    Attributes
    ----------
    name : str
        Attribute or dataset name inside ``group``.
    group : str
        ``""`` for root attributes, else a key of :data:`GROUPS`.
    dtype : str
        ``str``, ``int``, ``float``, ``bool``, ``json`` (any JSON value), ``str[]``
        (list of strings), ``float[]``/``int[]`` (datasets).
    role : str
        ``setting``, ``result`` or ``bookkeeping`` (see the module docstring).
    doc : str
        One line: what it means.
    unit : str
        Unit of a number (``seconds``, ``entries``, ...); empty when it has none.
    written : str
        When the writer stores it: ``always``, ``ok`` (status ok), ``failure``
        (status skipped or failed) or ``optional`` (when known or applicable).
    column : str or None
        The ``load()`` column; default: ``name`` (``env.<name>`` in
        ``environment``, ``execution.<name>`` in ``execution``). None for a
        field whose values reach the tables otherwise (:data:`CONFIG_TEXT`,
        ``history`` series in ``load_history()``, ``factors``).
    read : callable, optional
        Turns the stored value into the column's value (e.g. a count).
    ctype : str
        The column's type when it is not ``dtype`` (e.g. ``int`` for a count of samples).
    also : tuple of (str, str, callable)
        Further columns read from this field: ``(column, type, read)``.
    config : str
        The config key this field states (the column falls back to it when
        the record lacks the field, and that key is not a column of its own).
    default : object
        The column's value when neither the field nor the config key is there
        (NaN unless given).
    key : bool
        One of the columns that identify a job in every table (:data:`KEY_COLUMNS`).
    loss : str
        Metrics: the solver loss (``kl``, ``frobenius``) whose objective this
        metric is, i.e. what ``history/objective`` measures for such a solver.
    entries : str
        Metrics: the entries compared, ``train`` (what the solver saw),
        ``heldout`` or ``truth`` (all entries, against the noiseless truth);
        a metric is NaN for a job without held-out entries or truth.
    """

    name: str
    group: str
    dtype: str
    role: str
    doc: str
    unit: str = ""
    written: str = "always"
    column: str | None = field(default=_DEFAULT)  # type: ignore[assignment]
    read: Callable | None = field(default=None, compare=False)
    ctype: str = ""
    also: tuple = field(default=(), compare=False)
    config: str = ""
    default: object = math.nan
    key: bool = False
    loss: str = ""
    entries: str = ""

    def __post_init__(self):
        if self.column is _DEFAULT:
            prefix = {"environment": "env.", "execution": "execution."}.get(self.group, "")
            object.__setattr__(self, "column", prefix + self.name)
        if not self.ctype:
            ctype = {"json": "str", "str[]": "str"}.get(self.dtype, self.dtype)
            object.__setattr__(self, "ctype", "" if ctype.endswith("[]") else ctype)

    @property
    def path(self) -> str:
        """``name`` for a root attribute, ``group/name`` otherwise."""
        return f"{self.group}/{self.name}" if self.group else self.name

    @property
    def is_array(self) -> bool:
        return self.group in ("history", "factors") or self.path == "timing/samples"


def _blas(threadpools) -> tuple[str | None, int | None]:
    """``"openblas 0.3.27; mkl 2024.0"`` and the largest thread count of the BLAS libraries."""
    if isinstance(threadpools, str):  # format_version 1 stored it as JSON text
        try:
            threadpools = json.loads(threadpools)
        except ValueError:
            return None, None
    if not isinstance(threadpools, list):
        return None, None
    names, threads = [], []
    for pool in threadpools:
        if isinstance(pool, dict) and pool.get("user_api") == "blas":
            name = " ".join(str(pool[k]) for k in ("internal_api", "version") if pool.get(k))
            if name and name not in names:
                names.append(name)
            if isinstance(pool.get("num_threads"), int):
                threads.append(pool["num_threads"])
    return ("; ".join(names) or None), (max(threads) if threads else None)


def _count(samples) -> int:
    return int(np.size(samples))


def _text(value) -> str:
    """A list of strings as JSON text (format 1 stored an empty list as an empty float array)."""
    if isinstance(value, str):
        return value
    return json.dumps(value.tolist() if isinstance(value, np.ndarray) else list(value), default=str)


def _version(package: str, doc: str = "") -> Field:
    return Field(f"version_{package}", "environment", "str", "bookkeeping", doc or f"{package} version",
                 written="optional", column=f"env.{package}")


_S, _R, _B = "setting", "result", "bookkeeping"

#: Every field of a record, in the order of the ``load()`` table (then the documentation's, per group).
FIELDS: tuple[Field, ...] = (
    # ---- identity and settings: the leading columns of every table
    Field("job", "", "str", _B, "the config hash (also in the file name)", key=True),
    Field("tag", "", "str", _S, "free label (presets set their name)", config="tag", default="", key=True),
    Field("solver", "", "str", _S, "solver name", config="solver.name", key=True),
    Field("dataset", "", "str", _S, "data set label", config="dataset.name", key=True),
    Field("mask", "", "str", _S, "mask kind", config="mask.kind", key=True),
    Field("mask_rate", "", "float", _S, "fraction of entries the mask hides, as configured", unit="fraction",
          config="mask.rate", key=True),
    Field("n_rows", "data", "int", _S, "rows of X", unit="rows", written="ok", config="dataset.n_rows", key=True),
    Field("n_cols", "data", "int", _S, "columns of X", unit="columns", written="ok", config="dataset.n_cols",
          key=True),
    Field("rank", "", "int", _S, "rank of the factorisation (JSON text beyond 64 bits)", config="rank", key=True),
    Field("seed", "", "int", _S, "seed of data, mask, split and start (JSON text beyond 64 bits)", config="seed",
          key=True),
    Field("holdout", "", "float", _S, "fraction of the observed entries hidden from the solver", unit="fraction",
          config="holdout", key=True),
    Field("status", "", "str", _B, '`"ok"`, `"skipped"` or `"failed"` (see the status rule)'),
    Field("message", "", "str", _B, "why a job was skipped or failed (empty when ok)", default=""),
    Field("error_type", "", "str", _B, "exception class of a skipped or failed job", written="failure"),
    Field("error_stage", "", "str", _B, "`data`, `solver`, `metrics` or `record`: where it stopped", written="failure"),
    # ---- facts about the matrix and masks
    Field("n_entries", "data", "int", _R, "entries of X (n_rows x n_cols)", unit="entries", written="ok"),
    Field("n_missing", "data", "int", _R, "entries missing in the experiment's mask (the data set's own gaps "
          "included)", unit="entries", written="ok"),
    Field("n_missing_own", "data", "int", _R, "NaN cells of the data set itself", unit="entries", written="ok"),
    Field("n_missing_added", "info", "int", _R, "A1GM: entries its step 1 adds to complete the missing set to a "
          "grid", unit="entries", written="optional"),
    Field("n_rows_with_missing", "data", "int", _R, "rows of the solver's mask with a gap", unit="rows",
          written="ok"),
    Field("n_cols_with_missing", "data", "int", _R, "columns of the solver's mask with a gap", unit="columns",
          written="ok"),
    Field("grid_like", "data", "bool", _R, "the solver's missing set is a product rows x columns (A1GM is then "
          "exact)", written="ok"),
    Field("n_heldout", "data", "int", _R, "observed entries hidden from the solver (`holdout`)", unit="entries",
          written="ok"),
    Field("n_observed_train", "data", "int", _R, "entries the solver saw", unit="entries", written="ok"),
    Field("has_truth", "data", "bool", _R, "the data set has a noiseless ground truth", written="ok"),
    # ---- metrics: R = A @ B, on the entries the solver saw unless `entries` says otherwise
    Field("weighted_kl", "metrics", "float", _R, "sum over the training entries of `X log(X/R) - X + R`",
          written="ok", loss="kl", entries="train"),
    Field("weighted_frobenius", "metrics", "float", _R, "`‖W * (X - R)‖_F` on the training entries",
          written="ok", loss="frobenius", entries="train"),
    Field("relative_error", "metrics", "float", _R, "`‖W * (X - R)‖_F / ‖W * X‖_F` on the training entries",
          unit="relative", written="ok", entries="train"),
    Field("heldout_relative_error", "metrics", "float", _R, "`‖R - X‖ / ‖X‖` on the held-out entries (NaN when "
          "`holdout: 0`)", unit="relative", written="ok", entries="heldout"),
    Field("truth_relative_error", "metrics", "float", _R, "`‖R - T‖_F / ‖T‖_F` over all entries, T the ground "
          "truth (NaN without truth)", unit="relative", written="ok", entries="truth"),
    # ---- runtimes
    Field("runtime_mean", "timing", "float", _R, "mean of the timing samples", unit="seconds", written="ok"),
    Field("runtime_std", "timing", "float", _R, "their standard deviation (ddof 1; 0 for one sample)",
          unit="seconds", written="ok"),
    Field("runtime_median", "timing", "float", _R, "their median", unit="seconds", written="ok"),
    Field("runtime_min", "timing", "float", _R, "the fastest sample", unit="seconds", written="ok"),
    Field("samples", "timing", "float[]", _R, "seconds per solver call, one per timed call, in order (dataset)",
          unit="seconds", written="ok", column="runtime_samples", read=_count, ctype="int", default=0),
    Field("n_samples", "timing", "int", _R, "timed calls", unit="calls", written="ok", column="runtime_samples"),
    Field("warmup", "timing", "int", _R, "untimed calls before the timed ones", unit="calls", written="ok",
          column="runtime_warmup"),
    Field("unit", "timing", "str", _B, 'always `"seconds"`', written="ok", column="runtime_unit"),
    Field("n_iter", "info", "int", _R, "iterations the solver ran (0 for a closed form)", unit="iterations",
          written="ok"),
    Field("converged", "info", "bool", _R, "the solver's stopping rule was met", written="ok"),
    Field("stop_reason", "", "str", _R, 'how the solver\'s run ended: `"tol"`, `"goal"`, `"max_iter"`, `"max_time"`, '
          '`"zero_factors"`, `"closed_form"` or `"unknown"` (`FactorizationResult.stop_reason`)', written="ok"),
    Field("a1gm_gap", "info", "float", _R, "A1GM jobs: `(f_A1GM - f*) / f*`, the gap to the best rank-1 KL "
          "found under the solver's mask (a tight WNMF-KL polish from A1GM; `nmfexp.certify_a1gm`), computed "
          "off the clock", unit="fraction", written="optional"),
    Field("a1gm_certified", "info", "bool", _R, "A1GM jobs: `a1gm_gap` is tight (A1GM is exact, or the polish "
          "reached its stationarity tolerance); otherwise the gap is a lower bound", written="optional"),
    Field("update_seconds", "info", "float", _R, "update time of the run (`history/time`, last value; objective "
          "and stationarity evaluation excluded)", unit="seconds", written="optional"),
    Field("loss", "info", "str", _B, '`"kl"` or `"frobenius"`: what `history/objective` measures', written="ok",
          column="info.loss"),
    Field("job_seconds", "", "float", _R, "wall time of the whole job (set-up, timing, metrics)", unit="seconds"),
    Field("created", "", "str", _B, "UTC time the record was made, ISO 8601"),
    Field("format", "", "str", _B, 'always `"nmfexp-record"`'),
    Field("format_version", "", "int", _B, "`2` (see [Format versions](#format-versions))"),
    Field("inputs", "", "str", _B, 'JSON `{path: "sha256:<hex>"}`: content digests of the files the data set '
          "reads"),
    Field("overrides", "", "str[]", _B, "the command-line overrides that produced the job (JSON text in "
          "`load()`)", read=_text),
    Field("traceback", "", "str", _B, "full traceback of a skipped or failed job", written="failure"),
    Field("warnings", "", "str[]", _B, "distinct warnings the job raised (`Category: first line`, `(xN)` when "
          "repeated; JSON text in `load()`)", written="optional", read=_text),
    # ---- the config: reaches the tables as the flattened config columns
    Field("config_yaml", "", "str", _B, "the resolved job config as YAML", column=CONFIG_TEXT),
    Field("config_json", "", "str", _B, "the same config as JSON (readable without a YAML parser)",
          column=CONFIG_TEXT),
    Field("solver_params", "", "str", _B, "the solver's parameters as JSON (`solver.params.*`)",
          column=CONFIG_TEXT),
    Field("n_restarts", "", "int", _S, "independent starts, the best kept", config="solver.n_restarts",
          column="solver.n_restarts"),
    Field("config_warmup", "timing", "int", _S, "timing config: untimed calls", written="ok",
          config="timing.warmup", column="timing.warmup"),
    Field("config_repeats", "timing", "int", _S, "timing config: timed calls at least", written="ok",
          config="timing.repeats", column="timing.repeats"),
    Field("config_min_time", "timing", "float", _S, "timing config: total time to reach", unit="seconds",
          written="ok", config="timing.min_time", column="timing.min_time"),
    Field("config_max_repeats", "timing", "int", _S, "timing config: timed calls at most", written="ok",
          config="timing.max_repeats", column="timing.max_repeats"),
    Field("config_max_time", "timing", "float", _S, "timing config: stop repeating after", unit="seconds",
          written="ok", config="timing.max_time", column="timing.max_time"),
    Field("config_blas_threads", "timing", "int", _S, "timing config: BLAS thread limit", written="ok",
          config="timing.blas_threads", column="timing.blas_threads"),
    # ---- per-iteration series and factors
    Field("iteration", "history", "int[]", _R, "the iteration of each value (0: the initial value); records "
          "before `eval_every` lack it (one value per iteration)", written="optional", column=None),
    Field("time", "history", "float[]", _R, "update time spent up to each value (objective evaluation "
          "excluded); empty for closed forms such as A1GM; every built-in solver records it",
          unit="seconds", written="optional", column=None),
    Field("objective", "history", "float[]", _R, "the solver's own loss on the entries it saw, initial value "
          "first; every built-in solver records it", written="optional", column=None),
    Field("stationarity", "history", "float[]", _R, "projected gradient of the solver's loss relative to the "
          "data's part of it, worst component (docs/solvers.md; before nmfexp 0.3: relative to its start "
          "value), beside each objective value (iterative built-in solvers)",
          written="optional", column=None),
    Field("A", "factors", "float[]", _R, "left factor, n x rank (X ≈ A @ B)", written="optional", column=None),
    Field("B", "factors", "float[]", _R, "right factor, rank x m", written="optional", column=None),
    # ---- environment: where the numbers come from
    Field("nmfexp_version", "", "str", _B, "nmfexp version that wrote the record", column="env.nmfexp"),
    _version("nmfexp", "nmfexp version (also the root attribute `nmfexp_version`)"),
    Field("git_commit", "environment", "str", _B, "commit of the nmfexp checkout (when run from one)",
          written="optional"),
    Field("git_dirty", "environment", "bool", _B, "the checkout differed from `git_commit`: a tracked file "
          "changed, or an untracked file under nmfexp/, conf/, experiments/ or hydra_plugins/", written="optional"),
    Field("python", "environment", "str", _B, "Python version"),
    _version("numpy"), _version("scipy"), _version("h5py"), _version("pandas"), _version("hydra_core"),
    _version("omegaconf"), _version("threadpoolctl"),
    Field("threadpools", "environment", "json", _B, "BLAS/OpenMP libraries as threadpoolctl saw them *while the "
          "solver was timed*, with their `num_threads`; in `load()` the BLAS names and versions",
          written="ok", column="env.blas", read=lambda v: _blas(v)[0],
          also=(("env.blas_threads", "int", lambda v: _blas(v)[1]),)),
    Field("blas_threads", "environment", "int", _S, "the configured BLAS thread limit (`timing.blas_threads`)",
          written="ok", config="timing.blas_threads", column="timing.blas_threads"),
    Field("cpu_model", "environment", "str", _B, "the CPU's model name", written="optional", column="env.cpu",
          read=lambda v: v or None),
    Field("processor", "environment", "str", _B, "`platform.processor()` (format 1; `env.cpu` when `cpu_model` "
          "is empty)", written="optional", column="env.cpu", read=lambda v: v or None),
    Field("machine", "environment", "str", _B, "machine type (`x86_64`, ...)"),
    Field("cpu_count", "environment", "int", _B, "CPUs of the host", unit="CPUs"),
    Field("cpu_affinity", "environment", "int", _B, "CPUs the process may use", unit="CPUs"),
    Field("memory_bytes", "environment", "int", _B, "total RAM", unit="bytes", written="optional"),
    Field("hostname", "environment", "str", _B, "host name"),
    Field("platform", "environment", "str", _B, "operating system"),
    _version("numba"),
    # ---- execution
    Field("launcher", "execution", "str", _B, "the Hydra launcher's class (`basic (in the driver process)` by "
          "default); this and the next four when run by `nmfexp-run`", written="optional"),
    Field("hostname", "execution", "str", _B, "host that ran the job", written="optional"),
    Field("pid", "execution", "int", _B, "process id", written="optional"),
    Field("job_num", "execution", "int", _B, "the job's number in its sweep", written="optional"),
    Field("parallelism", "execution", "int", _B, "jobs configured to run at once", unit="jobs",
          written="optional"),
    Field("concurrent_jobs", "execution", "int", _B, "nmfexp jobs being timed on this host at the start or end "
          "of this job's timing, itself included", unit="jobs", written="ok"),
    Field("started", "execution", "float", _B, "when the job started (launchers that run jobs in their own "
          "process)", unit="seconds since 1970", written="optional"),
    Field("slurm_job_id", "execution", "str", _B, "Slurm job id", written="optional"),
    Field("slurm_array_job_id", "execution", "str", _B, "Slurm array job id", written="optional"),
    Field("slurm_array_task_id", "execution", "str", _B, "Slurm array task id", written="optional"),
    Field("slurm_job_partition", "execution", "str", _B, "Slurm partition", written="optional"),
)

#: A path outside the record: where ``load()`` read it (``file.h5``, or ``file::/records/<job>``).
PATH_COLUMN = "path"

_BY_PATH: dict[str, Field] = {f.path: f for f in FIELDS}


def field_of(path: str) -> Field:
    """The :class:`Field` at ``path`` (``"seed"``, ``"data/n_rows"``, ``"history/objective"``)."""
    try:
        return _BY_PATH[path]
    except KeyError:
        raise SchemaError(f"{path!r} is not a declared record field (nmfexp.record.schema.FIELDS).") from None


def fields_of(group: str) -> tuple[Field, ...]:
    """The declared fields of ``group`` (``""`` for root attributes), in order."""
    return tuple(f for f in FIELDS if f.group == group)


# --------------------------------------------------------------------------- table columns

def _ordered_columns() -> list[str]:
    out: list[str] = []
    for f in FIELDS:
        for column in [f.column, *(c for c, _, _ in f.also)]:
            if column and column != CONFIG_TEXT and column not in out:
                out.append(column)
    return out


_ALL = _ordered_columns()
# columns named by a nested config key (``timing.repeats``): they stay among the config columns
_CONFIG_COLUMNS = [c for c in _ALL if "." in c and any(f.config == c for f in FIELDS)]

#: The leading columns of ``load()``, in order: every declared column that is not ``env.*``,
#: ``execution.*``, ``info.*`` or a config key of its own, then ``path``.
COLUMNS: list[str] = [c for c in _ALL if not c.startswith(("env.", "execution.", "info."))
                      and c not in _CONFIG_COLUMNS] + [PATH_COLUMN]
#: The declared ``env.*`` columns, always present in ``load()`` (after ``info.*``).
ENV_COLUMNS: list[str] = [c for c in _ALL if c.startswith("env.")]
#: The declared ``execution.*`` columns, always present in ``load()`` (after the other ``env.*``).
EXECUTION_COLUMNS: list[str] = [c for c in _ALL if c.startswith("execution.")]
#: The other declared columns (``info.loss``, the config keys some fields state): present when known.
DECLARED_OTHER_COLUMNS: list[str] = [c for c in _ALL if c not in (*COLUMNS, *ENV_COLUMNS, *EXECUTION_COLUMNS)]
#: The columns that identify a job in every table (``load_history()``, ``compare()``).
KEY_COLUMNS: list[str] = [f.column for f in FIELDS if f.key]
#: The metrics every ``ok`` record holds, in order.
METRICS: list[str] = [f.name for f in fields_of("metrics")]
#: Config keys that a short column already names (one name per fact): config key -> column.
CONFIG_ALIASES: dict[str, str] = {f.config: f.column for f in FIELDS if f.config and f.column != f.config}

#: column -> [(field, read, type)], first present wins.
_SOURCES: dict[str, list[tuple[Field, Callable | None, str]]] = {}
for _f in FIELDS:
    if _f.column and _f.column != CONFIG_TEXT:
        _SOURCES.setdefault(_f.column, []).append((_f, _f.read, _f.ctype))
    for _column, _type, _read in _f.also:
        _SOURCES.setdefault(_column, []).append((_f, _read, _type))


def check_declarations() -> None:
    """Raise :class:`SchemaError` for declarations that contradict each other: an unknown group, type,
    role or ``written``; a field declared twice; a metric without its entries; fields feeding one
    column with different roles or types; a column named like another group's prefix."""
    seen = set()
    for f in FIELDS:
        where = f"field {f.path}"
        if f.group not in GROUPS or f.dtype not in _DTYPES or f.role not in ROLES or f.written not in _WRITTEN:
            raise SchemaError(f"{where}: unknown group, type, role or written ({f.group!r}, {f.dtype!r}, "
                              f"{f.role!r}, {f.written!r}).")
        if f.path in seen:
            raise SchemaError(f"{where} is declared twice.")
        seen.add(f.path)
        if f.group == "metrics" and (f.dtype != "float" or f.entries not in ("train", "heldout", "truth")):
            raise SchemaError(f"{where}: a metric is a float on train, heldout or truth entries.")
        if f.column and f.column.startswith("dataset_meta."):
            raise SchemaError(f"{where}: column {f.column!r} would collide with the data set's provenance.")
    for column, sources in _SOURCES.items():
        if len({(field.role, ctype) for field, _, ctype in sources}) > 1:
            raise SchemaError(f"the fields of column {column!r} disagree on its role or type.")


def column_sources(column: str) -> list[tuple[Field, Callable | None]]:
    """The fields a declared column is read from (the first one present wins), each with its reader."""
    return [(f, read) for f, read, _ in _SOURCES.get(column, [])]


def column_dtype(column: str) -> str | None:
    """The declared type of a ``load()`` column (``str``, ``int``, ``float``, ``bool``), or None."""
    sources = _SOURCES.get(column)
    return sources[0][2] if sources else None


check_declarations()


def column_role(column: str) -> str:
    """The role of a ``load()`` or ``load_history()`` column: ``setting``, ``result`` or ``bookkeeping``.

    Declared columns have their field's role; ``path`` is bookkeeping;
    ``info.*`` are results; ``env.*``, ``execution.*``, ``dataset_meta.*`` and
    the run-control config keys (:data:`RUN_CONTROL_KEYS`) bookkeeping;
    ``history`` series results; any other column is a config key: a setting.
    """
    sources = _SOURCES.get(column)
    if sources:
        return sources[0][0].role
    if column == PATH_COLUMN or column in RUN_CONTROL_KEYS:
        return "bookkeeping"
    if column.startswith("info.") or column in {f.name for f in fields_of("history")}:
        return "result"
    if column.startswith(("env.", "execution.", "dataset_meta.")):
        return "bookkeeping"
    return "setting"


def open_column(group: str, key: str) -> str | None:
    """The ``load()`` column of an undeclared key of an open group (None for a closed group or a
    declared key): ``env.<package>`` for ``version_<package>``, else the group's prefix + key."""
    if group not in OPEN_GROUPS or f"{group}/{key}" in _BY_PATH:
        return None
    if group == "environment" and key.startswith("version_"):
        key = key[len("version_"):]
    return OPEN_GROUPS[group] + key


def metric_for_loss(loss: str | None) -> str | None:
    """The metric whose value is the objective of a solver with this loss (``kl`` -> ``weighted_kl``)."""
    for f in fields_of("metrics"):
        if loss and f.loss == loss:
            return f.name
    return None


# --------------------------------------------------------------------------- writing

def _coerce(f: Field, value):
    if value is None:
        return None
    try:
        if f.dtype == "int":
            if isinstance(value, bool) or int(value) != value:
                raise TypeError
            return int(value)
        if f.dtype == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if f.dtype == "bool":
            if value not in (True, False, 0, 1):
                raise TypeError
            return bool(value)
        if f.dtype == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if f.dtype == "str[]":
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return list(value)
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(f"record field {f.path} is declared {f.dtype}, got {type(value).__name__} "
                          f"{value!r:.80}.") from None
    return value


def attrs(group: str, values: Mapping) -> dict:
    """``values`` for ``group`` (``""``: root attributes), each of its declared type, declared ones first.

    Raises
    ------
    SchemaError
        A key of a closed group that is not declared, or a value that does not
        have its declared type. Nothing is stored under a name this module
        does not know.
    """
    if group not in GROUPS:
        raise SchemaError(f"{group!r} is not a record group; groups: {', '.join(repr(g) for g in GROUPS)}.")
    out = {}
    for f in fields_of(group):
        if f.name in values:
            out[f.name] = _coerce(f, values[f.name])
    extra = [k for k in values if (f"{group}/{k}" if group else k) not in _BY_PATH]
    if extra and group not in OPEN_GROUPS:
        where = f"group {group!r}" if group else "the root"
        raise SchemaError(f"{', '.join(map(repr, extra))} not declared in {where} of the record; declare it in "
                          "nmfexp.record.schema.FIELDS.")
    out.update({k: values[k] for k in extra})
    return out


def problems(record) -> list[str]:
    """What is wrong with ``record`` (an :class:`nmfexp.record.Record` about to be written), as sentences:
    undeclared names in closed groups, values of another type, fields its status needs that it lacks."""
    out = []
    status = record.attrs.get("status")
    for group, values in [("", record.attrs), *record.groups.items()]:
        try:
            attrs(group, values)
        except SchemaError as exc:
            out.append(str(exc))
    for path in record.arrays:
        if path not in _BY_PATH and path.split("/", 1)[0] not in OPEN_GROUPS:
            out.append(f"dataset {path!r} is not declared in nmfexp.record.schema.FIELDS.")
    for f in FIELDS:
        needed = f.written == "always" or (f.written == "ok" and status == "ok") or (
            f.written == "failure" and status in ("skipped", "failed"))
        if f.is_array:
            present = f.path in record.arrays
        else:
            present = f.name in (record.attrs if not f.group else record.groups.get(f.group, {}))
        if needed and not present:
            out.append(f"{f.path} is missing (records of status {status!r} hold it).")
    return out


# --------------------------------------------------------------------------- documentation

def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(group: str) -> str:
    """The Markdown table of ``group``'s fields (``"columns"``: the ``load()`` columns)."""
    if group == "columns":
        rows = ["| column | type | role | from |", "|---|---|---|---|"]
        info = [c for c in _ALL if c.startswith("info.")]
        for column in [*COLUMNS, *info, *ENV_COLUMNS, *EXECUTION_COLUMNS, *_CONFIG_COLUMNS]:
            fields = [f for f, _ in column_sources(column)]
            sources = [f"`{f.path}`" for f in fields]
            config = next((f.config for f in fields if f.config), "")
            if config:
                sources.append(f"config `{config}`")
            if column == PATH_COLUMN:
                sources = ["the file read (`file::/records/<job>` inside a merged file)"]
            dtype = {"int": "Int64", "bool": "boolean", "float": "float64", "str": "str"}[column_dtype(column) or "str"]
            rows.append(f"| `{column}` | {dtype} | {column_role(column)} | {', '.join(sources)} |")
        return "\n".join(rows)
    metric = group == "metrics"
    head = ["name", "type", "role", "unit", "written", "`load()` column", *(["entries", "loss"] if metric else []),
            "meaning"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    written = {"always": "always", "ok": "status ok", "failure": "skipped/failed", "optional": "when known"}
    for f in fields_of(group):
        column = {None: "—", CONFIG_TEXT: "the config columns"}.get(f.column, f"`{f.column}`")
        if f.group == "history":
            column = "`load_history()`"
        extra = [f"`{f.entries}`", f"`{f.loss}`" if f.loss else ""] if metric else []
        cells = [f"`{f.name}`", f.dtype, f.role, f.unit, written[f.written], column, *extra, _cell(f.doc)]
        rows.append("| " + " | ".join(cells) + " |")
    if group in OPEN_GROUPS and OPEN_GROUPS[group]:
        rows.append(f"| *any other* | | {column_role(OPEN_GROUPS[group] + 'x')} | | | "
                    f"`{OPEN_GROUPS[group]}<name>` | |")
    return "\n".join(rows)


_BLOCK = re.compile(r"^(<!-- schema:(?P<group>[a-z_]*) -->\n)(?P<body>(?:(?!<!-- ).*\n)*?)(<!-- /schema -->)$",
                    re.M)


def rewrite_doc(text: str) -> str:
    """``text`` (``docs/records.md``) with every ``<!-- schema:GROUP -->`` block regenerated
    (``GROUP`` empty for the root attributes, ``columns`` for the ``load()`` columns)."""
    return _BLOCK.sub(lambda m: m.group(1) + markdown(m.group("group")) + "\n" + m.group(4), text)


def doc_groups(text: str) -> list[str]:
    """The groups whose tables ``text`` holds."""
    return [m.group("group") for m in _BLOCK.finditer(text)]


def main(argv: Iterable[str] | None = None) -> int:
    """``python docs/make_records_tables.py [--check]``: regenerate (or check) the tables of a document."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print("usage: main([path to records.md, '--check'])", file=sys.stderr)
        return 2
    path = Path(paths[0])
    text = path.read_text(encoding="utf-8")
    new = rewrite_doc(text)
    if check:
        if new != text:
            print(f"{path}: the field tables differ from nmfexp.record.schema; regenerate them with "
                  "python docs/make_records_tables.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"rewrote the tables of {path}")
    return 0

