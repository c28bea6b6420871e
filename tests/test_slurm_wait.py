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
                        lambda: None, poll=0.0, **kw)
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

    def tick():
        calls.append(1)
        if len(calls) == 3:
            raise StopIteration  # still waiting after three rounds: the wait did not give up on it

    monkeypatch.setattr(backends, "slurm_states", lambda ids, **_: {"7_5": "PENDING"})
    with pytest.raises(StopIteration):
        backends.wait_slurm([(job, "task", 1.0)], lambda *a: pytest.fail("ended"), tick, poll=0.0, grace=0.0,
                            squeue_every=0.0)
