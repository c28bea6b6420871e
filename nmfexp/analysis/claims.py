"""The comparative statements a document makes about solvers, recomputed from records.

A sentence such as "at rank 5, HALS and ALS have the lowest held-out error"
is only true of the records it was written from. This module computes such
statements as data (:func:`compute_claims`: one row per claim, an ``id``,
a ``value`` and a ``detail`` with the numbers behind it) and checks a text's
claim markers against them (:func:`check_claims`), so that a test can fail
when a rerun no longer supports a sentence.

A marker is an HTML comment on the line of the sentence it backs::

    At rank 5 HALS and ALS are the most accurate. <!-- claim: zoo-rank5-heldout = hals = als -->

``id = value``: the id of a claim of :func:`compute_claims` and the value the
sentence states, spelled as the claim spells it. Claim ids and values:

``zoo-rank{r}-heldout``
    The solver(s) with the lowest median held-out relative error at rank r
    of the synthetic zoo (every missing rate and seed of the rank pooled),
    baselines included; solvers within ``tie`` (relative) of the lowest
    median are tied and joined by ``" = "``, lowest first.
``zoo-rank{r}-baseline``
    The same among the baselines (:data:`BASELINES`) only.
``zoo-rank{r}-converged-{solver}``
    ``"k/n"``: how many of the solver's n runs at rank r met their stopping
    rule (:func:`~nmfexp.analysis.problems.converged`: ``stop_reason`` tol
    or closed_form when recorded, else the record's ``converged``; records
    with status ok).
``zoo-rank{r}-{loss}-reference``
    ``"k/n, x%"``: on k of the n problems of rank r the reference runs
    (preset ``solver_reference``, records tagged ``solver_reference``) reach
    a value of the loss lower than every final value of the zoo's runs by
    more than :data:`REFERENCE_TIE` (relative), and
    the median over the n problems of ``(f*_zoo - f*) / f*`` is x% (two
    significant digits; f*_zoo from the zoo's final values).
``corpus-{solver}-vs-{baseline}``
    ``"better"``, ``"worse"`` or ``"no clear difference"``: from the paired
    comparison over the corpus problems, one per table and seed (:func:`~nmfexp.analysis.compare_solvers`,
    held-out relative error, ratio effect): better when the confidence
    interval of the median ratio lies below 1 and the Holm-adjusted Wilcoxon
    p-value is below ``alpha``; worse when it lies above 1 likewise.
``corpus-{solver}-vs-{baseline}-wtl``
    ``"wins/ties/losses"`` of that comparison (tie threshold ``tie``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .paired import DEFAULT_TIE, compare_solvers
from .problems import INFEASIBLE, REFERENCE_TAG, converged, reference_gain

__all__ = ["BASELINES", "CLAIM_COLUMNS", "MARKER", "REFERENCE_TIE", "check_claims", "compute_claims", "corpus_claims",
           "read_markers", "zoo_claims"]

#: The baselines among the solvers (closed-form imputations and soft-impute).
BASELINES = ("column_mean", "row_col_mean", "soft_impute")

#: Reference runs count as improving on the zoo's f* only when lower by more than this (relative): below it,
#: both found the same optimum up to rounding and the stopping tolerance.
REFERENCE_TIE = 1e-6

#: The columns of a claims table.
CLAIM_COLUMNS = ["id", "value", "detail"]

#: A claim marker: ``<!-- claim: ID = VALUE -->``.
MARKER = re.compile(r"<!--\s*claim:\s*(?P<id>[A-Za-z0-9_.-]+)\s*=\s*(?P<value>.*?)\s*-->")

_HELD = "heldout_relative_error"


def _tagged(df: pd.DataFrame, tag: str | None) -> pd.DataFrame:
    """The records of ``tag``, else of its quick run (``<tag>_quick``), never a mix (as the figures select)."""
    for column in ("solver", "status"):
        if column not in df.columns:
            raise ValueError(f"the records have no {column!r} column; pass the table of nmfexp.results.load.")
    if tag is None or "tag" not in df.columns:
        return df
    full = df[df["tag"] == tag]
    return full if len(full) else df[df["tag"] == f"{tag}_quick"]


def _ok(df: pd.DataFrame, tag: str | None) -> pd.DataFrame:
    sel = _tagged(df, tag)
    return sel[sel["status"] == "ok"]


def _spread(values: pd.Series) -> tuple[float, float, float]:
    v = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    v = v[np.isfinite(v)]
    if not len(v):
        return (np.nan,) * 3
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return float(med), float(q25), float(q75)


def _lowest(frame: pd.DataFrame, tie: float) -> tuple[str, str] | None:
    """The solvers whose median held-out error is within ``tie`` of the lowest, and their spreads."""
    spreads = {s: _spread(g[_HELD]) for s, g in frame.groupby("solver")}
    spreads = {s: v for s, v in spreads.items() if np.isfinite(v[0])}
    if not spreads:
        return None
    low = min(v[0] for v in spreads.values())
    tied = sorted((s for s, v in spreads.items() if v[0] <= low * (1 + tie)), key=lambda s: (spreads[s][0], s))
    detail = "; ".join(f"{s} {spreads[s][0]:.4g} [{spreads[s][1]:.4g}, {spreads[s][2]:.4g}]" for s in
                       sorted(spreads, key=lambda s: (spreads[s][0], s)))
    return " = ".join(tied), f"median held-out error [q25, q75] over runs, tie within {tie:.0%}: {detail}"


def zoo_claims(df: pd.DataFrame, *, tag: str | None = "solver_comparison", tie: float = DEFAULT_TIE,
               ranks: Sequence[int] | None = None) -> pd.DataFrame:
    """Claims about the synthetic zoo: best solver(s) and baseline per rank, converged share per solver.

    Parameters
    ----------
    df : pandas.DataFrame
        Records (:func:`nmfexp.results.load`); only status ok of ``tag`` count.
    tag : str or None, default "solver_comparison"
        The experiment's tag (its quick run's ``<tag>_quick`` when no record
        has ``tag``); ``None`` takes every record.
    tie : float, default :data:`~nmfexp.analysis.paired.DEFAULT_TIE`
        Relative tie threshold on the median held-out error.
    ranks : sequence of int, optional
        Only these ranks (default every rank present).

    Returns
    -------
    pandas.DataFrame
        ``id, value, detail`` (see the module docstring).
    """
    good = _ok(df, tag)
    rows = []
    if good.empty or "rank" not in good.columns:
        return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    rows += _reference_claims(df, good, tag, ranks)
    for rank, g in good.groupby("rank"):
        rank = int(rank)
        if ranks is not None and rank not in ranks:
            continue
        if _HELD in g.columns:
            for suffix, part in (("heldout", g), ("baseline", g[g["solver"].isin(BASELINES)])):
                best = _lowest(part, tie)
                if best is not None:
                    rows.append((f"zoo-rank{rank}-{suffix}", *best))
        if "converged" in g.columns or "stop_reason" in g.columns:
            conv = converged(g)
            for solver, s in g.groupby("solver"):
                rows.append((f"zoo-rank{rank}-converged-{solver}", f"{int(conv[s.index].sum())}/{len(s)}",
                             "runs with status ok that met their stopping rule (stop_reason tol or closed_form)"))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _reference_claims(df: pd.DataFrame, good: pd.DataFrame, tag: str | None, ranks) -> list[tuple]:
    """The ``zoo-rank{r}-{loss}-reference`` claims (module docstring), from the reference runs of the zoo's
    records: ``solver_reference``, or ``solver_reference_quick`` for the quick zoo."""
    if tag is None or "tag" not in df.columns:
        return []
    quick = bool(len(good)) and str(good["tag"].iloc[0]).endswith("_quick")
    reference = df[(df["tag"] == (f"{REFERENCE_TAG}_quick" if quick else REFERENCE_TAG)) & (df["status"] == "ok")]
    if reference.empty:
        return []
    gain = reference_gain(good, reference, exclude=INFEASIBLE)
    rows = []
    for (rank, loss), g in gain.groupby(["rank", "loss"]):
        if ranks is not None and int(rank) not in ranks:
            continue
        lower = int((g["gain"] > REFERENCE_TIE).sum())
        med = float(np.median(g["gain"]))
        rows.append((f"zoo-rank{int(rank)}-{loss}-reference", f"{lower}/{len(g)}, {100 * med:.2g}%",
                     f"problems where a reference run is lower than the zoo by more than {REFERENCE_TIE:g} / "
                     "problems; median (f*_zoo - f*) / f* over them "
                     f"(f*_zoo: the zoo's best final value), largest {100 * float(g['gain'].max()):.3g}%"))
    return rows


def corpus_claims(df: pd.DataFrame, *, tag: str | None = "real_data_corpus_zoo", baseline: str = "column_mean",
                  tie: float = DEFAULT_TIE, alpha: float = 0.05, n_resamples: int = 9999) -> pd.DataFrame:
    """Claims about the corpus zoo: each solver against ``baseline`` on held-out error.

    Parameters
    ----------
    df : pandas.DataFrame
        Records (:func:`nmfexp.results.load`).
    tag : str or None, default "real_data_corpus_zoo"
        The experiment's tag; ``None`` takes every record.
    baseline : str, default "column_mean"
    tie : float, default :data:`~nmfexp.analysis.paired.DEFAULT_TIE`
        Relative tie threshold of the wins/ties/losses.
    alpha : float, default 0.05
        Level of the Holm-adjusted Wilcoxon test (and 1 - the CI's level).
    n_resamples : int, default 9999
        Bootstrap resamples.

    Returns
    -------
    pandas.DataFrame
        ``id, value, detail`` (see the module docstring); empty when the
        records hold no ``baseline`` or no held-out error.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    sel = _tagged(df, tag)
    if sel.empty or _HELD not in sel.columns or baseline not in set(sel["solver"].astype(str)):
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    table = compare_solvers(sel, _HELD, baseline, tie=tie, confidence=1 - alpha, n_resamples=n_resamples)
    rows = []
    for _, r in table.iterrows():
        low, high, p = float(r["median_low"]), float(r["median_high"]), float(r["p_holm"])
        if high < 1 and p < alpha:
            verdict = "better"
        elif low > 1 and p < alpha:
            verdict = "worse"
        else:
            verdict = "no clear difference"
        cid = f"corpus-{r['solver']}-vs-{baseline}"
        detail = (f"median ratio {float(r['median']):.4g} [{low:.4g}, {high:.4g}] ({1 - alpha:.0%} bootstrap CI), "
                  f"Holm-adjusted Wilcoxon p = {p:.3g}, over {int(r['pairs'])} paired problems (table, seed)")
        rows.append((cid, verdict, detail))
        rows.append((f"{cid}-wtl", f"{int(r['wins'])}/{int(r['ties'])}/{int(r['losses'])}",
                     f"wins/ties/losses on held-out error, tie within {tie:.0%}"))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def compute_claims(df: pd.DataFrame, *, tie: float = DEFAULT_TIE, baseline: str = "column_mean",
                   n_resamples: int = 9999) -> pd.DataFrame:
    """Every claim of the module docstring that the records support, zoo and corpus together.

    Parameters
    ----------
    df : pandas.DataFrame
        Records of a reproduction (:func:`nmfexp.results.load`).
    tie : float, default :data:`~nmfexp.analysis.paired.DEFAULT_TIE`
    baseline : str, default "column_mean"
        The corpus comparisons' baseline.
    n_resamples : int, default 9999

    Returns
    -------
    pandas.DataFrame
        ``id, value, detail``, ids unique.
    """
    out = pd.concat([zoo_claims(df, tie=tie), corpus_claims(df, baseline=baseline, tie=tie,
                                                             n_resamples=n_resamples)], ignore_index=True)
    return out[CLAIM_COLUMNS]


def read_markers(text: str) -> dict[str, tuple[str, int]]:
    """The claim markers of a text: ``{id: (value, line number)}``.

    Raises
    ------
    ValueError
        If an id is marked twice, or a comment starts like a marker but does
        not parse (``<!-- claim: id = value -->``).
    """
    found: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        starts = len(re.findall(r"<!--\s*claim:", line))
        matches = list(MARKER.finditer(line))
        if starts != len(matches):
            raise ValueError(f"line {number}: a claim marker does not parse; write <!-- claim: ID = VALUE -->.")
        for m in matches:
            if m["id"] in found:
                raise ValueError(f"line {number}: claim {m['id']!r} is marked twice (first on line "
                                 f"{found[m['id']][1]}); mark each claim once.")
            found[m["id"]] = (m["value"], number)
    return found


def check_claims(text: str, claims: pd.DataFrame) -> list[str]:
    """Every marker of ``text`` that the claims do not support, as sentences (empty: all hold).

    Parameters
    ----------
    text : str
        A document with claim markers (:data:`MARKER`).
    claims : pandas.DataFrame
        :func:`compute_claims` (or either part of it).

    Returns
    -------
    list of str
        One line per marker whose id the records do not give, or whose value
        differs from the recomputed one (with the numbers behind it).
    """
    computed = {r["id"]: (str(r["value"]), str(r["detail"])) for _, r in claims.iterrows()}
    problems = []
    for cid, (stated, line) in read_markers(text).items():
        if cid not in computed:
            problems.append(f"line {line}: claim {cid!r} cannot be computed from these records "
                            "(no such solver, rank or experiment in them).")
        elif computed[cid][0] != stated:
            problems.append(f"line {line}: claim {cid!r} says {stated!r}, the records give "
                            f"{computed[cid][0]!r} ({computed[cid][1]}).")
    return problems
