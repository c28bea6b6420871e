"""Planning and summarising a sweep in the driver process (the ``nmfexp`` Hydra sweeper).

What happens on ``nmfexp-run -m ...``, whatever the launcher:

1. every job's config is composed once and validated (:meth:`Job.from_config`):
   a wrong key, type or value stops the whole sweep before anything runs or
   is written;
2. jobs whose record already exists and can be kept (``ok`` or ``skipped``,
   same input files) are not submitted at all: the log says
   ``N of M jobs already recorded, submitting K``;
3. the remaining jobs go to the configured launcher (basic, joblib,
   submitit, ray, ...);
4. the sweep ends with one summary line per status and the list of failed
   jobs; ``nmfexp-run`` then exits with status 1 if any job failed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ..experiment import ConfigError, Job
from ..record import read_record_header

__all__ = ["sweep", "SweepReport", "LAST_REPORT", "TOTAL_ENV", "job_results_dir", "add_import_path"]

log = logging.getLogger("nmfexp")

#: Environment variable through which the driver tells jobs how many were submitted (progress lines).
TOTAL_ENV = "NMFEXP_SWEEP_TOTAL"


@dataclass
class SweepReport:
    """What a sweep did: one summary dict per job (see :func:`nmfexp.experiment.run_job`)."""

    jobs: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [j for j in self.jobs if j["status"] == "failed"]

    def counts(self) -> dict[str, int]:
        return dict(Counter(j["status"] + (" (existing)" if j.get("existing") else "") for j in self.jobs))


#: The report of the last sweep of this process (the command line reads it for its exit status).
LAST_REPORT = SweepReport()


def add_import_path(cwd: str | os.PathLike) -> None:
    """Let ``_target_`` modules be imported from the folder the command was started in."""
    cwd = str(cwd)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def job_results_dir(cfg, cwd: str | os.PathLike) -> Path:
    """``results_dir`` of a job config, resolved against the folder the command was started in
    (so that ``hydra.job.chdir=true`` does not scatter records into Hydra's output folders)."""
    path = Path(str(cfg.results_dir)).expanduser()
    return path if path.is_absolute() else Path(cwd) / path


def _plan(sweeper, arguments: list[str]) -> list[tuple[list[str], Job]]:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    config, loader = sweeper.config, sweeper.hydra_context.config_loader
    parser = OverridesParser.create(config_loader=loader)
    overrides = parser.parse_overrides(list(arguments))
    batches = [ov for batch in BasicSweeper.split_arguments(overrides, None) for ov in batch]
    cwd = config.hydra.runtime.cwd
    add_import_path(cwd)
    planned = []
    for ov in batches:
        cfg = loader.load_sweep_config(config, list(ov))
        try:
            planned.append((ov, Job.from_config(cfg, job_results_dir(cfg, cwd))))
        except ConfigError as exc:
            log.error("invalid job (%s): %s", " ".join(ov), exc)
            log.error("nothing was run; fix the config and start the sweep again.")
            raise SystemExit(2) from None
    return planned


def sweep(sweeper, arguments: list[str]) -> Any:
    """The body of :class:`hydra_plugins.nmfexp_sweeper.NmfexpSweeper.sweep`."""
    from hydra.core.utils import JobStatus

    config = sweeper.config
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")

    planned = _plan(sweeper, arguments)
    report = SweepReport()
    todo = []
    for ov, job in planned:
        header = read_record_header(job.path)
        keep, why = job.reusable(header.get("status"), _inputs(header)) if header else (False, "")
        if keep:
            report.jobs.append({"job": job.key, "path": str(job.path), "status": why, "message": "",
                                "existing": True, "overrides": list(ov)})
        else:
            todo.append(ov)
    results_dirs = sorted({str(job.path.parent) for _, job in planned})
    log.info("sweep of %d jobs: %d already recorded, submitting %d; records in %s", len(planned),
             len(planned) - len(todo), len(todo), ", ".join(results_dirs))

    returns = []
    if todo:
        os.environ[TOTAL_ENV] = str(len(todo))
        try:
            returns = sweeper.launcher.launch(todo, initial_job_idx=0)
        finally:
            os.environ.pop(TOTAL_ENV, None)
    for ov, ret in zip(todo, returns, strict=False):
        if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
            value = dict(ret.return_value)
        else:
            value = {"status": "failed", "message": _error_text(ret), "path": "", "existing": False}
        report.jobs.append({**value, "overrides": list(ov)})
    _summarise(report)
    LAST_REPORT.jobs[:] = report.jobs
    return [returns]


def _inputs(header: dict) -> dict:
    import json

    try:
        return json.loads(header.get("inputs") or "{}")
    except ValueError:
        return {}


def _error_text(ret) -> str:
    try:
        _ = ret.return_value  # re-raises the exception that escaped the task
    except BaseException as exc:  # noqa: BLE001 - any escape is reported, none stops the summary
        return f"{type(exc).__name__}: {exc}"
    return "the job returned no summary"


def _summarise(report: SweepReport) -> None:
    counts = report.counts()
    log.info("sweep finished: %d jobs: %s", len(report.jobs),
             ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none")
    for s in report.failed:
        log.error("failed: %s: %s (%s)", " ".join(s.get("overrides") or []), s.get("message"), s.get("path"))
