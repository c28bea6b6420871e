"""The Slurm driver's wait, without a cluster: a task that left the queue without any accounting state
(scancel of a pending array task on Slurm 22.05) ends the wait instead of hanging it."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from nmfexp.cli import backends


class FakeJob:
    """A submitit job whose sacct state never arrives (``done()`` stays False)."""

    def __init__(self, job_id: str, folder: Path, result=None):
        self.job_id = job_id
        pickled = folder / f"{job_id}_result.pkl"
        if result is not None:
            pickled.write_bytes(pickle.dumps(("success", result)))
        self.paths = SimpleNamespace(result_pickle=pickled, stderr=folder / f"{job_id}.err",
                                     stdout=folder / f"{job_id}.out")

    def done(self) -> bool:
        return False

    def results(self):  # pragma: no cover - submitit would wait here for ever
        raise AssertionError("must not wait on a job sacct never reports")


def _wait(submitted, queue: dict, monkeypatch, **kw):
    monkeypatch.setattr(backends, "slurm_states", lambda ids, **_: dict(queue))
    ended = {}
    backends.wait_slurm(submitted, lambda task, summaries, exc: ended.setdefault(task, (summaries, exc)),
                        lambda waiting=None: None, poll=0.0, **kw)
    return ended


def test_a_task_that_left_the_queue_without_a_state_is_lost_not_waited_for(tmp_path, monkeypatch):
    job = FakeJob("7_3", tmp_path)
    ended = _wait([(job, "task", 1.0)], {}, monkeypatch, grace=0.0, squeue_every=0.0)
    summaries, exc = ended["task"]
    assert summaries is None and "its Slurm task 7_3 left the queue without a result" in str(exc)
    assert "7_3.err" in str(exc)


def test_a_task_that_left_the_queue_with_its_result_file_is_recorded(tmp_path, monkeypatch):
    job = FakeJob("7_4", tmp_path, result=[{"job": "k", "status": "ok"}])
    ended = _wait([(job, "task", 1.0)], {}, monkeypatch, grace=0.0, squeue_every=0.0)
    assert ended["task"] == ([{"job": "k", "status": "ok"}], None)


def test_a_task_still_in_the_queue_is_waited_for(tmp_path, monkeypatch):
    job = FakeJob("7_5", tmp_path)
    calls = []

    def tick(waiting=None):
        assert waiting is None  # queued: the sweep's own estimate stands
        calls.append(1)
        if len(calls) == 3:
            raise StopIteration  # still waiting after three rounds: the wait did not give up on it

    monkeypatch.setattr(backends, "slurm_states", lambda ids, **_: {"7_5": "PENDING"})
    with pytest.raises(StopIteration):
        backends.wait_slurm([(job, "task", 1.0)], lambda *a: pytest.fail("ended"), tick, poll=0.0, grace=0.0,
                            squeue_every=0.0)


def test_while_a_task_is_in_its_grace_the_progress_says_so_instead_of_an_eta(tmp_path, monkeypatch):
    """The rate of jobs says nothing about a wait of a fixed grace time: the line names the wait."""
    from nmfexp.cli.progress import Progress

    job = FakeJob("7_6", tmp_path)
    monkeypatch.setattr(backends, "slurm_states", lambda ids, **_: {})
    progress = Progress(3, "sweep", interval=1e9, bar=False)
    for key in ("a", "b"):
        progress.update(key, "ok")  # two quick jobs: the rate alone would promise the third in seconds
    lines = []
    monkeypatch.setattr("nmfexp.cli.progress.log.info", lambda fmt, line: lines.append(line))
    rounds = []

    def tick(waiting=None):
        progress.tick(waiting=waiting)
        rounds.append(waiting)
        if len(rounds) == 2:
            raise StopIteration

    with pytest.raises(StopIteration):
        backends.wait_slurm([(job, "task", 1.0)], lambda *a: pytest.fail("ended"), tick, poll=0.0, grace=60.0,
                            squeue_every=0.0)
    assert rounds[0] is not None and "7_6 left the queue" in rounds[0] and "waiting up to 1 min" in rounds[0]
    assert len(lines) == 1 and "7_6 left the queue" in lines[0] and "left;" not in lines[0]
    assert "about" not in progress.line().split("7_6")[0]  # no rate-based estimate before the note
    progress.tick(waiting=None)
    assert "about" in progress.line() and "7_6" not in progress.line()
