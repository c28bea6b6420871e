"""docs/extending.md runs verbatim: its files are written as shown and its commands succeed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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
