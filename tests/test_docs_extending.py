"""docs/extending.md runs verbatim: its files are written as shown and its commands succeed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nmfexp.record import read_record

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks():
    return BLOCK.findall(DOC.read_text())


@pytest.mark.slow
def test_the_worked_example_runs_verbatim(tmp_path):
    commands = []
    for lang, body in blocks():
        first = body.splitlines()[0] if body.strip() else ""
        if first.startswith("# file: "):
            path = tmp_path / first.removeprefix("# file: ").strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif lang == "bash":
            commands += [line for line in body.splitlines() if line.strip()]
    assert (tmp_path / "conf" / "solver" / "meanfield.yaml").is_file() and len(commands) >= 4
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    outputs = []
    for command in commands:
        proc = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"{command}\n{outputs[-1][-3000:]}"
    records = [read_record(p) for p in sorted((tmp_path / "results").glob("*.h5"))]
    by_solver = {}
    for rec in records:
        by_solver.setdefault(rec.attrs["solver"], []).append(rec.attrs["status"])
    assert by_solver == {"meanfield": ["ok"] * 3, "a1gm": ["ok"] * 2, "wnmf_kl": ["ok"] * 2}
    assert "sensors" in {rec.attrs["dataset"] for rec in records}
    # A rerun submits nothing.
    sweep = next(c for c in commands if " -m " in c)
    again = subprocess.run(shlex.split(sweep), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "6 already recorded, submitting 0" in again.stdout + again.stderr


def _section(heading: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_the_one_paste_solver_runs_as_pasted(tmp_path):
    # The Quickstart's own solver: one Python block, no names from elsewhere.
    (code,) = [body for lang, body in BLOCK.findall(_section("In one paste")) if lang == "python"]
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, error = proc.stdout.splitlines()
    assert first.startswith("(40, 2) (2, 30) [")
    assert 0 < float(error) < 1
    namespace: dict = {}
    exec(compile(code, "extending.md", "exec"), namespace)  # the history has what --convergence needs
    history = namespace["res"].history
    assert {"objective", "time", "iteration"} <= set(history) and history["time"][0] == 0
    assert len({len(v) for v in history.values()}) == 1 and np.all(np.diff(history["objective"]) <= 1e-9)
