"""Run one job and write its record: :func:`run_job`, and :func:`run` for a plain config.

Status rule (stored in every record as ``status``):

- ``ok``: the solver ran and every applicable metric is a finite number.
- ``skipped``: the solver declined this input by raising
  :class:`nmfexp.SolverRefused` (e.g. A1GM when no row or no column is
  complete, a rank-1-only solver at rank 2, a rank above ``min(n, m)``).
  Deterministic, so a rerun keeps it.
- ``failed``: anything else (data that cannot be built, any other exception
  in the solver, including a ``ValueError`` from a bug, a broken metric).
  Message and traceback are in the record; the next run retries the job.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import yaml
from omegaconf import DictConfig

from .. import __version__
from ..data.digests import UndeclaredInputWarning, files_opened
from ..data.masks import grid_completion
from ..record import (
    FORMAT,
    FORMAT_VERSION,
    Record,
    RecordWriteError,
    claim,
    claim_holder,
    read_record_header,
    read_record_headers,
    remove_stale_temp_files,
    schema,
    write_record,
)
from ..solvers import SolverRefused
from ..timing import blas_threads, measure
from .evaluate import a1gm_certificate, evaluate
from .job import Job, JobData
from .provenance import concurrent_jobs, static_environment, thread_info

__all__ = ["InputChangedError", "run_job", "run", "compute", "existing_record", "existing_records"]

log = logging.getLogger("nmfexp")

_MEASURE_KEYS = ("warmup", "repeats", "min_time", "max_repeats", "max_time")
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class InputChangedError(RuntimeError):
    """An input file of the data set changed while the job was reading it (the job is ``failed``)."""


def _new_record(job: Job, overrides, context: dict | None) -> Record:
    c, s = job.config, job.config["solver"]
    return Record(attrs=schema.attrs("", {
        "format": FORMAT, "format_version": FORMAT_VERSION, "job": job.key,
        "inputs": json.dumps(job.inputs, sort_keys=True),
        "config_yaml": yaml.dump(c, Dumper=_YAML_DUMPER, sort_keys=False),
        "config_json": json.dumps(c, sort_keys=True, default=str),
        "overrides": list(overrides or []),
        "solver": job.solver.name, "solver_params": json.dumps(s.get("params") or {}, sort_keys=True, default=str),
        "n_restarts": s["n_restarts"], "dataset": job.label, "mask": c["mask"]["kind"],
        "mask_rate": float(c["mask"]["rate"]), "rank": c["rank"], "seed": c["seed"],
        "holdout": float(c["holdout"]), "tag": c["tag"], "nmfexp_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }), groups={"execution": schema.attrs("execution", dict(context or {}))})


def _data_facts(data: JobData) -> dict:
    X = data.X
    n, m = X.shape
    gaps = grid_completion(data.train, (n, m))
    return schema.attrs("data", {
        "n_rows": n, "n_cols": m, "n_entries": n * m,
        "n_missing": int(data.observed.size - np.count_nonzero(data.observed)),
        "n_missing_own": int(np.count_nonzero(np.isnan(X))),
        "n_heldout": int(data.heldout.size),
        "n_observed_train": int(X.size if data.train is None else np.count_nonzero(data.train)),
        "n_rows_with_missing": gaps["n_rows_with_missing"], "n_cols_with_missing": gaps["n_cols_with_missing"],
        "grid_like": gaps["n_missing_added"] == 0, "has_truth": data.dataset.truth is not None,
    })


def existing_record(job: Job, header: dict | None = None) -> tuple[bool, str] | None:
    """Whether the record at ``job.path`` stands for ``job``, and why (:meth:`Job.reusable`); None without
    a readable record. Reads the record's header only, unless ``header`` (the header of ``job.path``
    already read, e.g. by :func:`existing_records`) is given. A record whose ``job`` attribute is not
    ``job.key`` (a record renamed or copied to this job's file name) never stands for it."""
    if header is None:
        header = read_record_header(job.path)
    if not header:
        return None
    if header.get("job") != job.key:  # a record is a job's only if it says so (a renamed or copied file)
        return False, (f"the record at {job.path.name} is not this job's: it says job {header.get('job')!r}, "
                       f"this job is {job.key!r} (a renamed or copied record)")
    try:
        inputs = json.loads(header.get("inputs") or "{}")
    except ValueError:
        inputs = {}
    return job.reusable(header.get("status"), inputs)


def existing_records(jobs: list[Job], known: dict | None = None) -> tuple[list[tuple[bool, str] | None], list[dict]]:
    """:func:`existing_record` of many jobs. Headers are taken from ``known`` (``{path: header}``, e.g.
    what the results catalogue still vouches for: :func:`nmfexp.results.catalogued_headers`) where it
    has them; the others are read in one bounded pass (:func:`~nmfexp.record.read_record_headers`):
    a damaged or hostile record is ``None`` for its job only. Returns the decisions and the headers
    (``{}`` where there is no usable record)."""
    known = known or {}
    paths = [job.path for job in jobs]
    headers = [known.get(path) for path in paths]
    rest = [i for i, header in enumerate(headers) if header is None]
    for i, header in zip(rest, read_record_headers([paths[i] for i in rest]), strict=True):
        headers[i] = header
    return [existing_record(job, header) for job, header in zip(jobs, headers, strict=True)], headers


def _kept(job: Job, progress: str, *, again: bool = False) -> dict | None:
    """The summary of an existing record that stands for ``job``, or None (logging why it is redone;
    ``again``: the second look, under the job's claim, says nothing already said)."""
    existing = existing_record(job)
    if existing is None:
        if job.path.is_file() and not again:  # there is a file, but not a usable record: say so before replacing it
            log.warning("%s%s: the record %s is damaged or unreadable; computing the job again", progress,
                        job.describe(), job.path)
        return None
    keep, why = existing
    if keep:
        log.info("%s%s: record exists (%s), kept: %s", progress, job.describe(), why, job.path.name)
        return {"job": job.key, "path": str(job.path), "status": why, "message": "", "existing": True}
    log.info("%s%s: recomputing (%s)", progress, job.describe(), why)
    return None


def compute(job: Job, rec: Record) -> tuple[str, str]:
    """The pipeline, filling ``rec``: build -> measure(solve) -> evaluate. Returns ``(status, stage)``.

    Never raises for the job's own failure: only :class:`~nmfexp.SolverRefused`
    from the solver stage is ``skipped``, anything else ``failed`` (message and
    traceback go into ``rec``). The digests of the data set's input files are
    taken just before and just after it is built and stored in ``rec``
    (``inputs``): they describe the bytes the job read, even when a file was
    edited after the job was planned; when they differ the job is ``failed``
    (:class:`InputChangedError`). A ``_target_`` loader that opens a file its
    config does not name (seen through Python's ``open``) raises an
    :class:`~nmfexp.data.digests.UndeclaredInputWarning`, kept in the record.
    """
    stage = "data"
    try:
        before = job.current_inputs()
        with files_opened() as opened:
            data = job.build()
        after = job.current_inputs()
        if after != before:
            changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
            raise InputChangedError(f"input file(s) changed while the job read them: {', '.join(changed)}; "
                                    "its data may mix two versions, so nothing is kept (the next run retries)")
        rec.attrs["inputs"] = json.dumps(after, sort_keys=True)  # the files as the job read them
        undeclared = [p for p in opened if p not in after]
        if undeclared and "_target_" in job.config["dataset"]:
            warnings.warn(f"the data set read {', '.join(undeclared)}, which its config does not name: a change to "
                          "it cannot be detected (a record is reused); name it under any key of the dataset config, or "
                          "declare it (or its folder) under dataset.inputs",
                          UndeclaredInputWarning, stacklevel=1)
        rec.attrs["dataset"] = data.dataset.name if not job.config["dataset"].get("name") else job.label
        rec.groups.update(data=_data_facts(data), dataset_meta=dict(data.dataset.meta))
        stage = "solver"
        with blas_threads(job.timing["blas_threads"]), concurrent_jobs() as concurrency:
            result, timing = measure(lambda: job.solve(data), **{k: job.timing[k] for k in _MEASURE_KEYS})
            threads = thread_info()
        rec.groups["execution"]["concurrent_jobs"] = max(concurrency)
        rec.groups["timing"] = schema.attrs("timing", {
            "unit": "seconds", "n_samples": int(timing.samples.size), "warmup": timing.warmup, **timing.summary(),
            **{f"config_{k}": v for k, v in job.timing.items()}})
        rec.arrays["timing/samples"] = timing.samples
        rec.groups["environment"] = schema.attrs("environment", {
            **static_environment(), "threadpools": threads, "blas_threads": job.timing["blas_threads"]})
        stage = "metrics"
        rec.groups["metrics"] = evaluate(data, result, job.solver)
        _check_own_history(job.solver, result, rec.groups["metrics"])
        times = (result.history or {}).get("time")
        update = {"update_seconds": float(times[-1])} if times is not None and np.size(times) else {}
        rec.groups["info"] = schema.attrs("info", {**result.info, "n_iter": int(result.n_iter),
                                                   "converged": bool(result.converged), "loss": job.solver.loss,
                                                   **update, **a1gm_certificate(data, result, job.solver)})
        rec.attrs["stop_reason"] = str(getattr(result, "stop_reason", "") or "unknown")
        rec.arrays.update({f"history/{k}": np.asarray(v) for k, v in (result.history or {}).items()})
        if job.config["save_factors"]:
            rec.arrays.update({"factors/A": result.A, "factors/B": result.B})
        return "ok", stage
    except Exception as exc:  # isolate the failure: record it, let the other jobs run
        status = "skipped" if isinstance(exc, SolverRefused) and stage == "solver" else "failed"
        rec.attrs.update(message=str(exc) if status == "skipped" else f"{type(exc).__name__}: {exc}",
                         error_type=type(exc).__name__, traceback=traceback.format_exc(), error_stage=stage)
        return status, stage


#: What a history's ``objective`` must hold for each declared loss (its metric: :data:`LOSS_METRICS`).
_LOSS_FORMULA = {"frobenius": "||W * (X - AB)||_F (nmfexp.metrics.weighted_frobenius; not its square)",
                 "kl": "the KL divergence (nmfexp.metrics.weighted_kl)"}


class HistoryScaleWarning(UserWarning):
    """A user's solver declares a loss but its history's last objective is not that loss of its final factors."""


def _check_own_history(spec, result, metrics: dict) -> None:
    """Warn when a solver of the user's (not registered with nmfexp) declares a loss and its history's last
    objective differs from that loss of its final factors: the comparison figures would score its curve on
    another scale than every other solver's. Built-in solvers are checked by the test suite instead."""
    from ..solvers import SOLVERS

    if not spec.loss or SOLVERS.get(spec.name) is spec or not result.history:
        return
    objective = np.asarray(result.history.get("objective", ()), dtype=float)
    _, metric = LOSS_METRICS.get(spec.loss, ("", None))
    value = metrics.get(metric, np.nan) if metric else np.nan
    if objective.size == 0 or not (np.isfinite(objective[-1]) and np.isfinite(value)):
        return
    if abs(objective[-1] - value) > 1e-6 * max(abs(value), abs(objective[-1]), 1e-300):
        warnings.warn(f"solver {spec.name!r} declares loss {spec.loss!r}, but its history's last objective "
                      f"({objective[-1]:.6g}) is not that loss of its final factors ({value:.6g}): the figures would "
                      f"compare its curve on another scale. Its history['objective'] must hold {_LOSS_FORMULA[spec.loss]} on the "
                      "entries it saw.",
                      HistoryScaleWarning, stacklevel=1)


def run_job(job: Job, *, overrides=(), context: dict | None = None, progress: str = "") -> dict:
    """Run ``job`` unless a reusable record exists, write its record, and return its summary.

    Never raises for the job's own failure: that is recorded (status
    ``failed``) and returned. Another process computing the same job at this
    moment (it holds the job's claim) makes this one return ``running
    elsewhere`` without computing. A record that cannot be written (disk
    full, file size limit) is reported as ``failed`` with no record, so the
    next run computes the job again. Warnings raised while the job runs
    (e.g. scikit-learn's ``ConvergenceWarning`` in a user's solver, once per
    timed call) are not printed: the record keeps each distinct one with its
    count in the attribute ``warnings`` (a list of str), and the sweep
    summarises them once. Returns a dict with ``job``, ``path``,
    ``status``, ``message``, ``existing`` (True when an existing record was
    kept), ``warnings`` when there were any and, for ``ok``, ``weighted_kl``
    and ``runtime_median``.
    """
    summary = {"job": job.key, "path": str(job.path), "existing": False, "message": ""}
    if kept := _kept(job, progress):
        return kept
    held = claim(job.path)
    if held is None:
        holder = claim_holder(job.path)
        log.info("%s%s: running elsewhere (%s)", progress, job.describe(), holder.describe() if holder else "")
        return {**summary, "status": "running elsewhere", "message": holder.describe() if holder else ""}
    with held:
        if kept := _kept(job, progress, again=True):  # another run finished it while we waited for the claim
            return kept
        if held.took_over:  # its previous holder died: its temporary file may be left (sweeps clean once)
            remove_stale_temp_files(job.path)
        log.info("%sstart %s", progress, job.describe())
        t0, rec = time.perf_counter(), _new_record(job, overrides, context)
        with warnings.catch_warnings(record=True) as caught:  # kept in the record, summarised by the sweep
            warnings.simplefilter("always")
            status, stage = compute(job, rec)
        found = _warning_lines(caught)
        if found:
            rec.attrs["warnings"] = [f"{text} (x{n})" if n > 1 else text for text, n in found.items()]
        rec.groups.setdefault("environment", static_environment())
        rec.attrs.setdefault("message", "")
        rec.attrs.update(status=status, job_seconds=time.perf_counter() - t0)
        status, stage = _conform(rec, status, stage)
        try:
            write_record(job.path, rec)
        except RecordWriteError as exc:
            log.error("%s%s: the record could not be written: %s", progress, job.describe(), exc)
            return {**summary, "status": "failed", "message": f"the record could not be written: {exc}"}
    _log_done(progress, job, status, stage, rec.attrs["message"], rec)
    summary.update(status=status, message=rec.attrs["message"])
    if found:
        summary["warnings"] = list(found)
    if status == "ok":
        summary.update(weighted_kl=rec.groups["metrics"]["weighted_kl"],
                       runtime_median=rec.groups["timing"]["runtime_median"])
    return summary


def _warning_lines(caught) -> dict[str, int]:
    """Distinct warnings of a job (``Category: message``, first line) and how often each was raised
    (a solver warns once per timed call)."""
    counts: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).strip().splitlines()[0] if str(w.message).strip() else ''}"
        counts[text] = counts.get(text, 0) + 1
    return counts


def _conform(rec: Record, status: str, stage: str) -> tuple[str, str]:
    """Check ``rec`` against :mod:`nmfexp.record.schema` before it is written. A record that does not
    match (a field nobody declared, a value of another type, a field its status needs that is missing:
    a defect of nmfexp, never of the job) is written as ``failed`` with what is wrong, so that nothing
    computed is lost, the status says what happened and the next run retries the job."""
    found = schema.problems(rec)
    if not found:
        return status, stage
    message = "the record does not match nmfexp.record.schema: " + " ".join(found)
    log.error("%s", message)
    rec.attrs.update(status="failed", message=message, error_type="SchemaError", error_stage="record",
                     traceback=rec.attrs.get("traceback") or message)
    return "failed", "record"


#: The metric the per-job line shows for each loss: the solver's own (relative error when it declares none).
LOSS_METRICS = {"kl": ("weighted KL", "weighted_kl"), "frobenius": ("weighted Frobenius", "weighted_frobenius")}


def _loss_line(job: Job, metrics: dict) -> str:
    """``weighted KL 0.123`` for a KL solver, ``weighted Frobenius 4.56`` for a Frobenius one."""
    label, key = LOSS_METRICS.get(job.solver.loss, ("relative error", "relative_error"))
    if metrics.get(key) is None:
        label, key = "relative error", "relative_error"
    return f"{label} {metrics.get(key, float('nan')):.6g}"


def _log_done(progress: str, job: Job, status: str, stage: str, message: str, rec: Record) -> None:
    what = f"{progress}done {job.describe()}"
    if status == "ok":
        t = rec.groups["timing"]
        log.info("%s: ok, %s, runtime %.3g s (median of %d) -> %s", what, _loss_line(job, rec.groups["metrics"]),
                 t["runtime_median"], t["n_samples"], job.path.name)
    elif status == "skipped":
        log.warning("%s: skipped (%s) -> %s", what, message, job.path.name)
    else:
        log.error("%s: FAILED in %s (%s) -> %s", what, stage, message, job.path.name)


def run(cfg: DictConfig | dict, out_dir: str | os.PathLike | None = None, *, overrides=()) -> dict:
    """Validate ``cfg``, then :func:`run_job` it.

    Parameters
    ----------
    cfg : DictConfig or dict
        A job config (see :class:`nmfexp.experiment.config.ExperimentConfig`);
        missing keys take the schema defaults.
    out_dir : path-like, optional
        Folder for the record; default ``cfg.results_dir``.
    overrides : list of str, optional
        The command-line overrides that produced ``cfg`` (stored in the record).

    Raises
    ------
    nmfexp.experiment.ConfigError
        When ``cfg`` is invalid (a wrong key, type or value): nothing is run
        and nothing is written.
    """
    return run_job(Job.from_config(cfg, None if out_dir is None else Path(out_dir)), overrides=overrides)
