"""``nmfexp-run``: the Hydra command line around :func:`nmfexp.experiment.run_job`.

::

    nmfexp-run solver=wnmf_kl dataset.n_rows=500 mask=grid mask.rate=0.05
    nmfexp-run -m solver=a1gm,wnmf_kl seed=0,1,2
    nmfexp-run +experiment=fig5_synthetic          # presets run their sweep (hydra.mode: MULTIRUN)

A single run exits with status 2 for an invalid config (nothing is written)
and 1 when the job failed; a sweep exits with 2 before anything runs when any
job's config is invalid, and with 1 after the summary when any job failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

from omegaconf import DictConfig

from ..experiment import ConfigError, Job, run_job
from ..experiment.config import SCHEMA_NAME, config_dir
from .plugins import register
from .sweep import LAST_REPORT, NOT_RECORDED, TOTAL_ENV, add_import_path, job_results_dir

__all__ = ["main", "execution_context"]

log = logging.getLogger("nmfexp")

_SINGLE: list[dict] = []  # the outcome of a single (non-sweep) run in this process


def execution_context() -> dict:
    """Where this job runs: launcher, host, process, Slurm ids when present."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    launcher = hc.launcher or {}
    target = str(launcher.get("_target_", ""))
    parallelism = launcher.get("n_jobs") or launcher.get("array_parallelism")  # joblib; submitit
    ctx = {"launcher": target,
           "hostname": os.uname().nodename, "pid": os.getpid(), "job_num": int(hc.job.get("num") or 0),
           "parallelism": int(parallelism) if isinstance(parallelism, int) else 0, "started": time.time()}
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_PARTITION"):
        if var in os.environ:
            ctx[var.lower()] = os.environ[var]
    return ctx


def _progress() -> str:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return ""
    return f"[{hc.job.num + 1}/{os.environ.get(TOTAL_ENV, '?')}] "


def _task(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    add_import_path(hc.runtime.cwd)
    try:
        job = Job.from_config(cfg, job_results_dir(cfg, hc.runtime.cwd))
    except ConfigError as exc:
        log.error("invalid config: %s (nothing was run or written)", exc)
        outcome = {"status": "invalid", "message": str(exc), "path": "", "existing": False}
    else:
        outcome = run_job(job, overrides=list(hc.overrides.task), context=execution_context(), progress=_progress())
    if hc.mode == RunMode.RUN:
        _SINGLE.append(outcome)
    return outcome


@contextlib.contextmanager
def _help_without_schema_groups():
    """``--help`` lists the config groups a user picks from, not the schemas they are typed by.

    The schemas live in Hydra's ConfigStore under ``nmfexp_schema`` (the defaults lists of the
    group options name them), so Hydra's help would list them beside ``dataset`` and ``solver``.
    """
    from hydra._internal.hydra import Hydra

    original = getattr(Hydra, "format_config_groups", None)
    if original is None:  # another Hydra: its help is shown as it is
        yield
        return

    def format_config_groups(self, predicate, compact: bool = True) -> str:
        return original(self, lambda group: predicate(group) and group.split("/")[0] != SCHEMA_NAME, compact)

    Hydra.format_config_groups = format_config_groups
    try:
        yield
    finally:
        Hydra.format_config_groups = original


def main() -> None:
    """Console script ``nmfexp-run``."""
    import hydra

    from ..record import ignore_sigxfsz

    ignore_sigxfsz()
    register()
    _SINGLE.clear()
    LAST_REPORT.jobs.clear()
    with _help_without_schema_groups():
        hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_task)()
    if any(o["status"] == "invalid" for o in _SINGLE):
        sys.exit(2)
    failed = [o for o in _SINGLE + LAST_REPORT.jobs if o["status"] in NOT_RECORDED]
    if failed:
        print(f"nmfexp-run: {len(failed)} job(s) failed, produced no record or are running elsewhere; see the "
              "messages above.", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
