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

__all__ = ["static_environment", "thread_info", "cpu_model", "total_memory", "concurrent_jobs"]

_PACKAGES = ("nmfexp", "numpy", "scipy", "h5py", "hydra-core", "omegaconf", "pandas", "threadpoolctl", "numba")
_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")


def _git_commit() -> dict:
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        return {}
    try:
        run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=10, check=True)
        commit = run(["git", "-C", str(repo), "rev-parse", "HEAD"]).stdout.strip()
        dirty = run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": bool(dirty)}


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
