"""Running the planned jobs of a sweep: one backend per launcher preset, all fed the same tasks.

The driver (:mod:`nmfexp.cli.sweep`) has composed and validated every job
once. Here the jobs to run are grouped into tasks (:class:`TaskSpec`: plain
data, run by :func:`nmfexp.cli.tasks.run_task`) and handed to the library
behind the configured launcher, reading the launcher's own options from
``hydra.launcher``:

==================  ====================================================================
``local_parallel``  a pool of worker processes on this machine (``concurrent.futures``,
                    forked from a server that imported nmfexp once); a worker runs job
                    after job; a worker that dies loses its running job only
``joblib``          ``joblib.Parallel`` (loky's reusable workers)
``slurm``           submitit job arrays, one per resource request (CPUs, memory), tasks of
                    ``jobs_per_task`` jobs, named ``nmfexp-<artifact>``
``ray_local``,      Ray tasks with ``num_cpus`` from ``timing.blas_threads``; ``ray_cluster``
``ray_cluster``     connects to an existing cluster without ``object_store_memory``
==================  ====================================================================

Every backend calls ``on_done(task, summaries, error)`` once per task as it
ends; the driver counts jobs, as records land too, in one progress display.
Any other launcher (a third-party Hydra plugin) goes through Hydra's own
``launch`` (:func:`nmfexp.cli.sweep._launch_with_hydra`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..experiment.config import usable_cores
from ..plans import read_plan, submitted_here
from .launch import MAX_JOBS_PER_TASK, jobs_per_task
from .progress import format_seconds
from .tasks import TaskSpec, add_import_path, job_payload, run_task, worker_init

__all__ = ["launcher_kind", "job_resources", "make_tasks", "run_backend", "array_name", "signal_delay_s",
           "slurm_states", "DETACH_ENV"]

log = logging.getLogger("nmfexp")

OnDone = Callable[[TaskSpec, "list[dict] | None", "BaseException | None"], None]

#: Set by ``nmfexp-reproduce``: a sweep on a scheduler submits its jobs and returns without waiting;
#: the same command run again waits for them (so that all artifacts are queued at once).
DETACH_ENV = "NMFEXP_SUBMIT_ONLY"

#: Memory a job asks for beyond its matrices (Python, NumPy, numba, HDF5), and per matrix entry
#: (the data, its mask, a solver's work arrays and the reconstruction for the metrics, in float64).
BASE_MEM_GB = 0.75
BYTES_PER_ENTRY = 120
#: What a job whose size the config does not give (a real data set) asks for.
DEFAULT_MEM_GB = 2


def launcher_kind(lc: DictConfig | dict | None) -> str:
    """``basic``, ``local``, ``slurm``, ``joblib``, ``ray`` or ``hydra`` (any other plugin) for the
    launcher config ``lc`` (``hydra.launcher``)."""
    target = str((lc or {}).get("_target_", ""))
    if not target or target.endswith("BasicLauncher"):
        return "basic"
    if target == "hydra_plugins.nmfexp.launchers.LocalLauncher":
        return "local"
    if target == "hydra_plugins.nmfexp.launchers.SlurmLauncher":
        return "slurm"
    if target.startswith("hydra_plugins.hydra_joblib_launcher."):
        return "joblib"
    if target.startswith("hydra_plugins.hydra_ray_launcher.") and "aws" not in target.lower():
        return "ray"
    return "hydra"


def job_resources(job, mem_gb: Any = None) -> tuple[int, int]:
    """``(cpus, mem_gb)`` one job asks for: ``timing.blas_threads`` CPUs; ``mem_gb`` when given, else an
    estimate from the matrix size of the config (``dataset.n_rows`` x ``n_cols``; real data sets, whose
    size the config does not give, :data:`DEFAULT_MEM_GB`)."""
    cpus = int(job.timing.get("blas_threads") or 1)
    if mem_gb not in (None, "", "auto"):
        return cpus, int(mem_gb)
    d = job.config["dataset"]
    n = d.get("n_rows") if isinstance(d, dict) else None
    m = (d.get("n_cols") or n) if isinstance(d, dict) else None
    if not isinstance(n, int) or not isinstance(m, int):
        return cpus, DEFAULT_MEM_GB
    return cpus, max(1, math.ceil(BASE_MEM_GB + BYTES_PER_ENTRY * n * m / 1e9))


def array_name(jobs: list, name: str | None) -> str:
    """The scheduler's name for a sweep's jobs: ``nmfexp-<artifact>`` from the jobs' common ``tag``
    (``_quick`` dropped), unless ``hydra.launcher.name`` was set to something else than ``nmfexp``."""
    if name and name != "nmfexp":
        return name
    tags = {str(job.config.get("tag") or "") for job in jobs}
    tag = tags.pop() if len(tags) == 1 else ""
    tag = tag.removesuffix("_quick")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
    return f"nmfexp-{safe}" if safe else "nmfexp"


def signal_delay_s(limit_min: float) -> int:
    """Seconds before a task's time limit at which Slurm warns it (``SIGUSR2``): a tenth of the limit,
    between 10 s and 120 s (Slurm may send it up to a minute earlier still). submitit's fixed 120 s
    warned a 1-minute task at once."""
    return int(min(120, max(10, limit_min * 60 / 10)))


def _chunks(items: list, per: int) -> list[list]:
    return [items[i:i + per] for i in range(0, len(items), per)]


def make_tasks(kind: str, lc: DictConfig, todo: list, *, context: dict, cwd: str, log_file: str | None,
               width: int) -> list[tuple[tuple[int, int], list[TaskSpec]]]:
    """The tasks of ``todo`` (pairs of overrides and Job), grouped by resource request ``(cpus, mem_gb)``."""
    groups: dict[tuple[int, int], list] = {}
    mem = lc.get("mem_gb") if kind == "slurm" else None
    for ov, job in todo:
        key = job_resources(job, mem) if kind in ("slurm", "ray") else (0, 0)
        groups.setdefault(key, []).append((ov, job))
    setting = lc.get("jobs_per_task", "auto")
    out = []
    for key, items in groups.items():
        if kind == "slurm":
            per = jobs_per_task(setting, len(items), width)
        elif setting in (None, "auto"):  # persistent workers: a task per job balances best and costs nothing
            per = 1
        else:
            per = jobs_per_task(setting, len(items), width)
        tasks = [TaskSpec(jobs=[job_payload(ov, job) for ov, job in chunk], context=dict(context), cwd=cwd,
                          log_file=log_file) for chunk in _chunks(items, per)]
        out.append((key, tasks))
    return out


# --------------------------------------------------------------------------- local processes

def _started(payload: dict) -> bool:
    """Whether a job handed to a worker that died had started: it left its record or its claim."""
    from ..record import lock_path

    path = Path(payload["path"])
    return path.exists() or lock_path(path).exists()


def _split_broken(tasks: list[TaskSpec], on_done: OnDone, exc: BaseException) -> list[TaskSpec]:
    """After a worker died: jobs that had started are reported (lost unless recorded), the others are
    returned as tasks to run again."""
    again = []
    for task in tasks:
        started = [p for p in task.jobs if _started(p)]
        rest = [p for p in task.jobs if not _started(p)]
        if started:
            on_done(TaskSpec(jobs=started, context=task.context), None, exc)
        if rest:
            again.append(TaskSpec(jobs=rest, context=task.context, cwd=task.cwd, log_file=task.log_file))
    return again


def run_local(tasks: list[TaskSpec], width: int, cwd: str, on_done: OnDone, tick: Callable[[], None]) -> None:
    """``local_parallel``: a pebble process pool; its workers fork from a server that imported nmfexp once,
    and run task after task. A worker that dies (killed, out of memory) fails only the task it was running
    (pebble replaces the worker; ``concurrent.futures`` and loky stop the whole pool and every running job)."""
    import multiprocessing

    from pebble import ProcessExpired, ProcessPool

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["nmfexp.cli.tasks", "nmfexp.experiment", "nmfexp.experiment.run"])
    pool = ProcessPool(max_workers=max(1, min(width, len(tasks))), initializer=worker_init, initargs=(cwd,),
                       context=ctx)
    try:
        futures = {pool.schedule(run_task, args=(t,)): t for t in tasks}
        waiting = set(futures)
        while waiting:
            done, waiting = _wait_any(waiting, 1.0)
            tick()
            for f in done:
                try:
                    on_done(futures[f], f.result(), None)
                except ProcessExpired as exc:
                    why = RuntimeError(f"its worker process (pid {exc.pid}) died with exit code {exc.exitcode} "
                                       "(killed, out of memory?)")
                    on_done(futures[f], None, why)  # its running job and the ones after it in the task: lost
                except Exception as exc:
                    on_done(futures[f], None, exc)
        pool.close()
    except BaseException:
        pool.stop()  # Ctrl-C: the workers are killed; a job stopped mid-way leaves no record
        pool.join()
        raise
    pool.join()


def _wait_any(futures: set, timeout: float) -> tuple[set, set]:
    from concurrent.futures import FIRST_COMPLETED, wait

    done, rest = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
    return set(done), set(rest)


def run_joblib(tasks: list[TaskSpec], lc: DictConfig, cwd: str, on_done: OnDone, tick: Callable[[], None]) -> None:
    """``joblib``: ``joblib.Parallel`` over the tasks (loky's workers are reused, so each imports once)."""
    from joblib import Parallel, delayed

    n_jobs = lc.get("n_jobs") or 1
    options = {"n_jobs": int(n_jobs), "backend": lc.get("backend"), "prefer": lc.get("prefer") or "processes",
               "return_as": "generator_unordered", "batch_size": 1}
    pending = list(tasks)
    while pending:
        by_key = {t.jobs[0]["key"]: t for t in pending}
        reported: set[str] = set()
        try:
            for summaries in Parallel(**options)(delayed(_run_in_joblib)(t, cwd, os.getpid()) for t in pending):
                task = by_key.get(summaries[0]["job"]) if summaries else None
                if task is not None:
                    reported.add(task.jobs[0]["key"])
                    on_done(task, summaries, None)
                tick()
            pending = []
        except Exception as exc:  # a worker died (TerminatedWorkerError): the pool stops
            left = [t for k, t in by_key.items() if k not in reported]
            again = _split_broken(left, on_done, exc)
            if sum(len(t.jobs) for t in again) == sum(len(t.jobs) for t in left):
                for t in again:
                    on_done(t, None, exc)
                again = []
            pending = again


def _run_in_joblib(task: TaskSpec, cwd: str, driver_pid: int) -> list[dict]:
    worker_init(cwd, driver_pid)
    return run_task(task)


# --------------------------------------------------------------------------- Ray

def _ray_init_options(init: dict) -> dict:
    """``ray.init`` keywords from ``hydra.launcher.ray.init``.

    hydra-ray-launcher 1.2.2 always adds ``object_store_memory``, which Ray
    refuses when connecting to an existing cluster ("must not be provided
    when connecting to an existing cluster"; Hydra issue #2893, fixed
    upstream after 1.2.2): it is dropped here, with the other keywords that
    only make sense for a Ray started by this process.
    """
    init = {k: v for k, v in init.items() if v is not None or k == "address"}
    address = init.get("address")
    if address in (None, "", "local"):
        init.setdefault("object_store_memory", 78643200)  # the plugin's default for a local instance
    else:
        for key in ("object_store_memory", "num_cpus", "num_gpus", "resources", "include_dashboard"):
            init.pop(key, None)
    init.setdefault("log_to_driver", False)  # workers log to the sweep's log file; the driver shows progress
    return init


def run_ray(groups: list[tuple[tuple[int, int], list[TaskSpec]]], lc: DictConfig, cwd: str, on_done: OnDone,
            tick: Callable[[], None]) -> None:
    """``ray_local`` / ``ray_cluster``: one Ray task per task, ``num_cpus`` from the jobs' BLAS threads."""
    import ray

    ray_cfg = OmegaConf.to_container(lc.get("ray") or {}, resolve=True) or {}
    init = _ray_init_options(dict(ray_cfg.get("init") or {}))
    remote = dict(ray_cfg.get("remote") or {})
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(**init)
    try:
        fn = ray.remote(_run_in_ray)
        refs = {}
        for (cpus, _mem), tasks in groups:
            options = {**remote, "num_cpus": max(1, cpus)}
            for t in tasks:
                refs[fn.options(**options).remote(t, cwd)] = t
        waiting = list(refs)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            tick()
            for ref in ready:
                try:
                    on_done(refs[ref], ray.get(ref), None)
                except Exception as exc:  # the worker died more often than Ray retries, or the task raised
                    cause = getattr(exc, "cause", None)  # RayTaskError wraps the task's own exception
                    on_done(refs[ref], None, cause if isinstance(cause, BaseException) else exc)
    finally:
        if started_here:
            ray.shutdown()


def _run_in_ray(task: TaskSpec, cwd: str) -> list[dict]:
    add_import_path(cwd)
    return run_task(task)


# --------------------------------------------------------------------------- Slurm

def slurm_states(job_ids: list[str], *, timeout: float = 30.0) -> dict[str, str] | None:
    """``{task id: state}`` of the array tasks among ``job_ids`` (``123_4``) that Slurm still lists
    (``squeue -r``: one line per array task); None when squeue cannot be asked."""
    squeue = shutil.which("squeue")
    arrays = sorted({str(j).split("_")[0] for j in job_ids if str(j).split("_")[0].isdigit()})
    if squeue is None or not arrays:
        return None
    try:
        out = subprocess.run([squeue, "-h", "-r", "-j", ",".join(arrays), "-o", "%i %T"], capture_output=True,
                             text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        if "invalid job id" in out.stderr.lower():
            return {}
        return None
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def _slurm_message(job, limit_min: float) -> str:
    """Why a Slurm task left no result, from the scheduler's state, with its log files."""
    try:
        state = str(job.state).upper()
    except Exception:  # sacct unavailable
        state = "UNKNOWN"
    logs = f" (log: {job.paths.stderr}, {job.paths.stdout})"
    if state.startswith("TIMEOUT"):
        return f"timed out after {limit_min:g} min: raise hydra.launcher.timeout_min{logs}"
    if state.startswith("OUT_OF_ME"):
        return f"out of memory: raise hydra.launcher.mem_gb{logs}"
    if state.startswith("CANCELLED"):
        return f"its Slurm task {job.job_id} was cancelled (state: {state}){logs}"
    return f"its Slurm task {job.job_id} ended without a result (state: {state}){logs}"


def submit_slurm(groups, lc: DictConfig, sweep_dir: Path, name: str) -> list[tuple[Any, TaskSpec, float]]:
    """Submit one job array per resource request; return ``(submitit job, task, limit_min)`` per task."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = dict(OmegaConf.to_container(lc, resolve=True))
    for key in ("_target_", "jobs_per_task", "submitit_folder", "name", "mem_gb", "cpus_per_task", "timeout_min",
                "signal_delay_s", "max_num_timeout"):
        params.pop(key, None)
    folder = Path(str(lc.get("submitit_folder") or sweep_dir / ".submitit" / "%j"))
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=0)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    timeout_min = float(lc.get("timeout_min") or 60)
    submitted = []
    for (cpus, mem), tasks in groups:
        per = max(len(t.jobs) for t in tasks)
        limit = timeout_min * per
        delay = lc.get("signal_delay_s")
        settings = {**params, "name": name, "cpus_per_task": cpus, "timeout_min": int(math.ceil(limit)),
                    "signal_delay_s": int(delay) if delay is not None else signal_delay_s(limit)}
        if not (lc.get("mem_per_cpu") or lc.get("mem_per_gpu")):  # Slurm takes one of --mem, --mem-per-*
            settings["mem_gb"] = mem
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in settings.items()})
        for t in tasks:
            t.time_limit_s = limit * 60
            t.context["scheduler"] = "slurm"
            t.console = True
        jobs = executor.map_array(run_task, tasks)
        log.info("submitted Slurm array %s (%s): %d task(s) of up to %d job(s), %d CPU(s), %d GB, %g min each",
                 jobs[0].job_id.split("_")[0] if jobs else "-", name, len(jobs), per, cpus, mem, limit)
        submitted += [(j, t, limit) for j, t in zip(jobs, tasks, strict=True)]
    return submitted


#: How long a task may be missing from squeue while submitit (sacct) still does not call it done, before
#: the sweep stops waiting for it: sacct can lag behind squeue by a few seconds after a task ends.
GONE_GRACE_S = 60.0
#: How often the waiting driver asks squeue (seconds).
SQUEUE_EVERY_S = 15.0


def wait_slurm(submitted, on_done: OnDone, tick: Callable[..., None], poll: float = 2.0, *,
               grace: float = GONE_GRACE_S, squeue_every: float = SQUEUE_EVERY_S) -> None:
    """Wait for the submitted tasks; each ends with its summaries, or with the reason it left none.

    submitit asks ``sacct`` whether a task is done. A task that never ran (cancelled while pending) may
    have no accounting line at all, and submitit would then wait for it forever; so ``squeue`` is asked
    too, and a task it has stopped listing for ``grace`` seconds while sacct still says nothing ends the
    wait for it: with its result when its result file exists, else as lost, with the reason.

    ``tick(waiting=...)`` is called after each round: ``waiting`` is None while a task is still queued or
    running, and otherwise says which tasks left the queue and how long the wait for them may still last
    (the sweep's estimate from its rate of jobs would mean nothing then)."""
    waiting = list(submitted)
    gone_since: dict[str, float] = {}
    asked = -math.inf
    while waiting:
        now = time.monotonic()
        listed = None
        if now - asked >= squeue_every:
            asked = now
            listed = slurm_states([str(job.job_id) for job, _, _ in waiting])
        still = []
        for job, task, limit in waiting:
            jid = str(job.job_id)
            if listed is not None:
                if jid in listed:
                    gone_since.pop(jid, None)
                else:
                    gone_since.setdefault(jid, now)
            done = job.done()
            if not done and not (jid in gone_since and now - gone_since[jid] >= grace):
                still.append((job, task, limit))
                continue
            if job.paths.result_pickle.exists():
                try:
                    on_done(task, job.results()[0] if done else _pickled_result(job), None)
                except Exception as exc:  # run_task itself raised (it should not): say where to look
                    on_done(task, None, RuntimeError(f"{str(exc).splitlines()[0]} (log: {job.paths.stderr})"))
            elif done:
                on_done(task, None, RuntimeError(_slurm_message(job, limit)))
            else:
                on_done(task, None, RuntimeError(
                    f"its Slurm task {jid} left the queue without a result and Slurm's accounting has no state "
                    f"for it (cancelled before it started?) (log: {job.paths.stderr}, {job.paths.stdout})"))
        waiting = still
        tick(waiting=_grace_note(waiting, gone_since, now, grace))
        if waiting:
            time.sleep(poll)


def _grace_note(waiting, gone_since: dict[str, float], now: float, grace: float) -> str | None:
    """What the wait is for when every task still waited for has left the queue (else None)."""
    ids = [str(job.job_id) for job, _, _ in waiting]
    if not ids or not all(jid in gone_since for jid in ids):
        return None
    left = max(0.0, max(grace - (now - gone_since[jid]) for jid in ids))
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return (f"Slurm task(s) {shown} left the queue; waiting up to {format_seconds(left)} more for Slurm's "
            "accounting to report them")


def _pickled_result(job):
    """The value a task returned, read from its result file (for a task sacct never reports done)."""
    from submitit.core.utils import pickle_load

    outcome, value = pickle_load(job.paths.result_pickle)
    if outcome != "success":
        raise RuntimeError(str(value))
    return value


def submissions_record(submitted) -> list[dict]:
    """What ``plan.json`` keeps of the submitted tasks (so that a rerun after a driver crash finds them)."""
    return [{"scheduler": "slurm", "job_id": str(job.job_id), "jobs": [p["key"] for p in task.jobs],
             "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr), "time_limit_min": limit}
            for job, task, limit in submitted]


def active_tasks(plans: list[dict], *, any_submitter: bool = False) -> dict[str, dict]:
    """``{job key: task entry}`` for jobs of unfinished plans whose Slurm task is still pending or running.

    Only plans this host and user submitted are asked about (a plan from an archive, or from another
    machine, names job ids of another scheduler); ``any_submitter`` asks about every plan."""
    from ..record.claims import SLURM_ACTIVE_STATES

    entries = []
    for plan in plans:
        if plan.get("finished") or not (any_submitter or submitted_here(plan)):
            continue
        for t in plan.get("tasks") or []:
            if isinstance(t, dict) and t.get("scheduler") == "slurm" and isinstance(t.get("jobs"), list):
                entries.append(t)
    if not entries:
        return {}
    states = slurm_states([str(t.get("job_id", "")) for t in entries])
    if states is None:
        return {}
    out = {}
    for t in entries:
        if states.get(str(t.get("job_id"))) in SLURM_ACTIVE_STATES:
            for key in t["jobs"]:
                if isinstance(key, str):
                    out[key] = t
    return out


def running_in_scheduler(plan_files: list[Path], keys: list[str], *,
                         any_submitter: bool = False) -> dict[str, int]:
    """``{Slurm task id: number of jobs}`` for the jobs ``keys`` that an unfinished sweep (any of
    ``plan_files``) submitted and that Slurm still lists as queued or running (for ``nmfexp-results
    summary``); plans of another host or user only with ``any_submitter``."""
    plans = [plan for path in plan_files if (plan := read_plan(Path(path))) and not plan.get("finished")]
    active = active_tasks(plans, any_submitter=any_submitter) if plans else {}
    out: dict[str, int] = {}
    for key in keys:
        if key in active:
            task = str(active[key].get("job_id"))
            out[task] = out.get(task, 0) + 1
    return out


def run_backend(kind: str, lc: DictConfig, groups, *, cwd: str, on_done: OnDone, tick: Callable[[], None],
                width: int) -> None:
    """Run the tasks of ``groups`` with the backend ``kind`` (``local``, ``joblib``, ``ray``)."""
    tasks = [t for _, ts in groups for t in ts]
    if kind == "local":
        run_local(tasks, width, cwd, on_done, tick)
    elif kind == "joblib":
        run_joblib(tasks, lc, cwd, on_done, tick)
    elif kind == "ray":
        run_ray(groups, lc, cwd, on_done, tick)
    else:
        raise ValueError(f"no backend {kind!r}")


def slurm_width(lc: DictConfig, cpus: int = 1) -> int:
    """Tasks that can run at once: ``array_parallelism``, at most the partition's CPUs / ``cpus`` when
    ``sinfo`` tells them (so that ``jobs_per_task: auto`` makes about four tasks per slot)."""
    width = int(lc.get("array_parallelism") or 256)
    sinfo = shutil.which("sinfo")
    if sinfo:
        cmd = [sinfo, "-h", "-o", "%C"] + (["-p", str(lc.partition)] if lc.get("partition") else [])
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            total = sum(int(line.split("/")[3]) for line in out.stdout.split() if line.count("/") == 3)
            if out.returncode == 0 and total:
                width = min(width, max(1, total // max(1, cpus)))
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return width


def local_width(lc: DictConfig) -> int:
    return int(lc.get("array_parallelism") or usable_cores())


__all__ += ["MAX_JOBS_PER_TASK", "submit_slurm", "wait_slurm", "submissions_record", "read_plan", "active_tasks",
            "slurm_width", "local_width"]
