"""Claims: a per-job lock file (``<name>.lock``) so that two sweeps on one results folder
compute each job once."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ._format import LOCK_SUFFIX
from .write import STALE_SECONDS, _age, _host_tag, _pid_alive


@dataclass(frozen=True)
class ClaimInfo:
    """Who holds a claim: ``host``, ``pid``, ``time`` (seconds since the epoch) and the lock file."""

    host: str
    pid: int
    time: float
    path: Path

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f"process {self.pid} on {self.host} since {when}"


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

    def __init__(self, lock: Path, content: bytes, info: ClaimInfo, token: str):
        self.lock, self.info = lock, info
        self._content, self._token = content, token

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


def _parse_claim(lock: Path, raw: bytes) -> tuple[ClaimInfo | None, str | None]:
    try:
        d = json.loads(raw.decode())
        return ClaimInfo(host=str(d["host"]), pid=int(d["pid"]), time=float(d["time"]), path=lock), str(d["token"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None


def _claim_is_stale(lock: Path, raw: bytes, stale_after: float) -> bool:
    info, token = _parse_claim(lock, raw)
    age = _age(lock)
    if info is None:  # being written this instant, or its writer died in between
        return age > min(60.0, stale_after)
    if age > stale_after:
        return True
    if info.host == socket.gethostname():
        if info.pid == os.getpid():
            return token not in _HELD_TOKENS  # an earlier process with our pid left it
        return not _pid_alive(info.pid)
    return False


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

    Creates ``<name>.lock`` exclusively (``O_CREAT | O_EXCL``), holding this
    host, pid, time and a random token as JSON. A claim found there is taken
    over when it is stale: made on this host by a process that no longer
    runs, or unchanged for ``stale_after`` seconds (any host; see
    :meth:`Claim.refresh`).

    How a runner uses it::

        if record_status(path) is not None: skip (done)
        c = claim(path)
        if c is None: report "running elsewhere" (claim_holder(path) says who); skip
        with c:
            if record_status(path) is not None: skip (finished while we looked)
            remove_stale_temp_files(path)
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
    for _ in range(5):
        token = secrets.token_hex(8)
        info = ClaimInfo(host=socket.gethostname(), pid=os.getpid(), time=time.time(), path=lock)
        content = json.dumps({"host": info.host, "pid": info.pid, "time": info.time, "token": token,
                              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            try:
                raw = lock.read_bytes()
                if not _claim_is_stale(lock, raw, stale_after):
                    return None
            except FileNotFoundError:  # released meanwhile: try again
                continue
            _break_stale_claim(lock, raw)
            continue
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        _HELD_TOKENS.add(token)
        return Claim(lock, content, info, token)
    return None


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
