"""Sweep plans (``<results>/logs/multirun_*/plan.json``) read as data, wherever they came from.

A sweep's driver writes its plan: every planned job's record path, who
submitted it (host and user) and, on Slurm, the submitted array tasks. The
plan then travels: ``nmfexp-results archive`` packs it, someone else
extracts it. Every reader treats a plan as untrusted data:

- a plan's record paths are resolved inside the results folder the plan
  belongs to (the folder whose ``logs/`` holds it); a relative path is taken
  from that folder, and a path that leaves it (``/etc/passwd``,
  ``../../outside.h5``, an old archive's absolute path from another machine,
  a link out) is ignored and named, never opened (:func:`record_paths`);
- the scheduler (``squeue``) is asked about a plan's Slurm tasks only when
  this host and user submitted them (:func:`submitted_here`), unless the
  caller asks explicitly (``nmfexp-results summary --ask-scheduler``);
- archives store plans with record paths relative to that results folder,
  marked ``archived``, without the submitter's log paths
  (:func:`portable_plan`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

__all__ = ["read_plan", "submitter", "submitted_here", "plan_root", "record_paths", "portable_plan",
           "MAX_PLAN_BYTES"]

#: A ``plan.json`` larger than this is not read (a plan of a million jobs is ~200 MB less than this).
MAX_PLAN_BYTES = 50_000_000


def read_plan(path: str | os.PathLike) -> dict | None:
    """A ``plan.json`` as a dict, or None when it is not one (missing, too large, not a regular file,
    not a JSON object)."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_PLAN_BYTES:
            return None
        plan = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) else None


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return str(os.getuid())


def submitter() -> dict:
    """Who writes a plan here: ``{"host": ..., "user": ...}`` (kept in the plan)."""
    return {"host": os.uname().nodename, "user": _user()}


def submitted_here(plan: dict) -> bool:
    """True when ``plan`` was written by a sweep of this host and user and not read from an archive:
    only then are its Slurm job ids this scheduler's to ask about."""
    who = plan.get("submitter")
    return (not plan.get("archived") and isinstance(who, dict) and who.get("host") == os.uname().nodename
            and who.get("user") == _user())


def plan_root(plan_path: str | os.PathLike) -> Path:
    """The results folder a plan belongs to: ``<root>/logs/multirun_*/plan.json`` -> ``<root>``."""
    return Path(plan_path).parents[2]


def _inside(path: str, root_real: str) -> bool:
    return path == root_real or path.startswith(root_real.rstrip(os.sep) + os.sep)


def record_paths(plan_path: str | os.PathLike, jobs: list) -> tuple[list[str | None], list[str]]:
    """Each planned job's record path, resolved inside the plan's results folder.

    Parameters
    ----------
    plan_path : str or PathLike
        The ``plan.json`` (``<root>/logs/multirun_*/plan.json``).
    jobs : list
        The plan's ``jobs`` entries (dicts with a ``path``).

    Returns
    -------
    paths : list of str or None
        The real path of each job's record under ``<root>``, or None where the
        plan's path is missing, not text, or leaves ``<root>`` (after ``..``
        and links are resolved).
    ignored : list of str
        The plan's paths that were ignored, as written in the plan.
    """
    root_real = os.path.realpath(plan_root(plan_path))
    paths: list[str | None] = []
    ignored: list[str] = []
    for job in jobs:
        given = job.get("path") if isinstance(job, dict) else None
        if not isinstance(given, str) or not given or "\0" in given:
            paths.append(None)
            if given is not None:
                ignored.append(repr(given)[:200])
            continue
        real = os.path.realpath(os.path.join(root_real, given))  # an absolute path stays itself
        if _inside(real, root_real):
            paths.append(real)
        else:
            paths.append(None)
            ignored.append(given[:200])
    return paths, ignored


def portable_plan(plan: dict, plan_path: str | os.PathLike) -> dict:
    """The plan as an archive stores it: record paths relative to its results folder (a path outside
    it becomes None), marked ``archived``, its Slurm tasks without their local log paths."""
    root_real = os.path.realpath(plan_root(plan_path))
    out = {k: v for k, v in plan.items() if k not in ("jobs", "tasks")}
    out["archived"] = True
    jobs = plan.get("jobs")
    if isinstance(jobs, list):
        paths, _ = record_paths(plan_path, jobs)
        out["jobs"] = [({**job, "path": PurePosixPath(Path(os.path.relpath(real, root_real))).as_posix()
                         if real is not None else None} if isinstance(job, dict) else job)
                       for job, real in zip(jobs, paths, strict=True)]
    tasks = plan.get("tasks")
    if isinstance(tasks, list):
        out["tasks"] = [{k: v for k, v in t.items() if k not in ("stdout", "stderr")} if isinstance(t, dict) else t
                        for t in tasks]
    return out
