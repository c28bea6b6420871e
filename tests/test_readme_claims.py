"""Every README sentence about which solver is better is recomputed from the committed records.

The README marks such a sentence with ``<!-- claim: ID = VALUE -->``
(:mod:`nmfexp.analysis.claims`); the committed reproduction ships its records
as :data:`ARCHIVE`. The mechanism itself is tested on hand-made records: a
claim that no longer holds must fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nmfexp.analysis.claims import check_claims, compute_claims, corpus_claims, read_markers, zoo_claims

ROOT = Path(__file__).resolve().parents[1]
#: The committed reproduction's records (CONTRIBUTING.md, "Updating the committed figures").
ARCHIVE = ROOT / "docs" / "figures" / "records.tar.xz"
README = ROOT / "README.md"


def test_readme_claims_hold_on_the_committed_records():
    if not ARCHIVE.is_file():
        pytest.skip(f"no committed records ({ARCHIVE.relative_to(ROOT)}): nothing to recompute the README's claims "
                    "from; CONTRIBUTING.md says how to make it")
    from nmfexp.archive import opened_archive
    from nmfexp.results import load

    text = README.read_text(encoding="utf-8")
    assert read_markers(text), ("README.md marks no claim although the records are committed: mark each sentence "
                                "about which solver is better with <!-- claim: ID = VALUE -->")
    with opened_archive(ARCHIVE) as found:
        claims = compute_claims(load(found.extracted))
    problems = check_claims(text, claims)
    assert not problems, "README claims the records no longer support:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- the mechanism on hand-made records


def zoo(held: dict[str, float], *, rank: int = 5, seeds: int = 4, capped: dict[str, int] | None = None,
        spread: float = 0.001) -> pd.DataFrame:
    """Zoo records: per solver, ``seeds`` runs whose held-out error is ``held[solver]`` +- ``spread``;
    ``capped[solver]`` of them stopped at their cap (not converged)."""
    rows = []
    for solver, level in held.items():
        for s in range(seeds):
            rows.append(dict(tag="solver_comparison", status="ok", solver=solver, rank=rank, seed=s, dataset="lowrank",
                             mask="random", mask_rate=0.2, heldout_relative_error=level + spread * (s - 1.5),
                             converged=s >= (capped or {}).get(solver, 0)))
    return pd.DataFrame(rows)


def corpus(ratio: dict[str, float], tables: int = 30, seed: int = 0) -> pd.DataFrame:
    """Corpus-zoo records on ``tables`` tables: each solver's held-out error is ``ratio[solver]`` times
    column_mean's, times noise of a few percent."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(tables):
        base = 0.1 + rng.random()
        rows.append(dict(tag="real_data_corpus_zoo", status="ok", solver="column_mean", dataset=f"pkg/t{t}", seed=0,
                         rank=2, heldout_relative_error=base))
        for solver, r in ratio.items():
            rows.append(dict(tag="real_data_corpus_zoo", status="ok", solver=solver, dataset=f"pkg/t{t}", seed=0,
                             rank=2, heldout_relative_error=base * r * (1 + 0.03 * rng.standard_normal())))
    return pd.DataFrame(rows)


def as_dict(claims: pd.DataFrame) -> dict[str, str]:
    return dict(zip(claims["id"], claims["value"], strict=True))


def test_zoo_claims_name_the_lowest_median_and_ties_within_the_threshold():
    got = as_dict(zoo_claims(zoo({"hals": 0.0100, "als": 0.01005, "wnmf_kl": 0.012, "column_mean": 0.05,
                                   "soft_impute": 0.03})))
    # als is within 1% of hals (0.5%): tied, lowest first; wnmf_kl is 20% above.
    assert got["zoo-rank5-heldout"] == "hals = als"
    assert got["zoo-rank5-baseline"] == "soft_impute"
    assert got["zoo-rank5-converged-hals"] == "4/4"
    tight = as_dict(zoo_claims(zoo({"hals": 0.0100, "als": 0.01005}), tie=0.001))
    assert tight["zoo-rank5-heldout"] == "hals"


def test_converged_share_counts_capped_runs():
    got = as_dict(zoo_claims(zoo({"hals": 0.01, "als": 0.02}, capped={"als": 3})))
    assert got["zoo-rank5-converged-als"] == "1/4" and got["zoo-rank5-converged-hals"] == "4/4"


def test_only_ok_records_of_the_experiment_count():
    df = zoo({"hals": 0.01, "als": 0.02})
    worse = zoo({"als": 0.001}).assign(status="failed")
    other = zoo({"als": 0.001}).assign(tag="fig5_synthetic")
    assert as_dict(zoo_claims(pd.concat([df, worse, other])))["zoo-rank5-heldout"] == "hals"


def test_a_claim_that_no_longer_holds_fails():
    text = ("At rank 5 HALS is the most accurate. <!-- claim: zoo-rank5-heldout = hals -->\n"
            "Every HALS run converged. <!-- claim: zoo-rank5-converged-hals = 4/4 -->\n")
    before = compute_claims(zoo({"hals": 0.010, "als": 0.013}))
    assert check_claims(text, before) == []
    # A rerun in which ALS overtakes HALS, and one HALS run hits its cap: both sentences are now false.
    after = compute_claims(zoo({"hals": 0.010, "als": 0.008}, capped={"hals": 1}))
    problems = check_claims(text, after)
    assert len(problems) == 2
    assert "zoo-rank5-heldout" in problems[0] and "'als'" in problems[0] and "line 1" in problems[0]
    assert "'3/4'" in problems[1] and "line 2" in problems[1]


def test_a_claim_the_records_cannot_give_fails():
    problems = check_claims("<!-- claim: zoo-rank10-heldout = hals -->", compute_claims(zoo({"hals": 0.01})))
    assert len(problems) == 1 and "cannot be computed" in problems[0]


def test_markers_that_do_not_parse_or_repeat_are_refused():
    with pytest.raises(ValueError, match="does not parse"):
        read_markers("HALS wins. <!-- claim: zoo-rank5-heldout -->")
    with pytest.raises(ValueError, match="marked twice"):
        read_markers("<!-- claim: a = b -->\n<!-- claim: a = b -->")
    assert read_markers("x <!-- claim: a = b = c --> y <!-- claim: d = 1/2 -->") == {"a": ("b = c", 1),
                                                                                         "d": ("1/2", 1)}


def test_corpus_claims_follow_the_paired_statistics():
    got = corpus_claims(corpus({"hals": 0.8, "als": 1.0, "kaczmarz": 1.5}), n_resamples=999)
    values = as_dict(got)
    assert values["corpus-hals-vs-column_mean"] == "better"
    assert values["corpus-kaczmarz-vs-column_mean"] == "worse"
    assert values["corpus-als-vs-column_mean"] == "no clear difference"
    # Wins/ties/losses recomputed by hand: a win is below column_mean by more than 1%.
    df = corpus({"hals": 0.8, "als": 1.0, "kaczmarz": 1.5})
    wide = df.pivot(index="dataset", columns="solver", values="heldout_relative_error")
    ratio = wide["als"] / wide["column_mean"]
    wins, losses = int((ratio < 1 / 1.01).sum()), int((ratio > 1.01).sum())
    assert values["corpus-als-vs-column_mean-wtl"] == f"{wins}/{len(ratio) - wins - losses}/{losses}"
    assert "CI" in got.set_index("id").loc["corpus-hals-vs-column_mean", "detail"]


def test_corpus_claims_need_the_baseline():
    assert corpus_claims(corpus({"hals": 0.8}).query("solver != 'column_mean'")).empty
    with pytest.raises(ValueError, match="alpha"):
        corpus_claims(corpus({"hals": 0.8}), alpha=1.5)


def test_claims_command_checks_a_document_and_fails_on_a_stale_claim(tmp_path, monkeypatch, capsys):
    import nmfexp.results as results

    monkeypatch.setattr(results, "load", lambda path, **kw: zoo({"hals": 0.010, "als": 0.008}))
    doc = tmp_path / "NOTE.md"
    doc.write_text("ALS is the most accurate. <!-- claim: zoo-rank5-heldout = als -->\n", encoding="utf-8")
    assert results.main(["claims", str(tmp_path), "--check", str(doc)]) == 0
    assert "every marked claim holds" in capsys.readouterr().out
    doc.write_text("HALS is the most accurate. <!-- claim: zoo-rank5-heldout = hals -->\n", encoding="utf-8")
    assert results.main(["claims", str(tmp_path), "--check", str(doc)]) == 1
    assert "says 'hals', the records give 'als'" in capsys.readouterr().out
    assert results.main(["claims", str(tmp_path)]) == 0
    assert "zoo-rank5-converged-hals" in capsys.readouterr().out
