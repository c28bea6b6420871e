"""Records on disk: checksums and damage, legacy files, value round-trips, temporary files,
claims between concurrent sweeps, write failures, merging."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from nmfexp import plotting, record, results
from nmfexp.record import (
    FORMAT,
    STALE_SECONDS,
    DamagedRecordError,
    Record,
    RecordsWarning,
    RecordWriteError,
    claim,
    claim_holder,
    ignore_sigxfsz,
    is_valid_record,
    iter_records,
    lock_path,
    merge_records,
    read_record,
    record_status,
    remove_stale_temp_files,
    temp_path,
    write_record,
)

V1 = Path(__file__).parent / "data" / "v1"  # records written by nmfexp 0.1.0 (format_version 1), kept as they were
V1_RECORD = V1 / "records" / "wnmf_kl-92635d0f699c9f58.h5"
QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver: str = "wnmf_kl", n: int = 10, seed: int = 0) -> dict:
    return {
        "dataset": {"kind": "uniform", "name": "uniform", "n_rows": n},
        "mask": {"kind": "grid", "rate": 0.05},
        "solver": {"name": solver, "params": {} if solver == "a1gm" else {"max_iter": 20}},
        "timing": dict(QUICK),
        "seed": seed,
        "tag": "t",
    }


def small_record(job: str = "0123456789abcdef", **attrs) -> Record:
    return Record(attrs={"format": FORMAT, "job": job, "status": "ok", "solver": "wnmf_kl", "tag": "t",
                         "created": "2024-01-01T00:00:00+00:00", **attrs},
                  groups={"metrics": {"weighted_kl": 1.5}, "data": {"n_rows": 3, "n_cols": 4}},
                  arrays={"timing/samples": np.array([0.1, 0.2]), "history/objective": np.array([3.0, 2.0])})


@pytest.fixture(autouse=True)
def short_read_timeout(monkeypatch):
    """Files without a checksum are read under a time limit; a short one keeps damaged cases fast."""
    monkeypatch.setattr(record.read, "UNVERIFIED_TIMEOUT", 1.0)


@pytest.fixture(scope="module")
def legacy_record() -> Record:
    return read_record(V1_RECORD)


@pytest.fixture
def checked_file(tmp_path, legacy_record) -> Path:
    """A realistic record (a legacy one rewritten) in the current format, with its checksum."""
    return write_record(tmp_path / "ok" / "wnmf_kl-92635d0f699c9f58.h5", legacy_record)


# --------------------------------------------------------------------------- the damage generator

HEAP_SIGNATURES = (b"GCOL", b"HEAP", b"SNOD", b"TREE")  # global heap (attribute strings), local heaps, B-trees


def damage_cases(data: bytes, *, block: int = 512) -> dict[str, bytes]:
    """Damaged copies of a file: zeroed blocks at every offset, flipped bytes just after each
    heap/B-tree signature, truncations and appended junk. Only copies that differ are kept."""
    cases = {}
    for off in range(0, len(data), block):
        d = bytearray(data)
        d[off:off + block] = bytes(len(d[off:off + block]))
        cases[f"zeroed-block-{off}"] = bytes(d)
    for sig in HEAP_SIGNATURES:
        for k, m in enumerate(re.finditer(re.escape(sig), data)):
            if k >= 2:
                break
            d = bytearray(data)
            for i in range(m.start() + 8, min(len(d), m.start() + 40), 3):
                d[i] ^= 0xFF
            cases[f"flipped-{sig.decode()}-{m.start()}"] = bytes(d)
    for size in (0, 8, 600, len(data) // 2, len(data) - 1):
        cases[f"truncated-to-{size}"] = data[:size]
    cases["junk-appended"] = data + b"\x00junk" * 20
    return {name: d for name, d in cases.items() if d != data}


def write_legacy(path: Path, rec: Record) -> Path:
    """Write ``rec`` the way format_version 1 did: plain HDF5, no checksum, dicts as JSON text."""
    def put(obj, attrs):
        for key, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
                value = json.dumps(value)
            elif isinstance(value, list):
                value = np.asarray(value, dtype=h5py.string_dtype())
            obj.attrs[key] = value

    with h5py.File(path, "w") as f:
        put(f, {**rec.attrs, "format_version": 1})
        for name, attrs in rec.groups.items():
            put(f.require_group(name), attrs)
        for name, values in rec.arrays.items():
            f.create_dataset(name, data=values)
    return path


# --------------------------------------------------------------------------- the checksum block

def test_checked_file_is_plain_hdf5_behind_a_512_byte_checksum_block(checked_file):
    data = checked_file.read_bytes()
    head = data[:512]
    digest = hashlib.sha256(data[512:]).hexdigest()
    assert head == f"nmfexp-checksum 1\nsha256 {digest}\nsize {len(data) - 512}\n".encode().ljust(512, b"\0")
    assert data[512:520] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(checked_file, "r") as f:  # any HDF5 reader skips the user block
        assert f.userblock_size == 512
        assert f.attrs["format"] == FORMAT and f.attrs["format_version"] == 2
        assert f["timing/samples"].shape == (2,)


def test_legacy_records_are_still_readable(legacy_record):
    assert legacy_record.attrs["format_version"] == 1 and legacy_record.attrs["status"] == "ok"
    assert record_status(V1_RECORD) == "ok" and is_valid_record(V1_RECORD)
    merged = list(iter_records(V1 / "merged.h5"))
    folder = list(iter_records(V1 / "records"))
    assert sorted(r.attrs["job"] for r in merged) == sorted(r.attrs["job"] for r in folder)
    assert {r.attrs["status"] for r in folder} == {"ok", "skipped"}
    # rewriting a legacy record keeps its content and adds the checksum
    assert json.loads(legacy_record.groups["environment"]["threadpools"])  # v1 stored this dict as JSON text


def test_rewritten_record_keeps_every_value(checked_file, legacy_record):
    back = read_record(checked_file)
    assert back.attrs.pop("format_version") == 2
    expected = dict(legacy_record.attrs)
    expected.pop("format_version")
    assert_same(back.attrs, expected)
    assert_same(back.groups, legacy_record.groups)
    assert_same(back.arrays, legacy_record.arrays)


def assert_same(a, b, where="") -> None:
    """Equal values of equal types, arrays compared element-wise, recursively."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_every_damage_to_a_checked_record_is_detected(tmp_path, checked_file):
    cases = damage_cases(checked_file.read_bytes())
    kinds = {re.sub(r"-\d+$", "", name) for name in cases}
    assert {"zeroed-block", "flipped-GCOL", "flipped-HEAP", "flipped-SNOD", "flipped-TREE", "truncated-to",
            "junk-appended"} <= kinds
    undetected = []
    for name, data in cases.items():
        bad = tmp_path / f"{name}.h5"
        bad.write_bytes(data)
        try:
            read_record(bad)
            undetected.append(name)
        except DamagedRecordError as exc:
            assert str(bad) in str(exc)
        assert record_status(bad) is None and not is_valid_record(bad), name
    assert not undetected


def test_every_tool_finishes_and_names_damaged_checked_records(tmp_path, checked_file, capsys):
    data = checked_file.read_bytes()
    folder = checked_file.parent
    bad = folder / "damaged"
    bad.mkdir()
    for name, d in damage_cases(data).items():
        (bad / f"{name}.h5").write_bytes(d)
    n_bad = len(list(bad.glob("*.h5")))

    with pytest.warns(RecordsWarning) as caught:
        df = results.load(folder)
    assert len(df) == 1 and df["path"].iloc[0] == str(checked_file)
    named = {Path(m.group(1)).name for w in caught for m in [re.search(r"unreadable (\S+\.h5):", str(w.message))] if m}
    assert named == {p.name for p in bad.glob("*.h5")}
    with pytest.warns(RecordsWarning):
        assert len(results.load_history(folder)) == len(read_record(checked_file).arrays["history/objective"])

    with pytest.warns(RecordsWarning) as caught:
        report = merge_records(folder, tmp_path / "merged.h5")
    assert len(caught) == n_bad and all(str(w.message).startswith("merge: skipped ") for w in caught)
    assert report.written == 1 and len(report.skipped) == n_bad
    assert {Path(where).name for where, _ in report.skipped} == {p.name for p in bad.glob("*.h5")}
    assert len(list(iter_records(tmp_path / "merged.h5"))) == 1

    capsys.readouterr()
    assert results.main(["summary", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"damaged or unreadable files: {n_bad} (left out;" in out
    assert all(p.name in out for p in bad.glob("*.h5"))
    assert results.main(["csv", str(folder), "-o", str(tmp_path / "t.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "t.csv")) == 1
    assert plotting.main([str(folder), "--plots-dir", str(tmp_path / "plots")]) == 0


def test_resume_recomputes_a_damaged_record(tmp_path):
    from nmfexp.experiment import run

    first = run(conf(), tmp_path)
    path = Path(first["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(data))
    assert record_status(path) is None
    again = run(conf(), tmp_path)
    assert again["existing"] is False and again["status"] == "ok" and record_status(path) == "ok"


# --------------------------------------------------------------------------- legacy files: bounded reading

LEGACY_CASES = damage_cases(V1_RECORD.read_bytes())


@pytest.mark.slow
def test_every_damage_to_a_legacy_record_finishes_in_bounded_time(tmp_path):
    """Files without a checksum cannot all be detected (a zeroed number stays a number), but
    reading never hangs or crashes: it ends within the time limit, and anything HDF5 or the
    time limit rejects is reported as damaged and treated as missing."""
    outcomes = {}
    for name, data in LEGACY_CASES.items():
        bad = tmp_path / f"{name}.h5"
        bad.write_bytes(data)
        start = time.perf_counter()
        try:
            read_record(bad)
            outcomes[name] = "read"
        except DamagedRecordError as exc:
            assert str(bad) in str(exc)
            outcomes[name] = "timed out" if "did not finish" in str(exc) else "damaged"
        assert time.perf_counter() - start < 30
    assert list(outcomes.values()).count("damaged") > len(outcomes) // 2


@pytest.mark.slow
def test_resume_recomputes_a_damaged_legacy_record(tmp_path):
    from nmfexp.experiment import run

    path = Path(run(conf(), tmp_path)["path"])
    rec = read_record(path)
    for damage in ("truncated", "zeroed global heap"):
        path.unlink()
        write_legacy(path, rec)
        assert record_status(path) == "ok"
        data = path.read_bytes()
        if damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        else:  # a legacy record whose attribute strings are damaged: HDF5 fails, or loops for ever
            data = V1_RECORD.read_bytes()
            gcol = data.index(b"GCOL")
            path.write_bytes(data[:gcol + 512] + bytes(512) + data[gcol + 1024:])
        assert record_status(path) is None
        again = run(conf(), tmp_path)
        assert again["existing"] is False and record_status(path) == "ok"
        assert path.read_bytes().startswith(b"nmfexp-checksum 1\n")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_neither_uses_nor_stops_its_parents_helper():
    assert record_status(V1_RECORD) == "ok"  # the parent's helper process is running
    parent_helper = record.read._READER._proc
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read a legacy record, then do what its exit handlers do
        try:
            inherited = record.read._READER
            ok = record_status(V1_RECORD) == "ok" and record.read._READER._proc is not parent_helper
            inherited.close()  # as the exit handler registered in the parent would
            record.read._READER.close()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    deadline = time.time() + 60
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child did not finish")
        time.sleep(0.01)
    assert os.read(read, 1) == b"1"
    assert parent_helper.poll() is None and record.read._READER._proc is parent_helper
    assert record_status(V1_RECORD) == "ok"


def _legacy_folder_with_damage(root: Path) -> Path:
    folder = root / "results"
    (folder / "a").mkdir(parents=True)
    shutil.copy(V1_RECORD, folder / "a" / V1_RECORD.name)
    data = V1_RECORD.read_bytes()
    gcol = data.index(b"GCOL")
    for off in (gcol, gcol + 512, gcol + 1024, 6656):  # global heap and beyond: errors, and hangs in HDF5
        d = bytearray(data)
        d[off:off + 512] = bytes(512)
        (folder / f"zeroed-{off}.h5").write_bytes(bytes(d))
    (folder / "truncated.h5").write_bytes(data[:5000])
    return folder


@pytest.mark.slow
def test_command_line_tools_finish_on_damaged_legacy_records(tmp_path):
    """Each tool runs in its own process with a deadline: a hang fails the test, not the suite."""
    folder = _legacy_folder_with_damage(tmp_path)
    env = {**os.environ, "NMFEXP_READ_TIMEOUT": "2", "MPLBACKEND": "agg"}
    t_csv, t_merge, t_plots = str(tmp_path / "t.csv"), str(tmp_path / "m.h5"), str(tmp_path / "plots")
    commands = {
        "summary": [f"from nmfexp.results import main; raise SystemExit(main(['summary', {str(folder)!r}]))"],
        "csv": [f"from nmfexp.results import main; raise SystemExit(main(['csv', {str(folder)!r}, '-o', {t_csv!r}]))"],
        "merge": [f"from nmfexp.results import main; "
                  f"raise SystemExit(main(['merge', {str(folder)!r}, '-o', {t_merge!r}]))"],
        "plot": [f"from nmfexp.plotting import main; raise SystemExit(main([{str(folder)!r}, '--plots-dir', {t_plots!r}]))"],
        "load": [f"import nmfexp.results as r; print(len(r.load({str(folder)!r})), 'rows')"],
    }
    for name, (code,) in commands.items():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        log = out.stdout + out.stderr
        assert out.returncode == 0, (name, log)
        for damaged in folder.glob("*.h5"):
            assert damaged.name in log, (name, log)
    assert len(pd.read_csv(tmp_path / "t.csv")) == 1


# --------------------------------------------------------------------------- values round-trip

ROUND_TRIP = {
    "int beyond 64 bits": 2 ** 70,
    "negative int beyond 64 bits": -(2 ** 70),
    "largest int64": 2 ** 63 - 1,
    "none": None,
    "true": True,
    "false": False,
    "float": 0.1,
    "nan": float("nan"),
    "unicode": "μ-δ 日本語 😀",
    "long string": "x" * 300_000,
    "string with a NUL": "a\x00b",
    "empty string": "",
    "list of str": ["a", "bb"],
    "empty list": [],
    "list of numbers": [1, 2.5],
    "nested": {"a": [1, None, {"b": 2 ** 80, "c": "é"}], "d": {"e": True}},
    "list of dicts": [{"a": 1}, {"b": [None]}],
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_any_value_round_trips_through_a_record(tmp_path, name):
    value = ROUND_TRIP[name]
    rec = small_record()
    rec.attrs["v"] = value
    rec.groups["g"] = {"v": value}
    path = write_record(tmp_path / "r.h5", rec)
    back = read_record(path)
    assert_same(back.attrs["v"], value)
    assert_same(back.groups["g"]["v"], value)
    merged = merge_records(path, tmp_path / "m.h5")
    assert merged.written == 1
    (again,) = iter_records(tmp_path / "m.h5")
    assert_same(again.attrs["v"], value)


def test_numeric_arrays_stay_arrays(tmp_path):
    path = write_record(tmp_path / "r.h5", Record(attrs={"job": "j", "status": "ok", "a": np.arange(3),
                                                         "b": np.array([True])}))
    back = read_record(path)
    np.testing.assert_array_equal(back.attrs["a"], np.arange(3))
    assert back.attrs["b"].dtype == bool


def test_a_huge_seed_is_recorded_and_resumed(tmp_path):
    from nmfexp.experiment import run

    first = run(conf(seed=2 ** 70), tmp_path)
    assert first["status"] == "ok"
    rec = read_record(first["path"])
    assert rec.attrs["seed"] == 2 ** 70
    assert run(conf(seed=2 ** 70), tmp_path)["existing"] is True
    df = results.load(tmp_path)
    assert df["seed"].iloc[0] == 2 ** 70


# --------------------------------------------------------------------------- temporary files

def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_names_are_unique_per_host_process_and_call(tmp_path):
    path = tmp_path / "x.h5"
    a, b = temp_path(path), temp_path(path)
    assert a != b
    host, pid, token = a.name[len("x.h5."):-len(".tmp")].split(".")
    assert pid == str(os.getpid()) and len(token) == 8 and host == re.sub(r"[^A-Za-z0-9_-]", "-",
                                                                          socket.gethostname())


def test_remove_stale_temp_files_keeps_files_of_live_writers(tmp_path):
    path = tmp_path / "x.h5"
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())
    live = _sleeper()
    try:
        old = time.time() - STALE_SECONDS - 60
        cases = {  # name -> (age: "new"/"old", removed?)
            f"x.h5.{host}.{live.pid}.aaaaaaaa.tmp": ("new", False),   # a live writer on this host
            f"x.h5.{host}.{_dead_pid()}.bbbbbbbb.tmp": ("new", True),  # its writer has exited
            f"x.h5.{host}.{os.getpid()}.cccccccc.tmp": ("new", True),  # our pid, not ours: an earlier process
            "x.h5.other-host.123.dddddddd.tmp": ("new", False),      # another host: cannot check, too young
            "x.h5.other-host.124.eeeeeeee.tmp": ("old", True),       # another host, abandoned
            f"x.h5.{live.pid}.tmp": ("new", False),                   # format_version 1 name, live writer
            f"x.h5.{_dead_pid()}.tmp": ("new", True),                  # format_version 1 name, writer gone
            "x.h5.125.tmp": ("old", True),                            # format_version 1 name, abandoned
            "x.h5.other-host.126.tmp": ("new", False),                # unknown layout: only the age rule
            f"y.h5.{host}.{_dead_pid()}.ffffffff.tmp": ("new", False),  # another record's file
        }
        for name, (age, _) in cases.items():
            (tmp_path / name).write_bytes(b"partial")
            if age == "old":
                os.utime(tmp_path / name, (old, old))
        removed = remove_stale_temp_files(path)
        for name, (_, gone) in cases.items():
            assert (tmp_path / name).exists() is not gone, name
        assert removed == sum(gone for _, gone in cases.values())
    finally:
        live.kill()
        live.wait()


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from nmfexp.record import Record, remove_stale_temp_files, write_record
    path, tag = sys.argv[1], sys.argv[2]
    for i in range(25):
        remove_stale_temp_files(path)   # what every job start does
        write_record(path, Record(attrs={"job": "j", "status": "ok", "writer": tag, "i": i},
                                  arrays={"x": np.arange(5000.0)}))
    print("done", tag)
""")


@pytest.mark.slow
def test_concurrent_writers_of_one_record_do_not_break_each_other(tmp_path):
    path = tmp_path / "x.h5"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(k)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert record_status(path) == "ok" and read_record(path).attrs["i"] == 24
    assert not list(tmp_path.glob("*.tmp"))


# --------------------------------------------------------------------------- claims

def test_claim_is_exclusive_and_released(tmp_path):
    path = tmp_path / "x.h5"
    c = claim(path)
    assert c is not None and lock_path(path).exists()
    info = json.loads(lock_path(path).read_text())
    assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
    assert claim(path) is None  # held, even by this very process
    holder = claim_holder(path)
    assert holder is not None and holder.pid == os.getpid() and "process" in holder.describe()
    c.release()
    assert not lock_path(path).exists() and claim_holder(path) is None
    with claim(path) as again:
        assert again is not None and again.held()
    assert not lock_path(path).exists()


def _lock(path: Path, host: str, pid: int, age: float = 0.0, raw: bytes | None = None) -> None:
    lock = lock_path(path)
    lock.write_bytes(raw if raw is not None else
                     json.dumps({"host": host, "pid": pid, "time": time.time() - age, "token": "t" * 16}).encode())
    when = time.time() - age
    os.utime(lock, (when, when))


def test_claim_takes_over_only_stale_claims(tmp_path):
    me = socket.gethostname()
    live = _sleeper()
    try:
        old = STALE_SECONDS + 60
        cases = {  # name -> (host, pid, age, raw content, taken over?)
            "dead process on this host": (me, _dead_pid(), 0, None, True),
            "live process on this host": (me, live.pid, 0, None, False),
            "live process, but abandoned for too long": (me, live.pid, old, None, True),
            "another host, recent": ("elsewhere", 1, 0, None, False),
            "another host, abandoned": ("elsewhere", 1, old, None, True),
            "our pid, left by an earlier process": (me, os.getpid(), 0, None, True),
            # claims are created whole (hard link): content that does not parse is garbage, whatever its age;
            # only an empty file of a moment ago may be a 0.2 writer's claim being filled in
            "garbage claim, recent": (me, 1, 0, b"{", True),
            "empty claim, recent": (me, 1, 0, b"", False),
            "empty claim, old": (me, 1, 120, b"", True),
        }
        for name, (host, pid, age, raw, taken) in cases.items():
            path = tmp_path / f"{abs(hash(name))}.h5"
            _lock(path, host, pid, age, raw)
            got = claim(path)
            assert (got is not None) is taken, name
            assert (claim_holder(path) is not None)  # either the old holder or us
            if got is not None:
                assert json.loads(lock_path(path).read_text())["pid"] == os.getpid()
                got.release()
    finally:
        live.kill()
        live.wait()


def test_release_never_removes_another_process_claim(tmp_path):
    path = tmp_path / "x.h5"
    c = claim(path, stale_after=0.0)
    time.sleep(0.01)
    other = json.dumps({"host": "elsewhere", "pid": 1, "time": time.time(), "token": "x" * 16}).encode()
    lock_path(path).write_bytes(other)  # someone took it over (ours looked abandoned)
    c.release()
    assert lock_path(path).read_bytes() == other


RACER = textwrap.dedent("""
    import os, random, sys, time
    from pathlib import Path
    from nmfexp.record import Record, claim, record_status, remove_stale_temp_files, write_record
    folder, log, go, me = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    print("ready", flush=True)
    while not go.exists():  # all sweeps start at the same moment
        time.sleep(0.001)
    jobs = [folder / f"job{k:02d}.h5" for k in range(12)]
    random.Random(me).shuffle(jobs)
    for path in jobs:
        if record_status(path) is not None:
            continue
        c = claim(path)
        if c is None:
            continue  # running elsewhere
        with c:
            if record_status(path) is not None:
                continue
            remove_stale_temp_files(path)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"{path.name} {me}\\n".encode())
            os.close(fd)
            time.sleep(0.05)  # the computation
            write_record(path, Record(attrs={"job": path.stem, "status": "ok", "by": me}))
""")


@pytest.mark.slow
def test_two_sweeps_at_the_same_moment_compute_each_job_once(tmp_path):
    log, go = tmp_path / "computed.log", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), str(log), str(go), f"sweep{k}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    for p in procs:
        assert p.stdout.readline() == "ready\n"
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    computed = [line.split()[0] for line in log.read_text().splitlines()]
    assert sorted(computed) == [f"job{k:02d}.h5" for k in range(12)]  # each once
    assert len({line.split()[1] for line in log.read_text().splitlines()}) > 1  # the sweeps shared the work
    assert all(record_status(tmp_path / f"job{k:02d}.h5") == "ok" for k in range(12))
    assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob("*.tmp"))
    assert not list(tmp_path.glob("*.stale"))


# --------------------------------------------------------------------------- write failures

FSIZE = textwrap.dedent("""
    import errno, resource, signal, sys
    from pathlib import Path
    import numpy as np
    from nmfexp.record import Record, RecordWriteError, ignore_sigxfsz, merge_records, write_record
    path, what, signals = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    big = Record(attrs={"job": "j", "status": "ok"}, arrays={"x": np.arange(5000.0)})
    if what == "merge":
        write_record(path.parent / "src" / "r.h5", big)
    if signals != "python":  # as in a program that embeds Python or restores default signal actions
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    if signals == "ignored":
        ignore_sigxfsz()
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        if what == "merge":
            merge_records(path.parent / "src", path)
        else:
            write_record(path, big)
    except RecordWriteError as exc:
        print("RecordWriteError", exc.errno == errno.EFBIG, exc.filename == str(path), exc)
""")


def _write_under_a_file_size_limit(path: Path, what: str, signals: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FSIZE, str(path), what, signals], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no file size limits on this platform")
@pytest.mark.parametrize("what", ["write", "merge"])
def test_file_size_limit_gives_a_clear_error_and_leaves_nothing(tmp_path, what):
    """Before, HDF5 wrote the file itself and crashed (SIGSEGV) cleaning up after the failed write."""
    path = tmp_path / "r.h5"
    path.write_bytes(b"previous content")
    out = _write_under_a_file_size_limit(path, what, "python")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("RecordWriteError True True could not write " + str(path)), out.stdout
    assert "File too large" in out.stdout
    assert path.read_bytes() == b"previous content" and not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no file size limits on this platform")
def test_ignore_sigxfsz_turns_the_signal_into_an_error(tmp_path):
    path = tmp_path / "r.h5"
    out = _write_under_a_file_size_limit(path, "write", "ignored")
    assert out.returncode == 0 and out.stdout.startswith("RecordWriteError True True"), out.stdout + out.stderr
    assert not path.exists() and not list(tmp_path.glob("*.tmp"))
    out = _write_under_a_file_size_limit(path, "write", "default")  # what it prevents
    assert out.returncode == -signal.SIGXFSZ


@pytest.mark.parametrize("fail", ["write", "fsync", "replace"])
def test_write_failure_names_the_record_and_cleans_up(tmp_path, monkeypatch, fail):
    path = tmp_path / "r.h5"
    write_record(path, small_record(job="old"))

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, fail, broken)
    with pytest.raises(RecordWriteError) as info:
        write_record(path, small_record(job="new"))
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and str(path) in str(info.value)
    assert "No space left on device" in str(info.value)
    assert read_record(path).attrs["job"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.h5"]


def test_write_into_a_path_below_a_file_is_a_record_write_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RecordWriteError, match="could not write .*file/r.h5"):
        write_record(tmp_path / "file" / "r.h5", small_record())


def test_ignore_sigxfsz_is_called_by_nmfexp_results(tmp_path):
    before = signal.getsignal(signal.SIGXFSZ)
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        results.main(["summary", str(tmp_path)])
        assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        assert ignore_sigxfsz() is True and signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGXFSZ, before)


# --------------------------------------------------------------------------- merging

def test_merge_reports_every_file_it_skips(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    write_record(src / "good.h5", small_record(job="a" * 16))
    (src / "junk.h5").write_bytes(b"not hdf5 at all")
    (src / "empty.h5").write_bytes(b"")
    with h5py.File(src / "foreign.h5", "w") as f:
        f["x"] = 1
    with h5py.File(src / "claims-merged.h5", "w") as f:  # says merged, has no /records group
        f.attrs["format"] = "nmfexp-records"
    with pytest.warns(RecordsWarning) as caught:
        report = merge_records(src, tmp_path / "all.h5")
    assert report.written == 1
    reasons = {Path(where).name: why for where, why in report.skipped}
    assert all(any(name in str(w.message) for w in caught) for name in reasons)
    assert set(reasons) == {"junk.h5", "empty.h5", "foreign.h5", "claims-merged.h5"}
    assert "without a /records group" in reasons["claims-merged.h5"]
    assert "not an nmfexp record" in reasons["foreign.h5"] and "empty" in reasons["empty.h5"]
    assert results.main(["merge", str(src), "-o", str(tmp_path / "all2.h5")]) == 0
    err = capsys.readouterr().err
    assert all(name in err for name in reasons)
    with pytest.warns(RecordsWarning) as caught:
        assert len(results.load(src)) == 1
    assert all(any(name in str(w.message) for w in caught) for name in reasons)


def test_merge_keeps_one_copy_per_job_and_reports_the_others(tmp_path):
    for sub, status, created in (("a", "failed", "2024-05-01"), ("b", "ok", "2024-01-01"), ("c", "ok", "2024-03-01")):
        write_record(tmp_path / "src" / sub / "r.h5", small_record(job="f" * 16, status=status, created=created))
    with pytest.warns(RecordsWarning, match="found more than once: kept .*c/r.h5"):
        report = merge_records(tmp_path / "src", tmp_path / "all.h5")
    assert report.written == 1
    (dup,) = report.duplicates
    assert dup.kept.endswith("c/r.h5") and len(dup.dropped) == 2  # ok before failed, then the newest
    (rec,) = iter_records(tmp_path / "all.h5")
    assert rec.attrs["created"] == "2024-03-01"


def test_merge_of_legacy_files_upgrades_them(tmp_path):
    report = merge_records(V1 / "records", tmp_path / "all.h5")
    assert report.written == 3 and not report.skipped
    assert (tmp_path / "all.h5").read_bytes().startswith(b"nmfexp-checksum 1\n")
    a = results.load(V1 / "records").drop(columns="path")
    b = results.load(tmp_path / "all.h5").drop(columns="path")
    pd.testing.assert_frame_equal(a, b)


def test_merge_into_an_unwritable_place_is_reported(tmp_path, capsys):
    write_record(tmp_path / "src" / "r.h5", small_record())
    (tmp_path / "file").write_text("")
    with pytest.raises(RecordWriteError, match="file/all.h5"):
        merge_records(tmp_path / "src", tmp_path / "file" / "all.h5")
    assert results.main(["merge", str(tmp_path / "src"), "-o", str(tmp_path / "file" / "all.h5")]) == 2
    assert "could not write" in capsys.readouterr().err


def test_a_record_without_job_or_status_counts_as_damaged(tmp_path):
    for attrs in ({"job": "j"}, {"status": "ok"}, {"job": "j", "status": None}):
        path = write_record(tmp_path / "r.h5", Record(attrs=attrs))
        with pytest.raises(DamagedRecordError, match="incomplete record"):
            read_record(path)
        assert record_status(path) is None
    data = V1_RECORD.read_bytes()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lost-root-attributes.h5").write_bytes(data[:1536] + bytes(512) + data[2048:])
    found = []
    assert list(iter_records(tmp_path / "src", errors=found)) == []
    assert found and "lost-root-attributes.h5" in found[0][0]


def test_read_record_refuses_merged_files_and_other_hdf5(tmp_path):
    merge_records(V1 / "records", tmp_path / "all.h5")
    with pytest.raises(ValueError, match="merged file"):
        read_record(tmp_path / "all.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not an nmfexp record") as info:
        read_record(tmp_path / "foreign.h5")
    assert not isinstance(info.value, DamagedRecordError)
    with pytest.raises(FileNotFoundError):
        read_record(tmp_path / "missing.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert record_status(tmp_path / "missing.h5") is None


# --------------------------------------------------------------------------- records that point elsewhere

def _secret(tmp_path: Path) -> Path:
    """A local HDF5 file that looks like a record: no reader may open it when asked for another file."""
    path = tmp_path / "elsewhere" / "secret.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.attrs.update(format=FORMAT, job="secret", status="ok")
        f["values"] = np.full(4, 7.0)
    return path


def _seal(path: Path) -> None:
    """Give ``path`` (HDF5 made with a 512-byte user block) a valid checksum block, as a hostile writer can."""
    from nmfexp.record._format import USERBLOCK_SIZE, _checksum_block

    body = path.read_bytes()[USERBLOCK_SIZE:]
    path.write_bytes(_checksum_block(hashlib.sha256(body).hexdigest(), len(body)) + body)


@pytest.mark.parametrize("checksummed", [False, True])
@pytest.mark.parametrize("kind", ["virtual dataset", "external storage"])
def test_a_record_whose_data_live_in_another_file_is_not_read(tmp_path, kind, checksummed):
    secret = _secret(tmp_path)
    raw = tmp_path / "elsewhere" / "raw.bin"
    np.full(4, 7.0).tofile(raw)
    path = tmp_path / "src" / "hostile.h5"
    path.parent.mkdir()
    with h5py.File(path, "w", **({"userblock_size": 512} if checksummed else {})) as f:
        f.attrs.update(format=FORMAT, job="hostile", status="ok")
        if kind == "virtual dataset":
            layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
            layout[:] = h5py.VirtualSource(str(secret), "values", shape=(4,))
            f.create_virtual_dataset("history/objective", layout)
        else:
            f.create_dataset("timing/samples", shape=(4,), dtype="f8", external=[(str(raw), 0, 32)])
    if checksummed:
        _seal(path)
    with pytest.raises(DamagedRecordError, match="keeps its values in other files"):
        read_record(path)
    found = []
    assert list(iter_records(tmp_path / "src", errors=found)) == []
    assert len(found) == 1 and "keeps its values in other files" in found[0][1]


@pytest.mark.parametrize("link", ["external", "soft"])
def test_a_merged_file_whose_records_are_links_reads_none_of_them(tmp_path, link):
    secret = _secret(tmp_path)
    merged = tmp_path / "src" / "merged.h5"
    merged.parent.mkdir()
    merge_records(V1 / "records", merged)
    with h5py.File(merged, "a") as f:
        f["records"]["evil"] = (h5py.ExternalLink(str(secret), "/") if link == "external"
                                else h5py.SoftLink("/records/" + sorted(f["records"])[0]))
    _seal(merged)  # merged files carry a checksum block: a hostile one carries a valid one
    found = []
    recs = list(iter_records(merged, errors=found))
    assert len(recs) == 3 and all(r.attrs["job"] != "secret" for r in recs)
    assert [where for where, _ in found] == [f"{merged}::/records/evil"]
    assert "a link to another file or object" in found[0][1]
