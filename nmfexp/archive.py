"""Archives of a results folder that a reader can check: records, plans and a manifest of checksums.

    nmfexp-results archive results/ results.zip        # or .tar.gz, .tar.xz, .tar.bz2, .tar
    nmfexp-results verify-archive results.zip          # every member against MANIFEST.json
    nmfexp-plot --from-archive results.zip --plots-dir plots/   # every figure and table, re-derived

An archive holds ``MANIFEST.json`` (first), every record (``*.h5``) and every
sweep plan (``logs/multirun_*/plan.json``) under the results folder, in sorted
order, with their paths relative to that folder. A plan is stored with its
record paths relative to its own results folder and marked ``archived``
(:func:`nmfexp.plans.portable_plan`): whoever extracts it reads the records
beside it, and no tool asks a scheduler about its Slurm job ids. The manifest lists each
member's SHA-256 and size, the nmfexp version that wrote the archive, the git
commits (and how many records came from a working tree with uncommitted
changes) and the BLAS builds found in the records, and the date.

An archive from someone else is hostile: :func:`verify_archive` and
:func:`extract_archive` accept only regular files named in the manifest, with
relative paths that stay inside the destination (no absolute paths, no
``..``, no links or devices), each within a size limit, and check every
checksum; anything else is a :class:`ValueError` that names the member.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import lzma
import os
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["ArchiveContents", "write_archive", "verify_archive", "extract_archive", "opened_archive",
           "archive_kind", "MANIFEST_NAME", "MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "MAX_MEMBERS"]

#: The manifest's member name (always the first member).
MANIFEST_NAME = "MANIFEST.json"
#: The ``format`` field of the manifest.
FORMAT = "nmfexp-archive"
FORMAT_VERSION = 1
#: Default limits when reading an archive: bytes of one member, of all members, and members.
MAX_MEMBER_BYTES = 8 * 2**30
MAX_TOTAL_BYTES = 64 * 2**30
MAX_MEMBERS = 500_000
_MAX_MANIFEST_BYTES = 256 * 2**20
_CHUNK = 2**20

_SUFFIXES = {".zip": "zip", ".tar.gz": "tar:gz", ".tgz": "tar:gz", ".tar.xz": "tar:xz", ".txz": "tar:xz",
             ".tar.bz2": "tar:bz2", ".tar": "tar:"}
_PLAN = re.compile(r"(^|.*/)logs/multirun_[^/]+/plan\.json$")


def archive_kind(path: str | Path) -> str:
    """``"zip"`` or ``"tar:<compression>"`` from the file name; a ValueError for any other suffix."""
    name = Path(path).name.lower()
    for suffix, kind in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    if name.endswith((".zst", ".tzst")):
        raise ValueError(f"{path}: zstd archives need a zstd module, which is not installed; use .zip, .tar.gz "
                         "or .tar.xz.")
    raise ValueError(f"{path}: the archive's name must end with one of {', '.join(_SUFFIXES)} (it chooses the "
                     "format).")


def _wanted(rel: str) -> bool:
    return rel.endswith(".h5") or bool(_PLAN.match(rel))


def _members_of(results: Path) -> list[tuple[str, Path]]:
    if results.is_file():
        if not results.name.endswith(".h5"):
            raise ValueError(f"{results} is neither a results folder nor a record (*.h5).")
        return [(results.name, results)]
    found = []
    for path in results.rglob("*"):
        rel = path.relative_to(results).as_posix()
        if path.is_symlink() or not path.is_file() or not _wanted(rel):
            continue  # a link could point anywhere: only the folder's own files are packed
        found.append((rel, path))
    return sorted(found)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def write_archive(results: str | Path, out: str | Path, *, facts: dict | None = None) -> dict:
    """Pack the records and plans under ``results`` with a manifest into ``out``.

    :func:`nmfexp.results.archive` (``nmfexp-results archive``) calls this with
    the facts of the records (commits, BLAS builds); use that one.

    Parameters
    ----------
    results : str or Path
        A results folder (searched recursively) or one record file.
    out : str or Path
        The archive; its suffix chooses the format (``.zip``, ``.tar.gz``,
        ``.tar.xz``, ``.tar.bz2``, ``.tar``). Written to a temporary name
        first, so an interrupted run leaves no partial archive under ``out``.
    facts : dict, optional
        More entries of the manifest (JSON-serialisable), e.g. the commits
        and BLAS builds found in the records.

    Returns
    -------
    dict
        The manifest written as ``MANIFEST.json``.

    Raises
    ------
    ValueError
        ``results`` does not exist or holds no record, or the suffix of
        ``out`` is not a known format.
    """
    from . import __version__

    results, out = Path(results), Path(out)
    kind = archive_kind(out)
    if not results.exists():
        raise ValueError(f"{results} does not exist; give a results folder (or a record).")
    members = _members_of(results)
    if not any(rel.endswith(".h5") for rel, _ in members):
        raise ValueError(f"no record (*.h5) under {results}: nothing to archive.")
    plans = {rel: _portable_plan(path) for rel, path in members if _PLAN.match(rel)}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "nmfexp_version": __version__,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                **(facts or {}),
                "members": [{"path": rel, "sha256": hashlib.sha256(plans[rel]).hexdigest(), "size": len(plans[rel])}
                            if plans.get(rel) is not None else
                            {"path": rel, "sha256": _sha256(path), "size": path.stat().st_size}
                            for rel, path in members]}
    blob = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".partial-{os.getpid()}-{out.name}")  # same suffix: same format
    try:
        if kind == "zip":
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                zf.writestr(_zip_info(MANIFEST_NAME), blob)
                for rel, path in members:
                    if plans.get(rel) is not None:
                        zf.writestr(_zip_info(rel), plans[rel])
                        continue
                    with open(path, "rb") as src, zf.open(_zip_info(rel), "w", force_zip64=True) as dst:
                        for chunk in iter(lambda: src.read(_CHUNK), b""):  # noqa: B023 (src of this iteration)
                            dst.write(chunk)
        else:
            with tarfile.open(tmp, "w:" + kind.split(":")[1], format=tarfile.PAX_FORMAT) as tf:
                tf.addfile(_tar_info(MANIFEST_NAME, len(blob)), io.BytesIO(blob))
                for rel, path in members:
                    if plans.get(rel) is not None:
                        tf.addfile(_tar_info(rel, len(plans[rel])), io.BytesIO(plans[rel]))
                        continue
                    with open(path, "rb") as src:
                        tf.addfile(_tar_info(rel, os.fstat(src.fileno()).st_size), src)
        # a record that changed while it was packed would not match its checksum: check before publishing
        verify_archive(tmp, _manifest_expected=manifest)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return manifest


def _portable_plan(path: Path) -> bytes | None:
    """A sweep plan as the archive stores it (record paths relative to its results folder, marked
    ``archived``: :func:`nmfexp.plans.portable_plan`); None for a file that is not a plan (packed as
    found)."""
    from .plans import portable_plan, read_plan

    plan = read_plan(path)
    if plan is None:
        return None
    return (json.dumps(portable_plan(plan, path), indent=1) + "\n").encode("utf-8")


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: the same files, the same members
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, 0o644, 0, tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# --------------------------------------------------------------------------- reading (hostile input)

@dataclass
class ArchiveContents:
    """What :func:`verify_archive` found.

    Attributes
    ----------
    manifest : dict
        The archive's ``MANIFEST.json``.
    members : list of str
        Member paths, in archive order (the manifest first).
    extracted : Path or None
        Where :func:`extract_archive` put the files.
    """

    manifest: dict
    members: list = field(default_factory=list)
    extracted: Path | None = None


def _check_name(name, where: str) -> str:
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 4096:
        raise ValueError(f"{where}: member name {name!r} is empty, too long or not text; refused.")
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ValueError(f"{where}: member {name!r} has an absolute path (or a backslash); refused: an archive "
                         "may only hold paths relative to its results folder.")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{where}: member {name!r} has an empty, '.' or '..' path component; refused: it could "
                         "write outside the destination.")
    return name.rstrip("/")


class _Reader:
    """The regular-file members of a zip or tar archive, each checked before it is read."""

    def __init__(self, path: Path, max_members: int, max_member_bytes: int):
        self.path = path
        self.max_member_bytes = max_member_bytes
        self.where = str(path)
        self.kind = archive_kind(path)
        self._stack = contextlib.ExitStack()
        self.entries: list[tuple[str, int, object]] = []  # (name, declared size, handle)
        try:
            if self.kind == "zip":
                zf = self._stack.enter_context(zipfile.ZipFile(path))
                infos = zf.infolist()
                if len(infos) > max_members:
                    raise ValueError(f"{self.where}: more than {max_members} members; refused.")
                for info in infos:
                    self._add(info.filename, info.file_size, info, _zip_type(info))
                self._open = zf.open
            else:
                tf = self._stack.enter_context(tarfile.open(path, "r:" + self.kind.split(":")[1]))
                count = 0
                while (info := tf.next()) is not None:
                    count += 1
                    if count > max_members:
                        raise ValueError(f"{self.where}: more than {max_members} members; refused.")
                    self._add(info.name, info.size, info, _tar_type(info))
                self._open = tf.extractfile
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            self.close()
            raise ValueError(f"{self.where} is not a readable {self.kind.split(':')[0]} archive ({exc}).") from None
        except BaseException:
            self.close()
            raise

    def _add(self, name, size: int, handle, kind: str) -> None:
        name = _check_name(name, self.where)
        if kind == "dir":
            return
        if kind != "file":
            raise ValueError(f"{self.where}: member {name!r} is a {kind}, not a regular file; refused (an archive "
                             "holds only records, plans and its manifest).")
        if size > self.max_member_bytes:  # before a compressed tar is read past it
            raise ValueError(f"{self.where}: member {name!r} is {size} bytes, over the limit of "
                             f"{self.max_member_bytes}; refused (raise the limit if you trust the archive).")
        self.entries.append((name, int(size), handle))

    def read(self, handle, limit: int) -> Iterator[bytes]:
        """The member's bytes in chunks; a ValueError once more than ``limit`` bytes came."""
        seen = 0
        try:
            with self._open(handle) as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    seen += len(chunk)
                    if seen > limit:
                        raise ValueError(f"{self.where}: a member is larger than it should be (over {limit} "
                                         "bytes); refused.")
                    yield chunk
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            raise ValueError(f"{self.where}: a member cannot be read ({exc}); the archive is damaged.") from None

    def close(self) -> None:
        self._stack.close()


def _zip_type(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    kind = stat.S_IFMT(mode)  # 0 when the zip says nothing of the type (most tools): a regular file
    if kind == stat.S_IFLNK:
        return "symbolic link"
    if kind and kind != stat.S_IFREG:
        return "special file"
    return "file"


def _tar_type(info: tarfile.TarInfo) -> str:
    if info.isdir():
        return "dir"
    if info.issym() or info.islnk():
        return "link"
    if info.isfifo():
        return "FIFO (named pipe)"
    if info.isdev():
        return "device"
    if info.issparse() or not info.isreg():
        return "special file"
    return "file"


def _read_manifest(reader: _Reader) -> dict:
    if not reader.entries or reader.entries[0][0] != MANIFEST_NAME:
        raise ValueError(f"{reader.where}: its first member is not {MANIFEST_NAME}; not an nmfexp archive "
                         "(make one with nmfexp-results archive RESULTS OUT).")
    _, size, handle = reader.entries[0]
    if size > _MAX_MANIFEST_BYTES:
        raise ValueError(f"{reader.where}: {MANIFEST_NAME} is larger than {_MAX_MANIFEST_BYTES} bytes; refused.")
    try:
        manifest = json.loads(b"".join(reader.read(handle, _MAX_MANIFEST_BYTES)).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{reader.where}: {MANIFEST_NAME} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{reader.where}: {MANIFEST_NAME} is not an nmfexp archive manifest.")
    entries = manifest.get("members")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", e["sha256"]) and type(e.get("size")) is int and e["size"] >= 0
            for e in entries):
        raise ValueError(f"{reader.where}: {MANIFEST_NAME} has no valid member list (path, sha256, size each).")
    return manifest


def _checked(path: str | Path, max_member_bytes: int, max_total_bytes: int, max_members: int,
             sink=None) -> ArchiveContents:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file; give an archive made by nmfexp-results archive.")
    reader = _Reader(path, max_members, max(max_member_bytes, _MAX_MANIFEST_BYTES))
    try:
        manifest = _read_manifest(reader)
        expected = {}
        for e in manifest["members"]:
            name = _check_name(e["path"], f"{path} ({MANIFEST_NAME})")
            if name == MANIFEST_NAME or not _wanted(name):
                raise ValueError(f"{path}: {MANIFEST_NAME} lists {name!r}, which is neither a record (*.h5) nor a "
                                 "plan (logs/multirun_*/plan.json); refused.")
            if e["size"] > max_member_bytes:
                raise ValueError(f"{path}: member {name!r} is {e['size']} bytes, over the limit of "
                                 f"{max_member_bytes}; refused (raise the limit if you trust the archive).")
            expected[name] = e
        if len(expected) != len(manifest["members"]):
            raise ValueError(f"{path}: {MANIFEST_NAME} lists a member twice; refused.")
        total = sum(e["size"] for e in expected.values())
        if total > max_total_bytes:
            raise ValueError(f"{path}: its members add up to {total} bytes, over the limit of {max_total_bytes}; "
                             "refused (raise the limit if you trust the archive).")
        names = [name for name, _, _ in reader.entries[1:]]
        folded = Counter(n.casefold() for n in [MANIFEST_NAME, *names])
        clash = sorted(n for n in names if folded[n.casefold()] > 1)
        if clash:
            raise ValueError(f"{path}: member(s) {', '.join(map(repr, clash[:5]))} appear more than once (or differ "
                             "only in case); refused.")
        extra = sorted(set(names) - set(expected))
        missing = sorted(set(expected) - set(names))
        if extra:
            raise ValueError(f"{path}: member(s) {', '.join(map(repr, extra[:5]))} are not in {MANIFEST_NAME}; "
                             "refused.")
        if missing:
            raise ValueError(f"{path}: {MANIFEST_NAME} lists {len(missing)} member(s) the archive lacks, e.g. "
                             f"{missing[0]!r}.")
        for name, size, handle in reader.entries[1:]:
            want = expected[name]
            if size != want["size"]:
                raise ValueError(f"{path}: member {name!r} is {size} bytes, {MANIFEST_NAME} says {want['size']}.")
            h, n = hashlib.sha256(), 0
            with (sink(name) if sink else contextlib.nullcontext()) as out:
                for chunk in reader.read(handle, want["size"]):
                    h.update(chunk)
                    n += len(chunk)
                    if out is not None:
                        out.write(chunk)
            if n != want["size"] or h.hexdigest() != want["sha256"]:
                raise ValueError(f"{path}: member {name!r} does not match its checksum in {MANIFEST_NAME} "
                                 f"(sha256 {h.hexdigest()}, {n} bytes; expected {want['sha256']}, {want['size']}).")
        return ArchiveContents(manifest=manifest, members=[MANIFEST_NAME, *names])
    finally:
        reader.close()


def verify_archive(path: str | Path, *, max_member_bytes: int = MAX_MEMBER_BYTES,
                   max_total_bytes: int = MAX_TOTAL_BYTES, max_members: int = MAX_MEMBERS,
                   _manifest_expected: dict | None = None) -> ArchiveContents:
    """Check every member of an archive against its manifest (nothing is written).

    Parameters
    ----------
    path : str or Path
        An archive made by :func:`write_archive`.
    max_member_bytes, max_total_bytes, max_members : int
        Limits: bytes of one member, of all members together, and members.

    Returns
    -------
    ArchiveContents
        The manifest and the member names.

    Raises
    ------
    ValueError
        Naming the first problem: not an archive, no manifest, a member that is
        not a regular file, a path that is absolute or has ``..``, a member not
        in the manifest (or missing), a size beyond a limit, a checksum that
        does not match.
    """
    found = _checked(path, max_member_bytes, max_total_bytes, max_members)
    if _manifest_expected is not None and found.manifest != _manifest_expected:
        raise ValueError(f"{path}: the manifest written differs from the one read back.")
    return found


def extract_archive(path: str | Path, dest: str | Path, *, max_member_bytes: int = MAX_MEMBER_BYTES,
                    max_total_bytes: int = MAX_TOTAL_BYTES, max_members: int = MAX_MEMBERS) -> ArchiveContents:
    """Verify an archive and write its members (and ``MANIFEST.json``) under ``dest``.

    Parameters
    ----------
    path : str or Path
        An archive made by :func:`write_archive`.
    dest : str or Path
        A folder that does not exist yet or is empty.
    max_member_bytes, max_total_bytes, max_members : int
        As for :func:`verify_archive`.

    Returns
    -------
    ArchiveContents
        With ``extracted = dest``.

    Raises
    ------
    ValueError
        As :func:`verify_archive`, or when ``dest`` is not empty. Files
        already written stay; the caller removes ``dest`` (as
        :func:`opened_archive` does).
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"{dest} exists and is not an empty folder; extract into a new folder.")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()

    @contextlib.contextmanager
    def sink(name: str):
        target = root.joinpath(*PurePosixPath(name).parts)
        if root not in target.parents:  # _check_name already refuses this; a second fence costs nothing
            raise ValueError(f"{path}: member {name!r} would be written outside {dest}; refused.")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as fh:
            yield fh

    found = _checked(path, max_member_bytes, max_total_bytes, max_members, sink=sink)
    (root / MANIFEST_NAME).write_text(json.dumps(found.manifest, indent=1) + "\n", encoding="utf-8")
    found.extracted = dest
    return found


@contextlib.contextmanager
def opened_archive(path: str | Path, **limits) -> Iterator[ArchiveContents]:
    """Verify and extract an archive into a temporary folder, removed on exit.

    Yields
    ------
    ArchiveContents
        ``extracted`` is the results folder to read.
    """
    with tempfile.TemporaryDirectory(prefix="nmfexp-archive-") as tmp:
        yield extract_archive(path, Path(tmp) / "results", **limits)
