"""Performance profiles (Dolan & Moré, Math. Program. 91, 2002) as data; figures draw them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .problems import _one_record_each, _require, _usable, problem_key

__all__ = ["performance_ratios", "performance_profile"]


def performance_ratios(df: pd.DataFrame, metric: str, *, solvers: Sequence[str] | None = None,
                       reference: pd.Series | None = None, solver_column: str = "solver") -> pd.DataFrame:
    """Performance ratios of Dolan & Moré (Math. Program. 91, 2002), problems x solvers.

    The ratio of a solver on a problem is its value of ``metric`` over the
    best value any compared solver reached on that problem (or over
    ``reference``). Failures: a solver with no usable value on a problem (no
    record, skipped, failed, non-finite metric) has ratio ``inf``, so it never
    counts as within any factor of the best. A problem on which no solver has a
    usable value stays in the table with ``inf`` everywhere (it counts against
    everyone). Best = 0 (an exact fit): ratio 1 for the solvers that reach 0,
    ``inf`` for the others.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`, one record per problem and solver.
    metric : str
        A numeric column, lower is better (for a comparison on objectives, a
        suboptimality column plus 1 works as well).
    solvers : sequence of str, optional
        The solvers compared (baselines included); default all in ``df``.
    reference : pandas.Series, optional
        A reference value per problem key (e.g. the best-known optimum from
        :func:`best_known`, indexed by ``problem``) instead of the best of the
        compared solvers. Problems without one are left out.
    solver_column : str, default "solver"

    Returns
    -------
    pandas.DataFrame
        Index ``problem``, one column per solver.
    """
    _require(df, ["status", "dataset", "seed", metric, solver_column], "performance_ratios")
    names = sorted(str(s) for s in df[solver_column].dropna().unique()) if solvers is None else list(solvers)
    sel = df[df[solver_column].isin(names).to_numpy()]
    keys = problem_key(sel)
    _one_record_each(sel, keys, solver_column)
    value = pd.to_numeric(sel[metric], errors="coerce").astype(float).where(_usable(sel, metric))
    table = pd.DataFrame({"problem": keys.to_numpy(), "solver": sel[solver_column].to_numpy(),
                          "value": value.to_numpy()})
    cost = table.pivot(index="problem", columns="solver", values="value").reindex(columns=names)
    cost = cost.sort_index()
    if reference is not None:
        best = pd.Series(reference, dtype=float).reindex(cost.index)
        cost = cost[best.notna().to_numpy()]
        best = best.dropna()
    else:
        best = cost.min(axis=1, skipna=True)
    c = cost.to_numpy(float)
    b = best.to_numpy(float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c / b
    r = np.where(b == 0, np.where(c == 0, 1.0, np.inf), r)
    r = np.where(np.isnan(c) | np.isnan(b), np.inf, r)
    out = pd.DataFrame(r, index=cost.index, columns=names)
    out.columns.name = solver_column
    return out


def performance_profile(df: pd.DataFrame, metric: str, *, solvers: Sequence[str] | None = None,
                        taus: Sequence[float] | None = None, reference: pd.Series | None = None,
                        solver_column: str = "solver") -> pd.DataFrame:
    """Performance profiles (Dolan & Moré 2002) as data: for each solver and factor ``tau``, the
    fraction of problems on which its ratio (:func:`performance_ratios`) is at most ``tau``.

    The denominator is every problem any compared solver has a record of,
    failures included (see :func:`performance_ratios`): a solver skipped on a
    third of the problems never rises above 2/3.

    Parameters
    ----------
    df, metric, solvers, reference, solver_column
        As for :func:`performance_ratios`.
    taus : sequence of float, optional
        Factors >= 1. Default: 1 and every distinct finite ratio (the exact
        steps of the profile curves).

    Returns
    -------
    pandas.DataFrame
        ``solver``, ``tau``, ``fraction``, ``within`` (problems within
        ``tau``), ``problems``, ``failures`` (problems where the solver has no
        usable value) and ``unsolved`` (problems where no solver has one).
    """
    r = performance_ratios(df, metric, solvers=solvers, reference=reference, solver_column=solver_column)
    values = r.to_numpy(float)
    if taus is None:
        finite = values[np.isfinite(values)]
        taus = np.unique(np.concatenate([[1.0], finite[finite >= 1]]))
    taus = np.asarray(taus, dtype=float).ravel()
    if taus.size == 0 or np.any(~np.isfinite(taus)) or np.any(taus < 1):
        raise ValueError("taus must be finite factors >= 1.")
    n = len(r)
    unsolved = int(np.sum(~np.isfinite(values).any(axis=1))) if n else 0
    rows = []
    for j, solver in enumerate(r.columns):
        v = values[:, j]
        failures = int(np.sum(~np.isfinite(v)))
        for tau in taus:
            within = int(np.sum(v <= tau))
            rows.append({"solver": solver, "tau": float(tau), "fraction": within / n if n else np.nan,
                         "within": within, "problems": n, "failures": failures, "unsolved": unsolved})
    return pd.DataFrame(rows, columns=["solver", "tau", "fraction", "within", "problems", "failures", "unsolved"])
