"""Planning, running and summarising a sweep in the driver process (the ``nmfexp`` Hydra sweeper).

What happens on ``nmfexp-run -m ...``, whatever the launcher:

1. every job's config is composed once and validated (:meth:`Job.from_config`):
   a wrong key, type or value stops the whole sweep before anything runs or
   is written. Hydra composes one config per distinct choice of config
   groups; the value overrides of each job (``seed=3``, ``mask.rate=0.1``)
   are then applied to a copy with Hydra's own override rules, which is what
   makes planning thousands of jobs take seconds instead of minutes;
2. jobs whose record already exists and can be kept (``ok`` or ``skipped``,
   same input files) are not submitted at all: the log says
   ``N of M jobs already recorded, submitting K``;
3. the remaining jobs run: in this process, one after the other, with the
   default (basic) launcher; otherwise through the configured launcher
   (joblib, submitit/Slurm, Ray), which composes each job again where it runs;
4. the sweep ends with one summary line per status and the list of failed
   jobs; ``nmfexp-run`` then exits with status 1 if any job failed.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import logging
import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ..experiment import ConfigError, Job, run_job
from ..experiment.run import existing_record
from ..record import read_record_header

__all__ = ["sweep", "SweepReport", "LAST_REPORT", "TOTAL_ENV", "job_results_dir", "add_import_path", "Planner"]

log = logging.getLogger("nmfexp")

#: Environment variable through which the driver tells jobs how many were submitted (progress lines).
TOTAL_ENV = "NMFEXP_SWEEP_TOTAL"


@dataclass
class SweepReport:
    """What a sweep did: one summary dict per job (see :func:`nmfexp.experiment.run_job`)."""

    jobs: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [j for j in self.jobs if j["status"] in ("failed", "lost")]

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


class Planner:
    """Composes the job configs of a sweep: once per distinct choice of config groups, then
    each job's value overrides applied to a copy (Hydra's own override semantics)."""

    def __init__(self, sweeper) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.master = sweeper.config
        self.loader = sweeper.hydra_context.config_loader
        self.parser = OverridesParser.create(config_loader=self.loader)
        self._parsed: dict[str, Any] = {}
        self._bases: dict[tuple, DictConfig] = {}

    def _parse(self, line: str):
        if line not in self._parsed:
            self._parsed[line] = self.parser.parse_overrides([line])[0]
        return self._parsed[line]

    def _is_group(self, override) -> bool:
        key = override.key_or_group
        if override.package is not None or "/" in key:
            return True
        repository = getattr(self.loader, "repository", None)
        return repository is None or repository.group_exists(key)  # unknown loader: compose everything

    def _base(self, groups: tuple[str, ...]) -> DictConfig:
        if groups not in self._bases:
            cfg = self.loader.load_sweep_config(self.master, list(groups))
            if not _mentions_hydra(cfg):
                with open_dict(cfg):  # the job never reads Hydra's node: copies are cheaper without it
                    del cfg["hydra"]
            self._bases[groups] = cfg
        return self._bases[groups]

    def compose(self, overrides: list[str]) -> DictConfig:
        """The job's config: a copy of its groups' base with its value overrides applied."""
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        parsed = [self._parse(line) for line in overrides]
        groups = tuple(o.input_line for o in parsed if self._is_group(o))
        cfg = copy.deepcopy(self._base(groups))
        ConfigLoaderImpl._apply_overrides_to_config([o for o in parsed if not self._is_group(o)], cfg)
        return cfg

    @staticmethod
    def _leaf(cfg: DictConfig, key: str):
        """``(parent node, last key, raw value)`` of an existing scalar key, else None."""
        from omegaconf import ValueNode

        head, _, last = key.rpartition(".")
        parent = OmegaConf.select(cfg, head) if head else cfg
        if not isinstance(parent, DictConfig) or last not in parent:
            return None
        node = parent._get_node(last)
        return (parent, last, node._value()) if isinstance(node, ValueNode) else None

    def job(self, overrides: list[str], cwd) -> Job:
        """The validated :class:`Job` of one sweep entry.

        Plain value overrides of existing scalar keys (``seed=3``) are set on the
        shared base config, the job is built from it, and the base is restored:
        no copy of the config per job. Anything else (``+key``, ``~key``, a
        mapping) goes through :meth:`compose`.
        """
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        parsed = [self._parse(line) for line in overrides]
        groups = tuple(o.input_line for o in parsed if self._is_group(o))
        values = [o for o in parsed if not self._is_group(o)]
        base = self._base(groups)
        plain = all(not (o.is_delete() or o.is_add() or o.is_force_add()) and not isinstance(o.value(), (dict, list))
                    for o in values)
        saved = [self._leaf(base, o.key_or_group) for o in values] if plain else [None]
        if any(s is None for s in saved):
            cfg = self.compose(overrides)
            return Job.from_config(cfg, job_results_dir(cfg, cwd))
        try:
            ConfigLoaderImpl._apply_overrides_to_config(values, base)
            return Job.from_config(base, job_results_dir(base, cwd))
        finally:
            for parent, last, raw in reversed(saved):
                parent[last] = raw


def _mentions_hydra(cfg: DictConfig) -> bool:
    """True when a key outside ``hydra`` interpolates Hydra's node (``${hydra:...}``)."""
    for key in cfg:
        if key == "hydra":
            continue
        node = cfg._get_node(key)
        text = OmegaConf.to_yaml(node) if OmegaConf.is_config(node) else str(node._value())
        if "${hydra" in text:
            return True
    return False


def _plan(sweeper, arguments: list[str]) -> list[tuple[list[str], Job]]:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    planner = Planner(sweeper)
    overrides = planner.parser.parse_overrides(list(arguments))
    batches = [ov for batch in BasicSweeper.split_arguments(overrides, None) for ov in batch]
    cwd = sweeper.config.hydra.runtime.cwd
    add_import_path(cwd)
    planned = []
    for ov in batches:
        try:
            planned.append((list(ov), planner.job(list(ov), cwd)))
        except ConfigError as exc:
            log.error("invalid job (%s): %s", " ".join(ov), exc)
            log.error("nothing was run; fix the config and start the sweep again.")
            raise SystemExit(2) from None
    return planned


def _reusable(job: Job) -> str | None:
    """The status an existing record keeps for ``job`` (``ok``, ``skipped``), or None when it is to run."""
    existing = existing_record(job)
    return existing[1] if existing and existing[0] else None


def _run_here(sweeper, todo: list[tuple[list[str], Job]], report: SweepReport) -> None:
    """The basic launcher's work, in this process, from the configs already composed."""
    sweep_dir = Path(str(sweeper.config.hydra.sweep.dir))
    handler = logging.FileHandler(sweep_dir / "nmfexp.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    log.addHandler(handler)
    context = {"launcher": "basic (in the driver process)", "hostname": os.uname().nodename, "pid": os.getpid(),
               "parallelism": 1}
    try:
        for k, (ov, job) in enumerate(todo, 1):
            try:
                out = run_job(job, overrides=ov, context={**context, "job_num": k - 1},
                              progress=f"[{k}/{len(todo)}] ")
            except Exception as exc:  # the record itself could not be written: report, go on
                log.error("[%d/%d] %s: %s: %s", k, len(todo), job.describe(), type(exc).__name__, exc)
                out = {"job": job.key, "path": str(job.path), "status": "failed", "existing": False,
                       "message": f"{type(exc).__name__}: {exc}"}
            report.jobs.append({**out, "overrides": ov})
    finally:
        log.removeHandler(handler)
        handler.close()


class RecordWatcher(threading.Thread):
    """Driver-side progress for launchers that run jobs elsewhere: logs each record as it lands.

    Every ``interval`` seconds it looks at the record files of the pending
    jobs (a stat each; the header only when the file changed) and logs
    ``[k/K] recorded <job>: <status>``.
    """

    def __init__(self, jobs: list[Job], interval: float = 2.0) -> None:
        super().__init__(name="nmfexp-record-watcher", daemon=True)
        self.pending = {job.key: (job, self._stamp(job)) for job in jobs}
        self.total, self.done, self.interval = len(jobs), 0, interval
        self._stop_event = threading.Event()

    @staticmethod
    def _stamp(job: Job):
        try:
            st = os.stat(job.path)
            return st.st_mtime_ns, st.st_ino
        except OSError:
            return None

    def poll(self) -> None:
        for key, (job, before) in list(self.pending.items()):
            stamp = self._stamp(job)
            if stamp is None or stamp == before:
                continue
            header = read_record_header(job.path)
            if header.get("status"):
                self.done += 1
                del self.pending[key]
                log.info("[%d/%d] recorded %s: %s", self.done, self.total, job.describe(), header["status"])

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()


def _launch(sweeper, todo: list[tuple[list[str], Job]], report: SweepReport) -> list:
    """Hand the jobs to the configured launcher; every job ends in the report, lost ones too."""
    from hydra.core.utils import JobStatus

    os.environ[TOTAL_ENV] = str(len(todo))
    watcher = RecordWatcher([job for _, job in todo])
    watcher.start()
    try:
        returns = list(sweeper.launcher.launch([ov for ov, _ in todo], initial_job_idx=0))
    except Exception as exc:  # a worker died and took the launcher down: the records tell what finished
        log.error("the launcher stopped: %s: %s", type(exc).__name__, exc)
        returns = []
    finally:
        os.environ.pop(TOTAL_ENV, None)
        watcher.stop()
    for k, (ov, job) in enumerate(todo):
        ret = returns[k] if k < len(returns) else None
        if ret is not None and ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
            value = dict(ret.return_value)
        else:
            header = read_record_header(job.path)
            if header.get("job") == job.key and header.get("status"):
                value = {"status": header["status"], "message": header.get("message", ""), "existing": False}
            else:
                why = _error_text(ret) if ret is not None else "the job ended without writing a record"
                value = {"status": "lost", "message": why, "existing": False}
        report.jobs.append({"job": job.key, "path": str(job.path), **value, "overrides": ov})
    return returns


def sweep(sweeper, arguments: list[str]) -> Any:
    """The body of :meth:`hydra_plugins.nmfexp.sweeper.NmfexpSweeper.sweep`."""
    config = sweeper.config
    planned = _plan(sweeper, arguments)  # an invalid job stops the sweep here, before anything is written
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    report = SweepReport()
    todo = []
    for ov, job in planned:
        kept = _reusable(job)
        if kept:
            report.jobs.append({"job": job.key, "path": str(job.path), "status": kept, "message": "",
                                "existing": True, "overrides": ov})
        else:
            todo.append((ov, job))
    _write_plan(sweep_dir, planned, todo)
    results_dirs = sorted({str(job.path.parent) for _, job in planned})
    log.info("sweep of %d jobs: %d already recorded, submitting %d; records in %s", len(planned),
             len(planned) - len(todo), len(todo), ", ".join(results_dirs))
    returns = []
    if todo and type(sweeper.launcher).__name__ == "BasicLauncher":
        _run_here(sweeper, todo, report)
    elif todo:
        returns = _launch(sweeper, todo, report)
    _summarise(report)
    LAST_REPORT.jobs[:] = report.jobs
    return [returns]


def _write_plan(sweep_dir: Path, planned: list, todo: list) -> None:
    """``plan.json`` in the sweep's log folder: every job's record path, for progress from records alone
    (``nmfexp-results summary`` counts how many of them exist while the sweep runs)."""
    submitted = {job.key for _, job in todo}
    plan = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "jobs": [{"job": job.key, "path": str(job.path.resolve()), "submitted": job.key in submitted,
                      "overrides": ov} for ov, job in planned]}
    (sweep_dir / "plan.json").write_text(json.dumps(plan, indent=1))


def _error_text(ret) -> str:
    """Why a job returned nothing usable, in a line or two. Reads the stored exception directly:
    ``JobReturn.return_value`` would re-raise it and print Hydra's "Error executing job with overrides:
    None" for a job that never started."""
    exc = getattr(ret, "_return_value", None)
    if not isinstance(exc, BaseException):
        return "the job returned no summary"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # submitit appends the tail of the job's log to its message: keep what happened and where to look
    keep = lines[:1] + [line for line in lines[1:3] if "Look at" in line or "state:" in line]
    return f"{type(exc).__name__}: {' '.join(keep)}"


def _summarise(report: SweepReport) -> None:
    counts = report.counts()
    log.info("sweep finished: %d jobs: %s", len(report.jobs),
             ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none")
    for s in report.jobs:
        if s["status"] == "failed":
            log.error("failed: %s: %s (%s)", " ".join(s.get("overrides") or []), s.get("message"), s.get("path"))
    lost = [s for s in report.jobs if s["status"] == "lost"]
    for s in lost:
        log.error("lost (no record): %s: %s", " ".join(s.get("overrides") or []), s.get("message"))
    if lost:
        log.error("%d job(s) produced no record; run the same command again to complete exactly those.", len(lost))
