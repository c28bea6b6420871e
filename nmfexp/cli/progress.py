"""One progress display per sweep, in the driver, whatever the launcher.

On a terminal it is a tqdm bar (done/total, ok/skipped/failed, ETA); in a
log file or a Slurm output (not a terminal) it is a plain line at most every
``interval`` seconds, plus the first and the last. Jobs are counted once
each, by key, from whichever source reports them first (a returned summary,
a record that landed).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from typing import TextIO

__all__ = ["Progress", "format_seconds"]

log = logging.getLogger("nmfexp")


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Counts the jobs of a sweep as they end and shows it.

    Parameters
    ----------
    total : int
        Jobs the sweep waits for.
    label : str
        What the sweep is (shown before the counts).
    stream : file, optional
        Where the display goes (default: standard error).
    interval : float
        Seconds between two plain lines (not on a terminal).
    bar : bool, optional
        Force the bar on (True) or off (False); default: on a terminal.
    """

    def __init__(self, total: int, label: str = "jobs", *, stream: TextIO | None = None, interval: float = 15.0,
                 bar: bool | None = None) -> None:
        self.total, self.label, self.interval = int(total), label, float(interval)
        self.stream = stream if stream is not None else sys.stderr
        self.counts: Counter[str] = Counter()
        self.seen: set[str] = set()
        self.waiting: str | None = None  # see tick()
        self.t0 = time.monotonic()
        self._last_line = -float("inf")
        self._shown_first = self._shown_last = False
        self._lock = threading.Lock()
        self._bar = None
        use_bar = bar if bar is not None else _isatty(self.stream)
        if use_bar and self.total:
            try:
                from tqdm import tqdm
            except ImportError:  # plain lines then
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.total, desc=label, unit="job", file=self.stream, dynamic_ncols=True,
                                 bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                            "[{elapsed}<{remaining}]{postfix}")

    @property
    def done(self) -> int:
        return len(self.seen)

    def update(self, key: str, status: str) -> bool:
        """Count job ``key`` as ended with ``status`` (once; later reports of it are ignored).
        Returns True when it was new."""
        with self._lock:
            if key in self.seen:
                return False
            self.seen.add(key)
            self.counts[status] += 1
            if self._bar is not None:
                self._bar.set_postfix_str(self._counts(), refresh=False)
                self._bar.update(1)
            else:
                self._maybe_line()
            return True

    def tick(self, waiting: str | None = None) -> None:
        """A plain line if ``interval`` has passed (called periodically while waiting).

        ``waiting``: what the sweep waits for when the jobs' rate says nothing about it (Slurm tasks
        that left the queue, waited for a fixed grace time); shown instead of the time left, and at
        once when it changes."""
        with self._lock:
            changed = waiting != self.waiting
            self.waiting = waiting
            if self._bar is None:
                self._maybe_line(force=changed and waiting is not None)
            else:
                self._bar.set_postfix_str(self._counts() + (f"; {waiting}" if waiting else ""), refresh=False)
                self._bar.refresh()

    def _counts(self) -> str:
        parts = [f"{self.counts.get(s, 0)} {s}" for s in ("ok", "skipped", "failed")]
        parts += [f"{n} {s}" for s, n in sorted(self.counts.items()) if s not in ("ok", "skipped", "failed")]
        return ", ".join(parts)

    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before the first job ends)."""
        if not self.done:
            return None
        elapsed = time.monotonic() - self.t0
        return elapsed / self.done * (self.total - self.done)

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = self.eta()
        left = "" if self.done >= self.total else f"; {self.waiting}" if self.waiting else (
            f"; about {format_seconds(eta)} left" if eta is not None else "")
        return (f"{self.label}: {self.done}/{self.total} ({pct:.0f}%): {self._counts()}; "
                f"{format_seconds(time.monotonic() - self.t0)} elapsed{left}")

    def _maybe_line(self, force: bool = False) -> None:
        if not (self.done or force) or (self.done >= self.total and self._shown_last):
            return
        now = time.monotonic()
        first = not self._shown_first
        if force or first or self.done >= self.total or now - self._last_line >= self.interval:
            self._shown_first = True
            self._shown_last = self.done >= self.total
            self._last_line = now
            log.info("%s", self.line())

    def close(self) -> None:
        """End the display (the bar stays on the screen with its final counts)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
