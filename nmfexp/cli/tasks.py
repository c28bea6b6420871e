"""The worker side of a sweep: a *task* is a list of jobs the driver planned, run one after the other.

The driver (:mod:`nmfexp.cli.sweep`) composes and validates every job once;
a task carries each job as plain data (its resolved config, key, input
digests and record path), so a worker neither composes a config with Hydra
nor imports anything while unpickling it: it imports nmfexp once, rebuilds
each :class:`~nmfexp.experiment.Job` from that data and calls
:func:`~nmfexp.experiment.run_job`, whatever the launcher (a process pool,
joblib, a Slurm array task, a Ray task).

Per-job lines go to the sweep's log file (and, in a Slurm task, to the
task's ``_log.out``); the driver shows one progress display.

Time limits (Slurm). Slurm sends ``SIGUSR2`` ``signal_delay_s`` seconds
before a task's limit and ``SIGTERM`` at it. After ``SIGUSR2`` a task
starts no new job; ``SIGTERM`` stops the running one (no record is written
for it, its claim is released). The jobs not done come back with status
``lost`` and a message saying why: ``timed out after N min: raise
hydra.launcher.timeout_min`` with the task's log path, or that the task was
cancelled or preempted.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["add_import_path", "TaskSpec", "job_payload", "run_task", "TaskInterrupted", "kernels_need_compiling", "LOG_FORMAT"]

log = logging.getLogger("nmfexp")

LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def add_import_path(cwd: str | os.PathLike) -> None:
    """Let ``_target_`` modules be imported from the folder the command was started in."""
    cwd = str(cwd)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def job_payload(overrides: list[str], job) -> dict:
    """What a worker needs to run ``job``: plain data only (unpickling it imports no user code)."""
    return {"overrides": list(overrides), "config": job.config, "key": job.key, "inputs": job.inputs,
            "path": str(job.path), "describe": job.describe()}


def rebuild_job(payload: dict):
    """The :class:`~nmfexp.experiment.Job` of ``payload``, as the driver validated it (no second validation:
    the solver is looked up, the seeds recomputed from the config)."""
    from ..api import resolve_solver, target_solver
    from ..experiment import Job
    from ..experiment.job import Seeds

    conf = payload["config"]
    scfg = conf["solver"]
    if "_target_" in scfg:
        spec = target_solver(scfg)
    else:
        spec = resolve_solver(scfg.get("name"))
    return Job(config=conf, solver=spec, key=payload["key"], inputs=payload["inputs"], seeds=Seeds.from_config(conf),
               path=Path(payload["path"]))


@dataclass
class TaskSpec:
    """One task: ``jobs`` (payloads of :func:`job_payload`) and how to run them.

    ``context`` goes into every record's ``execution`` group (launcher,
    parallelism); ``cwd`` is put on ``sys.path`` first (``_target_`` modules
    next to where the command started); ``log_file`` receives the per-job
    lines; ``time_limit_s`` is the task's limit (Slurm), for the message of
    a timeout; ``logs`` names the task's own log files (set by the driver).
    """

    jobs: list[dict]
    context: dict = field(default_factory=dict)
    cwd: str = ""
    log_file: str | None = None
    time_limit_s: float | None = None
    console: bool = False
    logs: str = ""


class TaskInterrupted(BaseException):
    """``SIGTERM`` reached a task: its time limit, ``scancel`` or preemption. A BaseException, so that no
    ``except Exception`` inside a solver or the pipeline swallows it."""


class _Deadline:
    """Signal handling inside a scheduler's task (installed only in a Slurm task)."""

    def __init__(self, limit_s: float | None):
        self.limit_s, self.t0 = limit_s, time.monotonic()
        self.warned = False

    def install(self) -> None:
        usr = getattr(signal, os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "SIGUSR2"), signal.SIGUSR2)
        signal.signal(usr, self._near)
        signal.signal(signal.SIGTERM, self._stop)

    def _near(self, signum, frame) -> None:  # submitit would raise here and lose the running job
        self.warned = True
        log.warning("the task's time limit is near (signal %s): no new job starts", signal.Signals(signum).name)

    def _stop(self, signum, frame) -> None:
        raise TaskInterrupted(self.why())

    def timed_out(self) -> bool:
        if self.limit_s is None:
            return self.warned
        return self.warned or time.monotonic() - self.t0 >= 0.9 * self.limit_s

    def why(self) -> str:
        if self.timed_out():
            minutes = f"{self.limit_s / 60:g}" if self.limit_s else "?"
            return f"timed out after {minutes} min: raise hydra.launcher.timeout_min"
        return "the task was terminated (SIGTERM: scancel, preemption or node shutdown)"


def kernels_need_compiling() -> bool:
    """True when no numba kernel has a compiled copy on disk yet (the first job then compiles them,
    which takes seconds). False when they are cached, numba is off or this cannot be told."""
    from ..solvers._compiled import numba_disabled

    if numba_disabled():
        return False
    try:
        from numba.core.registry import CPUDispatcher

        from ..solvers import _a1gm_jit
    except ImportError:
        return False
    try:
        dispatchers = [v for v in vars(_a1gm_jit).values() if isinstance(v, CPUDispatcher)]
        # kernels compile lazily, per input kind: nothing cached at all is what makes the first job pause
        return bool(dispatchers) and not any(os.path.exists(d._cache._cache_file._index_path) for d in dispatchers)
    except AttributeError:  # numba's cache layout changed: say nothing
        return False


def note_compiling(where: str = "") -> None:
    """The one line that explains the first job's pause."""
    if kernels_need_compiling():
        log.warning("compiling the numba kernels once%s (about 10 s; they are cached on disk for later runs)", where)


def _setup_logging(spec: TaskSpec) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    fmt = logging.Formatter(LOG_FORMAT)
    if spec.log_file:
        h = logging.FileHandler(spec.log_file)
        h.setFormatter(fmt)
        handlers.append(h)
    if spec.console:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(fmt)
        handlers.append(h)
    for h in handlers:
        log.addHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False  # a worker's console belongs to the driver's progress display
    return handlers


def run_task(spec: TaskSpec) -> list[dict]:
    """Run the jobs of ``spec`` one after the other; return one summary per job (see
    :func:`nmfexp.experiment.run_job`), ``lost`` with the reason for a job stopped or not started."""
    from ..experiment import run_job

    if spec.cwd:
        add_import_path(spec.cwd)
    handlers = _setup_logging(spec)
    deadline = _Deadline(spec.time_limit_s)
    in_slurm = bool(os.environ.get("SLURM_JOB_ID")) and spec.context.get("scheduler") == "slurm"
    if in_slurm:
        deadline.install()
        spec.logs = spec.logs or _task_logs()
    context = {**spec.context, "hostname": socket.gethostname(), "pid": os.getpid()}
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_PARTITION"):
        if var in os.environ:
            context[var.lower()] = os.environ[var]
    out: list[dict] = []
    try:
        note_compiling()
        for k, payload in enumerate(spec.jobs):
            summary = {"job": payload["key"], "path": payload["path"], "existing": False}
            if deadline.warned:
                out.append({**summary, "status": "lost", "message": f"not started: {deadline.why()}{spec.logs}"})
                continue
            try:
                job = rebuild_job(payload)
                out.append(run_job(job, overrides=payload["overrides"],
                                   context={**context, "job_num": k, "started": time.time()}))
            except TaskInterrupted as exc:
                out.append({**summary, "status": "lost", "message": f"{exc}{spec.logs}"})
                out.extend({"job": p["key"], "path": p["path"], "existing": False, "status": "lost",
                            "message": f"not started: {exc}{spec.logs}"} for p in spec.jobs[k + 1:])
                break
            except Exception as exc:  # the record could not be written, the solver could not be imported, ...
                log.error("%s: %s: %s", payload["describe"], type(exc).__name__, exc)
                out.append({**summary, "status": "failed", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        if in_slurm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return out


def _task_logs() -> str:
    """`` (log: <_log.err>, <_log.out>)`` of the submitit task this process runs, or ''."""
    try:
        import submitit

        paths = submitit.JobEnvironment().paths
        return f" (log: {paths.stderr}, {paths.stdout})"
    except Exception:  # not a submitit task after all
        return ""


def worker_init(cwd: str = "", driver_pid: int | None = None) -> None:
    """Initializer of local worker processes: Ctrl-C is the driver's to handle (it stops the pool), and
    ``_target_`` modules next to the command's folder are importable.

    In the driver's own process (``driver_pid``: joblib with ``n_jobs=1`` runs its tasks there) Ctrl-C is
    left alone: ignoring it there made the rest of the sweep, and every process it started, deaf to it."""
    if driver_pid is None or os.getpid() != driver_pid:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cwd:
        add_import_path(cwd)

