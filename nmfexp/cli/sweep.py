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
3. stale temporary files are removed once per results folder; jobs that an
   earlier, crashed driver submitted to Slurm and that still run there are
   waited for, not submitted again (their tasks are in that sweep's
   ``plan.json``);
4. the remaining jobs run (:mod:`nmfexp.cli.backends`): in this process,
   one after the other, with the default (basic) launcher; otherwise as
   tasks of already-composed jobs in worker processes, Slurm array tasks or
   Ray tasks (:mod:`nmfexp.cli.tasks`). One progress display
   (:mod:`nmfexp.cli.progress`) counts them as they end; per-job lines go to
   the sweep's ``nmfexp.log``;
5. a job another process was computing is waited for until its record
   lands or its claim ends: a sweep never counts a job without its record;
6. the sweep ends with one summary line per status, the list of failed and
   lost jobs and the solvers' warnings, once each; ``nmfexp-run`` then exits
   with status 1 if any job failed, was lost or has no record; Ctrl-C ends
   with ``interrupted: k/N recorded; run the same command to finish`` and
   status 130.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import logging
import os
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ..experiment import ConfigError, Job, run_job
from ..experiment.run import existing_records
from ..record import read_record_header
from .progress import Progress
from .tasks import LOG_FORMAT, TaskSpec, add_import_path, note_compiling

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
        """Jobs without a usable record from this sweep: failed, lost, or running elsewhere."""
        return [j for j in self.jobs if j["status"] in NOT_RECORDED]

    def counts(self) -> dict[str, int]:
        return dict(Counter(j["status"] + (" (existing)" if j.get("existing") else "") for j in self.jobs))


#: The report of the last sweep of this process (the command line reads it for its exit status).
LAST_REPORT = SweepReport()


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


def _reusable(jobs: list[Job]) -> tuple[list[str | None], list[dict]]:
    """For each job, the status its existing record keeps (``ok``, ``skipped``), or None when it is to run;
    and the headers: from the results catalogue where it still vouches for the file, the others read in
    one bounded pass over the jobs' record files."""
    from ..results import catalogued_headers

    try:
        known = catalogued_headers([job.path for job in jobs])
    except (OSError, ValueError, RuntimeError):  # no catalogue to trust: read every file
        known = {}
    decisions, headers = existing_records(jobs, known)
    return [d[1] if d and d[0] else None for d in decisions], headers


#: Statuses that make a sweep end with a non-zero status: the job has no usable record from this sweep.
NOT_RECORDED = ("failed", "lost", "running elsewhere")

_RUN_PY = os.path.join("experiment", "run.py")


class _PerJobLines(logging.Filter):
    """Keeps the per-job lines of :func:`nmfexp.experiment.run_job` off the terminal during a sweep (they
    go to the sweep's log file); the progress display and the summary say what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "nmfexp" and record.pathname.endswith(_RUN_PY))


@contextlib.contextmanager
def _sweep_logging(log_file: Path):
    """Every line of the sweep goes to ``log_file``; per-job lines stay off the terminal."""
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    quiet = _PerJobLines()
    consoles = [h for lg in (logging.getLogger(), log) for h in lg.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for h in consoles:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for h in consoles:
            h.removeFilter(quiet)
        log.removeHandler(handler)
        handler.close()


class RecordWatcher(threading.Thread):
    """Driver-side progress for launchers that run jobs elsewhere: reports each record as it lands.

    Every ``interval`` seconds it looks at the record files of the pending
    jobs (a stat each; the header only when the file changed) and calls
    ``on_record(key, status)``.
    """

    def __init__(self, jobs: list[Job], on_record, interval: float = 2.0) -> None:
        super().__init__(name="nmfexp-record-watcher", daemon=True)
        self.pending = {job.key: (job, self._stamp(job)) for job in jobs}
        self.on_record, self.interval = on_record, interval
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
            if header.get("status") and header.get("job") == key:
                del self.pending[key]
                self.on_record(key, header["status"])

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()


def _from_record_or_lost(payload: dict, error: BaseException | None) -> dict:
    """The outcome of a job whose task returned no summary for it: its record if one landed, else lost."""
    header = read_record_header(payload["path"])
    base = {"job": payload["key"], "path": payload["path"], "existing": False}
    if header.get("job") == payload["key"] and header.get("status"):
        return {**base, "status": header["status"], "message": header.get("message", "")}
    why = _first_line(error) if error is not None else "the job ended without writing a record"
    return {**base, "status": "lost", "message": why}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    head = text[0] if text else ""
    return head if isinstance(exc, RuntimeError) and head else f"{type(exc).__name__}: {head}"


class _Outcomes:
    """The driver's one account of a sweep's jobs: each job's final summary, counted once in the display."""

    def __init__(self, todo: list, progress: Progress) -> None:
        self.todo, self.progress = todo, progress
        self.results: dict[str, dict] = {}

    def record(self, summary: dict) -> None:
        key = summary["job"]
        if key not in self.results:
            self.results[key] = summary
        self.progress.update(key, summary["status"])

    def on_done(self, task: TaskSpec, summaries: list[dict] | None, error: BaseException | None) -> None:
        got = set()
        for s in summaries or []:
            got.add(s["job"])
            self.record(s)
        for p in task.jobs:
            if p["key"] not in got:
                self.record(_from_record_or_lost(p, error))


def _run_here(todo: list, outcomes: _Outcomes) -> None:
    """The basic launcher's work, in this process, from the configs already composed."""
    context = {"launcher": "basic (in the driver process)", "hostname": os.uname().nodename, "pid": os.getpid(),
               "parallelism": 1}
    for k, (ov, job) in enumerate(todo, 1):
        try:
            out = run_job(job, overrides=ov, context={**context, "job_num": k - 1, "started": time.time()},
                          progress=f"[{k}/{len(todo)}] ")
        except Exception as exc:  # the record itself could not be written: report, go on
            log.error("[%d/%d] %s: %s: %s", k, len(todo), job.describe(), type(exc).__name__, exc)
            out = {"job": job.key, "path": str(job.path), "status": "failed", "existing": False,
                   "message": f"{type(exc).__name__}: {exc}"}
        outcomes.record(out)


def _wait_adopted(adopted: dict[str, dict], todo_by_key: dict, outcomes: _Outcomes, poll: float = 3.0) -> None:
    """Wait for jobs an earlier (crashed) driver submitted to Slurm that are still pending or running."""
    from ..record.claims import SLURM_ACTIVE_STATES
    from .backends import slurm_states

    tasks = {str(t.get("job_id")): t for t in adopted.values()}
    while tasks:
        states = slurm_states(list(tasks))
        if states is None:  # squeue stopped answering: what landed tells, the rest is lost
            states = {}
        for job_id, t in list(tasks.items()):
            if states.get(job_id) in SLURM_ACTIVE_STATES:
                continue
            del tasks[job_id]
            why = RuntimeError(f"its Slurm task {job_id} (submitted by an earlier run) ended without a record "
                               f"(log: {t.get('stderr', '?')})")
            for key in t.get("jobs", []):
                if key in todo_by_key:
                    _, job = todo_by_key[key]
                    outcomes.record(_from_record_or_lost({"key": key, "path": str(job.path)}, why))
        outcomes.progress.tick()
        if tasks:
            time.sleep(poll)


def _find_adoptable(todo: list, sweep_dir: Path) -> tuple[dict[str, dict], list[Path]]:
    """Jobs of ``todo`` that an unfinished earlier sweep submitted to Slurm and that still run there,
    from the ``plan.json`` files next to this sweep's and in each results folder's ``logs/``."""
    from .backends import active_tasks, read_plan

    folders = {sweep_dir.parent} | {job.path.parent / "logs" for _, job in todo}
    files = sorted({p for folder in folders for p in folder.glob("*/plan.json") if p.parent != sweep_dir})
    plans = [(path, plan) for path in files if (plan := read_plan(path)) and not plan.get("finished")
             and plan.get("tasks")]
    if not plans:
        return {}, []
    active = active_tasks([plan for _, plan in plans])
    keys = {job.key for _, job in todo}
    return {k: t for k, t in active.items() if k in keys}, [path for path, _ in plans]


def _mark_finished(path: Path) -> None:
    from .backends import read_plan

    plan = read_plan(path)
    if plan is not None and not plan.get("finished"):
        plan["finished"] = True
        _write_json(path, plan)


def _execute(sweeper, todo: list, sweep_dir: Path, plan: dict, outcomes: _Outcomes,
             adopted: dict[str, dict]) -> list[str]:
    """Run ``todo`` with the configured launcher; returns the Slurm array ids submitted (for messages)."""
    from .backends import (
        DETACH_ENV,
        array_name,
        launcher_kind,
        local_width,
        make_tasks,
        run_backend,
        slurm_width,
        submissions_record,
        submit_slurm,
        wait_slurm,
    )

    lc = sweeper.config.hydra.launcher
    kind = launcher_kind(lc)
    cwd = str(sweeper.config.hydra.runtime.cwd)
    todo_by_key = {job.key: (ov, job) for ov, job in todo}
    to_submit = [(ov, job) for ov, job in todo if job.key not in adopted]
    tick = outcomes.progress.tick
    if to_submit and kind != "slurm":  # Slurm tasks say it in their own logs
        note_compiling()
    if kind == "basic":
        if adopted:
            _wait_adopted(adopted, todo_by_key, outcomes)
        _run_here(to_submit, outcomes)
        return []
    if kind == "hydra":  # a launcher plugin nmfexp does not know: Hydra composes each job where it runs
        _launch_with_hydra(sweeper, to_submit, outcomes)
        return []
    target = str(lc.get("_target_"))
    if kind == "slurm":
        width = slurm_width(lc)
        context = {"launcher": target, "parallelism": int(lc.get("array_parallelism") or 0)}
        groups = make_tasks(kind, lc, to_submit, context=context, cwd=cwd, log_file=None, width=width)
        submitted = submit_slurm(groups, lc, sweep_dir, array_name([job for _, job in todo], lc.get("name"))) \
            if to_submit else []
        plan["tasks"] = submissions_record(submitted)
        _write_json(sweep_dir / "plan.json", plan)
        arrays = sorted({str(j.job_id).split("_")[0] for j, _, _ in submitted})
        if os.environ.get(DETACH_ENV) == "1":
            log.info("submitted %d job(s) to Slurm (array %s); not waiting: the same command waits for them",
                     len(to_submit), ", ".join(arrays) or "-")
            for key in todo_by_key:
                outcomes.results[key] = {"job": key, "path": str(todo_by_key[key][1].path), "status": "submitted",
                                         "message": "", "existing": False}
            return arrays
        watcher = RecordWatcher([job for _, job in todo], lambda key, status: outcomes.progress.update(key, status))
        watcher.start()
        try:
            if adopted:
                _wait_adopted(adopted, todo_by_key, outcomes)
            wait_slurm(submitted, outcomes.on_done, tick)
        finally:
            watcher.stop()
        return arrays
    if adopted:
        _wait_adopted(adopted, todo_by_key, outcomes)
    width = local_width(lc) if kind == "local" else int(lc.get("n_jobs") or 1) if kind == "joblib" else 0
    parallelism = width or 0
    context = {"launcher": target, "parallelism": parallelism}
    log_file = str((sweep_dir / "nmfexp.log").resolve())  # workers (Ray) may start in another folder
    groups = make_tasks(kind, lc, to_submit, context=context, cwd=cwd, log_file=log_file, width=max(1, width))
    run_backend(kind, lc, groups, cwd=cwd, on_done=outcomes.on_done, tick=tick, width=max(1, width))
    return []


def _launch_with_hydra(sweeper, todo: list, outcomes: _Outcomes) -> None:
    """Hand the jobs to a launcher plugin through Hydra's ``launch`` (each job is composed again where it
    runs); every job ends in the outcomes, lost ones too."""
    from hydra.core.utils import JobStatus

    os.environ[TOTAL_ENV] = str(len(todo))
    watcher = RecordWatcher([job for _, job in todo], lambda key, status: outcomes.progress.update(key, status))
    watcher.start()
    try:
        returns = list(sweeper.launcher.launch([ov for ov, _ in todo], initial_job_idx=0))
    except Exception as exc:  # a worker died and took the launcher down: the records tell what finished
        log.error("the launcher stopped: %s: %s", type(exc).__name__, exc)
        returns = []
    finally:
        os.environ.pop(TOTAL_ENV, None)
        watcher.stop()
    for k, (_ov, job) in enumerate(todo):
        ret = returns[k] if k < len(returns) else None
        if ret is not None and ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
            outcomes.record({"job": job.key, "path": str(job.path), **dict(ret.return_value)})
        else:
            why = RuntimeError(_error_text(ret)) if ret is not None else None
            outcomes.record(_from_record_or_lost({"key": job.key, "path": str(job.path)}, why))


def _wait_elsewhere(outcomes: _Outcomes, poll: float = 2.0) -> None:
    """Jobs another process was computing when this sweep reached them: wait until their record lands or
    their claim ends (its holder finished or died: claims cannot outlive their process, see
    :mod:`nmfexp.record.claims`). A sweep never counts a job it did not see recorded."""
    from ..record import claim_holder

    waiting = {k: s for k, s in outcomes.results.items() if s["status"] == "running elsewhere"}
    if waiting:
        log.info("waiting for %d job(s) that another process is computing (%s)", len(waiting),
                 next(iter(waiting.values())).get("message", ""))
    while waiting:
        for key, s in list(waiting.items()):
            header = read_record_header(s["path"])
            if header.get("job") == key and header.get("status"):
                outcomes.results[key] = {**s, "status": header["status"], "message": header.get("message", ""),
                                         "existing": True}
            elif claim_holder(s["path"]) is None:
                outcomes.results[key] = {**s, "status": "lost", "message": f"the process that was computing it "
                                         f"({s.get('message')}) ended without a record"}
            else:
                continue
            del waiting[key]
        if waiting:
            time.sleep(poll)


def _name_unusable(jobs: list[Job], headers: list[dict], shown: int = 10) -> list[Path]:
    """Name the jobs to run whose record path holds something that is no usable record, in one pass over
    their files (``headers``: what :func:`_reusable` read of them): a damaged, truncated or unreadable
    record, or something that cannot be read as a file at all (a symlink loop, a dangling link, a FIFO).
    The sweep computes those jobs again and their records replace it, and says so. Returns the damaged
    records' paths."""
    damaged, odd = [], []
    for job, header in zip(jobs, headers, strict=True):
        if header or not os.path.lexists(job.path):
            continue
        try:
            regular = stat.S_ISREG(os.stat(job.path).st_mode)
        except OSError as exc:
            odd.append(f"{job.path} ({exc.strerror or exc})")
            continue
        if regular:
            damaged.append(job.path)
        else:
            odd.append(f"{job.path} (not a regular file)")

    def more(items: list) -> str:
        return f" and {len(items) - shown} more" if len(items) > shown else ""

    if damaged:
        log.warning("%d damaged or unreadable record(s) will be computed again: %s%s", len(damaged),
                    ", ".join(map(str, damaged[:shown])), more(damaged))
    if odd:
        log.warning("%d record path(s) hold something that cannot be read as a record; those jobs are computed "
                    "again and their records replace it: %s%s", len(odd), "; ".join(odd[:shown]),
                    f";{more(odd)}" if more(odd) else "")
    return damaged


def _recorded(jobs: list[Job]) -> int:
    return sum(1 for kept in _reusable(jobs)[0] if kept)


def sweep(sweeper, arguments: list[str]) -> Any:
    """The body of :meth:`hydra_plugins.nmfexp.sweeper.NmfexpSweeper.sweep`."""
    from ..record.claims import remove_stale_temp_files_in

    config = sweeper.config
    planned = _plan(sweeper, arguments)  # an invalid job stops the sweep here, before anything is written
    sweep_dir = Path(config.hydra.sweep.dir)
    report = SweepReport()
    todo, todo_headers = [], []
    for (ov, job), kept, header in zip(planned, *_reusable([job for _, job in planned]), strict=True):
        if kept:
            report.jobs.append({"job": job.key, "path": str(job.path), "status": kept, "message": "",
                                "existing": True, "overrides": ov})
        else:
            todo.append((ov, job))
            todo_headers.append(header)
    _name_unusable([job for _, job in todo], todo_headers)
    results_dirs = sorted({job.path.parent for _, job in planned})
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(config, sweep_dir / "multirun.yaml")
    except OSError as exc:
        if todo:
            log.error("cannot write the sweep's log folder %s (%s); %d of %d jobs have no record yet: make the "
                      "results folder writable, or choose another with results_dir=...", sweep_dir,
                      exc.strerror or exc, len(todo), len(planned))
            raise SystemExit(2) from None
        # Every job is recorded: reading is all that is left, so a read-only results folder is fine.
        log.info("sweep of %d jobs: all already recorded in %s; nothing to run (no log folder written: %s)",
                 len(planned), ", ".join(map(str, results_dirs)), exc.strerror or exc)
        LAST_REPORT.jobs[:] = report.jobs
        _summarise(report)
        return [[]]
    for folder in results_dirs:  # temporary files of writers that died: once per sweep, not per job
        remove_stale_temp_files_in(folder)
    adopted, earlier_plans = _find_adoptable(todo, sweep_dir) if todo else ({}, [])
    plan = _write_plan(sweep_dir, planned, todo)
    waiting = f", waiting for {len(adopted)} that an earlier run submitted to Slurm" if adopted else ""
    log.info("sweep of %d jobs: %d already recorded, submitting %d%s; records in %s", len(planned),
             len(planned) - len(todo), len(todo) - len(adopted), waiting, ", ".join(map(str, results_dirs)))
    arrays: list[str] = []
    if todo:
        label = str(planned[0][1].config.get("tag") or "sweep") if planned else "sweep"
        progress = Progress(len(todo), label)
        outcomes = _Outcomes(todo, progress)
        try:
            with _sweep_logging(sweep_dir / "nmfexp.log"):
                arrays = _execute(sweeper, todo, sweep_dir, plan, outcomes, adopted)
        except KeyboardInterrupt:
            progress.close()
            _interrupted(planned, arrays, sweep_dir)
        finally:
            progress.close()
        _wait_elsewhere(outcomes)
        for ov, job in todo:
            out = outcomes.results.get(job.key) or {"job": job.key, "path": str(job.path), "status": "lost",
                                                    "message": "no outcome was reported", "existing": False}
            report.jobs.append({**out, "overrides": ov})
    LAST_REPORT.jobs[:] = report.jobs
    if any(j["status"] == "submitted" for j in report.jobs):  # NMFEXP_SUBMIT_ONLY: the same command collects
        return [[]]
    plan["finished"] = True
    _write_json(sweep_dir / "plan.json", plan)
    if adopted:
        for path in earlier_plans:
            _mark_finished(path)
    _summarise(report)
    return [[]]


def _interrupted(planned: list, arrays: list[str], sweep_dir: Path) -> None:
    """Ctrl-C: say what is recorded and how to finish; exit status 130 (no traceback)."""
    done = _recorded([job for _, job in planned])
    msg = f"interrupted: {done}/{len(planned)} recorded; run the same command to finish"
    if arrays:
        msg += (f" (the Slurm array(s) {', '.join(arrays)} keep running: the same command waits for them; "
                f"scancel {' '.join(arrays)} stops them)")
    log.error("%s", msg)
    raise SystemExit(130)


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _absolute(path: Path) -> str:
    """``path`` made absolute, its symlinks resolved where they can be (a symlink loop in place of a
    record is not an error here: the job runs and its record replaces the link)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def _write_plan(sweep_dir: Path, planned: list, todo: list) -> dict:
    """``plan.json`` in the sweep's log folder: every job's record path, for progress from records alone
    (``nmfexp-results summary`` counts how many of them exist while the sweep runs); once submitted, the
    Slurm task of each job (``tasks``), so that a rerun after a crash of this process waits for them."""
    submitted = {job.key for _, job in todo}
    from ..plans import submitter

    plan = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "pid": os.getpid(),
            "submitter": submitter(), "finished": False,
            "jobs": [{"job": job.key, "path": _absolute(job.path), "submitted": job.key in submitted,
                      "overrides": ov} for ov, job in planned]}
    _write_json(sweep_dir / "plan.json", plan)
    return plan


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
    elsewhere = [s for s in report.jobs if s["status"] == "running elsewhere"]
    for s in elsewhere:
        log.error("not recorded, running elsewhere: %s: %s", " ".join(s.get("overrides") or []), s.get("message"))
    if lost:
        log.error("%d job(s) produced no record; run the same command again to complete exactly those.", len(lost))
    if elsewhere:
        log.error("%d job(s) are being computed by another process (named above) and have no record yet; when it "
                  "ends, run the same command again (it keeps what landed and runs what is missing).", len(elsewhere))
    _summarise_warnings(report)


def _summarise_warnings(report: SweepReport, show: int = 10) -> None:
    """The solvers' warnings of the sweep, once: each distinct warning with the number of jobs it came from."""
    seen: Counter[str] = Counter()
    for s in report.jobs:
        for text in set(s.get("warnings") or []):
            seen[str(text)] += 1
    if not seen:
        return
    log.warning("warnings from %d job(s) (each record keeps its own in the attribute 'warnings'):",
                sum(1 for s in report.jobs if s.get("warnings")))
    for text, n in seen.most_common(show):
        log.warning("  %s (%d job%s)", text, n, "" if n == 1 else "s")
    if len(seen) > show:
        log.warning("  ... and %d other warning(s)", len(seen) - show)
