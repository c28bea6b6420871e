"""The launcher benchmark's parameters: workloads, launchers and the long jobs' calibrated length."""

from __future__ import annotations

import pytest

from nmfexp.bench import runner


def test_unknown_workloads_and_launchers_are_named_before_anything_runs():
    with pytest.raises(ValueError, match="unknown workload.*bogus; choose from tiny, long, reproduce"):
        runner.launcher_suite(True, workloads=("tiny", "bogus"))
    with pytest.raises(ValueError, match="unknown launcher.*nope"):
        runner.launcher_suite(True, workloads=("tiny",), launchers=("nope",))


def test_longer_jobs_get_proportionally_more_iterations():
    short, long_ = runner.calibrated_iterations(1.0), runner.calibrated_iterations(4.0)
    assert 1 <= short < long_
    assert 1.5 < long_ / short < 10  # about 4x; wide bounds: one timing each, on a machine that may be busy


def test_the_basic_launcher_alone_gives_a_line_per_workload(tmp_path):
    lines = runner.launcher_suite(True, workloads=("tiny",), launchers=("basic",))
    assert lines[0].startswith("Launchers, whole commands, wall time")
    assert len(lines) == 2 and lines[1].startswith("  20 tiny jobs (A1GM 10x10): basic ")
