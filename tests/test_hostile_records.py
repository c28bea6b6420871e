"""Records from someone else: merged under their own job id only, counted exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from nmfexp.record import (
    FORMAT,
    Record,
    RecordsWarning,
    iter_records,
    merge_records,
    read_record_header,
    write_record,
)

GOOD = ("0123456789abcdef", "fedcba9876543210")
BAD = ("", "/format", "../../../../escape", "zz", "zz/metrics", "0123456789ABCDEF", "0123456789abcdef/x",
       "records", ".", "0123456789abcde")


def _record(job) -> Record:
    return Record(attrs={"format": FORMAT, "job": job, "status": "ok", "solver": "wnmf_kl", "tag": "t",
                         "created": "2024-01-01T00:00:00+00:00"},
                  groups={"metrics": {"weighted_kl": 1.5}, "data": {"n_rows": 3, "n_cols": 4}},
                  arrays={"history/objective": np.array([3.0, 2.0])})


def _folder(root):
    for i, job in enumerate((*GOOD, *BAD)):
        write_record(root / f"r{i}.h5", _record(job))
    return root


def _groups(path) -> list[str]:
    with h5py.File(path, "r") as f:
        names = []
        f.visit(names.append)
        return sorted(names)


def test_merge_writes_only_job_ids_and_says_what_it_skipped(tmp_path):
    src = _folder(tmp_path / "src")
    with pytest.warns(RecordsWarning):
        report = merge_records(src, tmp_path / "all.h5")
    assert report.written == len(GOOD) == len(report.merged)
    assert sorted(report.merged) == sorted(GOOD)
    with h5py.File(tmp_path / "all.h5", "r") as f:
        assert sorted(f["records"]) == sorted(GOOD)
        assert set(f) == {"records"}  # nothing written beside /records (no '/format', no escape)
    assert sorted(r.attrs["job"] for r in iter_records(tmp_path / "all.h5")) == sorted(GOOD)
    skipped = {r.attrs["job"] for r in iter_records(src)} - set(GOOD)
    assert len(report.skipped) == len(BAD) == len(skipped)
    assert all("not a job id" in why for _, why in report.skipped)


def test_merge_command_prints_the_count_the_output_holds(tmp_path):
    src = _folder(tmp_path / "src")
    out = tmp_path / "all.h5"
    done = subprocess.run([sys.executable, "-m", "nmfexp.results", "merge", str(src), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with h5py.File(out, "r") as f:
        held = len(f["records"])
    assert f"merged {held} records" in done.stdout and f"skipped {len(BAD)}" in done.stdout
    assert held == len(list(iter_records(out))) == len(GOOD)
    assert done.stderr.count("not a job id") == len(BAD)


# --------------------------------------------------------------------------- a record is a job's only if it says so


def _csv(path, seed=0):
    np.savetxt(path, np.random.default_rng(seed).random((6, 5)) + 0.1, delimiter=",")
    return path


def _cfg(tmp_path, **over):
    cfg = {"dataset": {"kind": "file", "path": str(tmp_path / "d.csv")}, "solver": {"name": "wnmf_kl"},
           "results_dir": str(tmp_path / "out"), "timing": {"repeats": 1, "warmup": 0}}
    cfg.update(over)
    return cfg


def test_a_record_renamed_to_another_jobs_file_is_not_that_jobs(tmp_path):
    from nmfexp.experiment.job import Job
    from nmfexp.experiment.run import run_job

    _csv(tmp_path / "d.csv")
    a, b = (Job.from_config(_cfg(tmp_path, seed=s)) for s in (1, 2))
    assert run_job(a)["status"] == "ok"
    b.path.parent.mkdir(parents=True, exist_ok=True)
    b.path.write_bytes(a.path.read_bytes())  # a's record under b's name
    out = run_job(b)
    assert not out["existing"] and out["status"] == "ok"
    assert read_record_header(b.path)["job"] == b.key


def test_summary_counts_a_planned_job_as_recorded_only_under_its_own_record(tmp_path):
    import json

    from nmfexp.results import sweep_progress

    out = tmp_path / "out"
    write_record(out / "x-0123456789abcdef.h5", _record("0123456789abcdef"))
    write_record(out / "x-fedcba9876543210.h5", _record("0123456789abcdef"))  # a copy under another name
    plan = {"created": "2024-01-01T00:00:00+00:00", "finished": True,
            "jobs": [{"job": j, "path": str(out / f"x-{j}.h5")} for j in GOOD]}
    (out / "logs" / "multirun_1").mkdir(parents=True)
    (out / "logs" / "multirun_1" / "plan.json").write_text(json.dumps(plan))
    (line, *_) = sweep_progress(out)
    assert "1 of 2 jobs recorded" in line and "1 without a record yet" in line


# --------------------------------------------------------------------------- digests of what the job read


def test_a_file_edited_after_planning_is_digested_as_the_job_read_it(tmp_path):
    from nmfexp.data.digests import file_digest
    from nmfexp.experiment.job import Job
    from nmfexp.experiment.run import run_job

    path = _csv(tmp_path / "d.csv")
    job = Job.from_config(_cfg(tmp_path))  # planned on the original file
    _csv(path, seed=1)  # edited before the job runs (a sweep under way)
    assert run_job(job)["status"] == "ok"
    stored = json.loads(read_record_header(job.path)["inputs"])
    assert stored == {str(path.resolve()): file_digest(path)} != job.inputs
    _csv(path, seed=0)  # restored: the record was computed from the edited file, so it is recomputed
    again = run_job(Job.from_config(_cfg(tmp_path)))
    assert not again["existing"] and again["status"] == "ok"


_EDITING_LOADER = '''
import numpy as np

def load(filename, rng=None):
    X = np.loadtxt(filename, delimiter=",")
    with open(filename, "a") as fh:  # someone edits the file while the job reads it
        fh.write("0.5,0.5,0.5,0.5,0.5\\n")
    return X
'''


def test_a_file_edited_while_the_job_reads_it_fails_the_job_with_the_reason(tmp_path, monkeypatch):
    from nmfexp.experiment.run import run

    (tmp_path / "editing_loader.py").write_text(_EDITING_LOADER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "editing_loader", raising=False)
    path = _csv(tmp_path / "d.csv")
    out = run(_cfg(tmp_path, dataset={"_target_": "editing_loader.load", "filename": str(path)}))
    assert out["status"] == "failed"
    assert "changed while the job read them" in out["message"] and str(path.resolve()) in out["message"]


def test_a_loader_file_under_any_key_is_digested(tmp_path):
    from nmfexp.experiment.job import Job

    a, b = _csv(tmp_path / "a.csv"), _csv(tmp_path / "b.csv", seed=1)
    job = Job.from_config(_cfg(tmp_path, dataset={"_target_": "numpy.loadtxt", "filename": str(a),
                                                  "extra": {"labels": [str(b)]}, "delimiter": ","}))
    assert sorted(job.inputs) == sorted([str(a.resolve()), str(b.resolve())])


_H5_LOADER = '''
import os
import h5py

def load(folder, rng=None):  # opens a file the config does not name, through HDF5's C library
    with h5py.File(os.path.join(folder, "data.h5"), "r") as f:
        return f["X"][()]


def load_file(source, rng=None):  # the file named in the config, under a key of the loader's choosing
    with h5py.File(source, "r") as f:
        return f["X"][()]
'''


def _h5(path, seed=0):
    with h5py.File(path, "w") as f:
        f["X"] = np.random.default_rng(seed).random((6, 5)) + 0.1
    return path


def test_a_file_read_through_h5py_is_digested_when_named_or_declared_and_its_change_recomputes(tmp_path,
                                                                                               monkeypatch):
    from nmfexp.experiment.job import Job
    from nmfexp.experiment.run import run

    (tmp_path / "h5_loader.py").write_text(_H5_LOADER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "h5_loader", raising=False)
    folder = tmp_path / "set"
    folder.mkdir()
    data = _h5(folder / "data.h5")
    declared = {"_target_": "h5_loader.load", "folder": str(folder), "inputs": [str(folder)]}
    job = Job.from_config(_cfg(tmp_path, dataset=declared))
    assert list(job.inputs) == [str(data.resolve())]  # the folder stands for the files in it
    first = run(_cfg(tmp_path, dataset=declared))
    assert first["status"] == "ok", first["message"]
    assert run(_cfg(tmp_path, dataset=declared))["existing"]
    _h5(data, seed=1)  # the HDF5 file changes: the record no longer stands for the job
    again = run(_cfg(tmp_path, dataset=declared))
    assert again["status"] == "ok" and not again["existing"]
    named = Job.from_config(_cfg(tmp_path, dataset={"_target_": "h5_loader.load_file", "source": str(data)}))
    assert list(named.inputs) == [str(data.resolve())]
    # A single declared file works too, and is never passed to the loader.
    one = Job.from_config(_cfg(tmp_path, dataset={**declared, "inputs": str(data)}))
    assert list(one.inputs) == [str(data.resolve())]
    assert run(_cfg(tmp_path, dataset={**declared, "inputs": str(data)}))["status"] == "ok"


@pytest.mark.parametrize("bad, says", [("/nonexistent/data.h5", "neither a file nor a folder"),
                                       ({"a": 1}, "must be a path or a list of paths"), ([3], "a list of paths")])
def test_a_bad_inputs_declaration_is_a_config_error(tmp_path, bad, says):
    from nmfexp.experiment.job import ConfigError, Job

    with pytest.raises(ConfigError, match=says):
        Job.from_config(_cfg(tmp_path, dataset={"_target_": "numpy.zeros", "shape": [3, 3], "inputs": bad}))


# --------------------------------------------------------------------------- files a record points at


def test_a_foreign_record_never_makes_load_history_or_merge_read_a_local_file(tmp_path):
    from nmfexp.results import load_history

    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_bytes(np.full(4, 777.0).tobytes() + b"root:x:0:0")
    src = tmp_path / "src"
    write_record(src / "x-0123456789abcdef.h5", _record("0123456789abcdef"))
    with h5py.File(src / "hostile.h5", "w") as f:  # the history's values kept in a local file
        f.attrs.update(format=FORMAT, job="fedcba9876543210", status="ok")
        f.create_dataset("history/objective", shape=(4,), dtype="f8", external=[(str(secret), 0, 32)])
    with pytest.warns(RecordsWarning, match="hostile.h5"):
        history = load_history(src)
    assert set(history["job"]) == {"0123456789abcdef"} and 777.0 not in set(history["objective"])
    with pytest.warns(RecordsWarning, match="hostile.h5"):
        report = merge_records(src, tmp_path / "all.h5")
    assert report.merged == ["0123456789abcdef"] and b"root:x" not in (tmp_path / "all.h5").read_bytes()


_SIDE_LOADER = '''
import numpy as np

SIDE = {side!r}

def load(path, rng=None):
    scale = np.loadtxt(SIDE, delimiter=",")  # a file the config does not name
    return np.loadtxt(path, delimiter=",") * scale.max()
'''


@pytest.mark.parametrize("reads_side_file", [True, False])
def test_a_file_a_loader_reads_without_naming_it_is_named_in_the_record(tmp_path, monkeypatch, reads_side_file):
    from nmfexp.experiment.run import run

    side = _csv(tmp_path / "side.csv", seed=3)
    path = _csv(tmp_path / "d.csv")
    (tmp_path / "side_loader.py").write_text(_SIDE_LOADER.format(side=str(side)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "side_loader", raising=False)
    dataset = {"_target_": "side_loader.load", "path": str(path)}
    if not reads_side_file:
        dataset["side"] = str(side)  # named: digested, so no warning (the loader ignores the key)
        (tmp_path / "side_loader.py").write_text(_SIDE_LOADER.format(side=str(side)).replace(
            "def load(path, rng=None)", "def load(path, side=None, rng=None)"))
    out = run(_cfg(tmp_path, dataset=dataset))
    assert out["status"] == "ok"
    header = read_record_header(out["path"])
    warned = [w for w in header.get("warnings") or [] if w.startswith("UndeclaredInputWarning")]
    stored = json.loads(header["inputs"])
    if reads_side_file:
        assert len(warned) == 1 and str(side.resolve()) in warned[0] and str(path.resolve()) not in warned[0]
        assert list(stored) == [str(path.resolve())]
    else:
        assert warned == [] and sorted(stored) == sorted([str(path.resolve()), str(side.resolve())])
