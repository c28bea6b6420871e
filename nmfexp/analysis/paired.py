"""Paired comparisons of solvers over problems: wins/ties/losses, bootstrap intervals, Wilcoxon, Holm.

A pair is a problem on which both sides have a usable value (status ``ok``, a
finite metric); every other problem is counted per side, never dropped
silently. Lower is better for every metric.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from .problems import _USABLE, _one_record_each, _require, problem_columns, problem_key

__all__ = ["DEFAULT_TIE", "paired", "paired_statistics", "holm", "compare_solvers", "comparison_report"]

#: Default tie threshold of paired comparisons: two values are a tie when the larger is at most 1.01
#: times the smaller. Why 1%: (1) it is the threshold of "within 1% of the best" that the performance
#: profiles and the headlines use, so that a tie here is a tie there; (2) a held-out error is itself an
#: estimate from the k held-out entries, with a relative standard error of about 1/sqrt(2k) for Gaussian
#: residuals (3% for the ~450 held-out entries of a median corpus table, 1% only from k = 5,000): a
#: difference below 1% is well inside what another draw of the held-out set moves each error by.
#: Pass ``tie=0`` for strict wins and losses.
DEFAULT_TIE = 0.01


def _check_tie(tie: float) -> float:
    if isinstance(tie, bool) or not isinstance(tie, (int, float, np.integer, np.floating)) or not (
            0 <= float(tie) < 1):
        raise ValueError(f"tie must be a relative threshold in [0, 1) (0.01 = 1%), got {tie!r}.")
    return float(tie)


def _outcome(x: np.ndarray, y: np.ndarray, tie: float) -> np.ndarray:
    """+1 where x is lower than y beyond the tie threshold, -1 where higher, 0 for a tie.

    A tie: the larger value is at most ``(1 + tie)`` times the smaller (both 0 is a tie; one 0 and the
    other positive is not).
    """
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    tied = (hi == lo) | (hi <= (1 + tie) * lo)
    return np.where(tied, 0, np.where(x < y, 1, -1))


def _long(df: pd.DataFrame, keys: pd.Series, metric: str, solver_column: str) -> pd.DataFrame:
    """One row per record: ``problem``, ``who`` (the compared name), ``status`` and ``value`` of ``metric``.

    ``status`` is ``ok`` (usable), ``nonfinite`` (ok but the metric is NaN or infinite), ``skipped`` or
    ``failed`` (any other status counts as failed).
    """
    value = pd.to_numeric(df[metric], errors="coerce").astype(float).to_numpy()
    raw = df["status"].to_numpy(dtype=object)
    status = np.where(raw == _USABLE, np.where(np.isfinite(value), "ok", "nonfinite"),
                      np.where(raw == "skipped", "skipped", "failed"))
    return pd.DataFrame({"problem": keys.to_numpy(), "who": df[solver_column].to_numpy(), "status": status,
                         "value": np.where(status == "ok", value, np.nan)})


def _pair(long: pd.DataFrame, described: pd.DataFrame, solver: str, baseline: str, tie: float) -> pd.DataFrame:
    """The per-problem table of :func:`paired` from :func:`_long` records and the problems' columns."""
    mine = long[long["who"].isin([solver, baseline])]
    problems = pd.Index(mine["problem"].unique(), name="problem")
    status = mine.pivot(index="problem", columns="who", values="status").reindex(
        index=problems, columns=[solver, baseline])
    value = mine.pivot(index="problem", columns="who", values="value").reindex(
        index=problems, columns=[solver, baseline])
    out = pd.DataFrame({"problem": problems,
                        "status_solver": status[solver].fillna("missing").to_numpy(),
                        "status_baseline": status[baseline].fillna("missing").to_numpy(),
                        "value_solver": value[solver].to_numpy(float),
                        "value_baseline": value[baseline].to_numpy(float)})
    out = out.merge(described, on="problem", how="left")
    both = ((out["status_solver"] == "ok") & (out["status_baseline"] == "ok")).to_numpy()
    x, y = out["value_solver"].to_numpy(float), out["value_baseline"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((x == 0) & (y == 0), 1.0, x / y)
        log_ratio = np.log(ratio)
    out["difference"] = np.where(both, x - y, np.nan)
    out["ratio"] = np.where(both, ratio, np.nan)
    out["log_ratio"] = np.where(both, log_ratio, np.nan)
    outcome = _outcome(x, y, tie)
    out["outcome"] = np.where(both, np.select([outcome == 1, outcome == -1], ["win", "loss"], "tie"), None)
    cols = [c for c in described.columns if c != "problem"]
    order = ["problem", *cols, "status_solver", "status_baseline", "value_solver", "value_baseline",
             "difference", "ratio", "log_ratio", "outcome"]
    return out[order].sort_values(cols, kind="stable", na_position="last").reset_index(drop=True)


def _described(df: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """One row per problem: its key and its columns (as the first record of it holds them)."""
    return pd.concat([keys, df[problem_columns(df)]], axis=1).drop_duplicates("problem").reset_index(drop=True)


def paired(df: pd.DataFrame, metric: str, solver: str, baseline: str, *, tie: float = DEFAULT_TIE,
           solver_column: str = "solver") -> pd.DataFrame:
    """A metric of two solvers side by side, one row per problem on which either has a record.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`, at most one record per
        problem and solver (else a ``ValueError`` says which settings differ).
    metric : str
        A numeric column, lower is better (``heldout_relative_error``, ...).
    solver, baseline : str
        Values of ``solver_column``.
    tie : float, default :data:`DEFAULT_TIE`
        Relative tie threshold for ``outcome``.
    solver_column : str, default "solver"
        The column naming what is compared.

    Returns
    -------
    pandas.DataFrame
        ``problem``, the problem columns, ``status_solver`` and
        ``status_baseline`` (``ok``, ``missing``, ``skipped``, ``failed``,
        ``nonfinite``), ``value_solver``, ``value_baseline`` (NaN unless ok),
        and where both are ok: ``difference`` (solver - baseline), ``ratio``
        (solver / baseline; 1 when both are 0), ``log_ratio`` and ``outcome``
        (``win``: the solver is lower beyond the tie threshold, ``tie``,
        ``loss``).
    """
    _require(df, ["solver", "status", "dataset", "seed", metric, solver_column], "paired")
    tie = _check_tie(tie)
    sel = df[df[solver_column].isin([solver, baseline]).to_numpy()]
    keys = problem_key(sel)
    _one_record_each(sel, keys, solver_column)
    return _pair(_long(sel, keys, metric, solver_column), _described(sel, keys), solver, baseline, tie)


def _rng_argument(seed) -> dict:
    """``rng=`` for SciPy >= 1.15, ``random_state=`` before."""
    name = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def _bootstrap(values: np.ndarray, statistic: Callable, confidence: float, n_resamples: int, method: str,
               seed) -> tuple[float, float]:
    if values.size < 2:
        return np.nan, np.nan
    if np.ptp(values) == 0:  # every resample gives the same value
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        res = scipy.stats.bootstrap((values,), statistic, n_resamples=n_resamples, confidence_level=confidence,
                                    method=method, **_rng_argument(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _wilcoxon(effects: np.ndarray, zero_method: str) -> dict:
    """Wilcoxon signed-rank test of ``effects`` symmetric about 0, with the method stated."""
    n = effects.size
    zeros = int(np.count_nonzero(effects == 0))
    out = {"wilcoxon_n": n, "zeros": zeros, "wilcoxon_statistic": np.nan, "p_value": np.nan,
           "wilcoxon_method": "not run (no pairs)" if n == 0 else "not run"}
    if n == 0:
        return out
    if zeros == n:
        out.update(wilcoxon_statistic=0.0, p_value=1.0, wilcoxon_method="all differences zero")
        return out
    nonzero = np.abs(effects[effects != 0])
    ties = np.unique(nonzero).size < nonzero.size
    method = "exact" if zeros == 0 and not ties and n <= 50 else "asymptotic"
    res = scipy.stats.wilcoxon(effects, zero_method=zero_method, method=method)
    out.update(wilcoxon_statistic=float(res.statistic), p_value=float(res.pvalue), wilcoxon_method=(
        method if method == "exact" else
        f"asymptotic (normal approximation{', tie-corrected' if ties or zeros else ''})"))
    return out


_EFFECTS = ("ratio", "difference")
_CI_METHODS = ("percentile", "BCa", "basic")
_ZERO_METHODS = ("zsplit", "pratt", "wilcox")


def _check_options(effect: str, confidence: float, n_resamples: int, ci_method: str, zero_method: str) -> None:
    if effect not in _EFFECTS:
        raise ValueError(f"effect must be one of {', '.join(_EFFECTS)}, got {effect!r}.")
    if not (isinstance(confidence, (float, int)) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a level in (0, 1) such as 0.95, got {confidence!r}.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ValueError(f"n_resamples must be an integer >= 100 (default 9999), got {n_resamples!r}.")
    if ci_method not in _CI_METHODS:
        raise ValueError(f"ci_method must be one of {', '.join(_CI_METHODS)}, got {ci_method!r}.")
    if zero_method not in _ZERO_METHODS:
        raise ValueError(f"zero_method must be one of {', '.join(_ZERO_METHODS)}, got {zero_method!r}.")


def paired_statistics(x, y, *, tie: float = DEFAULT_TIE, effect: str = "ratio", confidence: float = 0.95,
                      n_resamples: int = 9999, ci_method: str = "percentile", zero_method: str = "zsplit",
                      seed: int = 0) -> dict:
    """Statistics of paired values ``x`` (a solver) and ``y`` (its baseline) over problems.

    Parameters
    ----------
    x, y : array_like of shape (n,)
        The metric of each side on the same ``n`` problems; lower is better;
        finite (pairs with a missing value are the caller's to count and leave
        out: see :func:`compare_solvers`).
    tie : float, default :data:`DEFAULT_TIE`
        Relative tie threshold: a pair is a tie when the larger value is at
        most ``1 + tie`` times the smaller.
    effect : {"ratio", "difference"}, default "ratio"
        ``"ratio"``: the per-problem effect is ``log(x / y)`` (scale-free, for
        metrics that span orders of magnitude across problems), reported back
        as ratios: ``median`` is the median ratio and ``mean`` the geometric
        mean ratio (below 1: the solver is lower). Needs positive values (a
        pair of zeros counts as ratio 1). ``"difference"``: ``x - y``, in the
        metric's units.
    confidence : float, default 0.95
        Level of the bootstrap confidence intervals.
    n_resamples : int, default 9999
        Bootstrap resamples (over problems, :func:`scipy.stats.bootstrap`).
    ci_method : {"percentile", "BCa", "basic"}, default "percentile"
        The percentile interval is the default: BCa's jackknife acceleration
        is unstable for the median of a few dozen discrete values.
    zero_method : {"zsplit", "pratt", "wilcox"}, default "zsplit"
        How :func:`scipy.stats.wilcoxon` treats zero effects (exactly equal
        values): ``zsplit`` ranks them and splits their ranks between both
        signs, so that many identical results pull the p-value towards 1
        instead of being dropped (``wilcox``).
    seed : int, default 0
        Seed of the bootstrap (a new generator per call: a comparison's
        interval does not depend on what else is compared).

    Returns
    -------
    dict
        ``pairs``, ``wins``, ``ties``, ``losses`` (from ``x``'s side: a win is
        ``x`` lower), ``effect``, ``median``, ``median_low``, ``median_high``,
        ``mean``, ``mean_low``, ``mean_high``, ``wilcoxon_statistic``,
        ``p_value`` (two-sided), ``wilcoxon_n`` (pairs in the test, zeros
        included), ``zeros`` and ``wilcoxon_method`` (``exact`` for at most 50
        pairs without zeros or tied magnitudes, else the normal
        approximation, corrected for ties and zeros).
    """
    tie = _check_tie(tie)
    _check_options(effect, confidence, n_resamples, ci_method, zero_method)
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must pair up, got {x.size} and {y.size} values.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite; leave out (and count) the problems where a side has no value.")
    outcome = _outcome(x, y, tie)
    out = {"pairs": int(x.size), "wins": int(np.sum(outcome == 1)), "ties": int(np.sum(outcome == 0)),
           "losses": int(np.sum(outcome == -1)), "effect": effect}
    if effect == "ratio":
        if np.any(x < 0) or np.any(y < 0):
            raise ValueError("effect='ratio' needs non-negative values; use effect='difference'.")
        one_zero = (x == 0) != (y == 0)
        if one_zero.any():
            raise ValueError(f"effect='ratio' is undefined on {int(one_zero.sum())} pair(s) where exactly one value "
                             "is 0 (an exact fit on one side only); use effect='difference'.")
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where((x == 0) & (y == 0), 0.0, np.log(x / y))
        back = np.exp
    else:
        d = x - y

        def back(v):
            return v

    out["median"] = float(back(np.median(d))) if d.size else np.nan
    out["mean"] = float(back(np.mean(d))) if d.size else np.nan
    for name, stat in (("median", np.median), ("mean", np.mean)):
        low, high = _bootstrap(d, stat, confidence, n_resamples, ci_method, seed)
        out[f"{name}_low"], out[f"{name}_high"] = float(back(low)), float(back(high))
    out.update(_wilcoxon(d, zero_method))
    order = ["pairs", "wins", "ties", "losses", "effect", "median", "median_low", "median_high", "mean", "mean_low",
             "mean_high", "wilcoxon_statistic", "p_value", "wilcoxon_n", "zeros", "wilcoxon_method"]
    return {k: out[k] for k in order}


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of p-values for several comparisons (Holm, Scand. J. Stat. 6, 1979).

    The k-th smallest of m p-values becomes ``max over j <= k of min(1, (m - j + 1) p_(j))``; the
    family-wise error rate is controlled at any level, under any dependence between the tests. NaN
    p-values (tests not run) stay NaN and do not count in m.

    Parameters
    ----------
    pvalues : array_like of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
        Adjusted p-values, in the input order.
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    run = ~np.isnan(p)
    q = p[run]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p-values must lie in [0, 1].")
    m = q.size
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    back = np.empty(m)
    back[order] = adjusted
    out[run] = back
    return out


_SIDE_COUNTS = ("missing", "skipped", "failed", "nonfinite")


def compare_solvers(df: pd.DataFrame, metric: str, baseline: str | None = None, *, tie: float = DEFAULT_TIE,
                    by: str | Sequence[str] | None = None, solvers: Sequence[str] | None = None,
                    effect: str = "ratio", confidence: float = 0.95, n_resamples: int = 9999,
                    ci_method: str = "percentile", zero_method: str = "zsplit", seed: int = 0,
                    solver_column: str = "solver") -> pd.DataFrame:
    """Paired comparisons of solvers over problems, one row per comparison.

    Every solver is compared with ``baseline`` on the problems (data set,
    seed, ...: :func:`problem_key`) both were run on; without a baseline,
    every pair of solvers. See :func:`paired_statistics` for the statistics
    and :data:`DEFAULT_TIE` for the tie threshold. p-values are adjusted with
    Holm's method over the comparisons of the table (within each ``by``
    group: a group is one experiment, its comparisons one family).

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.
    metric : str
        A numeric column, lower is better.
    baseline : str, optional
        The solver everything is compared with (``column_mean``, ``wnmf_kl``...).
    tie : float, default :data:`DEFAULT_TIE`
    by : str or list of str, optional
        Columns whose groups are compared separately (e.g. ``"tag"``).
    solvers : sequence of str, optional
        Only these solvers (and the baseline); default every solver in ``df``.
    effect, confidence, n_resamples, ci_method, zero_method, seed
        As for :func:`paired_statistics`.
    solver_column : str, default "solver"
        The column naming what is compared (a column of your own can name
        variants of one solver, e.g. two budgets).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``solver``, ``baseline``, ``metric``,
        ``problems`` (with a record of either side), the statistics of
        :func:`paired_statistics`, ``p_holm``, ``tie``, ``confidence``,
        ``ci_method``, and per side the problems left out and why:
        ``solver_missing``, ``solver_skipped``, ``solver_failed``,
        ``solver_nonfinite`` and the same for ``baseline_``. ``attrs`` holds
        the options and the status counts of the records used.

    Raises
    ------
    ValueError
        For an unknown metric, solver or baseline, a metric that no record has
        a finite value of, records that do not pair up one to one (settings
        differ within a problem: use ``by`` or filter), or bad options.
    """
    _require(df, ["solver", "status", "dataset", "seed"], "compare_solvers")
    if df.empty:
        raise ValueError("the table holds no records: nothing to compare.")
    if solver_column not in df.columns:
        raise ValueError(f"solver_column {solver_column!r} is not a column of the table.")
    if metric not in df.columns:
        numeric = [c for c in ("heldout_relative_error", "relative_error", "weighted_kl", "weighted_frobenius",
                               "truth_relative_error", "runtime_median", "runtime_min", "n_iter") if c in df]
        raise ValueError(f"no column {metric!r} in the table; metrics include {', '.join(numeric)}.")
    values = pd.to_numeric(df[metric], errors="coerce")
    if not np.isfinite(values.astype(float).to_numpy()[(df["status"] == _USABLE).to_numpy()]).any():
        raise ValueError(f"no record with status ok has a finite {metric} (is it defined for these jobs? "
                         "heldout_relative_error needs holdout > 0, truth_relative_error synthetic data with a truth).")
    tie = _check_tie(tie)
    _check_options(effect, confidence, n_resamples, ci_method, zero_method)
    by = [by] if isinstance(by, str) else list(by or [])
    for c in by:
        if c not in df.columns:
            raise ValueError(f"by: no column {c!r} in the table.")
    present = sorted(str(s) for s in df[solver_column].dropna().unique())
    if baseline is not None and baseline not in present:
        raise ValueError(f"no records of baseline {baseline!r}; the table has {', '.join(present) or 'no solver'}.")
    if solvers is not None:
        unknown = sorted(set(solvers) - set(present))
        if unknown:
            raise ValueError(f"no records of solver(s) {', '.join(unknown)}; the table has {', '.join(present)}.")
    rows = []
    df = df.reset_index(drop=True)
    keys = problem_key(df)
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        names = sorted(str(s) for s in g[solver_column].dropna().unique())
        if solvers is not None:
            names = [s for s in names if s in set(solvers) or s == baseline]
        if baseline is not None:
            if baseline not in names:
                continue
            pairs = [(s, baseline) for s in names if s != baseline]
        else:
            pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        g = g[g[solver_column].isin(names).to_numpy()]
        gkeys = keys[g.index]
        _one_record_each(g, gkeys, solver_column)
        long, described = _long(g, gkeys, metric, solver_column), _described(g, gkeys)
        group_rows = []
        for a, b in pairs:
            t = _pair(long, described, a, b, tie)
            both = (t["status_solver"] == "ok") & (t["status_baseline"] == "ok")
            stats = paired_statistics(t.loc[both, "value_solver"], t.loc[both, "value_baseline"], tie=tie,
                                      effect=effect, confidence=confidence, n_resamples=n_resamples,
                                      ci_method=ci_method, zero_method=zero_method, seed=seed)
            row = {**dict(zip(by, key, strict=True)), "solver": a, "baseline": b, "metric": metric,
                   "problems": len(t), **stats}
            for side in ("solver", "baseline"):
                counts = t[f"status_{side}"].value_counts()
                for status in _SIDE_COUNTS:
                    row[f"{side}_{status}"] = int(counts.get(status, 0))
            group_rows.append(row)
        adjusted = holm([r["p_value"] for r in group_rows])
        for r, p in zip(group_rows, adjusted, strict=True):
            r.update(p_holm=float(p), tie=tie, confidence=confidence, ci_method=ci_method)
        rows += group_rows
    columns = [*by, "solver", "baseline", "metric", "problems", "pairs", "wins", "ties", "losses", "effect",
               "median", "median_low", "median_high", "mean", "mean_low", "mean_high", "wilcoxon_statistic",
               "p_value", "p_holm", "wilcoxon_n", "zeros", "wilcoxon_method", "tie", "confidence", "ci_method",
               *[f"{side}_{s}" for side in ("solver", "baseline") for s in _SIDE_COUNTS]]
    out = pd.DataFrame(rows, columns=columns)
    used = df[df[solver_column].isin(set(out["solver"]) | set(out["baseline"])).to_numpy()]
    out.attrs.update(metric=metric, baseline=baseline, tie=tie, effect=effect, confidence=confidence,
                     n_resamples=n_resamples, ci_method=ci_method, zero_method=zero_method, seed=seed, by=by,
                     records=len(used), statuses=used["status"].value_counts().to_dict(),
                     problems=int(keys[used.index].nunique()))
    return out


# --------------------------------------------------------------------------- the command's report


def _fmt(v: float) -> str:
    return "nan" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _p(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return "<1e-4" if v < 1e-4 else f"{v:.2g}"


def comparison_report(df: pd.DataFrame, metric: str, baseline: str | None = None, *, fmt: str = "md",
                      tie: float = DEFAULT_TIE, by: str | Sequence[str] | None = None, **options) -> str:
    """:func:`compare_solvers` as text for ``nmfexp-results compare-solvers``.

    Parameters
    ----------
    df, metric, baseline, tie, by
        As for :func:`compare_solvers` (``options`` passes the others on).
    fmt : {"md", "csv"}, default "md"
        ``"md"``: a few lines saying what was compared, on how many problems
        and records of which status, and how the statistics are computed,
        then a Markdown table; ``"csv"``: the full tidy table.

    Returns
    -------
    str
    """
    if fmt not in ("md", "csv"):
        raise ValueError(f"fmt must be 'md' or 'csv', got {fmt!r}.")
    table = compare_solvers(df, metric, baseline, tie=tie, by=by, **options)
    if fmt == "csv":
        return table.to_csv(index=False)
    a = table.attrs
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(a["statuses"].items(), key=lambda kv: (-kv[1], kv[0])))
    what = f"every solver against {baseline}" if baseline else "every pair of solvers"
    ratio = a["effect"] == "ratio"
    lines = [
        f"{metric}: {what}; {a['problems']} problem(s) (a problem: one data set and its config, mask, "
        f"hold-out, seed and rank), {a['records']} record(s): {statuses or 'none'}.",
        f"A pair counts where both records are ok with a finite {metric}; the problems left out are counted "
        "per side (missing: no record; skipped; failed; non-finite metric).",
        f"Tie: the larger value at most {a['tie']:.3g} ({a['tie']:.2%}) above the smaller. "
        + ("Effect: ratio solver/baseline (below 1: the solver is lower), median and geometric mean"
           if ratio else "Effect: difference solver - baseline, median and mean")
        + f" over problems, {a['confidence']:.0%} {a['ci_method']} bootstrap intervals ({a['n_resamples']} "
        f"resamples, seed {a['seed']}). Wilcoxon signed-rank test on "
        + ("log ratios" if ratio else "differences")
        + f" (zero differences: {a['zero_method']}), two-sided; p Holm-adjusted within "
        + ("each group." if a["by"] else "the table."),
        "",
    ]
    if table.empty:
        return "\n".join(lines + ["no comparison: no pair of solvers shares a problem."]) + "\n"
    show = pd.DataFrame()
    for c in a["by"]:
        show[c] = table[c].astype(str)
    show["solver"] = table["solver"]
    if not baseline:
        show["baseline"] = table["baseline"]
    show["pairs"] = table["pairs"].astype(str) + " of " + table["problems"].astype(str)
    show["win/tie/loss"] = (table["wins"].astype(str) + "/" + table["ties"].astype(str) + "/"
                            + table["losses"].astype(str))
    label = "ratio" if ratio else "diff."
    show[f"median {label} [CI]"] = [f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]" for m, lo, hi in
                                    zip(table["median"], table["median_low"], table["median_high"], strict=True)]
    show[f"{'geo-mean' if ratio else 'mean'} {label} [CI]"] = [
        f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"
        for m, lo, hi in zip(table["mean"], table["mean_low"], table["mean_high"], strict=True)]
    show["p (Holm)"] = [_p(p) for p in table["p_holm"]]

    def left_out(r) -> str:
        parts = []
        for side, name in (("solver", r["solver"]), ("baseline", r["baseline"])):
            counts = [f"{r[f'{side}_{s}']} {s}" for s in _SIDE_COUNTS if r[f"{side}_{s}"]]
            if counts:
                parts.append(f"{name}: {', '.join(counts)}")
        return "; ".join(parts) or "none"

    show["not paired"] = table.apply(left_out, axis=1)
    return "\n".join(lines) + show.to_markdown(index=False) + "\n"
