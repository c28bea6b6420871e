"""Sweep plans from someone else are data: their record paths stay inside their results folder, their
Slurm job ids are not asked about unless this host and user submitted them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nmfexp import plans
from nmfexp import results as results_mod
from nmfexp.archive import extract_archive
from nmfexp.cli import backends
from nmfexp.record import FORMAT, Record, write_record

JOB_A, JOB_B = "0123456789abcdef", "fedcba9876543210"


def _record(job: str) -> Record:
    return Record(attrs={"format": FORMAT, "job": job, "status": "ok", "solver": "wnmf_kl", "tag": "t",
                         "created": "2024-01-01T00:00:00+00:00"},
                  groups={"metrics": {"weighted_kl": 1.5}, "data": {"n_rows": 3, "n_cols": 4}},
                  arrays={"history/objective": np.array([3.0, 2.0])})


def _plan(root: Path, plan: dict, name: str = "multirun_1") -> Path:
    path = root / "logs" / name / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan))
    return path


@pytest.fixture
def opened(monkeypatch):
    """Every path whose record header is read, one by one or in a batch (the summary's only way to open a
    planned record)."""
    import nmfexp.record as record_pkg

    seen: list[str] = []
    real, real_batch = record_pkg.read_record_header, record_pkg.read_record_headers

    def batch(paths):
        paths = list(paths)
        seen.extend(str(p) for p in paths)
        return real_batch(paths)

    monkeypatch.setattr(record_pkg, "read_record_header", lambda p: seen.append(str(p)) or real(p))
    monkeypatch.setattr(record_pkg, "read_record_headers", batch)
    return seen


def test_record_paths_that_leave_the_plans_folder_are_never_opened(tmp_path, opened):
    root = tmp_path / "a" / "b" / "results"
    write_record(root / f"x-{JOB_A}.h5", _record(JOB_A))
    outside = tmp_path / "a" / "outside.h5"  # a real record at ../../ of the results folder: out of reach
    write_record(outside, _record(JOB_B))
    plan = {"created": "2024-01-01T00:00:00+00:00", "finished": True,
            "jobs": [{"job": JOB_A, "path": f"x-{JOB_A}.h5"},  # relative to the results folder: read
                     {"job": JOB_B, "path": "/etc/passwd"},
                     {"job": JOB_B, "path": "../../outside.h5"},
                     {"job": JOB_B, "path": str(outside)}]}
    _plan(root, plan)
    lines = results_mod.sweep_progress(root)
    assert opened == [str((root / f"x-{JOB_A}.h5").resolve())]  # neither /etc/passwd nor the outside record
    assert "1 of 4 jobs recorded (1 ok" in lines[0] and "3 without a record yet" in lines[0]
    assert lines[1].startswith(f"  ignored 3 record path(s) of the plan that leave {root}")
    assert "/etc/passwd" in lines[1] and "../../outside.h5" in lines[1]


def test_a_link_out_of_the_results_folder_is_not_followed(tmp_path, opened):
    root = tmp_path / "results"
    root.mkdir()
    write_record(tmp_path / "elsewhere.h5", _record(JOB_A))
    (root / f"x-{JOB_A}.h5").symlink_to(tmp_path / "elsewhere.h5")
    _plan(root, {"finished": True, "jobs": [{"job": JOB_A, "path": f"x-{JOB_A}.h5"}]})
    lines = results_mod.sweep_progress(root)
    assert "0 of 1 jobs recorded" in lines[0] and "ignored 1 record path(s)" in lines[1]
    assert opened == []


def _foreign_slurm_plan(root: Path, **extra) -> Path:
    return _plan(root, {"created": "2024-01-01T00:00:00+00:00", "finished": False, **extra,
                        "jobs": [{"job": JOB_A, "path": f"x-{JOB_A}.h5"}],
                        "tasks": [{"scheduler": "slurm", "job_id": "4242_0", "jobs": [JOB_A]}]})


@pytest.fixture
def squeue_calls(monkeypatch):
    calls: list[list[str]] = []

    def fake(job_ids, **kw):
        calls.append(list(job_ids))
        return {"4242_0": "RUNNING"}

    monkeypatch.setattr(backends, "slurm_states", fake)
    return calls


@pytest.mark.parametrize("extra", [
    {"submitter": {"host": "node17.cluster.example", "user": "alice"}},  # another machine
    {},  # written before plans named their submitter, or by hand
    {"submitter": plans.submitter(), "archived": True},  # our own plan, back from an archive
], ids=["other-host", "no-submitter", "archived"])
def test_a_plan_from_elsewhere_never_makes_the_summary_call_squeue(tmp_path, squeue_calls, extra):
    root = tmp_path / "results"
    _foreign_slurm_plan(root, **extra)
    assert results_mod.main(["summary", str(root)]) == 0
    assert squeue_calls == []
    assert backends.active_tasks([json.loads((root / "logs/multirun_1/plan.json").read_text())]) == {}
    assert squeue_calls == []


def test_the_scheduler_is_asked_for_this_hosts_plans_and_behind_the_flag(tmp_path, squeue_calls, capsys):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    _foreign_slurm_plan(mine, submitter=plans.submitter())
    _foreign_slurm_plan(theirs, submitter={"host": "node17.cluster.example", "user": "alice"})
    assert results_mod.main(["summary", str(mine)]) == 0
    assert squeue_calls == [["4242_0"]]
    assert "1 of them queued or running in Slurm (1 in task 4242_0)" in capsys.readouterr().out
    assert results_mod.main(["summary", "--ask-scheduler", str(theirs)]) == 0
    assert squeue_calls == [["4242_0"], ["4242_0"]]


def test_an_archive_stores_plans_relative_and_its_extraction_reads_only_itself(tmp_path, opened, squeue_calls):
    src = tmp_path / "src"
    for job in (JOB_A, JOB_B):
        write_record(src / "fig" / f"x-{job}.h5", _record(job))
    plan = {"created": "2024-01-01T00:00:00+00:00", "finished": False, "submitter": plans.submitter(),
            "jobs": [{"job": j, "path": str((src / "fig" / f"x-{j}.h5").resolve())} for j in (JOB_A, JOB_B)]
            + [{"job": "0" * 16, "path": str(tmp_path / "not-in-the-folder.h5")}],
            "tasks": [{"scheduler": "slurm", "job_id": "4242_0", "jobs": [JOB_A], "stderr": "/home/me/x.err"}]}
    _plan(src / "fig", plan)
    results_mod.archive(src, tmp_path / "a.zip")
    dest = tmp_path / "dest"
    extract_archive(tmp_path / "a.zip", dest)
    stored = json.loads((dest / "fig" / "logs" / "multirun_1" / "plan.json").read_text())
    assert [j["path"] for j in stored["jobs"]] == [f"x-{JOB_A}.h5", f"x-{JOB_B}.h5", None]
    assert stored["archived"] is True and "stderr" not in stored["tasks"][0]
    opened.clear()
    lines = results_mod.sweep_progress(dest)
    assert "2 of 3 jobs recorded" in lines[0]
    assert all(Path(p).is_relative_to(dest.resolve()) for p in opened) and len(opened) == 2
    assert squeue_calls == []  # the plan is unfinished and its ids are ours, but it came from an archive


def test_the_plan_of_a_sweep_names_its_submitter(tmp_path):
    from conftest import run_here

    out = run_here("-m", "solver=wnmf_kl", "seed=0", "dataset.n_rows=10", "timing=quick",
                   f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    plan = plans.read_plan(next((tmp_path / "r").glob("logs/*/plan.json")))
    assert plan["submitter"] == plans.submitter() and plans.submitted_here(plan)


def test_the_summary_names_the_jobs_a_finished_sweep_lost_as_plain_text(tmp_path):
    root = tmp_path / "results"
    write_record(root / f"x-{JOB_A}.h5", _record(JOB_A))
    _plan(root, {"finished": True, "jobs": [
        {"job": JOB_A, "path": f"x-{JOB_A}.h5", "overrides": ["solver=wnmf_kl", "seed=0"]},
        {"job": JOB_B, "path": f"x-{JOB_B}.h5", "overrides": ["solver=a1gm", "seed=1\x1b[2J"]}]})
    lines = results_mod.sweep_progress(root)
    assert lines[1].startswith("  lost (the sweep ended without their record; the same command completes exactly "
                               "them): 1")
    assert lines[2:] == ["    solver=a1gm seed=1?[2J"]  # no terminal escape from a plan reaches the screen
