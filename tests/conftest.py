"""Shared fixtures: masks of the paper's three patterns, small random data, ``nmfexp-run`` in this process."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def make_observed(kind: str, n: int, m: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """True = observed. 'grid': random rows x random columns; 'corner': bottom-right
    block; 'random': uniformly scattered cells."""
    observed = np.ones((n, m), dtype=bool)
    k, c = max(1, int(n * np.sqrt(rate))), max(1, int(m * np.sqrt(rate)))
    if kind == "grid":
        observed[np.ix_(rng.choice(n, k, replace=False), rng.choice(m, c, replace=False))] = False
    elif kind == "corner":
        observed[n - k:, m - c:] = False
    elif kind == "random":
        observed.flat[rng.choice(n * m, max(1, int(rate * n * m)), replace=False)] = False
    else:
        raise AssertionError(kind)
    return observed


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def run_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``nmfexp-run args`` in this process, from ``cwd``: its exit status, terminal output and files, as a
    subprocess would give them, without the seconds of a new interpreter. For tests whose subject is the
    command's behaviour; what only a separate process shows (entry points of another environment, signals,
    resource limits, two sweeps at once) keeps a subprocess."""
    from nmfexp.cli.run import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    code = 0
    try:
        os.chdir(cwd)
        sys.argv = ["nmfexp-run", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        for handler in root.handlers[:]:  # Hydra's job logging wrote to the captured streams: detach it
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    return subprocess.CompletedProcess(["nmfexp-run", *args], code, out.getvalue(), err.getvalue())
