"""The report: references from the BibTeX fields, timings shared with other jobs, no empty panels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nmfexp import plotting
from nmfexp.citation import _bib_text, _rpackage_entry, citation_keys, cite, dataset_entry, entries
from nmfexp.data.real import REAL_DATASETS
from nmfexp.figures import stats, sweep
from nmfexp.figures.bib import format_reference, latex_to_text, parse_bibtex


def _field(entry_text: str, name: str) -> str | None:
    """An independent reading of one field: the line ``name = {...}`` as written (one line per field)."""
    m = re.search(rf"^\s*{name}\s*=\s*\{{(.*)\}},?\s*$", entry_text, flags=re.M)
    return m.group(1) if m else None


def test_every_shipped_entry_is_read_with_its_fields():
    shipped = entries()
    parsed = parse_bibtex(_bib_text())
    assert list(parsed) == list(shipped) and len(parsed) >= 40
    for key, text in shipped.items():
        entry = parsed[key]
        assert entry.type == re.match(r"@(\w+)", text).group(1).lower()
        for name in ("title", "author", "year", "howpublished", "note", "doi", "url", "journal"):
            assert entry.fields.get(name) == _field(text, name), (key, name)


@pytest.mark.parametrize("key", list(entries()))
def test_every_shipped_entry_renders_title_year_and_address(key):
    entry = parse_bibtex(_bib_text())[key]
    html = format_reference(entry)
    title = latex_to_text(entry.fields["title"]).rstrip(".")
    assert "\\" not in title and "{" not in title
    assert f"<em>{title}</em>".replace("&", "&amp;").replace("'", "&#x27;") in html
    if "year" in entry.fields:
        assert f". {entry.fields['year']}." in html
    if "url" in entry.fields or "doi" in entry.fields or "http" in entry.fields.get("howpublished", ""):
        assert re.search(r'<a href="https?://[^"]+">', html), html
    assert "\\url" not in html and "{" not in html


def test_generated_entries_render_from_their_fields():
    # Entries made on the fly (R packages of the corpus, data sets) are not in the shipped file: the
    # report read them by key there and printed "rpackage_AER: rpackage_AER".
    html = format_reference(parse_bibtex(_rpackage_entry("AER"))["rpackage_AER"])
    assert html.startswith("<em>AER: an R package</em>.")
    assert '<a href="https://cran.r-project.org/package=AER">' in html
    for name in REAL_DATASETS:
        entry = parse_bibtex(dataset_entry(name))[f"data_{name}"]
        assert f"<em>{latex_to_text(entry.fields['title'])}" in format_reference(entry).replace("&amp;", "&") \
            .replace("&#x27;", "'")


def test_accents_escapes_and_names():
    entry = parse_bibtex('@article{k, author = {Mor{\\\'e}, Jorge J. and M{\\"u}ller, A.}, '
                         'title = "{Fast} R\\&D -- a_b", year = 1999}')["k"]
    html = format_reference(entry)
    assert html.startswith("Jorge J. Moré and A. Müller. <em>Fast R&amp;D – a_b</em>. 1999.")
    with pytest.raises(ValueError, match="unbalanced braces"):
        parse_bibtex("@misc{k, title = {op{en}")
    with pytest.raises(ValueError, match="cannot read the fields of BibTeX entry 'k'"):
        parse_bibtex("@misc{k, title = {open} year")


def test_the_report_lists_corpus_packages_with_titles(tmp_path):
    from nmfexp.figures.report import _references

    df = pd.DataFrame({"solver": ["a1gm"], "dataset": ["AER/GSS7402"]})
    page = _references(df, tmp_path)
    assert "rpackage_AER</code>: <em>AER: an R package</em>" in page
    keys = citation_keys(["a1gm"], ["AER/GSS7402"], strict=False)
    assert page.count("<li>") == len(keys) + 1  # + the performance profiles' reference
    assert (tmp_path / "references.bib").read_text().startswith(cite(["a1gm"], ["AER/GSS7402"], strict=False)[:50])


# --------------------------------------------------------------------------- timed with other jobs


def records(concurrent, runtime, status=None):
    n = len(runtime)
    return pd.DataFrame({"solver": ["hals"] * n, "status": status or ["ok"] * n, "seed": range(n),
                         "mask_rate": [0.1] * n, "tag": ["own"] * n, "job": [f"j{i}" for i in range(n)],
                         "relative_error": np.linspace(0.1, 0.2, n), "runtime_median": runtime,
                         "runtime_min": runtime, "runtime_mean": runtime, "runtime_std": [0.0] * n,
                         stats.CONCURRENT: pd.array(concurrent, dtype="Int64")})


def test_footers_flag_jobs_timed_with_others_and_the_option_leaves_their_runtimes_out():
    df = records([1, 1, 3, None], [1.0, 1.2, 50.0, 1.1])
    assert stats.timed_with_others(df).tolist() == [False, False, True, False]
    fig = sweep.plot_sweep(df, "mask_rate", "runtime_median", hue="solver")
    foot = fig._supxlabel.get_text()
    assert "1 timed while other nmfexp jobs were timed on the host (concurrent_jobs > 1)" in foot.replace("\n", " ")
    clean = stats.exclude_concurrent(df)
    assert clean["runtime_median"].tolist()[:2] == [1.0, 1.2] and np.isnan(clean["runtime_median"].iloc[2])
    assert clean["relative_error"].equals(df["relative_error"]) and df["runtime_median"].iloc[2] == 50.0
    table = sweep.sweep_summary(clean, "mask_rate", "runtime_median")
    assert table["median"].iloc[0] == pytest.approx(1.1) and table["jobs"].iloc[0] == 3
    assert "runtimes left out" in sweep.plot_sweep(clean, "mask_rate", "runtime_median")._supxlabel.get_text()
    assert stats.concurrent_note(records([1, 1], [1.0, 1.0])) == ""


def test_nmfexp_plot_exclude_concurrent(tmp_path, monkeypatch):
    df = records([1, 1, 3], [1.0, 1.2, 50.0])
    monkeypatch.setattr("nmfexp.figures.artifacts.read_results", lambda path: (df, pd.DataFrame(), []))
    (tmp_path / "r").mkdir()
    for flag, expect in (([], 1.2), (["--exclude-concurrent"], 1.1)):
        assert plotting.main([str(tmp_path / "r"), "--plots-dir", str(tmp_path), "--x", "mask_rate", "--y",
                              "runtime_median", "--name", "t", *flag]) == 0
        assert pd.read_csv(tmp_path / "t.csv")["median"].iloc[0] == pytest.approx(expect)


def test_a_group_with_nothing_to_draw_gets_no_empty_panel():
    df = pd.concat([records([1, 1], [1.0, 1.1]).assign(rank=1),
                    records([1, 1], [np.nan, np.nan], status=["skipped", "skipped"]).assign(rank=2)])
    fig = sweep.plot_sweep(df, "mask_rate", "relative_error", hue="solver", col="rank")
    assert [ax.get_title() for ax in fig.axes] == ["rank = 1"]
    assert "No panel (no job with status ok and a value of relative_error): rank = 2 (2 skipped)." in \
        fig._supxlabel.get_text().replace("\n", " ")
