"""Structured-config schemas for experiments, and where their configs live.

The YAML files under ``conf/`` (one folder per config group: ``dataset``,
``mask``, ``solver``, ``timing``) are merged onto typed schemas, so that Hydra
rejects a misspelt key (``mask.rat=0.1``) or a value of the wrong type
(``mask.rate=abc``, ``solver.params.max_iter=abc``) with its own message
before any job runs. A key added with ``+`` (``+mask.rat=0.1``) passes
Hydra's composition, so :func:`unknown_keys` checks the composed job config
again (:meth:`nmfexp.experiment.Job.from_config` refuses it, naming the
closest valid key):

- :class:`ExperimentConfig` types the top level, ``mask`` and ``timing``;
- every built-in data-set option lists ``/nmfexp_schema/dataset`` (the
  :class:`DatasetConfig` schema) first in its defaults;
- every solver option lists ``/nmfexp_schema/solver/<name>``, a schema built
  from the solver's description by :func:`solver_schema` (parameter names,
  types and defaults, declared once next to the solver), so a solver's YAML
  file holds only its name and comments: the defaults come from the schema.

Data sets and solvers from outside the package are configs with a
``_target_`` (see :mod:`nmfexp.data.registry` and :mod:`nmfexp.api`); they
carry no schema, and their parameters are checked against the target's
signature when the job is built, before anything runs.

Experiment presets live in the top-level ``experiments/`` folder, one YAML
file per paper artifact. :func:`register_configs` stores them in Hydra's
``ConfigStore`` under the group ``experiment``, which is what makes
``+experiment=<name>`` work from any working directory.

Where the folders are found (first match wins):

1. the environment variables ``NMFEXP_CONFIG_DIR`` / ``NMFEXP_EXPERIMENTS_DIR``;
2. ``nmfexp/_conf`` and ``nmfexp/_experiments`` inside the installed package
   (a non-editable install that ships them as package data);
3. ``conf/`` and ``experiments/`` next to the ``nmfexp`` package folder (a
   source checkout, or ``pip install -e .``).
"""

# OmegaConf 2.3 reads the schema annotations at runtime and wants typing.Optional/Dict:
# ruff: noqa: UP006, UP045

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import typing
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035

from omegaconf import MISSING, OmegaConf

from ..record import schema

__all__ = [
    "BUDGET_KINDS",
    "BudgetConfig",
    "DatasetConfig",
    "MaskConfig",
    "TimingConfig",
    "ExperimentConfig",
    "RUN_CONTROL_KEYS",
    "SCHEMA_NAME",
    "config_dir",
    "experiments_dir",
    "register_configs",
    "solver_schema",
    "unknown_keys",
]

#: Name under which :class:`ExperimentConfig` is stored in the ConfigStore;
#: ``conf/config.yaml`` lists it first in its defaults.
SCHEMA_NAME = "nmfexp_schema"


@dataclass
class DatasetConfig:
    """The schema of the built-in data-set kinds; ``kind`` decides which fields are used.

    - ``uniform``: ``n_rows`` x ``n_cols`` entries uniform in [0, 1) (``n_cols``
      defaults to ``n_rows``).
    - ``lowrank``: a product of ``true_rank`` uniform factors plus Gaussian noise
      of standard deviation ``noise`` times the mean of the noiseless matrix,
      clipped at 0; the noiseless matrix is kept as ground truth.
    - ``real``: a registered real data set ``name`` (optionally read from ``path``).
    - ``file``: the user's own file at ``path``, read with ``options``.
    """

    kind: str = MISSING
    name: Optional[str] = None
    n_rows: Optional[int] = None
    n_cols: Optional[int] = None
    true_rank: Optional[int] = None
    noise: float = 0.0
    path: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class MaskConfig:
    """Which entries the experiment hides; see :func:`nmfexp.data.masks.make_mask`.

    ``kind`` is one of ``grid``, ``random``, ``corner``, ``rows``, ``mnar``,
    ``none``, ``given``; ``rate`` is a fraction of all entries in [0, 1)
    (ignored by ``none`` and ``given``); ``share`` (``rows`` only) is the
    share of rows and of columns, in (0, 1], that hold every gap.
    """

    kind: str = "none"
    rate: float = 0.0
    share: float = 0.2


@dataclass
class TimingConfig:
    """How runtimes are measured (see :func:`nmfexp.timing.measure`).

    Attributes
    ----------
    warmup : int
        Untimed calls before measuring.
    repeats : int
        Minimum number of timed calls (samples).
    min_time : float
        Keep taking samples until their total reaches this many seconds
        (bounded by ``max_repeats``).
    max_repeats : int
        Never take more samples than this.
    max_time : float
        Stop taking samples once their total exceeds this many seconds, even
        before ``repeats`` (at least one sample is always taken).
    blas_threads : int or None
        BLAS threads during the job (threadpoolctl); None leaves them alone.
    """

    warmup: int = 1
    repeats: int = 5
    min_time: float = 0.02
    max_repeats: int = 1000
    max_time: float = 60.0
    blas_threads: Optional[int] = 1


#: The budgets a job can be given (``conf/budget/<kind>.yaml``); see :class:`BudgetConfig`.
BUDGET_KINDS = ("iterations", "time", "converged")


@dataclass
class BudgetConfig:
    """How long every iterative solver of a job runs (the config group ``budget``).

    The budget is mapped onto the solver's parameters when the job is
    planned (:func:`nmfexp.experiment.job.apply_budget`): each of ``tol``,
    ``max_iter``, ``max_time`` and ``stop_on`` that is not None replaces the
    solver parameter of that name, for every solver whose description has
    that parameter. Closed-form solvers (A1GM, the mean imputations) have
    none of them and are untouched.

    Attributes
    ----------
    kind : {"iterations", "time", "converged"}
        ``iterations``: the solvers' own parameters (the paper's rule; the
        default, which leaves every job and its key as before budgets
        existed). ``time``: the same wall-clock update time for every
        solver (``seconds``; ``tol`` 0 and a large iteration cap, so time is
        what stops a run). ``converged``: run to a common stationarity
        tolerance (``stop_on="stationarity"``, ``tol``) with a generous cap on
        iterations and time; a run that reaches the cap is recorded with
        that stop reason, never as converged.
    seconds : float or None
        Update time per run for ``kind="time"`` (becomes ``max_time``).
    tol, max_iter, max_time : float, int, float or None
        Values for the solver parameters of those names (None: leave them).
    stop_on : str or None
        Value for the solvers' ``stop_on`` parameter (None: leave it).
    """

    kind: str = "iterations"
    seconds: Optional[float] = None
    tol: Optional[float] = None
    max_iter: Optional[int] = None
    max_time: Optional[float] = None
    stop_on: Optional[str] = None


@dataclass
class ExperimentConfig:
    """One job: data, mask, solver, seed and how to measure and store it.

    ``dataset`` and ``solver`` are typed by their options' own schemas (or
    are free-form ``_target_`` configs). The keys ``results_dir``,
    ``overwrite`` and ``save_factors`` control where and whether the record
    is written; all other keys define the job and enter its identity
    (``holdout_design`` only when it is not the default ``uniform``, so that
    jobs from before it existed keep their identity).

    ``budget`` (:class:`BudgetConfig`) enters the identity only when it is
    not the default ``iterations``, so that every job from before budgets
    existed keeps its key; its effect is on ``solver.params``.

    ``holdout`` is the fraction of the candidate entries hidden from the
    solver and scored; ``holdout_design`` says which entries are candidates
    (:data:`nmfexp.data.masks.HOLDOUT_DESIGNS`): ``uniform``, every observed
    entry; ``within_gaps``, the observed entries whose row and column already
    have a gap (A1GM then runs wherever it runs without a held-out set).
    """

    dataset: Any = MISSING
    mask: MaskConfig = field(default_factory=MaskConfig)
    solver: Any = MISSING
    timing: TimingConfig = field(default_factory=TimingConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    rank: int = 1
    seed: int = 0
    holdout: float = 0.0
    holdout_design: str = "uniform"
    tag: str = ""
    results_dir: str = "results"
    save_factors: bool = False
    overwrite: bool = False


#: Keys that decide where/whether a record is written but not what it contains (declared with the
#: record's fields: in the tables they are bookkeeping, not settings).
RUN_CONTROL_KEYS = schema.RUN_CONTROL_KEYS

@functools.cache
def solver_schema(spec) -> type:
    """A dataclass typing ``{name, params, n_restarts}`` for a solver, from its description.

    Each parameter of the solver's description (:attr:`nmfexp.solvers.SolverSpec.params`)
    becomes a field of ``params`` with its type and default, so Hydra rejects
    an unknown parameter or a value of the wrong type before any job runs
    (values out of range are rejected by :meth:`nmfexp.experiment.Job.from_config`,
    from the same description). A user's solver is described by its
    signature: a parameter without a default gets None.
    """
    fields = []
    for p in spec.params:
        ftype = p.config_type  # optional when the default is None
        if p.required and ftype is not Any and typing.get_origin(ftype) is not typing.Union:
            ftype = Optional[ftype]
        fields.append((p.name, ftype, field(default=None if p.required else p.default)))
    ident = "".join(part.title() for part in spec.name.replace("-", "_").split("_"))
    params = make_dataclass(f"{ident}Params", fields)
    return make_dataclass(f"{ident}Solver", [
        ("name", str, field(default=spec.name)),
        ("params", params, field(default_factory=params)),
        ("n_restarts", int, field(default=1)),
    ])


def _schema_keys(schema) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(schema))


def _unknown(node: Any, allowed, where: str) -> list[str]:
    """Messages for the keys of ``node`` not in ``allowed`` (each with the closest valid key, if any)."""
    if not isinstance(node, dict):
        return []
    allowed = sorted(allowed)
    out = []
    for key in sorted(set(node) - set(allowed), key=str):
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {where}{close[0]}?)" if close else ""
        out.append(f"unknown key {where}{key}{hint}; valid keys of {where.rstrip('.') or 'the config'}: "
                   f"{', '.join(allowed) or 'none'}")
    return out


def unknown_keys(conf: dict) -> list[str]:
    """Messages naming every key of a composed job config that no schema declares.

    Hydra's ``+key=value`` adds a key even to a typed config, so a typo such as
    ``+mask.rat=0.1`` or ``+dataset.n_row=500`` would otherwise be stored in the
    record and silently ignored. Every key is checked against
    :class:`ExperimentConfig`, :class:`MaskConfig`, :class:`TimingConfig`,
    :class:`DatasetConfig` and the solver's schema (:func:`solver_schema`).
    The open groups accept any key: the parameters of a ``_target_`` data set
    or solver (checked against the target's signature when the job is built),
    ``dataset.options`` (checked by the reader) and the parameters of a solver
    that takes ``**params``.

    Parameters
    ----------
    conf : dict
        A plain job config (no ``hydra`` key).

    Returns
    -------
    list of str
        One message per unknown key, with the closest valid key (difflib) and
        the valid keys of its group; empty when every key is known.
    """
    msgs = _unknown(conf, _schema_keys(ExperimentConfig), "")
    for name, typed in (("mask", MaskConfig), ("timing", TimingConfig)):
        msgs += _unknown(conf.get(name), _schema_keys(typed), f"{name}.")
    dataset = conf.get("dataset")
    if isinstance(dataset, dict) and "_target_" not in dataset:
        msgs += _unknown(dataset, _schema_keys(DatasetConfig), "dataset.")
    solver = conf.get("solver")
    if isinstance(solver, dict):
        msgs += _unknown(solver, ("_target_", "name", "loss", "params", "n_restarts") if "_target_" in solver
                         else ("name", "params", "n_restarts"), "solver.")
        if "_target_" not in solver:
            from ..api import resolve_solver

            try:
                spec = resolve_solver(solver.get("name"))
            except ValueError:
                spec = None  # an unknown solver name is reported where the solver is resolved
            if spec is not None and not spec.open_params:
                msgs += _unknown(solver.get("params"), [p.name for p in spec.params], "solver.params.")
    return msgs


def _find_dir(env_var: str, installed: str, source: str) -> Path:
    if os.environ.get(env_var):
        path = Path(os.environ[env_var]).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"{env_var}={path} is not a directory.")
        return path
    package = Path(__file__).resolve().parents[1]
    for path in (package / installed, package.parent / source):
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"cannot find the {source}/ folder: looked in {package / installed} and {package.parent / source}. "
        f"Install nmfexp from its repository (pip install -e .) or set {env_var}."
    )


def config_dir() -> Path:
    """The folder holding ``config.yaml`` and the config groups (absolute path)."""
    return _find_dir("NMFEXP_CONFIG_DIR", "_conf", "conf")


def experiments_dir() -> Path:
    """The folder holding the experiment presets, one ``<name>.yaml`` each."""
    return _find_dir("NMFEXP_EXPERIMENTS_DIR", "_experiments", "experiments")


def _run_id() -> str:
    """A short id unique to this process, for log folders (two sweeps in the same second never share one)."""
    import secrets

    return f"{os.getpid()}{secrets.token_hex(2)}"


def usable_cores() -> int:
    """Cores this process may use (its CPU affinity where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cpus(blas_threads) -> int:
    return int(blas_threads) if blas_threads else 1


def _parallel_jobs(blas_threads) -> int:
    return max(1, usable_cores() // _cpus(blas_threads))


def register_resolvers() -> None:
    """Register the resolvers the configs use.

    ``${nmfexp_run_id:}``: unique per process (cached per config, like Hydra's
    ``${now:}``); ``${nmfexp_cpus:${timing.blas_threads}}``: CPUs one job
    uses; ``${nmfexp_parallel_jobs:${timing.blas_threads}}``: jobs that fit on
    this machine at once without sharing cores.
    """
    if not OmegaConf.has_resolver("nmfexp_run_id"):
        OmegaConf.register_new_resolver("nmfexp_run_id", _run_id, use_cache=True)
        OmegaConf.register_new_resolver("nmfexp_cpus", _cpus)
        OmegaConf.register_new_resolver("nmfexp_parallel_jobs", _parallel_jobs)


register_resolvers()

_registered = False


def register_configs() -> None:
    """Store the schemas, the experiment presets and entry-point solvers in Hydra's ConfigStore.

    Idempotent. The command line's Hydra plugins (sweeper, launchers) are
    registered by :func:`nmfexp.cli.plugins.register`, which calls this too:
    call that before ``hydra.initialize_config_dir``/``compose`` when the
    presets' sweeper or launcher settings are to be composed.
    """
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    from ..api import entry_point_solvers, resolve_solver
    from ..solvers import SOLVERS

    cs = ConfigStore.instance()
    cs.store(name=SCHEMA_NAME, node=ExperimentConfig)
    cs.store(group=f"{SCHEMA_NAME}", name="dataset", node=DatasetConfig)
    for name, spec in SOLVERS.items():
        cs.store(group=f"{SCHEMA_NAME}/solver", name=name, node=solver_schema(spec))
    for name in entry_point_solvers():
        if name not in SOLVERS:  # installed packages' solvers: selectable as solver=<name>, no YAML needed
            cs.store(group="solver", name=name, node=solver_schema(resolve_solver(name)))
    for path in sorted(experiments_dir().glob("*.yaml")):
        # Presets are global packages: they may set any key (solver, dataset, hydra.sweeper.params, ...).
        cs.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")
    _registered = True
