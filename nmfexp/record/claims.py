"""Claims: a per-job lock file (``<name>.lock``) so that two sweeps on one results folder
compute each job once.

A claim holds who made it: host, PID, the process's start time, the boot id
of its machine and, inside a Slurm job, that job's id. It is stale, and
taken over by the next process that wants the job, when

- it cannot be read as a claim (garbage, truncated: claims are created
  whole, through a hard link, so a readable claim is never half written);
- it is dated in the future by more than :data:`MAX_CLOCK_SKEW` seconds
  (another host's wrong clock, a copied file);
- it was made on this machine (same host name and boot id) by a process
  that is gone, or whose PID now belongs to another process (the start
  time differs), or before the machine rebooted (the boot id differs);
- it was made on another host inside a Slurm job that the scheduler says
  is no longer running (``squeue``; when it cannot be asked, nothing is
  concluded);
- it has not changed for ``stale_after`` seconds (24 h by default): the
  last resort for claims of other hosts that nothing else can judge.

A live claim makes a sweep report the job as ``running elsewhere``; the
sweep then ends with a non-zero status (see :mod:`nmfexp.cli.sweep`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ._format import LOCK_SUFFIX, TEMP_SUFFIX
from .write import STALE_SECONDS, _age, _host_tag, _pid_alive, remove_stale_temp_files

#: A claim dated more than this many seconds in the future is not believed (clock skew beyond it
#: means a wrong clock or a copied file, not a process that is computing the job).
MAX_CLOCK_SKEW = 300.0

#: Slurm job states in which a job's processes may still be running.
SLURM_ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                                 "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
                                 "PREEMPTED"})


@dataclass(frozen=True)
class ClaimInfo:
    """Who holds a claim: ``host``, ``pid``, ``time`` (seconds since the epoch) and the lock file;
    ``start_time`` (the process's start in clock ticks since boot), ``boot_id`` and ``slurm_job``
    when known (claims of nmfexp 0.2 have none of them)."""

    host: str
    pid: int
    time: float
    path: Path
    start_time: str | None = None
    boot_id: str | None = None
    slurm_job: str | None = None

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        slurm = f", Slurm job {self.slurm_job}" if self.slurm_job else ""
        return f"process {self.pid} on {self.host}{slurm} since {when}"


def _proc_stat(pid: int) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (empty when unreadable)."""
    try:
        raw = Path(f"/proc/{int(pid)}/stat").read_bytes()
    except (OSError, ValueError):
        return []
    return raw[raw.rfind(b")") + 2:].split()  # the command name may hold spaces and parentheses


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (ended, not yet reaped by its parent)."""
    if not _pid_alive(pid):
        return True
    fields = _proc_stat(pid)
    return bool(fields) and fields[0] in (b"Z", b"X")


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or None when unknown.

    Together with the PID it names one process: a PID the system gave to a
    new process after the old one ended has another start time.
    """
    fields = _proc_stat(pid)
    return fields[19].decode() if len(fields) > 19 else None


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This machine's boot id (Linux), or None: it changes at every boot, so PIDs of claims made before a
    reboot are not compared with the processes of today."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def current_slurm_job() -> str | None:
    """The Slurm job id of this process (``SLURM_JOB_ID``, unique per array task), or None."""
    return os.environ.get("SLURM_JOB_ID") or None


def slurm_job_active(job_id: str, *, timeout: float = 20.0) -> bool | None:
    """Whether Slurm job ``job_id`` may still run processes (True), has ended (False), or None when the
    scheduler cannot be asked (no ``squeue`` here, no answer)."""
    squeue = shutil.which("squeue")
    if squeue is None or not str(job_id).replace("_", "").isdigit():
        return None
    try:
        out = subprocess.run([squeue, "-h", "-j", str(job_id), "-o", "%T"], capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return False if "invalid job id" in out.stderr.lower() else None
    states = {line.strip().upper() for line in out.stdout.splitlines() if line.strip()}
    return bool(states & SLURM_ACTIVE_STATES)


_HELD_TOKENS: set[str] = set()  # claims this process holds


def lock_path(path: str | os.PathLike) -> Path:
    """The claim file of record ``path``: ``<name>.lock``."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


class Claim:
    """A claim on one job, held by this process until :meth:`release`.

    Use it as a context manager; :meth:`refresh` keeps a claim alive for jobs
    that run longer than ``stale_after`` seconds.
    """

    def __init__(self, lock: Path, content: bytes, info: ClaimInfo, token: str, took_over: bool = False):
        self.lock, self.info = lock, info
        self._content, self._token = content, token
        #: True when a stale claim of another process was broken to take this one (its temporary
        #: files may be left over: see :func:`remove_stale_temp_files`).
        self.took_over = took_over

    def held(self) -> bool:
        """Whether the lock file is still this claim's."""
        try:
            return self.lock.read_bytes() == self._content
        except OSError:
            return False

    def refresh(self) -> None:
        """Mark the claim as alive now (its age restarts from zero)."""
        if self.held():
            os.utime(self.lock)

    def release(self) -> None:
        """Give the job back; does nothing if the claim was already released or broken."""
        if self._token in _HELD_TOKENS:
            _HELD_TOKENS.discard(self._token)
            if self.held():
                with contextlib.suppress(FileNotFoundError):
                    self.lock.unlink()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Claim({str(self.lock)!r}, {self.info.describe()})"


def _optional(d: dict, key: str) -> str | None:
    value = d.get(key)
    return None if value in (None, "") else str(value)


def _parse_claim(lock: Path, raw: bytes) -> tuple[ClaimInfo | None, str | None]:
    try:
        d = json.loads(raw.decode())
        info = ClaimInfo(host=str(d["host"]), pid=int(d["pid"]), time=float(d["time"]), path=lock,
                         start_time=_optional(d, "start_time"), boot_id=_optional(d, "boot_id"),
                         slurm_job=_optional(d, "slurm_job"))
        if not (info.time == info.time and abs(info.time) < 1e12):  # NaN, inf, absurd
            return None, None
        return info, str(d["token"])
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        return None, None


#: An empty claim younger than this may be one that a writer of nmfexp 0.2 (which created the file
#: first and wrote it next) is filling in; anything else that does not parse is garbage.
_EMPTY_GRACE = 5.0


def stale_reason(lock: Path, raw: bytes, stale_after: float = STALE_SECONDS) -> str | None:
    """Why the claim ``raw`` (the content of ``lock``) is stale, or None while it stands for a live holder."""
    info, token = _parse_claim(lock, raw)
    age = _age(lock)
    if info is None:
        if raw.strip() == b"" and age <= min(_EMPTY_GRACE, stale_after):
            return None
        return "unreadable claim"
    now = time.time()
    if info.time > now + MAX_CLOCK_SKEW:
        return f"dated {info.time - now:.0f} s in the future"
    if age > stale_after or now - info.time > stale_after:
        return f"unchanged for more than {stale_after:.0f} s"
    mine = boot_id()
    if info.host == socket.gethostname():
        if info.boot_id and mine and info.boot_id != mine:
            return "made before this machine rebooted"
        if info.pid == os.getpid():
            return None if token in _HELD_TOKENS else "left by an earlier process with this PID"
        if process_ended(info.pid):
            return f"process {info.pid} has ended"
        started = process_start_time(info.pid)
        if info.start_time and started and started != info.start_time:
            return f"PID {info.pid} now belongs to another process"
        return None
    if info.slurm_job and slurm_job_active(info.slurm_job) is False:
        return f"Slurm job {info.slurm_job} is no longer running"
    return None


def _claim_is_stale(lock: Path, raw: bytes, stale_after: float) -> bool:
    return stale_reason(lock, raw, stale_after) is not None


def _break_stale_claim(lock: Path, raw: bytes) -> None:
    """Remove ``lock`` if it still holds ``raw`` (a claim judged stale); keep any newer claim."""
    grave = lock.with_name(f"{lock.name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.stale")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:
        return
    try:
        if grave.read_bytes() != raw:  # someone claimed it meanwhile: put theirs back
            with contextlib.suppress(OSError):
                os.link(grave, lock)
    finally:
        with contextlib.suppress(FileNotFoundError):
            grave.unlink()


def claim(path: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> Claim | None:
    """Claim the job whose record is ``path``, so that no other process computes it meanwhile.

    Creates ``<name>.lock`` whole and exclusively (written to a temporary
    file, then hard-linked to its name, which fails if it exists), holding
    this host, PID, the process's start time, the boot id, the Slurm job id
    (when there is one), the time and a random token as JSON. A claim found
    there is taken over when it is stale (see the module docstring:
    unreadable, dated in the future, its process gone or replaced, its Slurm
    job ended, or unchanged for ``stale_after`` seconds; see
    :meth:`Claim.refresh`).

    How a runner uses it::

        if record_status(path) is not None: skip (done)
        c = claim(path)
        if c is None: report "running elsewhere" (claim_holder(path) says who); skip
        with c:
            if record_status(path) is not None: skip (finished while we looked)
            if c.took_over: remove_stale_temp_files(path)
            ... compute ...
            write_record(path, rec)

    Parameters
    ----------
    path : path-like
        The record's final path (the lock file goes next to it).
    stale_after : float
        Seconds after which any claim counts as abandoned.

    Returns
    -------
    Claim or None
        A held claim, or None when another live process holds it.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    took_over = False
    for _ in range(5):
        token = secrets.token_hex(8)
        info = ClaimInfo(host=socket.gethostname(), pid=os.getpid(), time=time.time(), path=lock,
                         start_time=process_start_time(os.getpid()), boot_id=boot_id(),
                         slurm_job=current_slurm_job())
        content = json.dumps({"host": info.host, "pid": info.pid, "time": info.time, "token": token,
                              "start_time": info.start_time, "boot_id": info.boot_id, "slurm_job": info.slurm_job,
                              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        try:
            _create_whole(lock, content)
        except FileExistsError:
            try:
                raw = lock.read_bytes()
                if not _claim_is_stale(lock, raw, stale_after):
                    return None
            except FileNotFoundError:  # released meanwhile: try again
                continue
            _break_stale_claim(lock, raw)
            took_over = True
            continue
        _HELD_TOKENS.add(token)
        return Claim(lock, content, info, token, took_over=took_over)
    return None


def _create_whole(lock: Path, content: bytes) -> None:
    """Create ``lock`` holding ``content``, atomically: nobody ever reads it empty or half written.
    Raises FileExistsError when it exists. File systems without hard links fall back to an exclusive
    create followed by the write."""
    tmp = lock.with_name(f"{lock.name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        with open(tmp, "xb") as f:
            f.write(content)
        try:
            os.link(tmp, lock)
            return
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)


def claim_holder(path: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> ClaimInfo | None:
    """Who holds a live claim on record ``path`` (None when nobody does)."""
    lock = lock_path(path)
    try:
        raw = lock.read_bytes()
        if _claim_is_stale(lock, raw, stale_after):
            return None
    except FileNotFoundError:
        return None
    info, _ = _parse_claim(lock, raw)
    return info or ClaimInfo(host="?", pid=-1, time=lock.stat().st_mtime, path=lock)


def remove_stale_temp_files_in(folder: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> int:
    """:func:`remove_stale_temp_files` for every record of ``folder`` that has temporary files: one listing
    of the folder, whatever the number of records (a sweep calls it once per results folder)."""
    names = set()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(TEMP_SUFFIX):
                    # <name>.<host>.<pid>.<random>.tmp, or <name>.<pid>.tmp (format_version 1)
                    parts = entry.name[:-len(TEMP_SUFFIX)].split(".")
                    for cut in (3, 1):
                        if len(parts) > cut:
                            names.add(".".join(parts[:-cut]))
    except FileNotFoundError:
        return 0
    return sum(remove_stale_temp_files(Path(folder) / name, stale_after=stale_after) for name in sorted(names))
