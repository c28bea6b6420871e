"""The body of nmfexp's submitit launchers (:mod:`hydra_plugins.nmfexp.launchers`).

Same executor set-up as upstream's ``BaseSubmititLauncher.launch`` (Hydra's
submitit plugin), with two differences: every job's outcome is collected,
a job that produced no result becomes a failed ``JobReturn`` instead of an
exception that ends the sweep; and the local executor runs at most
``array_parallelism`` tasks at a time (a sliding window), as Slurm does for
array jobs.

A local task runs ``jobs_per_task`` jobs one after the other in one process
(``auto``: enough tasks for about four per worker, at most
:data:`MAX_JOBS_PER_TASK` jobs each). Starting a process that imports Hydra,
NumPy and nmfexp costs seconds, far more than a small job: one process per
job made ``nmfexp-reproduce --quick`` eight times slower than running the
jobs one after the other in the driver. ``timeout_min`` stays a limit per
job (a task's limit is ``timeout_min`` times its jobs); a task that dies
loses the jobs it had not recorded yet, and the rerun completes exactly
those.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

__all__ = ["submitit_launch", "jobs_per_task"]

log = logging.getLogger("nmfexp")

#: The most jobs ``jobs_per_task: auto`` puts in one local task.
MAX_JOBS_PER_TASK = 25


def _failed_return(exc: BaseException) -> Any:
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.status = JobStatus.FAILED
    ret._return_value = exc
    return ret


def jobs_per_task(setting, n_jobs: int, width: int) -> int:
    """How many jobs one local task runs: ``setting`` (``"auto"`` or a positive integer) for ``n_jobs`` jobs
    on ``width`` workers."""
    if setting in (None, "auto"):
        return max(1, min(MAX_JOBS_PER_TASK, math.ceil(n_jobs / (4 * max(1, width)))))
    try:
        per = int(setting)
    except (TypeError, ValueError):
        per = 0
    if per < 1 or str(setting).strip() != str(per):
        raise ValueError(f"hydra.launcher.jobs_per_task must be 'auto' or a positive integer, got {setting!r}")
    return per


def _run_group(launcher, group: list) -> list:
    """One local task: the jobs of ``group`` one after the other, each returning its ``JobReturn``."""
    out = []
    for a in group:
        try:
            out.append(launcher(*a))
        except Exception as exc:  # Hydra's run_job failed before the job could record anything
            out.append(_failed_return(exc))
    return out


def _executor(launcher, per: int = 1):
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = {k: v for k, v in dict(launcher.params).items() if v is not None or k not in ("signal_delay_s", "mem_gb")}
    prefix = launcher._EXECUTOR
    init = {"folder": params.pop("submitit_folder")}
    params.pop("jobs_per_task", None)
    if prefix == "local":
        params.pop("array_parallelism", None)  # the local executor has no throttle: the sliding window is it
        if params.get("timeout_min") is not None:
            params["timeout_min"] = int(params["timeout_min"]) * per  # timeout_min is a limit per job
    if "max_num_timeout" in params:
        init[f"{prefix}_max_num_timeout"] = params.pop("max_num_timeout")
    executor = submitit.AutoExecutor(cluster=prefix, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"{prefix}_{k}": v for k, v in params.items()})
    return executor


def submitit_launch(launcher, job_overrides, initial_job_idx: int) -> list:
    from hydra.core.singleton import Singleton

    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    args = [(list(ov), "hydra.sweep.dir", initial_job_idx + k, f"job_id_for_{initial_job_idx + k}",
             Singleton.get_state()) for k, ov in enumerate(job_overrides)]
    if launcher._EXECUTOR != "local":
        executor = _executor(launcher)
        log.info("submitit %s: %d job(s), output in %s", launcher._EXECUTOR, len(args), sweep_dir)
        return [_result(job) for job in executor.map_array(launcher, *zip(*args, strict=True))]
    width = int(launcher.params.get("array_parallelism") or 1)
    per = jobs_per_task(launcher.params.get("jobs_per_task", "auto"), len(args), width)
    executor = _executor(launcher, per)
    groups = [args[i:i + per] for i in range(0, len(args), per)]
    log.info("submitit local: %d job(s) in %d task(s) of up to %d, %d at a time, output in %s", len(args),
             len(groups), per, width, sweep_dir)
    returns = []
    for job, group in zip(_sliding_window(executor, launcher, groups, width), groups, strict=True):
        try:
            returns.extend(job.results()[0])
        except Exception as exc:  # the task's process died: every job of it without a return is lost
            returns.extend(_failed_return(exc) for _ in group)
    return returns


def _result(job) -> Any:
    try:
        return job.results()[0]
    except Exception as exc:  # killed, out of memory, preempted, timed out: no result
        return _failed_return(exc)


def _sliding_window(executor, launcher, groups: list, width: int, poll: float = 0.2) -> list:
    """Submit one task per group of jobs, never more than ``width`` running."""
    jobs, running = [], []
    for group in groups:
        while len(running) >= max(1, width):
            running = [j for j in running if not j.done()]
            if len(running) >= width:
                time.sleep(poll)
        job = executor.submit(_run_group, launcher, group)
        jobs.append(job)
        running.append(job)
    return jobs
