"""A job: one validated config, its identity, its seeds, its record path, and its data.

::

    job = Job.from_config(cfg, results_dir)   # validate, name, seed; nothing is computed yet
    job.reusable()                            # an existing record to keep, or why not
    data = job.build()                        # data set, experiment mask, held-out split
    result = job.solve(data)                  # nmfexp.factorize on the training entries

Identity. ``job.key`` hashes every key of the config that defines the job
(not ``results_dir``, ``overwrite`` or ``save_factors``) and names the
record: ``<results_dir>/<solver>-<key>.h5``; a record stands for a job only
when its ``job`` attribute is ``job.key`` (a record renamed to another job's
file name is recomputed). ``job.inputs`` holds a content digest of every file
the data set is read from; a record whose digests differ from today's files
is stale and is recomputed. A record stores the digests taken just before
and just after the job read its data (:meth:`current_inputs`), so that they
are those of the bytes it read; see :func:`nmfexp.experiment.run.compute`.

Seeds. The data, mask, held-out split and the solver's random start are
drawn from seed sequences built from ``seed`` and stable hashes of the
``dataset`` (data), ``mask`` (mask) and ``holdout`` (split) configs, never
from the solver: every solver of a sweep sees the same matrix, the same mask
and the same initial-factor seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from omegaconf import DictConfig, OmegaConf

from .._validation import check_number
from ..api import factorize, resolve_solver, target_solver
from ..data import Dataset
from ..data.digests import input_digests
from ..data.masks import (
    HOLDOUT_DESIGNS,
    MASK_KINDS,
    RATE_KINDS,
    ROWS_SHARE,
    experiment_mask,
    holdout_split,
    rows_counts,
)
from ..data.registry import build_dataset, dataset_inputs, dataset_label
from ..solvers import FactorizationResult, SolverSpec
from .config import BUDGET_KINDS, RUN_CONTROL_KEYS, DatasetConfig, ExperimentConfig, solver_schema, unknown_keys

__all__ = ["ConfigError", "Job", "JobData", "Seeds", "apply_budget", "job_config", "stable_int"]

log = logging.getLogger("nmfexp")


class ConfigError(ValueError):
    """A job's config is invalid (a value out of range, an unknown solver parameter, ...).

    Raised before anything runs or is written: such a job cannot be named
    or cannot mean anything, so there is no record to keep.
    """


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def stable_int(obj: Any) -> int:
    """A 64-bit integer that depends only on the content of ``obj`` (not on the Python process)."""
    return int.from_bytes(hashlib.sha256(_canonical(obj)).digest()[:8], "little")


def _typed(schema, node: dict, what: str) -> dict:
    try:
        return OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(schema), node), resolve=True)
    except Exception as exc:  # omegaconf's ValidationError / ConfigKeyError: name the key, keep the reason
        key = getattr(exc, "full_key", None)
        where = f"{what}.{key}" if key and what != "config" else (key or what)
        raise ConfigError(f"{where}: {str(exc).splitlines()[0]}") from None


def _hydra_typed(cfg, key: str, schema) -> bool:
    """True when Hydra already typed ``cfg[key]`` with ``schema`` (or a generated solver schema)."""
    node_type = OmegaConf.get_type(cfg, key)
    return node_type is schema or (schema is None and dataclasses.is_dataclass(node_type))


def job_config(cfg: DictConfig | dict) -> dict:
    """Validate ``cfg`` against the schemas and return it as a plain, resolved dict.

    Missing keys take the schema defaults (for built-in data-set kinds and
    solvers too, so a dict config and the same config composed by Hydra give
    the same job); a ``hydra`` key is dropped. A config Hydra composed is
    already typed and is only converted.
    """
    typed = isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is ExperimentConfig
    done = {"dataset": typed and _hydra_typed(cfg, "dataset", DatasetConfig),
            "solver": typed and _hydra_typed(cfg, "solver", None)}
    if isinstance(cfg, DictConfig):  # resolve everything but Hydra's own node (it needs a running job)
        cfg = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
               for k in cfg if k != "hydra"}
    cfg = {k: v for k, v in dict(cfg).items() if k != "hydra"}
    unknown = unknown_keys(cfg)  # a `+key=value` override adds keys even to a typed config
    if unknown:
        raise ConfigError("; ".join(unknown) + ". Check the spelling; only a _target_ data set's or solver's "
                          "parameters and dataset.options accept new keys.")
    conf = cfg if typed else _typed(ExperimentConfig, cfg, "config")
    dataset, solver = conf["dataset"], conf["solver"]
    if not isinstance(dataset, dict) or not isinstance(solver, dict):
        raise ConfigError("dataset and solver must be config groups (mappings), e.g. dataset=uniform solver=a1gm.")
    if "_target_" not in dataset and not done["dataset"]:
        conf["dataset"] = _typed(DatasetConfig, dataset, "dataset")
    if "_target_" not in solver and not done["solver"]:
        try:
            spec = resolve_solver(solver.get("name"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        conf["solver"] = _typed(solver_schema(spec), solver, "solver")
    elif "_target_" in solver:
        solver.setdefault("params", {})
        solver.setdefault("n_restarts", 1)
    return conf


@dataclass(frozen=True)
class Seeds:
    """Independent seed sequences for each random step of a job (see the module docstring)."""

    data: np.random.SeedSequence
    mask: np.random.SeedSequence
    holdout: np.random.SeedSequence
    init: int

    @classmethod
    def from_config(cls, conf: dict) -> Seeds:
        seed = conf["seed"]
        d = stable_int(_dataset_identity(conf["dataset"], seeds=True))
        m, h = stable_int(_mask_identity(conf["mask"])), stable_int(_holdout_identity(conf))
        init = np.random.SeedSequence([seed, d, m, h, 1]).generate_state(1, dtype=np.uint32)[0]
        return cls(data=np.random.SeedSequence([seed, d]), mask=np.random.SeedSequence([seed, d, m]),
                   holdout=np.random.SeedSequence([seed, d, m, h]), init=int(init))


@dataclass
class JobData:
    """Everything a job's solver and metrics need, built outside the clock.

    ``observed`` is the experiment's mask (the data set's own gaps and the
    mask config; True = observed); ``train`` is ``observed`` minus the
    held-out entries, what the solver sees (None when nothing is missing);
    ``heldout`` the flat indices of the held-out entries.
    """

    dataset: Dataset
    observed: np.ndarray
    train: np.ndarray | None
    heldout: np.ndarray

    @property
    def X(self) -> np.ndarray:
        return self.dataset.X


def _mask_identity(mask: dict) -> dict:
    """The mask part of a job's identity: ``share`` only for the kind that reads it (``rows``), so that
    every job from before ``share`` existed keeps its key and its seeds."""
    return dict(mask) if mask.get("kind") == "rows" else {k: v for k, v in mask.items() if k != "share"}


def _holdout_identity(conf: dict):
    """The held-out part of a job's identity: ``holdout``, and the design when it is not the default
    (so that every job from before ``holdout_design`` existed keeps its key and its seeds)."""
    design = conf.get("holdout_design", "uniform")
    return conf["holdout"] if design == "uniform" else [conf["holdout"], design]


def _dataset_identity(dataset, *, seeds: bool = False):
    """The data set's part of a job's identity: its config without the corpus options at the values that
    reproduce nmfexp 0.2 (``column_scaling: none``; ``corpus_version: 1``), so that 0.2's jobs keep their
    keys. The seeds leave ``corpus_version`` out altogether: a table that a corpus version leaves as it
    was gets the same random start in every version."""
    if not isinstance(dataset, dict) or not ("corpus_version" in dataset or "column_scaling" in dataset):
        return dataset
    out = dict(dataset)
    if out.get("column_scaling", "none") == "none":
        out.pop("column_scaling", None)
    if seeds or out.get("corpus_version") == 1:
        out.pop("corpus_version", None)
    return out


def _identity(conf: dict) -> dict:
    """The keys that define a job (not where or whether its record is written)."""
    identity = {k: v for k, v in conf.items() if k not in RUN_CONTROL_KEYS}
    if "dataset" in identity:
        identity["dataset"] = _dataset_identity(identity["dataset"])
    if "mask" in identity:
        identity["mask"] = _mask_identity(identity["mask"])
    if identity.get("holdout_design", "uniform") == "uniform":
        identity.pop("holdout_design", None)
    params = (identity.get("solver") or {}).get("params")
    if isinstance(params, dict) and params.get("stop_on") == "decrease":
        # The default stopping rule, as before stop_on existed: every such job keeps its key.
        identity["solver"] = {**identity["solver"], "params": {k: v for k, v in params.items() if k != "stop_on"}}
    if (identity.get("budget") or {}).get("kind", "iterations") == "iterations":
        identity.pop("budget", None)  # the default budget: jobs from before budgets keep their keys
    return identity


#: Budget keys and the solver parameter each one sets (``seconds`` is the ``time`` budget's ``max_time``).
_BUDGET_PARAMS = {"tol": "tol", "max_iter": "max_iter", "max_time": "max_time", "stop_on": "stop_on"}


def _check_budget(budget: dict) -> None:
    kind = budget.get("kind")
    _check(kind in BUDGET_KINDS,
           f"budget must be one of {', '.join(BUDGET_KINDS)} (budget=<name>), got {kind!r}.")
    _number(budget.get("seconds"), "budget.seconds", low=0, closed="neither", allow_none=True,
            hint="It is the update time in seconds every solver is given (budget=time).")
    _number(budget.get("tol"), "budget.tol", low=0, allow_none=True,
            hint="It is the tolerance of every iterative solver's stopping rule.")
    _number(budget.get("max_iter"), "budget.max_iter", kind="integer", low=1, allow_none=True,
            hint="It is the cap on iterations of every iterative solver.")
    _number(budget.get("max_time"), "budget.max_time", low=0, closed="neither", allow_none=True,
            hint="It is the cap in seconds of update time of every iterative solver.")
    if kind == "iterations":
        extra = [k for k in ("seconds", *_BUDGET_PARAMS) if budget.get(k) is not None]
        _check(not extra, f"budget=iterations runs every solver with its own parameters, but budget."
               f"{', budget.'.join(extra)} is set: set solver.params.* instead, or choose budget=time or "
               "budget=converged.")
    elif kind == "time":
        _check(budget.get("seconds") is not None,
               "budget=time needs budget.seconds, the update time every solver is given (e.g. budget.seconds=2).")
        _check(budget.get("max_time") is None,
               "budget=time takes its time limit from budget.seconds; leave budget.max_time unset.")
    else:
        _check(budget.get("stop_on") is not None and budget.get("tol") is not None,
               "budget=converged needs budget.stop_on and budget.tol (conf/budget/converged.yaml sets them).")
        _check(budget.get("max_iter") is not None or budget.get("max_time") is not None,
               "budget=converged needs a safety cap: budget.max_iter or budget.max_time.")


def apply_budget(conf: dict, spec: SolverSpec) -> dict:
    """Map the job's ``budget`` onto its solver's parameters; return the new ``solver.params``.

    The planning hook of the ``budget`` config group
    (:class:`~nmfexp.experiment.config.BudgetConfig`): for an iterative
    solver, every budget value that is set replaces the solver parameter of
    the same name (``budget.seconds`` becomes ``max_time``), so every solver
    of a sweep gets the same budget whatever its own defaults. A closed-form
    solver (its description says it is not iterative, or it has none of the
    parameters ``tol``, ``max_iter``, ``max_time``, ``stop_on``) is returned
    unchanged. Budget values override the solver's
    parameters, also ones given on the command line: under a budget other
    than ``iterations``, set them through ``budget.*``.

    Parameters
    ----------
    conf : dict
        A job config as returned by :func:`job_config`.
    spec : SolverSpec
        The description of the job's solver.

    Returns
    -------
    dict
        The solver's parameters with the budget applied (a new dict).

    Raises
    ------
    ConfigError
        An unknown budget, a value out of range, or an iterative solver that
        lacks a parameter the budget needs (it could not honour the budget:
        e.g. ``budget=converged`` for a solver without ``stop_on``).
    """
    budget = conf.get("budget") or {"kind": "iterations"}
    _check_budget(budget)
    params = dict(conf["solver"].get("params") or {})
    names = {p.name for p in spec.params or ()}
    if budget["kind"] == "iterations" or not spec.iterative or not names & set(_BUDGET_PARAMS.values()):
        return params  # a closed form (or a function with no stopping parameter at all): nothing to budget
    wanted = {_BUDGET_PARAMS[k]: budget[k] for k in _BUDGET_PARAMS if budget.get(k) is not None}
    if budget["kind"] == "time":
        wanted["max_time"] = budget["seconds"]
    missing = sorted(set(wanted) - names)
    _check(not missing, f"budget={budget['kind']} sets {', '.join(missing)}, but solver {spec.name!r} has no such "
           f"parameter, so it cannot be given this budget; use another budget or leave {spec.name!r} out.")
    params.update(wanted)
    return params


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _number(value, name: str, **constraint) -> None:
    try:
        check_number(value, name, **constraint)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _validate(conf: dict) -> None:
    """Value checks a type cannot express; raise :class:`ConfigError` naming the key."""
    _number(conf["seed"], "seed", kind="integer", low=0)
    _number(conf["rank"], "rank", kind="integer", low=1)
    _number(conf["holdout"], "holdout", low=0, high=1, closed="left",
            hint="It is the fraction of the observed entries hidden from the solver.")
    _check(conf.get("holdout_design", "uniform") in HOLDOUT_DESIGNS,
           f"holdout_design must be one of {', '.join(HOLDOUT_DESIGNS)}, got {conf.get('holdout_design')!r}.")
    mask = conf["mask"]
    _check(mask["kind"] in MASK_KINDS, f"mask.kind must be one of {', '.join(MASK_KINDS)}, got {mask['kind']!r}.")
    if mask["kind"] in RATE_KINDS:
        _number(mask["rate"], "mask.rate", low=0, high=1, closed="left", hint="It is the fraction of entries to hide.")
    if mask["kind"] == "rows":
        share = mask.get("share", ROWS_SHARE)
        _number(share, "mask.share", low=0, high=1, closed="right",
                hint="It is the share of rows and of columns that hold every gap.")
        n = conf["dataset"].get("n_rows")
        if isinstance(n, int) and n > 0:  # the size is known before the data are built
            m = conf["dataset"].get("n_cols") or n
            k, (r, c) = round(mask["rate"] * n * m), rows_counts((n, m), share)
            _check(k <= r * c, f"mask.rate={mask['rate']:g} hides {k} entries of the {n} x {m} matrix, but "
                               f"mask.share={share:g} gives {r} rows x {c} columns = {r * c} cells to hold them; "
                               f"raise mask.share to at least about sqrt(rate) or lower mask.rate.")
    t = conf["timing"]
    for key, low in (("warmup", 0), ("repeats", 1), ("max_repeats", 1)):
        _number(t[key], f"timing.{key}", kind="integer", low=low)
    for key in ("min_time", "max_time"):
        _number(t[key], f"timing.{key}", low=0, hint="It is a number of seconds.")
    _number(t["blas_threads"], "timing.blas_threads", kind="integer", low=1, allow_none=True)
    d = conf["dataset"]
    if "_target_" not in d:
        _check(d.get("kind") is not None, "dataset needs a kind (uniform, lowrank, real, file) or a _target_.")
    if d.get("kind") == "real":
        from ..data.real import check_real_options

        try:
            check_real_options(d.get("options"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    _number(conf["solver"].get("n_restarts"), "solver.n_restarts", kind="integer", low=1)


def _solver_spec(scfg: dict) -> SolverSpec:
    try:
        if "_target_" in scfg:
            return target_solver(scfg)
        return resolve_solver(scfg.get("name"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_params(spec: SolverSpec, scfg: dict) -> None:
    """The solver's parameters against its description: names, and values in range (before anything runs)."""
    params = scfg.get("params") or {}
    _check(isinstance(params, dict), f"solver.params must be a mapping, got {params!r}.")
    try:
        spec.check_params(params, prefix="solver.params.")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _check(scfg["n_restarts"] == 1 or spec.iterative,
           f"solver {spec.name!r} is a deterministic closed form; solver.n_restarts must be 1.")


@dataclass(frozen=True)
class Job:
    """One experiment job. Build it with :meth:`from_config`."""

    config: dict
    solver: SolverSpec
    key: str
    inputs: dict
    seeds: Seeds
    path: Path

    @classmethod
    def from_config(cls, cfg: DictConfig | dict, results_dir: str | os.PathLike | None = None) -> Job:
        """Validate ``cfg`` and name the job; raise :class:`ConfigError` if it is invalid.

        Parameters
        ----------
        cfg : DictConfig or dict
            A job config following :class:`~nmfexp.experiment.config.ExperimentConfig`.
        results_dir : path-like, optional
            Folder of the record; default ``cfg.results_dir``.
        """
        conf = job_config(cfg)
        _validate(conf)
        spec = _solver_spec(conf["solver"])
        conf["solver"]["params"] = apply_budget(conf, spec)
        _check_params(spec, conf["solver"])
        key = hashlib.sha256(_canonical(_identity(conf))).hexdigest()[:16]
        out = Path(conf["results_dir"] if results_dir is None else results_dir)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.name)
        try:
            inputs = input_digests(dataset_inputs(conf["dataset"]))
        except ValueError as exc:  # a bad ``inputs`` declaration: the config is invalid
            raise ConfigError(str(exc)) from None
        return cls(config=conf, solver=spec, key=key, inputs=inputs,
                   seeds=Seeds.from_config(conf), path=out / f"{name}-{key}.h5")

    # ------------------------------------------------------------------ facts

    @property
    def timing(self) -> dict:
        return self.config["timing"]

    @property
    def label(self) -> str:
        return dataset_label(self.config["dataset"])

    def describe(self) -> str:
        """One line for logs: solver, data set, size, mask, seed."""
        c = self.config
        d, m = c["dataset"], c["mask"]
        size = f" n={d['n_rows']}" if d.get("n_rows") else ""
        rate = f" {m['rate']:g}" if m["kind"] in RATE_KINDS else ""
        extra = f", rank {c['rank']}" if c["rank"] != 1 else ""
        extra += f", holdout {c['holdout']:g}" if c["holdout"] else ""
        extra += f" ({c['holdout_design']})" if c["holdout"] and c.get("holdout_design", "uniform") != "uniform" else ""
        return f"{self.solver.name} on {self.label}{size}, mask {m['kind']}{rate}, seed {c['seed']}{extra}"

    def reusable(self, status: str | None, inputs: dict | None) -> tuple[bool, str]:
        """Whether an existing record (its ``status`` and ``inputs``) can stand for this job, and why.

        ``ok`` and ``skipped`` records are kept (skipping is deterministic);
        ``failed`` ones are rerun (failures are never cached), and so are
        records whose input files have changed and unreadable ones.
        """
        if status is None:
            return False, "no readable record"
        if self.config["overwrite"]:
            return False, "overwrite=true"
        if status == "failed":
            return False, "the previous attempt failed"
        if (inputs or {}) != self.inputs:
            changed = sorted(set(inputs or {}) ^ set(self.inputs)
                             | {p for p in self.inputs if (inputs or {}).get(p) not in (None, self.inputs[p])})
            return False, "input file(s) changed since the record was written: " + ", ".join(changed)
        return True, status

    def current_inputs(self) -> dict:
        """Content digests of the data set's input files as they are now (``{path: "sha256:..."}``)."""
        return input_digests(dataset_inputs(self.config["dataset"]))

    # ------------------------------------------------------------------ work

    def build(self) -> JobData:
        """Data set, experiment mask and held-out split (deterministic in the seeds)."""
        c = self.config
        data = build_dataset(c["dataset"], np.random.default_rng(self.seeds.data))
        observed = experiment_mask(data.own_mask, c["mask"]["kind"], c["mask"]["rate"],
                                   np.random.default_rng(self.seeds.mask), data=data.X,
                                   share=c["mask"].get("share", ROWS_SHARE))
        train, heldout = holdout_split(observed, c["holdout"], np.random.default_rng(self.seeds.holdout),
                                       c.get("holdout_design", "uniform"))
        return JobData(dataset=data, observed=observed, train=None if train.all() else train, heldout=heldout)

    def solve(self, data: JobData) -> FactorizationResult:
        """The solver on the training entries, through :func:`nmfexp.factorize` (the one route).

        When at most :data:`SPARSE_MAX_OBSERVED` of the entries are training
        entries, a solver whose description says it works on stored entries
        (:attr:`~nmfexp.solvers.SolverSpec.sparse`: the iterative built-ins)
        gets them as a CSR matrix with ``mask="stored"`` (each iteration
        costs O(training entries x rank) instead of O(n m rank); the iterates
        equal the dense storage's to rounding). A1GM and other solvers always
        get the dense matrix and mask.
        """
        s = self.config["solver"]
        X, mask = data.X, data.train
        if _sparse_path(self.solver, mask):
            rows, cols = np.nonzero(mask)
            X, mask = sp.csr_array((data.X[rows, cols], (rows, cols)), shape=data.X.shape), "stored"
        return factorize(X, mask, solver=self.solver, rank=self.config["rank"],
                         random_state=self.seeds.init, n_restarts=s["n_restarts"], **(s.get("params") or {}))


#: Training fraction at or below which iterative solvers take the sparse path. Per observed entry
#: the sparse path costs about 1-3 times what the dense path costs per entry of the matrix
#: (``python -m nmfexp.bench``), so at 10% observed it is several times faster and far lighter.
SPARSE_MAX_OBSERVED = 0.1


def _sparse_path(spec: SolverSpec, train: np.ndarray | None) -> bool:
    if train is None or not spec.sparse:
        return False
    return np.count_nonzero(train) <= SPARSE_MAX_OBSERVED * train.size
