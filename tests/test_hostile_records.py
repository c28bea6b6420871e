"""Records from someone else: merged under their own job id only, counted exactly."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from nmfexp.record import FORMAT, Record, RecordsWarning, iter_records, merge_records, write_record

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
