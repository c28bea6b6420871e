"""Where and with what a job ran: versions, CPU, memory, BLAS, git commit, launcher.

Stored in every record's ``environment`` group, so that a table of results
says which machine and software produced each number.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["static_environment", "thread_info", "cpu_model", "total_memory", "concurrent_jobs", "blas_build",
           "provenance_of", "provenance_note"]

_PACKAGES = ("nmfexp", "numpy", "scipy", "h5py", "hydra-core", "omegaconf", "pandas", "threadpoolctl", "numba")
_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")


#: Folders of the checkout whose untracked files change what a run computes (code, configs, presets):
#: a new solver module not yet added to git makes the tree dirty; an untracked note elsewhere does not.
_SOURCE_DIRS = ("nmfexp", "conf", "experiments", "hydra_plugins")


def _git_commit(repo: Path | None = None) -> dict:
    """The checkout's commit and whether the tree differs from it: a change to a tracked file, or an
    untracked file among the sources (:data:`_SOURCE_DIRS`; ignored files such as results do not count)."""
    repo = Path(__file__).resolve().parents[2] if repo is None else Path(repo)
    if not (repo / ".git").exists():
        return {}
    try:
        run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=10, check=True)
        git = ["git", "-C", str(repo)]
        commit = run([*git, "rev-parse", "HEAD"]).stdout.strip()
        dirty = run([*git, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
        untracked = run([*git, "ls-files", "--others", "--exclude-standard", "--", *_SOURCE_DIRS]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": bool(dirty or untracked)}


def cpu_model() -> str:
    """The CPU's model name: ``platform.processor()``, else ``/proc/cpuinfo`` (Linux), else ''."""
    name = platform.processor()
    if name and name not in (platform.machine(), "unknown"):
        return name
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name or ""


def total_memory() -> int:
    """Physical memory in bytes (0 when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 0


@functools.lru_cache(maxsize=1)
def static_environment() -> dict:
    """Facts that do not change during a process (computed once)."""
    from importlib import metadata

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count() or 0,
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
        "memory_bytes": total_memory(),
    }
    for package in _PACKAGES:
        try:
            env[f"version_{package.replace('-', '_')}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    env.update(_git_commit())
    env.update({var: os.environ[var] for var in _ENV_VARS if var in os.environ})
    return env


def thread_info() -> list[dict]:
    """The BLAS/OpenMP thread pools as threadpoolctl sees them (inside the job's thread limit)."""
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "num_threads", "version", "threading_layer", "architecture", "filepath")
    return [{k: v for k, v in pool.items() if k in keep} for pool in threadpool_info()]


def _live_markers(folder: Path) -> int:
    count = 0
    for marker in folder.iterdir():
        try:
            os.kill(int(marker.name), 0)  # signal 0: is the process alive?
            count += 1
        except (ValueError, ProcessLookupError):
            marker.unlink(missing_ok=True)  # a job that died while measuring
        except PermissionError:
            count += 1  # alive, another user's process
    return count


@contextlib.contextmanager
def concurrent_jobs() -> Iterator[list[int]]:
    """Count the nmfexp jobs measuring on this host at the same time as this one.

    Each job marks itself in a per-host folder of the system's temporary
    directory while its solver is timed; the yielded list gets the number of
    live markers (this job included) at the start and at the end, so
    ``max(counts)`` tells whether the timing shared the machine.
    """
    folder = Path(tempfile.gettempdir()) / f"nmfexp-running-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(exist_ok=True)
    marker = folder / str(os.getpid())
    marker.touch()
    counts = [_live_markers(folder)]
    try:
        yield counts
    finally:
        counts.append(_live_markers(folder))
        marker.unlink(missing_ok=True)


# --------------------------------------------------------------------------- what a table of records rests on


def blas_build(value) -> str | None:
    """A record's BLAS entry (``env.blas``, e.g. ``"openblas 0.3.21; mkl 2023.1"``) as one build: each
    library once, sorted, since the same libraries met in another order are the same build."""
    if not isinstance(value, str) or not value.strip():
        return None
    return ", ".join(sorted({part.strip() for part in value.split(";") if part.strip()}))


def _counts(column) -> dict:
    from collections import Counter

    counted = Counter(str(v) for v in column if isinstance(v, str) and v)
    return dict(counted.most_common())


def provenance_of(df) -> dict:
    """The commits, dirty records and BLAS builds of a table of records (:func:`nmfexp.results.load`).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per record, with the columns ``env.git_commit``,
        ``env.git_dirty`` and ``env.blas`` where known.

    Returns
    -------
    dict
        ``records``; ``commits`` and ``blas``: value -> number of records
        (most frequent first); ``dirty``: records made from a working tree
        with uncommitted changes; ``unknown_commit``: records without a commit.
    """
    n = len(df)
    commits = _counts(df["env.git_commit"]) if "env.git_commit" in df else {}
    dirty = 0
    if "env.git_dirty" in df:
        # True only for a flag that says True (bool or numpy bool); text or NaN in a damaged record is not dirty
        dirty = sum(1 for v in df["env.git_dirty"] if type(v).__name__ in ("bool", "bool_") and bool(v))
    blas = _counts(df["env.blas"].map(blas_build)) if "env.blas" in df else {}
    return {"records": n, "commits": commits, "dirty": int(dirty), "unknown_commit": n - sum(commits.values()),
            "blas": blas}


def provenance_note(df) -> str:
    """One line for a figure's footer or a report: the commit(s) of the records, marked DIRTY when any
    record was made from a working tree with uncommitted changes, and a mix of BLAS builds.

    ``"commit 8d93813b18"``, ``"commit 8d93813b18, DIRTY: 4 of 4 records made with uncommitted
    changes"``, ``"2 commits: 8d93813b18 (3), 09e3340a11 (1); BLAS MIXED: ..."``; empty for no records.
    """
    p = provenance_of(df)
    if not p["records"]:
        return ""
    commits = p["commits"]
    if not commits:
        text = "commit unknown"
    elif len(commits) == 1:
        text = f"commit {next(iter(commits))[:10]}"
    else:
        text = f"{len(commits)} commits: " + ", ".join(f"{c[:10]} ({k})" for c, k in commits.items())
    if commits and p["unknown_commit"]:
        text += f" ({p['unknown_commit']} record(s) without a commit)"
    if p["dirty"]:
        text += f", DIRTY: {p['dirty']} of {p['records']} records made with uncommitted changes"
    if len(p["blas"]) > 1:
        text += "; BLAS MIXED: " + ", ".join(f"{b} ({k})" for b, k in p["blas"].items())
    return text
