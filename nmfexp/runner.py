"""The experiment runner: one config in, one HDF5 record out.

``nmfexp-run`` is a thin Hydra entry point around :func:`run`, which tests
and scripts can call directly with a config (a dict or DictConfig following
:class:`nmfexp.config.ExperimentConfig`)::

    config -> data (seeded) -> mask -> held-out split -> timed solver -> metrics -> record

What a job does, in order:

1. Resume: when ``results_dir/<solver>-<hash>.h5`` already holds a valid
   record the job is skipped (unless ``overwrite``, or ``retry_failed`` and
   the record failed). The hash covers every key that defines the job.
2. Data, mask and held-out entries are drawn from seeds derived from
   ``seed`` and a stable hash of the ``dataset`` (and ``mask``, ``holdout``)
   configs, never from the solver: every solver in a sweep sees the same
   matrix and the same mask for the same seed.
3. The solver is timed with :func:`nmfexp.timing.measure` under pinned BLAS
   threads; data set-up and metrics are outside the clock.
4. Metrics are computed on the entries the solver saw (the experiment's
   mask minus held-out entries); for A1GM that is the original mask, not the
   grid it enlarges it to.
5. The record is written atomically.

Status rule (stored in every record as ``status``):

- ``"ok"``: the solver ran and the metrics were computed.
- ``"skipped"``: the solver refused this input with a ``ValueError`` (its
  input checks), e.g. A1GM when no row or no column is complete, or a rank
  above what a solver supports. This is an expected outcome, not a crash.
- ``"failed"``: anything else (bad config, data that cannot be built, any
  other exception in the solver, non-finite metrics). The message and
  traceback are in the record; other jobs go on, and ``nmfexp-run`` exits
  with status 1 after the sweep, listing the failures.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import inspect
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from . import __version__, metrics
from .config import RUN_CONTROL_KEYS, ExperimentConfig, config_dir, register_configs
from .data import Dataset, synthetic
from .data.masks import make_mask
from .record import FORMAT, FORMAT_VERSION, Record, record_status, remove_stale_temp_files, write_record
from .solvers import get_solver
from .solvers.a1gm import grid_completion
from .timing import blas_threads, measure

__all__ = ["run", "main", "job_config", "job_hash", "record_path", "build_dataset", "SweepSummary"]

log = logging.getLogger(__name__)

#: Environment variable through which the sweep callback tells jobs the sweep size (for progress lines).
_TOTAL_ENV = "NMFEXP_SWEEP_TOTAL"
_STATUS_FILE = "nmfexp_status.json"


# --------------------------------------------------------------------------- config and identity

def job_config(cfg: DictConfig | dict) -> dict:
    """Validate ``cfg`` against the schema and return it as a plain, resolved dict.

    Missing keys get the schema defaults; a ``hydra`` key is dropped.
    """
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    cfg = {k: v for k, v in dict(cfg).items() if k != "hydra"}
    merged = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), cfg)
    return OmegaConf.to_container(merged, resolve=True, throw_on_missing=True)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def job_hash(conf: dict) -> str:
    """Hex digest (16 characters) of every key of ``conf`` that defines the job.

    Keys that only say where or whether to write (``results_dir``,
    ``overwrite``, ``retry_failed``, ``save_factors``) are left out.
    """
    identity = {k: v for k, v in conf.items() if k not in RUN_CONTROL_KEYS}
    return hashlib.sha256(_canonical(identity)).hexdigest()[:16]


def record_path(conf: dict, out_dir: str | os.PathLike) -> Path:
    """``<out_dir>/<solver>-<job hash>.h5``."""
    return Path(out_dir) / f"{conf['solver']['name']}-{job_hash(conf)}.h5"


def _stable_int(obj: Any) -> int:
    """A 64-bit integer that depends only on the content of ``obj`` (not on the Python process)."""
    return int.from_bytes(hashlib.sha256(_canonical(obj)).digest()[:8], "little")


@dataclass(frozen=True)
class Seeds:
    """Independent seed sequences for each random step of a job.

    The data depend on (seed, dataset config); the mask also on the mask
    config; the held-out split also on ``holdout``; the solver's random
    initialisation on all of these. None depends on the solver, so every
    solver sees the same data, mask and initial-factor seed.
    """

    data: np.random.SeedSequence
    mask: np.random.SeedSequence
    holdout: np.random.SeedSequence
    init: int

    @classmethod
    def from_config(cls, conf: dict) -> Seeds:
        seed = conf["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
        d = _stable_int(conf["dataset"])
        m = _stable_int(conf["mask"])
        h = _stable_int(conf["holdout"])
        init = np.random.SeedSequence([seed, d, m, h, 1]).generate_state(1, dtype=np.uint32)[0]
        return cls(
            data=np.random.SeedSequence([seed, d]),
            mask=np.random.SeedSequence([seed, d, m]),
            holdout=np.random.SeedSequence([seed, d, m, h]),
            init=int(init),
        )


# --------------------------------------------------------------------------- data

def _need(dcfg: dict, key: str) -> Any:
    if dcfg.get(key) is None:
        raise ValueError(f"dataset.{key} is required for dataset kind {dcfg['kind']!r}.")
    return dcfg[key]


def _build_uniform(dcfg: dict, rng: np.random.Generator) -> Dataset:
    return synthetic.uniform(_need(dcfg, "n_rows"), dcfg.get("n_cols"), rng=rng)


def _build_lowrank(dcfg: dict, rng: np.random.Generator) -> Dataset:
    return synthetic.lowrank(_need(dcfg, "n_rows"), dcfg.get("n_cols"), true_rank=_need(dcfg, "true_rank"),
                             noise=dcfg.get("noise") or 0.0, rng=rng)


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, name: str | None, path: str | None, options_json: str) -> Dataset:
    # Imported lazily: the real-data module is optional and pulls in its own dependencies.
    from .data import real

    if kind == "real":
        return real.load_real(name, path)
    return real.load_file(path, **json.loads(options_json))


def _build_real(dcfg: dict, rng: np.random.Generator) -> Dataset:
    return _load_cached("real", _need(dcfg, "name"), dcfg.get("path"), "{}")


def _build_file(dcfg: dict, rng: np.random.Generator) -> Dataset:
    return _load_cached("file", None, _need(dcfg, "path"), json.dumps(dcfg.get("options") or {}, sort_keys=True))


#: ``dataset.kind`` -> builder(dataset config, rng) -> Dataset. Add a kind here.
DATASET_BUILDERS: dict[str, Callable[[dict, np.random.Generator], Dataset]] = {
    "uniform": _build_uniform,
    "lowrank": _build_lowrank,
    "real": _build_real,
    "file": _build_file,
}


def build_dataset(dcfg: dict, rng: np.random.Generator) -> Dataset:
    """Build the data set described by a ``dataset`` config.

    Parameters
    ----------
    dcfg : dict
        Has ``kind`` (a key of :data:`DATASET_BUILDERS`) and the fields that kind uses.
    rng : numpy.random.Generator
        Used by synthetic kinds; real data ignore it.
    """
    kind = dcfg.get("kind")
    if kind not in DATASET_BUILDERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(DATASET_BUILDERS)}.")
    data = DATASET_BUILDERS[kind](dcfg, rng)
    if data.X.ndim != 2 or data.X.dtype != np.float64:
        raise ValueError(f"data set {data.name!r} must be a 2-D float64 matrix, got {data.X.dtype} {data.X.shape}.")
    return data


def dataset_label(dcfg: dict) -> str:
    """The data set's name in tables: ``name``, else the file's stem, else the kind."""
    if dcfg.get("name"):
        return str(dcfg["name"])
    if dcfg.get("kind") == "file" and dcfg.get("path"):
        return Path(dcfg["path"]).stem
    return str(dcfg.get("kind"))


@dataclass
class JobData:
    """Everything a job's solver and metrics need, built outside the clock."""

    dataset: Dataset
    observed: np.ndarray  # the experiment's mask: own missing values and the mask config (True = observed)
    train: np.ndarray  # observed minus held-out entries: what the solver sees
    heldout: np.ndarray  # flat indices of the held-out entries


def build_job_data(conf: dict, seeds: Seeds) -> JobData:
    """Data set, experiment mask and held-out split for a job (deterministic in the seeds)."""
    data = build_dataset(conf["dataset"], np.random.default_rng(seeds.data))
    own = data.own_mask
    mcfg = conf["mask"]
    mask = make_mask(mcfg["kind"], data.X.shape, mcfg["rate"], np.random.default_rng(seeds.mask), own_mask=own)
    # Cells the source never observed stay missing whatever the mask says.
    observed = own if mask is None else (mask & own)

    holdout = conf["holdout"]
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ValueError(f"holdout must be a fraction of the observed entries in [0, 1), got {holdout!r}.")
    candidates = np.flatnonzero(observed)
    k = round(holdout * candidates.size)
    heldout = np.sort(np.random.default_rng(seeds.holdout).choice(candidates, size=k, replace=False))
    train = observed.copy()
    train.ravel()[heldout] = False
    return JobData(dataset=data, observed=observed, train=train, heldout=heldout)


# --------------------------------------------------------------------------- solver call

def check_solver_params(name: str, params: dict) -> dict:
    """Check ``params`` against the solver's keyword parameters and their default types.

    Raises ``ValueError`` naming the unknown parameter or the wrong type, so a
    config mistake fails the job instead of looking like a refused input.
    """
    spec = get_solver(name)
    accepted = spec.parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"solver {name!r} has no parameter(s) {', '.join(unknown)}; "
                         f"it accepts: {', '.join(sorted(accepted)) or 'none'}.")
    for key, value in params.items():
        default = accepted[key].default
        if value is None or default is None or default is inspect.Parameter.empty:
            continue
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        else:
            ok = True
        if not ok:
            raise ValueError(f"solver.params.{key} must be of type {type(default).__name__} "
                             f"(default {default!r}), got {value!r}.")
    return dict(params)


# --------------------------------------------------------------------------- environment

def _git_commit() -> dict:
    repo = Path(__file__).resolve().parents[1]
    if not (repo / ".git").exists():
        return {}
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": bool(dirty)}


@functools.lru_cache(maxsize=1)
def static_environment() -> dict:
    """Facts that do not change during a process (computed once): versions, CPU, git commit."""
    from importlib import metadata

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count() or 0,
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
    }
    for package in ("nmfexp", "numpy", "scipy", "h5py", "hydra-core", "omegaconf", "pandas", "threadpoolctl"):
        try:
            env[f"version_{package.replace('-', '_')}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    env.update(_git_commit())
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "SLURM_JOB_ID"):
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def _thread_info() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [{k: v for k, v in pool.items() if k in ("user_api", "internal_api", "num_threads", "version",
                                                    "threading_layer", "architecture", "filepath")}
            for pool in threadpool_info()]


# --------------------------------------------------------------------------- the job

def _progress_prefix() -> str:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized():
            hc = HydraConfig.get()
            if hc.mode == RunMode.MULTIRUN:
                return f"[{hc.job.num + 1}/{os.environ.get(_TOTAL_ENV, '?')}] "
    except Exception:  # progress lines are a convenience; never fail a job for them
        pass
    return ""


def _describe(conf: dict) -> str:
    d, m = conf["dataset"], conf["mask"]
    size = f" n={d['n_rows']}" if d.get("n_rows") else ""
    rate = f"{m['rate']:g}" if m["kind"] in ("grid", "random", "corner") else ""
    return (f"{conf['solver']['name']} on {dataset_label(d)}{size}, mask {m['kind']}{(' ' + rate) if rate else ''}, "
            f"seed {conf['seed']}" + (f", holdout {conf['holdout']:g}" if conf["holdout"] else ""))


def _heldout_relative_error(X: np.ndarray, R: np.ndarray, flat_idx: np.ndarray) -> float:
    """:func:`nmfexp.metrics.relative_error` on the held-out entries only."""
    held = np.zeros(X.size, dtype=bool)
    held[flat_idx] = True
    return metrics.relative_error(X, R, held.reshape(X.shape))


def run(cfg: DictConfig | dict, out_dir: str | os.PathLike | None = None, *,
        overrides: list[str] | None = None) -> dict:
    """Run one job and write its record; never raises for a job's own failure.

    Parameters
    ----------
    cfg : DictConfig or dict
        A job config (see :class:`nmfexp.config.ExperimentConfig`); missing
        keys take the schema defaults.
    out_dir : path-like, optional
        Folder for the record; default ``cfg.results_dir``.
    overrides : list of str, optional
        The command-line overrides that produced ``cfg`` (stored in the record).

    Returns
    -------
    dict
        ``job`` (hash), ``path``, ``status`` (``ok``/``skipped``/``failed``),
        ``message``, ``existing`` (True when an existing record was kept) and,
        for ``ok``, the main metrics.

    Raises
    ------
    omegaconf.errors.ValidationError, ValueError
        When ``cfg`` does not follow the schema (wrong key or type): nothing
        can be recorded for a job that cannot be named.
    """
    t_start = time.perf_counter()
    conf = job_config(cfg)
    out_dir = Path(conf["results_dir"] if out_dir is None else out_dir)
    path = record_path(conf, out_dir)
    job = job_hash(conf)
    prefix = _progress_prefix()
    what = _describe(conf)

    if path.exists() and not conf["overwrite"]:
        status = record_status(path)
        if status is not None and not (conf["retry_failed"] and status == "failed"):
            log.info("%s%s: record exists (%s), skipped: %s", prefix, what, status, path)
            return {"job": job, "path": str(path), "status": status, "message": "", "existing": True}
    remove_stale_temp_files(path)
    log.info("%sstart %s", prefix, what)

    rec = Record(attrs={
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "job": job,
        "config_yaml": OmegaConf.to_yaml(OmegaConf.create(conf)),
        "overrides": list(overrides or []),
        "solver": conf["solver"]["name"],
        "dataset": dataset_label(conf["dataset"]),
        "mask": conf["mask"]["kind"],
        "mask_rate": float(conf["mask"]["rate"]),
        "rank": conf["rank"],
        "seed": conf["seed"],
        "holdout": float(conf["holdout"]),
        "tag": conf["tag"],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "nmfexp_version": __version__,
    })
    status, message, tb, error_type = "ok", "", "", ""
    stage = "setup"
    result = None
    try:
        # ---- set-up, outside the clock: config checks, data, mask, held-out split
        spec = get_solver(conf["solver"]["name"])
        params = check_solver_params(spec.name, conf["solver"]["params"] or {})
        tcfg = conf["timing"]
        seeds = Seeds.from_config(conf)
        jd = build_job_data(conf, seeds)
        X = jd.dataset.X
        n, m = X.shape
        n_missing = int(jd.observed.size - np.count_nonzero(jd.observed))
        train_mask = jd.train if not jd.train.all() else None
        gaps = grid_completion(train_mask, (n, m))
        rec.groups["data"] = {
            "n_rows": n, "n_cols": m, "n_entries": n * m,
            "n_missing": n_missing,
            "n_missing_own": int(np.count_nonzero(np.isnan(X))),
            "n_heldout": int(jd.heldout.size),
            "n_observed_train": int(np.count_nonzero(jd.train)),
            "n_rows_with_missing": gaps["n_rows_with_missing"],
            "n_cols_with_missing": gaps["n_cols_with_missing"],
            "grid_like": gaps["n_missing_added"] == 0,
            "has_truth": jd.dataset.truth is not None,
        }
        rec.groups["dataset_meta"] = dict(jd.dataset.meta)

        # ---- the solver, timed; a ValueError from its input checks means "skipped"
        stage = "solver"
        rank = conf["rank"]
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(n, m):
            raise ValueError(f"rank must be between 1 and min(n, m) = {min(n, m)}, got {rank!r}.")
        if spec.rank1_only and rank != 1:
            raise ValueError(f"{spec.name} computes rank-1 factorizations only, got rank={rank}.")

        def call():
            return spec.func(X, train_mask, rank=rank, random_state=seeds.init, **params)

        with blas_threads(tcfg["blas_threads"]):
            result, timing = measure(call, warmup=tcfg["warmup"], repeats=tcfg["repeats"],
                                     min_time=tcfg["min_time"], max_repeats=tcfg["max_repeats"],
                                     max_time=tcfg["max_time"])
            threads = _thread_info()
        rec.groups["timing"] = {"unit": "seconds", "n_samples": int(timing.samples.size), "warmup": timing.warmup,
                                **timing.summary(), **{f"config_{k}": v for k, v in tcfg.items()}}
        rec.arrays["timing/samples"] = timing.samples
        rec.groups["environment"] = {**static_environment(), "threadpools": threads,
                                     "blas_threads": tcfg["blas_threads"]}

        # ---- metrics, outside the clock
        stage = "metrics"
        R = result.reconstruct()
        mets = {
            "weighted_kl": metrics.weighted_kl(X, R, train_mask),
            "weighted_frobenius": metrics.weighted_frobenius(X, R, train_mask),
            "relative_error": metrics.relative_error(X, R, train_mask),
            "heldout_relative_error": (_heldout_relative_error(X, R, jd.heldout) if jd.heldout.size
                                       else float("nan")),
            "truth_relative_error": float("nan"),
        }
        if jd.dataset.truth is not None:
            T = jd.dataset.truth
            mets["truth_relative_error"] = float(np.linalg.norm(R - T) / max(np.linalg.norm(T), np.finfo(float).tiny))
        rec.groups["metrics"] = mets
        rec.groups["info"] = {**result.info, "n_iter": int(result.n_iter), "converged": bool(result.converged),
                              "loss": spec.loss}
        for key, values in (result.history or {}).items():
            rec.arrays[f"history/{key}"] = np.asarray(values)
        if conf["save_factors"]:
            rec.arrays["factors/A"] = result.A
            rec.arrays["factors/B"] = result.B
    except ValueError as exc:
        status = "skipped" if stage == "solver" else "failed"
        message, error_type, tb = str(exc), type(exc).__name__, traceback.format_exc()
    except Exception as exc:  # isolate the failure: record it, let the other jobs run
        status = "failed"
        message, error_type, tb = f"{type(exc).__name__}: {exc}", type(exc).__name__, traceback.format_exc()

    if status != "ok":
        rec.groups.setdefault("environment", static_environment())
    rec.attrs.update(status=status, message=message, traceback=tb, error_type=error_type,
                     error_stage=stage if status != "ok" else "",
                     job_seconds=time.perf_counter() - t_start)
    write_record(path, rec)

    summary = {"job": job, "path": str(path), "status": status, "message": message, "existing": False}
    if status == "ok":
        mets = rec.groups["metrics"]
        summary.update(weighted_kl=mets["weighted_kl"], runtime_mean=rec.groups["timing"]["runtime_mean"])
        log.info("%sdone %s: ok, weighted KL %.6g, runtime %.3g s (%d samples) -> %s", prefix, what,
                 mets["weighted_kl"], rec.groups["timing"]["runtime_mean"], rec.groups["timing"]["n_samples"],
                 path.name)
    elif status == "skipped":
        log.warning("%sdone %s: skipped (%s) -> %s", prefix, what, message, path.name)
    else:
        log.error("%sdone %s: FAILED in %s (%s) -> %s", prefix, what, stage, message, path.name)
    return summary


# --------------------------------------------------------------------------- Hydra entry point

def _sweep_size(config: DictConfig) -> int | None:
    """Number of jobs of a basic-sweeper sweep (for progress lines), or None."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{k}={v}" for k, v in (OmegaConf.select(config, "hydra.sweeper.params") or {}).items()]
        params += list(config.hydra.overrides.task)
        parsed = OverridesParser.create().parse_overrides(params)
        return sum(len(batch) for batch in BasicSweeper.split_arguments(parsed, None))
    except Exception:
        return None


try:
    from hydra.experimental.callback import Callback as _Callback
except ImportError:  # pragma: no cover
    _Callback = object


class SweepSummary(_Callback):
    """Hydra callback: announces the sweep size, and summarises the jobs' statuses at the end.

    Each job leaves ``nmfexp_status.json`` in its Hydra output folder (this
    works with any launcher, local or remote); after the sweep they are
    counted and failures listed. ``nmfexp-run`` then exits with status 1 if
    any job failed.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        total = _sweep_size(config)
        if total is not None:
            os.environ[_TOTAL_ENV] = str(total)
            log.info("sweep of %d jobs, records in %s", total, os.path.abspath(config.results_dir))
        sweep_dir = Path(config.hydra.sweep.dir)
        for old in sweep_dir.glob(f"*/{_STATUS_FILE}"):
            old.unlink(missing_ok=True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus
        from hydra.types import RunMode

        if config.hydra.mode != RunMode.MULTIRUN:
            return
        if job_return.status == JobStatus.COMPLETED:
            value = job_return.return_value
        else:  # an exception escaped run(): Hydra keeps it in place of the return value
            value = {"status": "failed", "message": "the job raised an exception", "path": ""}
            try:
                _ = job_return.return_value  # re-raises the job's exception
            except Exception as exc:
                value["message"] = f"{type(exc).__name__}: {exc}"
        value = {k: value.get(k) for k in ("job", "path", "status", "message", "existing")}
        value["overrides"] = list(job_return.overrides or [])
        out = Path(config.hydra.runtime.output_dir) / _STATUS_FILE
        out.write_text(json.dumps(value))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        statuses = []
        for file in sorted(Path(config.hydra.sweep.dir).glob(f"*/{_STATUS_FILE}")):
            try:
                statuses.append(json.loads(file.read_text()))
            except (OSError, ValueError):
                continue
        counts: dict[str, int] = {}
        for s in statuses:
            key = s["status"] + (" (existing)" if s.get("existing") else "")
            counts[key] = counts.get(key, 0) + 1
        log.info("sweep finished: %d jobs: %s", len(statuses),
                 ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none")
        failed = [s for s in statuses if s["status"] == "failed"]
        for s in failed:
            log.error("failed: %s: %s (%s)", " ".join(s.get("overrides") or []), s.get("message"), s.get("path"))
        _FAILURES.extend(failed)
        os.environ.pop(_TOTAL_ENV, None)


_FAILURES: list[dict] = []


def _task(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    summary = run(cfg, cfg.results_dir, overrides=list(hc.overrides.task))
    if hc.mode == RunMode.RUN and summary["status"] == "failed":
        _FAILURES.append(summary)
    return summary


def main() -> None:
    """Console script ``nmfexp-run``: Hydra's command line around :func:`run`."""
    import hydra

    register_configs()
    _FAILURES.clear()
    hydra_main = hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_task)
    hydra_main()
    if _FAILURES:
        print(f"nmfexp-run: {len(_FAILURES)} job(s) failed; see the messages above and their records.",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

