"""A catalogue beside the records: what reading each record file gave, so that a record is read
by HDF5 once, not at every ``load`` or ``summary``.

The catalogue is one file, ``<results>/.nmfexp-catalogue`` (zlib-compressed JSON lines), replaced
atomically (written to a temporary file, then renamed), so that concurrent readers and writers, on
a local or a network file system, never see half of it; the last writer wins, and every entry is
checked against its file anyway. An entry is used only while its file has the same size,
modification and change times (nanoseconds), inode and checksum block (the SHA-256 digest the
writer put in its first 512 bytes); a record changed, added or removed behind the catalogue's back
is therefore read again, and entries of removed files are dropped. Entries also carry a *layout*
(a fingerprint of the code that made them): a new nmfexp version rebuilds them.

What is stored is plain data (JSON), never pickles; a catalogue that cannot be parsed, is too large
or has an unknown layout is ignored and rebuilt. A results folder that cannot be written keeps its
catalogue in the user's cache folder (``$XDG_CACHE_HOME/nmfexp/catalogues``, else
``~/.cache/nmfexp/catalogues``), keyed by the folder's resolved path; where neither can be written,
nothing is kept and every record is read. ``NMFEXP_CATALOGUE=0`` turns the catalogue off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from ._format import _CHECKSUM_RE, USERBLOCK_SIZE, Record
from .read import load_files, record_files

__all__ = ["CATALOGUE_NAME", "catalogued_attrs", "scan_files", "catalogue_enabled"]

CATALOGUE_NAME = ".nmfexp-catalogue"
_FORMAT = "nmfexp-catalogue 1"
#: Bytes of catalogue text allowed per record file (and at least 64 MB): a larger one is not parsed.
_MAX_BYTES_PER_FILE = 1 << 20
_MIN_MAX_BYTES = 64 << 20


def catalogue_enabled() -> bool:
    """False when the environment variable ``NMFEXP_CATALOGUE`` is ``0``, ``no``, ``off`` or ``false``."""
    return os.environ.get("NMFEXP_CATALOGUE", "1").strip().lower() not in ("0", "no", "off", "false")


def _identity(path: Path) -> list | None:
    """What an entry is checked against: size, mtime_ns, ctime_ns, inode and the checksum block's digest."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        head = os.read(fd, USERBLOCK_SIZE)
    except OSError:
        return None
    finally:
        os.close(fd)
    match = _CHECKSUM_RE.match(head)
    digest = match.group(1).decode() if match else hashlib.sha256(head).hexdigest()[:16]
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, digest]


def _places(root: Path) -> list[Path]:
    places = [root / CATALOGUE_NAME]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    try:
        key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    except (OSError, RuntimeError):
        return places
    return places + [Path(cache, "nmfexp", "catalogues", key)]


def _read_catalogue(place: Path, layout: str, n_files: int) -> dict:
    """``relative path -> (identity, entry)`` from the catalogue at ``place``; ``{}`` when there is none
    or it cannot be trusted to parse (damaged, too large, another layout)."""
    limit = max(_MIN_MAX_BYTES, _MAX_BYTES_PER_FILE * n_files)
    try:
        fd = os.open(place, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > limit:
            return {}
        with os.fdopen(fd, "rb", closefd=False) as fh:
            packed = fh.read(limit + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        unpacker = zlib.decompressobj()
        text = unpacker.decompress(packed, limit)
        if unpacker.unconsumed_tail:
            return {}  # expands beyond the limit: not ours, or damaged
        lines = text.decode("utf-8").split("\n")
        head = json.loads(lines[0])
        if head != {"format": _FORMAT, "layout": layout}:
            return {}
        out = {}
        for line in lines[1:]:
            if line:
                rel, identity, entry = json.loads(line)
                if isinstance(rel, str) and isinstance(identity, list) and isinstance(entry, dict):
                    out[rel] = (identity, entry)
        return out
    except (zlib.error, UnicodeDecodeError, ValueError, TypeError, RecursionError):
        return {}


def _write_catalogue(places: list[Path], layout: str, entries: dict) -> None:
    lines = [json.dumps({"format": _FORMAT, "layout": layout})]
    lines += [json.dumps([rel, identity, entry], allow_nan=True) for rel, (identity, entry) in entries.items()]
    packed = zlib.compress("\n".join(lines).encode("utf-8"), 1)
    for place in places:
        tmp = place.with_name(f"{place.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(packed)
            os.replace(tmp, place)
            return
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _jsonable(entry: dict) -> bool:
    """True when ``entry`` survives JSON unchanged (str, int, float, bool, None, lists and dicts)."""
    def ok(v) -> bool:
        if v is None or isinstance(v, (str, bool, int)):
            return True
        if type(v) is float:
            return True
        if isinstance(v, list):
            return all(ok(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and ok(x) for k, x in v.items())
        return False
    return ok(entry)


_BATCH = 256


def _well_formed(entry: dict) -> bool:
    """True when a catalogue entry has the shape :func:`scan_files` gives (else its file is read)."""
    try:
        return (all(isinstance(r["suffix"], str) and isinstance(r["attrs"], dict) and isinstance(r["row"], dict)
                    and isinstance(r["versions"], dict) for r in entry["records"])
                and all(isinstance(w, str) and isinstance(y, str) for w, y in entry["problems"]))
    except (KeyError, TypeError, ValueError):
        return False


def scan_files(root: str | os.PathLike, summarise: Callable[[Record], dict], layout: str, *,
               use_catalogue: bool = True) -> tuple[list[tuple[Path, list[dict], list]], list]:
    """Every record file under the folder ``root``, summarised, with the catalogue's help.

    Parameters
    ----------
    root : path-like
        A results folder.
    summarise : callable
        ``Record -> dict`` of plain data (what a table needs of one record); its results are
        what the catalogue keeps. A result that JSON cannot keep unchanged is used but not kept.
    layout : str
        A fingerprint of ``summarise``'s code: entries made under another layout are not used.
    use_catalogue : bool
        False: read every file (and leave the catalogue alone).

    Returns
    -------
    files : list of (Path, list of dict, list of (str, str))
        Per record file (sorted): each record's ``summarise`` result with its ``location`` added,
        and the problems reading it found.
    unreadable : list of (str, str)
        Entries named like records that are not readable files (symlink loops, FIFOs, ...).
    """
    root = Path(root)
    files, unreadable = record_files(root)
    use_catalogue = use_catalogue and catalogue_enabled()
    places = _places(root) if use_catalogue else []
    known: dict = {}
    for place in places:
        known = _read_catalogue(place, layout, len(files))
        if known:
            break
    fresh: dict = {}
    entries: dict = {}
    identities = {}
    for file in files:
        rel = file.relative_to(root).as_posix()
        identities[rel] = identity = _identity(file) if use_catalogue else None
        cached = known.get(rel)
        if identity is not None and cached is not None and cached[0] == identity and _well_formed(cached[1]):
            entries[rel] = cached[1]
            fresh[rel] = cached
    misses = [file for file in files if file.relative_to(root).as_posix() not in entries]
    for start in range(0, len(misses), _BATCH):
        batch = misses[start:start + _BATCH]
        for file, (records, problems) in zip(batch, load_files(batch), strict=True):
            rel = file.relative_to(root).as_posix()
            entry = {"records": [{"suffix": rec.location[len(str(file)):], **summarise(rec)} for rec in records],
                     "problems": [[where[len(str(file)):], why] for where, why in problems]}
            entries[rel] = entry
            transient = any("did not finish within" in why for _, why in problems)  # maybe only a busy machine
            if identities[rel] is not None and not transient and _jsonable(entry):
                fresh[rel] = (identities[rel], entry)
    out = []
    for file in files:
        entry = entries[file.relative_to(root).as_posix()]
        found = [{**r, "location": str(file) + r["suffix"]} for r in entry["records"]]
        out.append((file, found, [(str(file) + where, why) for where, why in entry["problems"]]))
    changed = len(misses) > 0
    if use_catalogue and (changed or set(known) != set(fresh)):
        _write_catalogue(places, layout, fresh)
    return out, unreadable


#: Folders above a record whose catalogue may answer for it (a catalogue made by ``load`` on a parent folder).
_ANCESTORS = 3


def catalogued_attrs(paths: list[Path], layout: str) -> dict[Path, dict]:
    """What the catalogues of the folders of ``paths`` (or of up to :data:`_ANCESTORS` folders above
    them) keep of each file's root attributes, where they still answer: ``{path: attrs}`` for every
    path whose entry (made under ``layout``) matches the file as it is now (size, times, inode,
    checksum block) and holds exactly one record with nothing wrong in it. Other paths are left out:
    read them. Costs one catalogue read per folder and a ``stat`` and 512 bytes per path; nothing is
    written. Only the attributes the catalogue's ``summarise`` kept are there."""
    if not catalogue_enabled():
        return {}
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(Path(path).parent, []).append(Path(path))
    catalogues: dict[Path, dict] = {}

    def catalogue_of(root: Path) -> dict:
        if root not in catalogues:
            known: dict = {}
            for place in _places(root):
                known = _read_catalogue(place, layout, len(paths))
                if known:
                    break
            catalogues[root] = known
        return catalogues[root]

    out: dict[Path, dict] = {}
    for folder, group in by_folder.items():
        roots = [folder, *list(folder.parents)[:_ANCESTORS]]
        for path in group:
            for root in roots:
                cached = catalogue_of(root).get(path.relative_to(root).as_posix())
                if cached is None or not _well_formed(cached[1]):
                    continue
                records, problems = cached[1]["records"], cached[1]["problems"]
                if len(records) == 1 and not records[0]["suffix"] and not problems and cached[0] == _identity(path):
                    out[path] = dict(records[0]["attrs"])
                break
    return out
