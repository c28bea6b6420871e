"""The body of nmfexp's submitit launchers (:mod:`hydra_plugins.nmfexp.launchers`).

Same executor set-up as upstream's ``BaseSubmititLauncher.launch`` (Hydra's
submitit plugin), with two differences: every job's outcome is collected,
a job that produced no result becomes a failed ``JobReturn`` instead of an
exception that ends the sweep; and the local executor runs at most
``array_parallelism`` jobs at a time (a sliding window), as Slurm does for
array jobs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

__all__ = ["submitit_launch"]

log = logging.getLogger("nmfexp")


def _failed_return(exc: BaseException) -> Any:
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.status = JobStatus.FAILED
    ret._return_value = exc
    return ret


def _executor(launcher):
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = dict(launcher.params)
    prefix = launcher._EXECUTOR
    init = {"folder": params.pop("submitit_folder")}
    if prefix == "local":
        params.pop("array_parallelism", None)  # the local executor has no throttle: the sliding window is it
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
    executor = _executor(launcher)
    args = [(list(ov), "hydra.sweep.dir", initial_job_idx + k, f"job_id_for_{initial_job_idx + k}",
             Singleton.get_state()) for k, ov in enumerate(job_overrides)]
    log.info("submitit %s: %d job(s), output in %s", launcher._EXECUTOR, len(args), sweep_dir)
    if launcher._EXECUTOR == "local":
        jobs = _sliding_window(executor, launcher, args, int(launcher.params.get("array_parallelism") or 1))
    else:
        jobs = executor.map_array(launcher, *zip(*args, strict=True))
    returns = []
    for job in jobs:
        try:
            returns.append(job.results()[0])
        except Exception as exc:  # killed, out of memory, preempted, timed out: no result
            returns.append(_failed_return(exc))
    return returns


def _sliding_window(executor, launcher, args: list, width: int, poll: float = 0.2) -> list:
    """Submit ``args`` one job at a time, never more than ``width`` running."""
    jobs, running = [], []
    for a in args:
        while len(running) >= max(1, width):
            running = [j for j in running if not j.done()]
            if len(running) >= width:
                time.sleep(poll)
        job = executor.submit(launcher, *a)
        jobs.append(job)
        running.append(job)
    return jobs
