"""Claims that cannot block a job: each way a claim can outlive its holder is recognised as stale.

Every case here made 0.2's sweeps report "running elsewhere" (exit 0, no record) for up to 24 hours.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nmfexp.record import claim, claim_holder, lock_path
from nmfexp.record.claims import boot_id, process_start_time, remove_stale_temp_files_in, stale_reason

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


def _write_claim(path: Path, **fields) -> Path:
    lock = lock_path(path)
    content = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(), "token": "t" * 16, **fields}
    lock.write_bytes(json.dumps(content).encode())
    return lock


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@LINUX_PROC
def test_a_claim_whose_pid_now_belongs_to_another_process_is_stale(tmp_path, live_process):
    path = tmp_path / "a.h5"
    real_start = process_start_time(live_process.pid)
    assert real_start is not None
    # the live process is the holder: the claim stands
    _write_claim(path, pid=live_process.pid, start_time=real_start, boot_id=boot_id())
    assert claim(path) is None and claim_holder(path).pid == live_process.pid
    # the holder died and its PID went to this other live process: another start time
    _write_claim(path, pid=live_process.pid, start_time=str(int(real_start) - 1000), boot_id=boot_id())
    assert "now belongs to another process" in stale_reason(lock_path(path), lock_path(path).read_bytes())
    got = claim(path)
    assert got is not None and got.took_over
    got.release()


@pytest.mark.parametrize("content", [b"\x00\x01garbage", b"{\"host\": ", b"[1, 2, 3]", b"{\"host\": \"h\"}",
                                     b'{"host": "h", "pid": "x", "time": 1, "token": "t"}',
                                     b'{"host": "h", "pid": 1, "time": NaN, "token": "t"}'])
def test_a_garbage_claim_is_stale_at_once(tmp_path, content):
    path = tmp_path / "g.h5"
    lock_path(path).write_bytes(content)
    assert stale_reason(lock_path(path), content) == "unreadable claim"
    got = claim(path)
    assert got is not None and json.loads(lock_path(path).read_text())["pid"] == os.getpid()
    got.release()


def test_a_claim_dated_in_the_future_is_stale(tmp_path, live_process):
    path = tmp_path / "f.h5"
    # another host's clock a little ahead: believed
    _write_claim(path, host="node17", pid=4242, time=time.time() + 60)
    assert claim(path) is None
    # a day ahead: not a process computing the job now
    _write_claim(path, host="node17", pid=4242, time=time.time() + 86400)
    assert "in the future" in stale_reason(lock_path(path), lock_path(path).read_bytes())
    got = claim(path)
    assert got is not None
    got.release()
    # the same on this host with a live PID
    _write_claim(path, pid=live_process.pid, time=time.time() + 86400)
    got = claim(path)
    assert got is not None
    got.release()


@LINUX_PROC
def test_a_claim_made_before_a_reboot_is_stale(tmp_path, live_process):
    if boot_id() is None:
        pytest.skip("no boot id on this system")
    path = tmp_path / "b.h5"
    _write_claim(path, pid=live_process.pid, boot_id="0" * 8 + boot_id()[8:])
    assert stale_reason(lock_path(path), lock_path(path).read_bytes()) == "made before this machine rebooted"


def _fake_squeue(folder: Path, script: str) -> dict:
    folder.mkdir(exist_ok=True)
    exe = folder / "squeue"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize(("squeue", "taken"), [
    ('echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1', True),  # long gone
    ("echo TIMEOUT", True),                                                         # ended, still listed
    ("echo CANCELLED", True),
    ("echo RUNNING", False),
    ("echo PENDING", False),
    ('echo "squeue: error: Unable to contact slurm controller" >&2; exit 1', False),  # cannot tell: age rule
])
def test_a_claim_of_another_host_is_judged_by_its_slurm_job(tmp_path, monkeypatch, squeue, taken):
    env = _fake_squeue(tmp_path / "bin", squeue)
    monkeypatch.setenv("PATH", env["PATH"])
    path = tmp_path / "s.h5"
    _write_claim(path, host="node17", pid=4242, slurm_job="123456")
    got = claim(path)
    assert (got is not None) is taken
    if got is not None:
        got.release()


def test_a_claim_of_another_host_without_a_slurm_job_waits_for_the_age_rule(tmp_path):
    path = tmp_path / "o.h5"
    _write_claim(path, host="node17", pid=4242)
    assert claim(path) is None and "node17" in claim_holder(path).describe()
    _write_claim(path, host="node17", pid=4242, time=time.time() - 25 * 3600)
    got = claim(path)
    assert got is not None
    got.release()


@LINUX_PROC
def test_a_new_claim_says_who_holds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "98765")
    path = tmp_path / "n.h5"
    with claim(path) as c:
        d = json.loads(lock_path(path).read_text())
        assert d["pid"] == os.getpid() and d["host"] == socket.gethostname()
        assert d["start_time"] == process_start_time(os.getpid()) and d["boot_id"] == boot_id()
        assert d["slurm_job"] == "98765" and "Slurm job 98765" in c.info.describe()
        assert not c.took_over
    assert not lock_path(path).exists() and not list(tmp_path.glob("*.new"))


def test_stale_temporary_files_of_a_folder_go_in_one_pass(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = "".join(c if c.isalnum() or c in "_-" else "-" for c in socket.gethostname())
    left = tmp_path / f"a1gm-0123.h5.{host}.{dead.pid}.abcd1234.tmp"
    mine = tmp_path / f"a1gm-4567.h5.{host}.{os.getpid()}.abcd1234.tmp"  # not in this process's live set: stale
    other = tmp_path / "a1gm-89ab.h5.node17.12.abcd1234.tmp"                # another host, recent: kept
    for p in (left, mine, other):
        p.write_bytes(b"x")
    (tmp_path / "a1gm-0123.h5").write_bytes(b"record")
    assert remove_stale_temp_files_in(tmp_path) == 2
    assert not left.exists() and not mine.exists() and other.exists() and (tmp_path / "a1gm-0123.h5").exists()
    assert remove_stale_temp_files_in(tmp_path / "missing") == 0


@LINUX_PROC
def test_a_claim_of_a_zombie_process_is_stale(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        t0 = time.monotonic()
        while Path(f"/proc/{proc.pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
            assert time.monotonic() - t0 < 30
            time.sleep(0.05)
        path = tmp_path / "z.h5"
        _write_claim(path, pid=proc.pid, start_time=process_start_time(proc.pid), boot_id=boot_id())
        got = claim(path)  # ended, not yet reaped by its parent: not computing anything
        assert got is not None
        got.release()
    finally:
        proc.wait()
