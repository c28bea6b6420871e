"""Helpers shared by several test modules, imported as ``from _helpers import ...`` (like ``conftest``): figure
capture, no network, a user's project of solvers with its Hydra configs, ``nmfexp-run`` in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

# A solver that kills its own process (SIGKILL: no exception, no record, like the OOM killer or a
# preemption) the first time it meets seed 1; a marker file makes it behave on the rerun.
KILLER = textwrap.dedent("""
    import os, signal
    from pathlib import Path
    import nmfexp

    def killer(X, mask, *, rank, random_state, seed=0, marker=""):
        if seed == 1 and not Path(marker).exists():
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return nmfexp.factorize(X, mask, solver="a1gm", rank=rank)
""")


def capture_figures(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> dict:
    """Replaces ``save_figure`` in each of ``modules`` by a stand-in that writes nothing; returns the dict it
    fills: file stem -> the Figure saved under it."""
    saved = {}

    def capture(fig, plots_dir, stem):
        saved[stem] = fig
        return [Path(plots_dir) / f"{stem}.png"]

    for module in modules:
        monkeypatch.setattr(module, "save_figure", capture)
    return saved


def corpus_records(tables: dict[str, tuple[int, float] | None],
                   a1gm_extra: dict[str, dict] | None = None) -> pd.DataFrame:
    """Records of the real-data corpus sweep, two seeds per table (100 x 10, 20 missing): WNMF-KL at KL 1000
    in 4 ms, and A1GM as ``tables`` says, name -> (entries step 1 adds, A1GM's KL / WNMF's) for a run in 1 ms,
    or None where A1GM is skipped (no complete column); ``a1gm_extra``: more fields of a table's A1GM records."""
    rows = []
    for name, a1gm in tables.items():
        for seed in range(2):
            key = dict(tag="real_data_corpus", dataset=name, n_rows=100, n_cols=10, n_missing=20, seed=seed,
                       message="")
            rows.append(dict(key, solver="wnmf_kl", status="ok", weighted_kl=1000.0, runtime_median=4e-3,
                             n_missing_added=np.nan, job=f"w{name}{seed}"))
            if a1gm is None:
                rows.append(dict(key, solver="a1gm", status="skipped", weighted_kl=np.nan, runtime_median=np.nan,
                                 n_missing_added=np.nan, job=f"a{name}{seed}",
                                 message="A1GM needs at least one complete column (a column with no missing entry)"))
            else:
                added, rel = a1gm
                rows.append(dict(key, solver="a1gm", status="ok", weighted_kl=1000.0 * rel, runtime_median=1e-3,
                                 n_missing_added=added, job=f"a{name}{seed}", **(a1gm_extra or {}).get(name, {})))
    return pd.DataFrame(rows)


def refuse_connections(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    """Makes every socket connection the test attempts raise ``AssertionError(message)``."""

    def refuse(*args, **kwargs):
        raise AssertionError(message)

    monkeypatch.setattr(socket.socket, "connect", refuse)


def write_lab(root: Path, source: str, solvers: dict[str, str]) -> None:
    """A user's project in ``root``: the package ``lab`` with ``source`` as ``lab/solvers.py``, and one
    ``conf/solver/<name>.yaml`` per entry of ``solvers`` (name -> the YAML text), found from ``root`` by
    ``hydra.searchpath=[file://conf]``."""
    (root / "lab").mkdir()
    (root / "lab" / "__init__.py").write_text("")
    (root / "lab" / "solvers.py").write_text(source)
    (root / "conf" / "solver").mkdir(parents=True)
    for name, yaml in solvers.items():
        (root / "conf" / "solver" / f"{name}.yaml").write_text(yaml)


def write_killer_lab(root: Path) -> None:
    """``write_lab`` with ``KILLER`` as the solver ``killer``; its marker file is ``root / "killed.marker"``."""
    yaml = f"name: killer\n_target_: lab.solvers.killer\nparams: {{seed: 0, marker: {root / 'killed.marker'}}}\n"
    write_lab(root, KILLER, {"killer": yaml})


def nmfexp_cmd(*args: str) -> list[str]:
    """The command line of ``nmfexp-run args`` in a new interpreter of this environment."""
    return [sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args]


def nmfexp_run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``nmfexp-run args`` in a subprocess from ``cwd``, its output captured as text (at most 10 minutes)."""
    return subprocess.run(nmfexp_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
