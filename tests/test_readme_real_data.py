"""The README's real-data table is recomputed from the committed records (docs/figures/records.tar.xz)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from nmfexp.figures.real_data import README_COLUMNS, readme_real_data_table

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "docs" / "figures" / "records.tar.xz"
BLOCK = re.compile(r"<!-- real-data-table -->\n(.*?)\n<!-- /real-data-table -->", re.S)
#: The paper's data sets with offline copies: the table must hold each, with its source.
PAPER_OFFLINE = ("heart_disease", "life_expectancy", "auto_mpg", "sleep_data")


def readme_block() -> str:
    found = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no <!-- real-data-table --> block"
    return found.group(1)


def test_the_readme_real_data_table_is_the_committed_records_table():
    if not ARCHIVE.is_file():
        pytest.skip("no committed records: CONTRIBUTING.md says how to make them")
    from nmfexp.archive import opened_archive
    from nmfexp.results import load

    with opened_archive(ARCHIVE) as found:
        table = readme_real_data_table(load(found.extracted))
    assert readme_block() == table, ("README's real-data table differs from the committed records; paste the output "
                                     "of nmfexp.figures.real_data.readme_real_data_table (CONTRIBUTING.md)")


def test_the_readme_real_data_table_has_the_papers_offline_data_sets_with_sources():
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in readme_block().splitlines()[2:]]
    names = {row[0]: row for row in rows}
    source = list(README_COLUMNS.values()).index("source")
    for name in PAPER_OFFLINE:
        assert name in names and re.search(r"\d+\.\d+", names[name][source]), name  # a package and its release


def test_the_readme_table_marks_a_skipped_solver_instead_of_a_number():
    rows = [dict(tag="real_data", dataset=d, solver=s, status=st, seed=0, weighted_kl=kl, runtime_median=t,
                 n_rows=10, n_cols=4, n_missing=3, n_missing_added=na, message=msg, job=f"{d}{s}", path=None)
            for d, s, st, kl, t, na, msg in [
                ("auto_mpg", "wnmf_kl", "ok", 2.0, 1e-3, float("nan"), ""),
                ("auto_mpg", "a1gm", "ok", 3.0, 1e-4, 2.0, ""),
                ("chmiss", "wnmf_kl", "ok", 2.0, 1e-3, float("nan"), ""),
                ("chmiss", "a1gm", "skipped", float("nan"), float("nan"), float("nan"),
                 "A1GM needs at least one complete column")]]
    text = readme_real_data_table(pd.DataFrame(rows))
    line = next(ln for ln in text.splitlines() if "chmiss" in ln)
    assert "A1GM skipped: A1GM needs at least one complete column" in line and "nan" not in line.lower()
    assert "| 1.500 " in next(ln for ln in text.splitlines() if "auto_mpg" in ln)
    assert "nan" not in text.lower()  # data sets without records: a dash and why, never nan
