"""Reading records is bounded and fast: damaged and hostile records are named, never hang;
symlink loops and read-only folders are no error; the catalogue beside the records gives the
table that reading every file gives, and notices what changed behind its back."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nmfexp import results
from nmfexp.bench.results import write_copies
from nmfexp.record import Record, read_record, read_record_header, write_record
from nmfexp.record import read as record_read
from nmfexp.record._format import USERBLOCK_SIZE, _checksum_block
from nmfexp.record.catalogue import CATALOGUE_NAME

#: A "billion laughs": about 750 bytes of YAML whose aliases flatten to 9^8 config columns.
BOMB = "\n".join([
    "a: &a {k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol, k8: lol, k9: lol}",
    "b: &b {k1: *a, k2: *a, k3: *a, k4: *a, k5: *a, k6: *a, k7: *a, k8: *a, k9: *a}",
    "c: &c {k1: *b, k2: *b, k3: *b, k4: *b, k5: *b, k6: *b, k7: *b, k8: *b, k9: *b}",
    "d: &d {k1: *c, k2: *c, k3: *c, k4: *c, k5: *c, k6: *c, k7: *c, k8: *c, k9: *c}",
    "e: &e {k1: *d, k2: *d, k3: *d, k4: *d, k5: *d, k6: *d, k7: *d, k8: *d, k9: *d}",
    "f: &f {k1: *e, k2: *e, k3: *e, k4: *e, k5: *e, k6: *e, k7: *e, k8: *e, k9: *e}",
    "g: &g {k1: *f, k2: *f, k3: *f, k4: *f, k5: *f, k6: *f, k7: *f, k8: *f, k9: *f}",
    "h: {k1: *g, k2: *g, k3: *g, k4: *g, k5: *g, k6: *g, k7: *g, k8: *g, k9: *g}",
    "solver: {name: a1gm}",
    "",
])


def tiny(job: str, solver: str = "a1gm", status: str = "ok", config: str | None = None, **metrics) -> Record:
    """A small record with what a table needs (and strings enough for HDF5's global heap)."""
    return Record(attrs={"job": job, "status": status, "solver": solver, "dataset": "uniform", "tag": "t",
                         "created": "2026-01-01T00:00:00+00:00", "warnings": ["one", "two", "three"],
                         "config_yaml": config if config is not None else f"solver:\n  name: {solver}\nseed: 3\n"},
                  groups={"metrics": {"relative_error": 0.5, **metrics}, "environment": {"hostname": "h"}})


def rewrite_checksum(path: Path, body: bytes) -> None:
    """Put ``body`` (the HDF5 part) into ``path`` with a checksum block that matches it."""
    path.write_bytes(_checksum_block(hashlib.sha256(body).hexdigest(), len(body)) + body)


# --------------------------------------------------------------------------- hostile content

def test_a_billion_laughs_config_is_not_expanded():
    assert results._yaml_load(BOMB) == {}  # aliases are refused, not expanded
    assert results._yaml_load("solver: {name: a1gm}\nseed: 3\n") == {"solver": {"name": "a1gm"}, "seed": 3}
    assert results._yaml_load("name: 'R&D'\n") == {"name": "R&D"}  # '&' inside text is no anchor


def test_a_record_with_a_billion_laughs_config_loads_without_its_config(tmp_path):
    write_record(tmp_path / "bomb.h5", tiny("bomb", config=BOMB))
    write_record(tmp_path / "fine.h5", tiny("fine"))
    t0 = time.perf_counter()
    df = results.load(tmp_path, catalogue=False)
    assert time.perf_counter() - t0 < 60  # on 0.2.0 this never finishes (9^8 columns)
    assert sorted(df["job"]) == ["bomb", "fine"]
    assert not any(c.startswith(("a.", "h.")) for c in df.columns)  # read without the expanded config
    assert df.set_index("job").loc["fine", "seed"] == 3


def test_an_oversized_attribute_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from nmfexp.record import _format

    write_record(tmp_path / "big.h5", Record(attrs={"job": "big", "status": "ok", "blob": np.zeros(5000)}))
    assert read_record(tmp_path / "big.h5").attrs["blob"].shape == (5000,)
    monkeypatch.setattr(_format, "MAX_ATTRIBUTE_ELEMENTS", 1000)
    records, problems = _format._read_file(str(tmp_path / "big.h5"))  # what the helper process runs
    assert records == [] and "its attribute 'blob' is too large" in problems[0][1]


def _damage_global_heap(path: Path) -> None:
    """Zero the header of an object in the middle of the file's global heap, where the record's
    string attributes live (index 0 marks free space; of size 0, HDF5's walk of the heap never moves
    on), then give the file a checksum that matches: damage that its checksum cannot catch."""
    raw = path.read_bytes()
    body = bytearray(raw[USERBLOCK_SIZE:])
    g = body.find(b"GCOL")
    assert g > 0, "the record has no global heap"
    size = struct.unpack("<Q", body[g + 8:g + 16])[0]
    objects, p = [], g + 16
    while p < g + size - 16:
        index, _, _, length = struct.unpack("<HHIQ", body[p:p + 16])
        if index == 0:
            break
        objects.append(p)
        p += 16 + ((length + 7) // 8) * 8
    assert len(objects) >= 4
    middle = objects[len(objects) // 2]
    body[middle:middle + 16] = bytes(16)
    rewrite_checksum(path, bytes(body))


HANGS = """
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    {k: f.attrs[k] for k in f.attrs}
    f.visititems(lambda n, o: {k: o.attrs[k] for k in o.attrs})
"""


@pytest.fixture(scope="module")
def damaged_heap(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("heap")
    path = write_record(folder / "damaged.h5", Record(
        attrs={"job": "damaged", "status": "ok", "solver": "a1gm",
               **{f"names{i}": [f"value {i} {j}" for j in range(4)] for i in range(12)}}))
    _damage_global_heap(path)
    try:  # the premise: HDF5 itself never finishes reading it (in a process of its own, killed after 10 s)
        subprocess.run([sys.executable, "-c", HANGS, str(path)], timeout=10, capture_output=True)
        pytest.fail("this HDF5 library reads the damaged heap; the test needs another damage")
    except subprocess.TimeoutExpired:
        pass
    return path


def test_a_damaged_heap_with_a_valid_checksum_is_named_and_never_hangs(damaged_heap, tmp_path, monkeypatch):
    monkeypatch.setattr(record_read, "UNVERIFIED_TIMEOUT", 3.0)
    for i in range(3):
        write_record(tmp_path / f"ok{i}.h5", tiny(f"ok{i}"))
    (tmp_path / "damaged.h5").write_bytes(damaged_heap.read_bytes())
    t0 = time.perf_counter()
    with pytest.warns(results.RecordsWarning, match="damaged.h5.*did not finish within 3 s"):
        df = results.load(tmp_path, catalogue=False)
    assert sorted(df["job"]) == ["ok0", "ok1", "ok2"]  # the others are read after it
    assert read_record_header(tmp_path / "damaged.h5") == {}  # resume: computed again, no hang
    assert "did not finish" in "\n".join(results._summary(str(tmp_path), "drop"))
    assert time.perf_counter() - t0 < 60


def test_headers_of_many_files_are_read_in_one_pass_and_a_bad_file_costs_only_itself(damaged_heap, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setattr(record_read, "UNVERIFIED_TIMEOUT", 3.0)
    for i in range(4):
        write_record(tmp_path / f"ok{i}.h5", tiny(f"ok{i}"))
    (tmp_path / "damaged.h5").write_bytes(damaged_heap.read_bytes())
    (tmp_path / "junk.h5").write_bytes(b"not a record at all" * 50)
    os.symlink(tmp_path / "loop2.h5", tmp_path / "loop1.h5")
    os.symlink(tmp_path / "loop1.h5", tmp_path / "loop2.h5")
    os.mkfifo(tmp_path / "fifo.h5")
    names = ["ok0", "damaged", "ok1", "junk", "loop1", "fifo", "missing", "ok2", "ok3"]
    calls = []
    read_many = record_read._UnverifiedReader.read_many
    monkeypatch.setattr(record_read._UnverifiedReader, "read_many",
                        lambda self, items, header_only=False: calls.append(len(items)) or read_many(self, items,
                                                                                                      header_only))
    headers = record_read.read_record_headers([tmp_path / f"{n}.h5" for n in names])
    assert [h.get("job") for h in headers] == ["ok0", None, "ok1", None, None, None, None, "ok2", "ok3"]
    assert [h.get("status") for h in headers if h] == ["ok"] * 4
    assert calls == [5]  # one pass over the five records, the hanging one included (not HDF5: refused before)
    assert headers == [read_record_header(tmp_path / f"{n}.h5") for n in names]  # the same as one by one


# --------------------------------------------------------------------------- unreadable entries

def test_symlink_loops_in_place_of_records_are_named(tmp_path):
    write_record(tmp_path / "ok.h5", tiny("ok"))
    os.symlink(tmp_path / "b.h5", tmp_path / "a.h5")
    os.symlink(tmp_path / "a.h5", tmp_path / "b.h5")
    os.symlink(tmp_path / "nowhere.h5", tmp_path / "dangling.h5")
    os.mkfifo(tmp_path / "fifo.h5")
    os.symlink(tmp_path, tmp_path / "again")  # a loop of folders is walked once
    with pytest.warns(results.RecordsWarning) as caught:
        df = results.load(tmp_path)
    said = "\n".join(str(w.message) for w in caught)
    assert list(df["job"]) == ["ok"]
    for name in ("a.h5", "b.h5", "dangling.h5"):
        assert f"{tmp_path / name}: cannot be read" in said
    assert "fifo.h5: not a regular file" in said
    summary = "\n".join(results._summary(str(tmp_path), "drop"))
    assert "damaged or unreadable files: 4" in summary and "a.h5: cannot be read" in summary
    assert read_record_header(tmp_path / "a.h5") == {} and read_record_header(tmp_path / "fifo.h5") == {}


READ_ONLY = """
import builtins, io, os, sys
root = os.path.abspath(sys.argv[1])
def guard(path):
    if os.path.abspath(os.fspath(path)).startswith(root):
        raise PermissionError(13, "Permission denied", os.fspath(path))
def wrap(f, check):
    def inner(*a, **k):
        if check(*a, **k):
            guard(a[0])
        return f(*a, **k)
    return inner
writes = lambda p, mode="r", *a, **k: isinstance(p, (str, os.PathLike)) and any(c in mode for c in "wax+")
builtins.open = io.open = wrap(io.open, writes)
os.open = wrap(os.open, lambda p, flags, *a, **k: flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
for name in ("mkdir", "replace", "rename", "unlink", "remove", "rmdir"):
    setattr(os, name, wrap(getattr(os, name), lambda *a, **k: True))
sys.argv = ["nmfexp-run", *sys.argv[2:]]
from nmfexp.cli.run import main
main()
"""


def test_a_read_only_results_folder_of_a_finished_sweep_reruns_with_status_0(tmp_path):
    # The suite may run as root, which writes anywhere: the folder is made read-only for the rerun by
    # refusing every write under it (EACCES), as the file system would.
    args = ["-m", "solver=a1gm", "dataset.n_rows=10,12", "timing=quick", "results_dir=r"]
    first = subprocess.run([sys.executable, "-c", READ_ONLY, str(tmp_path / "elsewhere"), *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    logs = tmp_path / "r" / "logs"
    for child in logs.iterdir():  # a copy of the results without their logs (e.g. a shared archive)
        for f in sorted(child.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        child.rmdir()
    logs.rmdir()
    again = subprocess.run([sys.executable, "-c", READ_ONLY, str(tmp_path / "r"), *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "all already recorded" in out and "Traceback" not in out
    assert not logs.exists()
    more = subprocess.run([sys.executable, "-c", READ_ONLY, str(tmp_path / "r"), "-m", "solver=a1gm",
                           "dataset.n_rows=10,14", "timing=quick", "results_dir=r"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    out = more.stdout + more.stderr
    assert more.returncode == 2 and "cannot write the sweep's log folder" in out and "Traceback" not in out


def test_a_symlink_loop_in_place_of_a_record_is_computed_again(tmp_path):
    args = ["-m", "solver=a1gm", "dataset.n_rows=10,12", "timing=quick", "results_dir=r"]
    cmd = [sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    victim = sorted((tmp_path / "r").glob("*.h5"))[0]
    victim.unlink()
    loop = victim.with_name("loop.h5")
    os.symlink(loop, victim)
    os.symlink(victim, loop)
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = again.stdout + again.stderr
    assert again.returncode == 0 and "Traceback" not in out, out
    assert f"{victim} (Too many levels of symbolic links)" in out  # named
    assert read_record(victim).attrs["status"] == "ok"  # the record replaced the link


# --------------------------------------------------------------------------- the catalogue

def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "results"
    templates = [tiny("x", "a1gm"), tiny("y", "wnmf_kl", status="failed"), tiny("z", "hals", weighted_kl=2.0)]
    write_copies(root, 30, templates)
    return root


def _load(root, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", results.RecordsWarning)
        return results.load(root, **kw)


def test_the_catalogue_gives_the_table_of_every_file(folder):
    every = _load(folder, catalogue=False)
    assert not (folder / CATALOGUE_NAME).exists()
    first = _load(folder)
    assert (folder / CATALOGUE_NAME).exists()
    _same(every, first)
    _same(every, _load(folder))  # from the catalogue alone
    assert len(every) == 30 and set(every["solver"]) == {"a1gm", "wnmf_kl", "hals"}


def test_the_catalogue_is_used_when_the_files_are_unchanged(folder, monkeypatch):
    _load(folder)
    read = []
    real = record_read._load_files
    monkeypatch.setattr(record_read, "_load_files", lambda paths, *a: read.extend(paths) or real(paths, *a))
    _load(folder)
    assert read == []


def test_records_changed_added_or_removed_behind_the_catalogues_back_are_read_again(folder, monkeypatch):
    _load(folder)
    files = sorted(folder.rglob("*.h5"))
    # changed: another status, same size, the modification time put back
    victim = files[3]
    st = victim.stat()
    job = read_record(victim).attrs["job"]
    write_record(victim, Record(attrs={**read_record(victim).attrs, "status": "skipped"},
                                groups=read_record(victim).groups))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    # removed, and added
    gone = read_record(files[5]).attrs["job"]
    files[5].unlink()
    write_record(folder / "new" / "new.h5", tiny("newjob", "a1gm"))
    # damaged in place (its checksum no longer matches)
    damaged = files[7]
    raw = bytearray(damaged.read_bytes())
    raw[-100] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    seen = _load(folder)
    _same(_load(folder, catalogue=False), seen)
    by_job = seen.set_index("job")
    assert by_job.loc[job, "status"] == "skipped"
    assert gone not in by_job.index and "newjob" in by_job.index
    assert len(seen) == 29  # 30 - removed - damaged + added
    summary = "\n".join(results._summary(str(folder), "drop"))
    assert f"{damaged}: damaged: checksum mismatch" in summary


@pytest.mark.parametrize("content", [b"", b"not a catalogue", zlib.compress(b"{}\n" * 10),
                                     zlib.compress(b"\0" * (200 << 20))])
def test_a_damaged_or_hostile_catalogue_is_ignored_and_rebuilt(folder, content):
    every = _load(folder, catalogue=False)
    (folder / CATALOGUE_NAME).write_bytes(content)
    _same(every, _load(folder))
    _same(every, _load(folder))


def test_catalogue_entries_of_files_touched_since_are_not_believed(folder):
    every = _load(folder)
    text = zlib.decompress((folder / CATALOGUE_NAME).read_bytes()).decode()
    forged = text.replace('"status": "ok"', '"status": "forged"')
    assert forged != text
    (folder / CATALOGUE_NAME).write_bytes(zlib.compress(forged.encode()))
    for f in folder.rglob("*.h5"):
        os.utime(f)  # new modification times: every entry is checked against its file and read again
    _same(every, _load(folder))


def test_a_read_only_results_folder_keeps_its_catalogue_in_the_cache(folder, tmp_path, monkeypatch):
    from nmfexp.record import catalogue

    places = catalogue._places(folder)
    assert places[1].is_relative_to(tmp_path / "cache")
    monkeypatch.setattr(catalogue, "_places", lambda root: [root / "not-a-folder" / CATALOGUE_NAME, places[1]])
    (folder / "not-a-folder").write_text("a file where a folder would be: nothing can be written under it")
    every = _load(folder, catalogue=False)
    _same(every, _load(folder))
    assert places[1].exists()
    _same(every, _load(folder))


def test_without_the_catalogue_nothing_is_written(folder, monkeypatch):
    monkeypatch.setenv("NMFEXP_CATALOGUE", "0")
    _load(folder)
    assert not (folder / CATALOGUE_NAME).exists()


def test_a_merged_file_is_summarised_with_its_records(folder, tmp_path):
    from nmfexp.record import merge_records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", results.RecordsWarning)
        merge_records(folder, tmp_path / "merged" / "all.h5")
    every = _load(tmp_path / "merged", catalogue=False)
    _same(every, _load(tmp_path / "merged"))
    _same(every, _load(tmp_path / "merged"))
    assert every["path"].str.contains("::/records/").all() and len(every) == 30


@pytest.mark.slow
def test_twenty_thousand_records_give_the_table_of_every_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    templates = [tiny("x", "a1gm"), tiny("y", "wnmf_kl", status="failed"), tiny("z", "hals", weighted_kl=2.0)]
    write_copies(tmp_path / "r", 20000, templates)
    every = _load(tmp_path / "r", catalogue=False)
    assert len(every) == 20000 and every["job"].is_unique
    _same(every, _load(tmp_path / "r"))  # building the catalogue
    _same(every, _load(tmp_path / "r"))  # from the catalogue


def test_summary_counts_a_sweeps_progress_from_the_catalogue(folder, monkeypatch):
    import json

    by_status: dict = {}
    for f in sorted(folder.rglob("*.h5")):
        by_status.setdefault(read_record(f).attrs["status"], []).append(f)
    files = by_status["ok"][:3] + by_status["failed"][:1]
    plan = {"created": "2026-01-01T00:00:00+00:00", "finished": False,
            "jobs": [{"job": read_record(f).attrs["job"], "path": str(f.resolve())} for f in files[:4]]
            + [{"job": "missing", "path": str(folder / "missing.h5")}]}
    (folder / "logs" / "multirun_x").mkdir(parents=True)
    (folder / "logs" / "multirun_x" / "plan.json").write_text(json.dumps(plan))
    expected = "4 of 5 jobs recorded (3 ok, 0 skipped, 1 failed), 1 without a record yet"
    results._summary(str(folder), "drop")
    read = []
    real = record_read._load_files
    monkeypatch.setattr(record_read, "_load_files", lambda paths, *a: read.extend(paths) or real(paths, *a))
    lines = results._summary(str(folder), "drop")
    progress = [line for line in lines if line.startswith("latest sweep")]
    assert progress and expected in progress[0]
    assert read == []  # neither the records nor the plan's records were read again
