"""Archives of a results folder: the manifest, verification, hostile archives, and figures re-derived
from an archive that equal those drawn from the folder itself."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import run_here

from nmfexp import results as results_mod
from nmfexp.archive import MANIFEST_NAME, extract_archive, verify_archive
from nmfexp.figures import cli as plot_cli
from nmfexp.plans import portable_plan, read_plan


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A small sweep through nmfexp-run -m: 2 solvers x 2 seeds, with its plan."""
    root = tmp_path_factory.mktemp("sweep")
    out = run_here("-m", "solver=a1gm,wnmf_kl", "seed=0,1", "dataset.n_rows=12", "timing=quick", "mask.rate=0.05",
                   "tag=archived", f"results_dir={root / 'results'}", cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr
    return root / "results"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz", ".tar.xz"])
def test_archive_holds_every_record_and_plan_with_their_checksums(sweep, tmp_path, suffix):
    out = tmp_path / f"a{suffix}"
    manifest = results_mod.archive(sweep, out)
    on_disk = sorted(p.relative_to(sweep).as_posix() for p in sweep.rglob("*")
                     if p.suffix == ".h5" or p.name == "plan.json")
    assert len([p for p in on_disk if p.endswith(".h5")]) == 4
    assert any(p.endswith("plan.json") for p in on_disk)
    assert [m["path"] for m in manifest["members"]] == on_disk  # every one, in sorted order
    for m in manifest["members"]:
        if m["path"].endswith(".h5"):
            assert m["sha256"] == _sha(sweep / m["path"]) and m["size"] == (sweep / m["path"]).stat().st_size
        else:  # a plan is stored portable: its record paths relative to its results folder
            stored = (json.dumps(portable_plan(read_plan(sweep / m["path"]), sweep / m["path"]), indent=1)
                      + "\n").encode()
            assert m["sha256"] == hashlib.sha256(stored).hexdigest() and m["size"] == len(stored)
            assert all(not Path(j["path"]).is_absolute() for j in json.loads(stored)["jobs"])
    assert manifest["records"] == 4 and sum(manifest["blas"].values()) == 4
    table = results_mod.load(sweep)
    assert manifest["git_commits"] == table["env.git_commit"].value_counts().to_dict()
    found = verify_archive(out)
    assert found.members == [MANIFEST_NAME, *on_disk]
    assert not list(tmp_path.glob(".partial-*"))  # no temporary file left behind


def test_members_come_in_the_same_order_whatever_the_folder_listing(sweep, tmp_path):
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    results_mod.archive(sweep, a)
    results_mod.archive(sweep, b)
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        assert za.namelist() == zb.namelist()
        assert za.namelist()[0] == MANIFEST_NAME
        assert all(za.read(n) == zb.read(n) for n in za.namelist()[1:])


def test_the_command_line_archives_and_verifies(sweep, tmp_path, capsys):
    out = tmp_path / "r.tar.gz"
    assert results_mod.main(["archive", str(sweep), str(out)]) == 0
    assert "4 records" in capsys.readouterr().out
    assert results_mod.main(["verify-archive", str(out)]) == 0
    assert "every member matches its manifest" in capsys.readouterr().out
    assert results_mod.main(["archive", str(sweep), str(tmp_path / "r.rar")]) == 2
    assert "must end with one of" in capsys.readouterr().err
    assert results_mod.main(["archive", str(tmp_path / "nothing"), str(tmp_path / "n.zip")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- tampered and hostile archives


def _rewrite_zip(src: Path, dst: Path, *, change=None, extra=(), manifest_edit=None, first=None) -> None:
    """Copy an archive member by member, changing what a test asks for."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        names = zin.namelist()
        manifest = json.loads(zin.read(MANIFEST_NAME))
        if manifest_edit:
            manifest_edit(manifest)
        if first:
            zout.writestr(first[0], first[1])
        zout.writestr(MANIFEST_NAME, json.dumps(manifest))
        for name in names[1:]:
            data = zin.read(name)
            zout.writestr(name, change(name, data) if change else data)
        for info, data in extra:
            zout.writestr(info, data)


def _listed(manifest: dict, name: str, data: bytes) -> None:
    manifest["members"].append({"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})


@pytest.fixture
def good_zip(sweep, tmp_path):
    out = tmp_path / "good.zip"
    results_mod.archive(sweep, out)
    return out


def test_a_changed_record_fails_its_checksum(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    _rewrite_zip(good_zip, bad, change=lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n.endswith(".h5") else d)
    with pytest.raises(ValueError, match="does not match its checksum"):
        verify_archive(bad)


def test_a_member_not_in_the_manifest_is_refused(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    _rewrite_zip(good_zip, bad, extra=[("sneaky.h5", b"x")])
    with pytest.raises(ValueError, match="'sneaky.h5' are not in MANIFEST.json"):
        verify_archive(bad)


def test_a_member_the_manifest_lists_but_the_archive_lacks_is_named(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    _rewrite_zip(good_zip, bad, manifest_edit=lambda m: _listed(m, "gone.h5", b"abc"))
    with pytest.raises(ValueError, match="lacks, e.g. 'gone.h5'"):
        verify_archive(bad)


def test_an_archive_without_a_manifest_first_is_not_ours(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    _rewrite_zip(good_zip, bad, first=("aaa.h5", b"x"))
    with pytest.raises(ValueError, match="first member is not MANIFEST.json"):
        verify_archive(bad)
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable zip archive"):
        verify_archive(tmp_path / "junk.zip")


@pytest.mark.parametrize("name", ["/abs.h5", "../escape.h5", "a/../../escape.h5", "C:/win.h5", "a\\..\\b.h5"])
def test_zip_members_outside_the_destination_are_refused(good_zip, tmp_path, name):
    bad, dest = tmp_path / "bad.zip", tmp_path / "deep" / "dest"
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # ZipInfo() would clean the name; a hostile archive does not
    _rewrite_zip(good_zip, bad, extra=[(info, b"x")], manifest_edit=lambda m: _listed(m, name, b"x"))
    with pytest.raises(ValueError, match="refused"):
        extract_archive(bad, dest)
    assert not list(tmp_path.rglob("escape.h5")) and not list(tmp_path.rglob("abs.h5"))


def test_a_zip_symlink_is_refused(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    link = zipfile.ZipInfo("link.h5")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    _rewrite_zip(good_zip, bad, extra=[(link, b"/etc/passwd")],
                 manifest_edit=lambda m: _listed(m, "link.h5", b"/etc/passwd"))
    with pytest.raises(ValueError, match="'link.h5' is a symbolic link"):
        verify_archive(bad)


def _tar_with(good: Path, out: Path, hostile: tarfile.TarInfo, data: bytes = b"") -> None:
    with zipfile.ZipFile(good) as zin, tarfile.open(out, "w:gz") as tf:
        manifest = json.loads(zin.read(MANIFEST_NAME))
        _listed(manifest, hostile.name, data)
        blob = json.dumps(manifest).encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(blob)
        tf.addfile(info, io.BytesIO(blob))
        for name in zin.namelist()[1:]:
            payload = zin.read(name)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
        tf.addfile(hostile, io.BytesIO(data) if hostile.isreg() else None)


@pytest.mark.parametrize("kind, message", [(tarfile.SYMTYPE, "is a link"), (tarfile.LNKTYPE, "is a link"),
                                           (tarfile.CHRTYPE, "is a device"), (tarfile.FIFOTYPE, "is a FIFO")])
def test_tar_links_devices_and_fifos_are_refused(good_zip, tmp_path, kind, message):
    bad, dest = tmp_path / "bad.tar.gz", tmp_path / "dest"
    hostile = tarfile.TarInfo("evil.h5")
    hostile.type = kind
    hostile.linkname = "/etc/passwd"
    _tar_with(good_zip, bad, hostile)
    with pytest.raises(ValueError, match=f"'evil.h5' {message}"):
        extract_archive(bad, dest)
    assert not (dest / "evil.h5").exists()


def test_tar_absolute_and_dotdot_paths_are_refused(good_zip, tmp_path):
    for name in ("/tmp/abs.h5", "../escape.h5"):
        bad = tmp_path / "bad.tar.gz"
        hostile = tarfile.TarInfo(name)
        hostile.size = 1
        _tar_with(good_zip, bad, hostile, b"x")
        with pytest.raises(ValueError, match="refused"):
            extract_archive(bad, tmp_path / "dest")
    assert not (tmp_path / "escape.h5").exists()


def test_members_beyond_the_size_limit_are_refused_before_writing(good_zip, tmp_path):
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="over the limit of 1000"):
        extract_archive(good_zip, dest, max_member_bytes=1000)
    assert not list(dest.rglob("*.h5"))
    with pytest.raises(ValueError, match="add up to .* over the limit"):
        verify_archive(good_zip, max_total_bytes=1000)
    with pytest.raises(ValueError, match="more than 2 members"):
        verify_archive(good_zip, max_members=2)


def test_a_member_larger_than_its_manifest_entry_stops_while_reading(good_zip, tmp_path):
    # the manifest claims 1 byte; the member holds the whole record: reading stops past the claimed size
    bad = tmp_path / "bad.zip"

    def shrink(m):
        m["members"][0]["size"] = 1

    _rewrite_zip(good_zip, bad, manifest_edit=shrink)
    with pytest.raises(ValueError, match="bytes, MANIFEST.json says 1"):
        verify_archive(bad)


def test_extracting_into_a_folder_with_files_is_refused(good_zip, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    with pytest.raises(ValueError, match="not an empty folder"):
        extract_archive(good_zip, tmp_path / "full")


# --------------------------------------------------------------------------- round trip


def test_figures_from_the_archive_equal_those_from_the_folder(sweep, tmp_path, capsys):
    archive = tmp_path / "sweep.tar.xz"
    assert results_mod.main(["archive", str(sweep), str(archive)]) == 0
    direct, again = tmp_path / "direct", tmp_path / "fresh" / "plots"
    assert plot_cli.main([str(sweep), "--plots-dir", str(direct)]) == 0
    assert plot_cli.main(["--from-archive", str(archive), "--plots-dir", str(again), "--report"]) == 0
    tables = sorted(p.name for p in direct.glob("*.csv"))
    assert tables, "the sweep drew no table"
    assert sorted(p.name for p in again.glob("*.csv")) == tables
    for name in tables:
        assert (again / name).read_bytes() == (direct / name).read_bytes(), name
    page = (again / "index.html").read_text()
    assert "Archive" in page and "match MANIFEST.json" in page


def test_from_archive_refuses_a_tampered_archive_without_drawing(good_zip, tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    _rewrite_zip(good_zip, bad, change=lambda n, d: d + b"!" if n.endswith(".h5") else d)
    plots = tmp_path / "plots"
    assert plot_cli.main(["--from-archive", str(bad), "--plots-dir", str(plots)]) == 2
    assert "MANIFEST.json says" in capsys.readouterr().err
    assert not plots.exists()


# --------------------------------------------------------------------------- provenance in footers and report


@pytest.fixture
def mixed(sweep, tmp_path):
    """A copy of the sweep where one record came from another commit, one from a dirty working tree,
    and one ran with another BLAS build."""
    import shutil

    from nmfexp.record import read_record, write_record

    root = tmp_path / "mixed"
    shutil.copytree(sweep, root)
    blas = json.dumps([{"user_api": "blas", "internal_api": "mkl", "version": "2099.1", "num_threads": 1}])
    changes = [{"git_commit": "f" * 40, "git_dirty": False}, {"git_dirty": True},
               {"git_dirty": False, "threadpools": blas}, {"git_dirty": False}]
    for path, change in zip(sorted(root.glob("*.h5")), changes, strict=True):
        rec = read_record(path)
        rec.groups["environment"].update(change)
        path.unlink()
        write_record(path, rec)  # a record as a run on another commit, tree or BLAS would have written it
    return root


def test_footers_and_report_name_the_commits_dirty_records_and_a_blas_mix(mixed, tmp_path, monkeypatch):
    from nmfexp.figures import sweep as sweep_figs
    from nmfexp.figures.artifacts import plot_all

    saved = {}

    def capture(fig, plots_dir, stem):
        saved[stem] = " ".join(fig.get_supxlabel().split())
        return [Path(plots_dir) / f"{stem}.png"]

    monkeypatch.setattr(sweep_figs, "save_figure", capture)
    with pytest.warns(results_mod.RecordsWarning, match="2 different git commits"):
        table = results_mod.load(mixed)
        plot_all(mixed, tmp_path / "plots", verbose=False, report=True)
    main_commit = next(c for c in table["env.git_commit"] if c != "f" * 40)
    assert saved
    for stem, foot in saved.items():
        assert "2 commits:" in foot and f"{main_commit[:10]} (3)" in foot and "ffffffffff (1)" in foot, stem
        assert "DIRTY: 1 of 4 records" in foot, stem
        assert "BLAS MIXED" in foot and "mkl 2099.1 (1)" in foot, stem
    page = " ".join((tmp_path / "plots" / "index.html").read_text().split())
    assert "<p class='error'>Provenance: records from 2 commits" in page
    assert "DIRTY: 1 of 4" in page and "BLAS MIXED" in page and "not comparable" in page


def test_a_clean_single_commit_says_its_commit_and_nothing_else(mixed):
    import pandas as pd

    from nmfexp.experiment.provenance import provenance_note

    df = pd.DataFrame({"env.git_commit": ["a" * 40] * 3, "env.git_dirty": [False] * 3,
                       "env.blas": ["openblas 0.3.30; openblas 0.3.31", "openblas 0.3.31; openblas 0.3.30",
                                    "openblas 0.3.30; openblas 0.3.31"]})
    assert provenance_note(df) == "commit aaaaaaaaaa"  # the same libraries in another order: one build
    df["env.git_dirty"] = [False, "yes", None]  # a damaged flag is not a claim of dirtiness
    assert provenance_note(df) == "commit aaaaaaaaaa"
    assert provenance_note(df.iloc[:0]) == ""
    df["env.git_commit"] = [None, None, None]
    assert provenance_note(df) == "commit unknown"


def test_the_manifest_counts_dirty_records_and_blas_builds(mixed, tmp_path, capsys):
    manifest = results_mod.archive(mixed, tmp_path / "m.zip")
    assert manifest["records_from_uncommitted_changes"] == 1
    assert len(manifest["git_commits"]) == 2 and manifest["git_commits"]["f" * 40] == 1
    assert len(manifest["blas"]) == 2 and manifest["blas"]["mkl 2099.1"] == 1
    assert results_mod.main(["verify-archive", str(tmp_path / "m.zip")]) == 0
    out = capsys.readouterr().out
    assert "DIRTY: 1 record(s)" in out and out.count("MIXED") == 2


def test_an_untracked_source_file_makes_the_tree_dirty(tmp_path):
    # a new solver module not yet added to git changes what a run computes: the record must say dirty
    import subprocess

    from nmfexp.experiment.provenance import _git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "nmfexp").mkdir()
    (tmp_path / "nmfexp" / "core.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("/results/\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = _git_commit(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "job.h5").write_text("ignored")
    (tmp_path / "notes.txt").write_text("not a source")
    assert _git_commit(tmp_path)["git_dirty"] is False
    (tmp_path / "nmfexp" / "my_solver.py").write_text("y = 2\n")
    assert _git_commit(tmp_path)["git_dirty"] is True
    (tmp_path / "nmfexp" / "my_solver.py").unlink()
    (tmp_path / "nmfexp" / "core.py").write_text("x = 2\n")
    assert _git_commit(tmp_path)["git_dirty"] is True


def test_a_tar_member_declaring_a_huge_size_is_refused_before_it_is_read(tmp_path):
    # a 40-byte file whose header claims 300 GB: scanning must not decompress (or seek) past it first
    import gzip

    info = tarfile.TarInfo("huge.h5")
    info.size = 300 * 2**30
    bad = tmp_path / "bomb.tar.gz"
    bad.write_bytes(gzip.compress(info.tobuf(format=tarfile.PAX_FORMAT)))
    with pytest.raises(ValueError, match="'huge.h5' is 322122547200 bytes, over the limit"):
        verify_archive(bad)


def test_each_footer_names_the_commits_of_its_own_records(sweep, tmp_path, monkeypatch):
    """Records of another sweep, made on another commit and loaded beside them, do not enter a figure's footer."""
    import shutil

    from nmfexp.figures import sweep as sweep_figs
    from nmfexp.figures.artifacts import plot_all
    from nmfexp.record import read_record, write_record

    root = tmp_path / "two"
    shutil.copytree(sweep, root)
    for path in [p for p in sorted(root.glob("*.h5")) if read_record(p).attrs.get("solver") == "wnmf_kl"]:
        rec = read_record(path)
        rec.groups["environment"]["git_commit"] = "e" * 40
        rec.attrs["tag"] = "elsewhere"
        path.unlink()
        write_record(path, rec)
    saved = {}

    def capture(fig, plots_dir, stem):
        saved.setdefault(stem, []).append(" ".join(fig.get_supxlabel().split()))
        return [Path(plots_dir) / f"{stem}.png"]

    monkeypatch.setattr(sweep_figs, "save_figure", capture)
    with pytest.warns(results_mod.RecordsWarning, match="2 different git commits"):
        plot_all(root, tmp_path / "plots", verbose=False)
    feet = saved["sweep_elsewhere_convergence"]  # the sweep tagged 'elsewhere': its two wnmf_kl records
    assert feet and all("Records: commit eeeeeeeeee" in f and "commits:" not in f for f in feet), feet
