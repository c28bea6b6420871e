"""Reading results at scale: ``load`` and ``summary`` over many records, with the
catalogue beside the records (:mod:`nmfexp.record.catalogue`) and without it.

    python -m nmfexp.bench --suite results           # 2,000 and 20,000 records
    python -m nmfexp.bench --suite results --quick   # 200 and 2,000 records

The records are copies of two real records (one A1GM, one WNMF-KL job), each
with its own job id and seed, written directly (no sweep, no fsync), so that
making 20,000 of them takes seconds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["write_copies", "results_suite"]


def _seed_records(folder: Path) -> list:
    """Two real records (A1GM and WNMF-KL on a small uniform matrix), computed once."""
    from ..experiment import run
    from ..record import read_record

    conf = {"dataset": {"kind": "uniform", "name": "uniform", "n_rows": 10},
            "mask": {"kind": "random", "rate": 0.05},
            "timing": {"warmup": 0, "repeats": 2, "min_time": 0.0, "max_repeats": 2, "max_time": 60.0,
                       "blas_threads": 1},
            "seed": 0, "tag": "bench"}
    out = []
    for solver, params in (("a1gm", {}), ("wnmf_kl", {"max_iter": 20})):
        path = run({**conf, "solver": {"name": solver, "params": params}}, folder)
        out.append(read_record(path["path"]))
    return out


def write_copies(folder: str | os.PathLike, n: int, templates: list | None = None) -> list[Path]:
    """Write ``n`` records into ``folder`` (100 per sub-folder): copies of ``templates`` (default: two
    real records computed here), each with its own ``job`` id.

    Each template's file image is built once; a copy is that image with the job id (stored once, as
    text of the same length) replaced and the checksum block made anew, written without syncing:
    thousands per second, for tests and benchmarks.
    """
    from ..record._format import FORMAT, FORMAT_VERSION, SUFFIX, Record, _checksum_block, _write_into
    from ..record.write import _hdf5_image

    folder = Path(folder)
    if templates is None:
        with tempfile.TemporaryDirectory() as tmp:
            templates = _seed_records(Path(tmp))
    images = []
    for k, tpl in enumerate(templates):
        job = f"{k:04x}{'0' * 7}JOBID"  # a placeholder of a job id's length (16), found once in the image
        attrs = {**tpl.attrs, "format": FORMAT, "job": job, "format_version": FORMAT_VERSION}
        rec = Record(attrs=attrs, groups=tpl.groups, arrays=tpl.arrays)
        _, content = _hdf5_image(lambda f, rec=rec: _write_into(f, rec))
        image = bytes(content)
        if image.count(job.encode()) != 1:
            raise ValueError("the job id is not stored exactly once in the template's image")
        images.append((attrs.get("solver", "job"), image, image.index(job.encode()), len(job)))
    paths = []
    for i in range(n):
        solver, image, at, width = images[i % len(images)]
        job = hashlib.sha256(f"{i}/{len(images)}".encode()).hexdigest()[:width]
        content = image[:at] + job.encode() + image[at + width:]
        path = folder / f"part{i // 100:04d}" / f"{solver}-{job}{SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(_checksum_block(hashlib.sha256(content).hexdigest(), len(content)))
            fh.write(content)
        paths.append(path)
    return paths


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def results_suite(quick: bool = False) -> list[str]:
    """Seconds for ``load`` and ``summary`` over 2,000 and 20,000 records (200 and 2,000 with
    ``quick``): without the catalogue (every file read), building it (first reading), and with it up
    to date, measured in one run, the two sides alternating; and the record headers a resume reads, one
    file at a time and in one pass of the reader process, alternating too. Nothing here asserts a time."""
    import warnings

    from .. import results
    from ..record import read_record_header, read_record_headers
    from . import interleaved

    sizes = (200, 2000) if quick else (2000, 20000)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        templates = _seed_records(Path(tmp) / "seed")
        for n in sizes:
            folder = Path(tmp) / f"r{n}"
            t_write = _timed(lambda folder=folder, n=n: write_copies(folder, n, templates))
            repeats = 1 if n > 5000 else 2
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build = _timed(lambda folder=folder: results.load(folder))
                for what, f in (("load", lambda c, folder=folder: results.load(folder, catalogue=c)),
                                ("summary", lambda c, folder=folder: results._summary(str(folder), "drop", c))):
                    s = interleaved({"off": lambda f=f: f(False), "on": lambda f=f: f(True)}, repeats)
                    off, on = np.median(s["off"]), np.median(s["on"])
                    lines.append(f"{what} {n:>6,} records: {off:7.2f} s without the catalogue "
                                 f"({1e3 * off / n:.1f} ms/record), {on:6.2f} s with it up to date "
                                 f"({1e3 * on / n:.2f} ms/record): {off / on:6.1f}x (median of {repeats})")
                files = sorted(folder.glob("**/*.h5"))

                def resume(files=files) -> list[dict]:  # what a rerun does: the catalogue, then one pass
                    known = results.catalogued_headers(files)
                    rest = [p for p in files if p not in known]
                    return [*known.values(), *read_record_headers(rest)]

                s = interleaved({"each": lambda files=files: [read_record_header(p) for p in files],
                                 "pass": lambda files=files: read_record_headers(files), "cat": resume}, repeats)
                each, one, cat = (np.median(s[k]) for k in ("each", "pass", "cat"))
                lines.append(f"resume headers {n:>6,} records: {each:7.2f} s one by one ({1e3 * each / n:.1f} "
                             f"ms/record), {one:6.2f} s in one reader pass ({each / one:.1f}x), {cat:6.2f} s "
                             f"with the catalogue up to date ({1e3 * cat / n:.2f} ms/record, {each / cat:.0f}x) "
                             f"(median of {repeats})")
            lines.append(f"  ({n:,} records written in {t_write:.1f} s; building the catalogue by the first "
                         f"load: {build:.1f} s)")
    return lines
