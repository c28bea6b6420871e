"""The closing tables of a solver comparison, from records: what ``nmfexp-results tables`` prints.

- :func:`zoo_closing_table`: the synthetic zoo (``solver_comparison``) per
  solver and baseline at the ranks asked for: objective on the solver's own
  loss, suboptimality ``(f - f*) / f*``, held-out error, each as median
  [q25, q75] over the runs (seeds and missing rates of the rank), converged
  share, iterations, stop reasons, and the budget the runs were made under.
- :func:`corpus_headline_tables`: A1GM's KL against WNMF's within 0.1/1/10 %
  on the corpus (``real_data_corpus``), one table for the grid-like tables
  (A1GM exact by theorem) and one for the others; "exact" is counted only
  where the certificate says so.
- :func:`table_rows`: one corpus table by name: whether it is in the records
  (and in the corpus), A1GM's row, and every corpus-zoo solver's objective
  against the best-known optimum f* of that table.

The corpus zoo's wins/ties/losses against ``column_mean`` are
:func:`nmfexp.analysis.comparison_report` (``nmfexp-results compare-solvers``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..analysis import best_known, suboptimality
from ..analysis.problems import CORPUS_REFERENCE_TAG
from . import corpus, zoo
from .stats import ok, select
from .suboptimality import INFEASIBLE, converged, suboptimality_runs

__all__ = ["budget_of", "corpus_headline_tables", "table_rows", "zoo_closing_table"]


def _spread(values) -> str:
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
    v = v[np.isfinite(v)]
    if not len(v):
        return "-"
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return f"{med:.4g} [{q25:.4g}, {q75:.4g}]"


def budget_of(records: pd.DataFrame) -> str:
    """The budget the records were run under, from their config (``budget.*``), e.g. ``"time (1 s)"``.

    Parameters
    ----------
    records : pandas.DataFrame
        Records of one experiment (:func:`nmfexp.results.load`).

    Returns
    -------
    str
        ``"iterations (...)"`` (the paper's rule), ``"time (S s ...)"``, ``"converged (tol T)"``, several joined by
        ``" + "`` when the records mix budgets, or ``"not recorded"``.
    """
    if "budget.kind" not in records.columns:
        return "not recorded"
    said = []
    for kind, g in records.groupby("budget.kind", dropna=True, sort=True):
        if kind == "time" and "budget.seconds" in g:
            secs = sorted({float(s) for s in pd.to_numeric(g["budget.seconds"], errors="coerce").dropna()})
            said.append(f"time ({', '.join(f'{s:g}' for s in secs)} s of update time per run)")
        elif kind == "converged" and "budget.tol" in g:
            tols = sorted({float(s) for s in pd.to_numeric(g["budget.tol"], errors="coerce").dropna()})
            said.append(f"converged (stationarity tol {', '.join(f'{t:g}' for t in tols)})")
        elif kind == "iterations":
            said.append("iterations (each solver's own max_iter and tol: the paper's rule)")
        else:
            said.append(str(kind))
    return " + ".join(said) or "not recorded"


def zoo_closing_table(df: pd.DataFrame, hist: pd.DataFrame | None, ranks: Sequence[int] = (5, 10)) -> pd.DataFrame:
    """The synthetic zoo per solver (baselines included) at ``ranks``; see the module docstring.

    Parameters
    ----------
    df, hist : pandas.DataFrame
        Records and histories (:func:`nmfexp.results.load_all`).
    ranks : sequence of int, default (5, 10)

    Returns
    -------
    pandas.DataFrame
        One row per rank and solver, best median held-out error first.
    """
    good = ok(select(df, zoo.TAG))
    good = good[good["rank"].isin(list(ranks))] if "rank" in good else good.iloc[0:0]
    if good.empty:
        return pd.DataFrame()
    h = hist[hist["job"].isin(good["job"])] if hist is not None and len(hist) else None
    _, ends = suboptimality_runs(good, h, ok(select(df, zoo.REFERENCE_TAG)))  # f* counts the reference runs
    e = ends.set_index("job")
    conv = converged(good)
    rows = []
    for (rank, solver), g in good.groupby(["rank", "solver"]):
        sub = e.reindex(g["job"])
        reasons = g["stop_reason"].dropna().astype(str).value_counts().sort_index() if "stop_reason" in g else {}
        held = g.get("heldout_relative_error", pd.Series(np.nan, index=g.index))
        rows.append({"rank": int(rank), "solver": solver, "loss": ", ".join(sorted(sub["loss"].dropna().unique())),
                     "objective": _spread(sub["value"]), "suboptimality (f - f*)/f*": _spread(sub["suboptimality"]),
                     "held-out error": _spread(held), "converged": f"{int(conv[g.index].sum())}/{len(g)}",
                     "iterations": _spread(g.get("n_iter", np.nan)),
                     "stop reasons": ", ".join(f"{k}: {v}" for k, v in dict(reasons).items()) or "not recorded",
                     "runs": len(g), "_key": pd.to_numeric(held, errors="coerce").median()})
    out = pd.DataFrame(rows).sort_values(["rank", "_key", "solver"], kind="stable").drop(columns="_key")
    out.attrs["budget"] = budget_of(good)
    return out.reset_index(drop=True)


def corpus_headline_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A1GM's KL against WNMF's on the corpus, split into grid-like and other tables.

    Parameters
    ----------
    df : pandas.DataFrame
        Records (:func:`nmfexp.results.load`); those of ``real_data_corpus`` count.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"grid-like"`` and ``"other"``: rows ``within 0.1 %``, ``within 1 %``,
        ``within 10 %``, ``below WNMF``, ``certified exact`` with the count, the
        tables with both records, and the share; empty when there are no records.
    """
    table = corpus.corpus_table(df)
    if table.empty:
        return {}
    runs = table[table["status"] == "ok"]
    grid = runs["grid-like"].map(lambda v: v is True or v == 1)
    out = {}
    for label, part in (("grid-like", runs[grid]), ("other", runs[~grid])):
        excess = part["KL excess"].astype(float).dropna()
        n = len(excess)
        rows = [(f"A1GM's KL within {level:.1%} of WNMF's", int((excess <= level).sum())) for level in corpus.LEVELS]
        rows.append(("A1GM's KL below WNMF's (WNMF stopped early)", int((excess < 0).sum())))
        rows.append(("exact: certified (a1gm_certified, gap <= "
                     f"{corpus.CERTIFIED_GAP:g})", int((part["A1GM certificate"] == "certified").sum())))
        out[label] = pd.DataFrame([{"quantity": q, "tables": k, "of": n, "share": f"{k / n:.0%}" if n else "-"}
                                   for q, k in rows])
    return out


def table_rows(df: pd.DataFrame, hist: pd.DataFrame | None, name: str) -> dict[str, pd.DataFrame]:
    """One corpus table by name (``package/item``): its corpus row and its solvers against f*.

    Parameters
    ----------
    df, hist : pandas.DataFrame
        Records and histories (:func:`nmfexp.results.load_all`).
    name : str
        The data set's name as the records spell it (``dataset`` column).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"catalogue"``: its entry in the current corpus list (shape after
        the corpus rules beside the source's shape: columns dropped as
        identifiers, codes, dates or constants), empty when the table is not
        in the corpus; ``"corpus"``: its row of the corpus table (A1GM vs WNMF, grid-like,
        certificate), ``"solvers"``: per corpus-zoo solver and seed its own
        loss, value, f* (reference runs of the table included), suboptimality, held-out error, iterations and stop
        reason. Both empty when no record names the table.
    """
    from ..data.corpus import corpus_tables

    listed = corpus_tables()
    listed = listed[listed["table"] == name]
    keep = ["table", "n_rows", "n_cols", "source_rows", "source_cols", "n_missing", "missing_rate", "complete_rows",
            "complete_cols", "corpus_version"]
    catalogue = listed[[c for c in keep if c in listed]].reset_index(drop=True)
    if "dataset" not in df.columns:
        return {"catalogue": catalogue, "corpus": pd.DataFrame(), "solvers": pd.DataFrame()}
    mine = df[df["dataset"].astype(str) == name]
    table = corpus.corpus_table(mine)
    row = table[table["dataset"] == name] if not table.empty else table
    zoo_sel = ok(select(mine, corpus.ZOO_TAG))
    solvers = pd.DataFrame()
    if len(zoo_sel):
        h = hist[hist["job"].isin(zoo_sel["job"])] if hist is not None and len(hist) else None
        reference = ok(select(mine, CORPUS_REFERENCE_TAG))  # the table's reference runs count towards f*
        fstar = best_known(zoo_sel, h, exclude=INFEASIBLE, reference=reference)
        sub = suboptimality(zoo_sel, fstar)
        solvers = sub[["solver", "loss", "value", "fstar", "suboptimality"]].copy()
        extra = zoo_sel.drop_duplicates("job").set_index("job").reindex(sub["job"])
        for c in ("seed", "rank", "heldout_relative_error", "n_iter", "stop_reason"):
            if c in extra:
                solvers[c] = extra[c].to_numpy()
        solvers = solvers.sort_values(["seed", "suboptimality", "solver"], kind="stable").reset_index(drop=True)
    return {"catalogue": catalogue, "corpus": row.reset_index(drop=True), "solvers": solvers}
