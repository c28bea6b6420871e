"""A sweep through ``hydra/launcher=ray_cluster`` against a real Ray head started here on loopback, with a
worker killed mid-job. Needs the ``ray`` extra (``.ci/run`` runs it in a virtual environment of its own)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _helpers import nmfexp_run, write_killer_lab

from nmfexp.record import read_record

pytest.importorskip("ray", reason="Ray is optional: pip install -e '.[test,ray]' to run the Ray tests")
pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="hydra-ray-launcher is not installed")
pytestmark = pytest.mark.slow

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Ray on loopback only: Ray replaces 127.0.0.1 by the machine's address unless it thinks it runs on a
#: laptop (this switch), and the head and its clients must agree on token authentication.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def ray_head():
    """``ray start --head`` on 127.0.0.1 in a process group of its own; stopped by that group's id."""
    ray_exe = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # Ray's socket paths must stay short
    log = Path(temp) / "head.log"
    with open(log, "wb") as out:
        head = subprocess.Popen([ray_exe, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                                 f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                                 "--disable-usage-stats", f"--temp-dir={temp}"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **RAY_ENV})
    address = f"127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while "Ray runtime started" not in log.read_text(errors="replace") or not _listening(port):
            if head.poll() is not None or time.monotonic() - t0 > 120:
                pytest.fail(f"the Ray head did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(1)
        yield address
    finally:
        try:
            os.killpg(head.pid, signal.SIGTERM)  # ray start --block stops what it started
            head.wait(timeout=30)
            time.sleep(3)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever of its group is left
        except ProcessLookupError:
            pass
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_cluster_runs_a_sweep_on_an_existing_head_and_survives_a_killed_worker(tmp_path, ray_head):
    # the solver 'killer' kills its own worker process (SIGKILL) the first time it meets seed 1; Ray retries the task
    write_killer_lab(tmp_path)
    args = ["-m", "hydra.searchpath=[file://conf]", "solver=killer", "solver.params.seed=0,1,2,3", "dataset.n_rows=10",
            "timing=quick", "results_dir=r", "hydra/launcher=ray_cluster"]
    # out of the box: the preset reads RAY_ADDRESS; no object_store_memory override is needed
    env = {**os.environ, **RAY_ENV, "RAY_ADDRESS": ray_head}
    out = nmfexp_run(*args, cwd=tmp_path, env=env)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert (tmp_path / "killed.marker").exists()  # a worker was killed; Ray ran its task again
    assert "4/4 (100%): 4 ok" in log and "[k/?]" not in log and "/?]" not in log  # the driver's count, with the total
    records = list((tmp_path / "r").glob("*.h5"))
    assert len(records) == 4 and all(read_record(p).attrs["status"] == "ok" for p in records)
    assert {read_record(p).groups["execution"]["launcher"] for p in records} == {
        "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"}
    again = nmfexp_run(*args, cwd=tmp_path, env=env)
    assert "4 already recorded, submitting 0" in again.stdout + again.stderr

