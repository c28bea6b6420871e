"""The statistics behind every figure and table, from the tables of :mod:`nmfexp.results`.

Runtimes on a shared machine have heavy right tails (another process takes the
core for a while), so the figures summarise them with order statistics:

* **per job**: the median of its timing samples (``runtime_median``; the
  minimum, ``runtime_min``, on request);
* **across seeds**: the median, with the interquartile range (25th to 75th
  percentile) as the band;
* **speed ratios**: computed per seed, both solvers on the very same matrix
  (paired), then summarised by their median and quartiles.

The reference code's statistic, mean and standard deviation of every timing
sample pooled over seeds (and ratios of those means), is available as
``statistic="mean"``; every figure and table says which one it shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..record import schema

__all__ = [
    "RUNTIME_STATISTICS", "STATISTIC_NOTES", "check_statistic", "plain", "select", "ok", "quartiles",
    "quartiles_inf",
    "summarize", "pooled_mean_sd", "seed_counts", "jobs_note", "problem_columns", "paired",
    "time_to_target", "performance_profile", "profile_ratios", "profile_from_ratios", "first_sentence",
    "step_quantiles", "concurrent_note", "exclude_concurrent", "timed_with_others", "GENERIC_STATISTIC_NOTES",
]

#: Per-job runtime column for each statistic.
RUNTIME_STATISTICS = {"median": "runtime_median", "min": "runtime_min", "mean": "runtime_mean"}
#: What each statistic means, as figures and tables say it.
STATISTIC_NOTES = {
    "median": ("runtime: median over seeds of each job's median timing sample (band: interquartile range "
               "over seeds); speed ratio: WNMF/A1GM per seed on the same matrix, median over seeds"),
    "min": ("runtime: median over seeds of each job's fastest timing sample (band: interquartile range over "
            "seeds); speed ratio: WNMF/A1GM per seed on the same matrix, median over seeds"),
    "mean": ("runtime: mean of every timing sample pooled over seeds, error bar one standard deviation "
             "(the reference code's statistic); speed ratio: ratio of those means"),
}


#: What each statistic means in a report of one's own sweep (no paper artifact, no speed ratio).
GENERIC_STATISTIC_NOTES = {
    "median": "runtime: each job's median timing sample; figures show the median over the other dimensions "
              "(band: interquartile range)",
    "min": "runtime: each job's fastest timing sample; figures show the median over the other dimensions "
           "(band: interquartile range)",
    "mean": "runtime: each job's mean timing sample; figures show the median over the other dimensions "
            "(band: interquartile range)",
}


def check_statistic(statistic: str) -> str:
    """``statistic`` if it is one of :data:`RUNTIME_STATISTICS`, else a ``ValueError``."""
    if statistic not in RUNTIME_STATISTICS:
        raise ValueError(f"unknown runtime statistic {statistic!r}; choose one of "
                         f"{', '.join(RUNTIME_STATISTICS)}.")
    return statistic


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer and boolean columns as plain numpy ones (float with NaN, object with None)."""
    df = df.copy()
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.BooleanDtype):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
            df[col] = df[col].to_numpy(dtype=float, na_value=np.nan) if df[col].hasnans else df[col].to_numpy(
                dtype=np.int64 if pd.api.types.is_integer_dtype(dtype) else float)
    return df


def select(df: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Records of one artifact: those tagged ``tag``, else those of its quick run
    (``<tag>_quick``); never a mix of both."""
    if df.empty or "tag" not in df:
        return df.iloc[0:0]
    full = df[df["tag"] == tag]
    return plain(full if not full.empty else df[df["tag"] == f"{tag}_quick"])


def ok(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with status ``ok`` (metrics and timings present)."""
    return df[df["status"] == "ok"] if "status" in df else df


def quartiles(values) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile of the finite values (NaN when there are none)."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return float(med), float(q25), float(q75)


def quartiles_inf(values) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile where ``inf`` means "never" (a failure): it sorts
    last and a percentile falling among the failures is ``inf``. NaN values are left out."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.inf, np.inf, np.inf
    top = finite.max()
    # failures as a value above every finite one: a percentile that lands above the largest finite
    # value (interpolating towards a failure) is a failure too
    q25, med, q75 = np.percentile(np.where(np.isinf(v), 2 * abs(top) + 1, v), [25, 50, 75])
    back = [np.inf if q > top else float(q) for q in (med, q25, q75)]
    return back[0], back[1], back[2]


def summarize(df: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Median, quartiles and count of ``value`` for each group of ``by`` (NaN values left out)."""
    rows = []
    for key, g in df.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        med, q25, q75 = quartiles(g[value])
        rows.append({**dict(zip(by, key, strict=True)), "median": med, "q25": q25, "q75": q75,
                     "n": int(g[value].notna().sum())})
    return pd.DataFrame(rows, columns=[*by, "median", "q25", "q75", "n"])


def pooled_mean_sd(group: pd.DataFrame) -> tuple[float, float]:
    """Mean and standard deviation of every timing sample of every job in ``group``, pooled
    (the reference code's statistic), from each job's mean, SD and number of samples."""
    g = group[group["runtime_mean"].notna()]
    if g.empty:
        return np.nan, np.nan
    n = g["runtime_samples"].to_numpy(float) if "runtime_samples" in g else np.ones(len(g))
    n = np.where(np.isnan(n) | (n < 1), 1.0, n)
    mean = float(np.average(g["runtime_mean"], weights=n))
    sd = g["runtime_std"].fillna(0.0).to_numpy(float) if "runtime_std" in g else np.zeros(len(g))
    var = float(np.average(sd ** 2 + (g["runtime_mean"].to_numpy(float) - mean) ** 2, weights=n))
    return mean, float(np.sqrt(var))


def seed_counts(sel: pd.DataFrame, by: Sequence[str], *, ok_only: bool = True) -> pd.DataFrame:
    """For each group of ``by``: seeds with a usable record (status ok) and seeds planned.

    Planned seeds are the distinct seeds of all records of the artifact
    (``sel``, any status); a group with fewer is drawn as incomplete.
    """
    planned = int(sel["seed"].nunique()) if "seed" in sel and len(sel) else 0
    use = ok(sel) if ok_only else sel
    counts = use.groupby(list(by), dropna=False)["seed"].nunique().rename("seeds").reset_index()
    counts["planned"] = planned
    return counts


def jobs_note(sel: pd.DataFrame, what: str = "jobs") -> str:
    """``"84 jobs: 80 ok, 4 skipped"``: how many records a figure rests on, and how many of
    them were timed while other nmfexp jobs were timed on the same host (:func:`concurrent_note`)."""
    if sel.empty:
        return f"0 {what}"
    counts = sel["status"].value_counts()
    parts = [f"{int(counts[s])} {s}" for s in ("ok", "skipped", "failed") if s in counts]
    parts += [f"{int(n)} {s}" for s, n in counts.items() if s not in ("ok", "skipped", "failed")]
    shared = concurrent_note(sel)
    return f"{len(sel)} {what}: " + ", ".join(parts) + (f"; {shared}" if shared else "")


#: The column saying how many nmfexp jobs were timed on the host at once (1: the job alone).
CONCURRENT = schema.field_of("execution/concurrent_jobs").column
#: The per-job runtime columns that :func:`exclude_concurrent` leaves out.
RUNTIME_COLUMNS = (*RUNTIME_STATISTICS.values(), "runtime_std")


def timed_with_others(df: pd.DataFrame) -> pd.Series:
    """True for the jobs with status ok that were timed while other nmfexp jobs were timed on the
    same host (``execution.concurrent_jobs > 1``): their runtimes may be inflated."""
    if CONCURRENT not in df or df.empty:
        return pd.Series(False, index=df.index)
    shared = pd.to_numeric(df[CONCURRENT], errors="coerce").fillna(0).to_numpy(float) > 1
    status_ok = (df["status"] == "ok").to_numpy(bool) if "status" in df else np.ones(len(df), bool)
    return pd.Series(shared & status_ok, index=df.index)


def exclude_concurrent(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` without the runtimes of the jobs :func:`timed_with_others` flags
    (their runtime columns become NaN; every other result stays)."""
    out = df.copy()
    shared = timed_with_others(out).to_numpy(bool)
    for col in RUNTIME_COLUMNS:
        if col in out and shared.any():
            out[col] = out[col].astype(float).where(~shared)
    return out


def concurrent_note(sel: pd.DataFrame) -> str:
    """What a footer says about jobs timed alongside other nmfexp jobs (empty when there are none)."""
    shared = timed_with_others(sel)
    k = int(shared.sum())
    if not k:
        return ""
    left_out = "runtime_median" in sel and sel.loc[shared.to_numpy(bool), "runtime_median"].isna().all()
    if left_out:
        return f"{k} timed while other nmfexp jobs were timed on the host: runtimes left out"
    return (f"{k} timed while other nmfexp jobs were timed on the host (concurrent_jobs > 1): their runtimes may "
            "be inflated (--exclude-concurrent leaves them out)")


#: Columns that identify the problem a job solves: the job's key columns without the job and its solver.
_PROBLEM = [c for c in schema.KEY_COLUMNS if c not in ("job", "solver")]


def problem_columns(df: pd.DataFrame) -> list[str]:
    """The columns that say which problem (data, mask, seed, rank, hold-out) a job solves:
    two jobs with equal values differ only in their solver (and its settings)."""
    extra = sorted(c for c in df.columns if c.startswith(("dataset.", "mask.")) and c not in _PROBLEM)
    return [c for c in _PROBLEM if c in df] + extra


def paired(df: pd.DataFrame, index: Sequence[str], value: str) -> pd.DataFrame:
    """``value`` of each solver side by side, one row per ``index`` (e.g. n and seed)."""
    return df.pivot_table(index=list(index), columns="solver", values=value, aggfunc="first", dropna=False)


def first_sentence(text, *, short: bool = True) -> str:
    """The first sentence of a record's message (``""`` for none); ``short`` also stops at a
    parenthesis or semicolon (reasons that recur across jobs, grouped by their wording)."""
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    text = text.strip()
    for stop in ((". ", "; ", " (", "\n") if short else (". ", "\n")):
        if stop in text:
            text = text.split(stop, 1)[0]
    return text.rstrip(".")


def _history_by_job(hist: pd.DataFrame) -> dict:
    if hist is None or hist.empty:
        return {}
    h = hist.sort_values(["job", "iteration"])
    return {job: (g["time"].to_numpy(float), g["objective"].to_numpy(float)) for job, g in h.groupby("job")}


def _history_measure(row) -> str | None:
    """The metric column that a job's history measures (its solver's own loss;
    :func:`nmfexp.record.schema.metric_for_loss`)."""
    loss = row.get(schema.field_of("info/loss").column)
    if not isinstance(loss, str):
        from ..solvers import SOLVERS

        spec = SOLVERS.get(row.get("solver"))
        loss = spec.loss if spec is not None else None
    return schema.metric_for_loss(loss)


def time_to_target(df: pd.DataFrame, hist: pd.DataFrame, rtols: Iterable[float] = (0.01, 0.1),
                   measure: str = "weighted_frobenius") -> pd.DataFrame:
    """Update time each job needs to come within ``rtol`` of the best value any solver reached
    on the same problem, on a common ``measure``.

    The target of a problem (same data, seed, rank, mask, hold-out; see
    :func:`problem_columns`) is ``(1 + rtol) * best`` with ``best`` the lowest
    final ``measure`` of any job with status ok on it. A job whose history
    records ``measure`` (its solver's own loss is that measure) reaches the
    target at the first iteration whose objective is at or below it
    (``bound = "exact"``, time in seconds of updates). A job whose history
    measures something else (a KL solver on a Frobenius measure) is known on
    ``measure`` only at its end: it reached the target by then or never
    (``bound = "upper"``: the time is its total update time, an upper bound).
    Closed-form solvers (no history) count their runtime. Jobs that never reach
    the target have ``time = inf``.

    Returns
    -------
    pandas.DataFrame
        One row per job and ``rtol``: ``job, solver``, the problem columns,
        ``rtol, best, target, time, reached, bound``.
    """
    keys = problem_columns(df)
    sel = ok(df)
    sel = sel[np.isfinite(pd.to_numeric(sel[measure], errors="coerce"))] if measure in sel else sel.iloc[0:0]
    if sel.empty:
        return pd.DataFrame(columns=["job", "solver", *keys, "rtol", "best", "target", "time", "reached", "bound"])
    histories = _history_by_job(hist)
    best = sel.groupby(keys, dropna=False)[measure].transform("min")
    rows = []
    for (_, row), b in zip(sel.iterrows(), best, strict=True):
        times, objective = histories.get(row["job"], (np.empty(0), np.empty(0)))
        own = _history_measure(row) == measure
        for rtol in rtols:
            target = (1 + rtol) * b
            if times.size and own:
                hit = np.flatnonzero(objective <= target * (1 + 1e-12))
                t, bound = (float(times[hit[0]]), "exact") if hit.size else (np.inf, "exact")
            elif times.size:  # known on this measure only at the end
                t, bound = (float(times[-1]), "upper") if row[measure] <= target else (np.inf, "upper")
            else:  # closed form: one call
                rt = row.get("runtime_median", np.nan)
                t, bound = (float(rt), "exact") if row[measure] <= target else (np.inf, "exact")
            rows.append({"job": row["job"], "solver": row["solver"], **{k: row[k] for k in keys}, "rtol": rtol,
                         "best": b, "target": target, "time": t, "reached": bool(np.isfinite(t)), "bound": bound})
    return pd.DataFrame(rows)


def profile_ratios(cost: pd.DataFrame) -> pd.DataFrame:
    """Performance ratios of Dolan & Moré (2002): each solver's cost on a problem (row)
    divided by the lowest cost on it; NaN (failed, not run) and ``inf`` (never reached)
    become ``inf``. Rows where no solver has a finite cost are dropped."""
    c = cost.astype(float).replace(np.nan, np.inf)
    c = c[np.isfinite(c).any(axis=1)]
    low = c.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c.div(low, axis=0)
    zero = low == 0  # a perfect score: ratio 1 for the solvers that reach it, inf for the others
    if zero.any():
        r.loc[zero] = np.where(c.loc[zero] == 0, 1.0, np.inf)
    return r


def performance_profile(cost: pd.DataFrame, taus: np.ndarray | None = None) -> pd.DataFrame:
    """Dolan-Moré performance profile: for each solver (column of ``cost``) and factor
    ``tau``, the fraction of problems (rows) on which its cost is within ``tau`` times
    the best solver's.

    Parameters
    ----------
    cost : pandas.DataFrame
        Problems x solvers; lower is better; NaN or ``inf`` for a failure.
    taus : ndarray, optional
        Factors >= 1; default 200 points from 1 to the largest finite ratio.

    Returns
    -------
    pandas.DataFrame
        Columns ``tau``, ``solver``, ``fraction``, ``problems``.
    """
    return profile_from_ratios(profile_ratios(cost), taus)


def profile_from_ratios(r: pd.DataFrame, taus: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`performance_profile` from performance ratios already computed (problems x solvers,
    ``inf`` for a failure), e.g. ratios per seed summarised per table."""
    if taus is None:
        finite = r.to_numpy()[np.isfinite(r.to_numpy())]
        top = max(2.0, float(finite.max()) * 1.05) if finite.size else 2.0
        taus = np.unique(np.concatenate([[1.0], np.geomspace(1.0, top, 200), finite]))
    rows = []
    for solver in r.columns:
        vals = r[solver].to_numpy()
        for tau in taus:
            rows.append({"tau": float(tau), "solver": solver,
                         "fraction": float(np.mean(vals <= tau)) if len(vals) else np.nan, "problems": len(vals)})
    return pd.DataFrame(rows)


def step_quantiles(curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray, q=(25, 50, 75)) -> np.ndarray:
    """Step-interpolate each (x, y) curve on ``grid`` (holding its last value after it ends, NaN
    before it starts) and return the percentiles ``q`` over curves, shape (len(q), len(grid))."""
    vals = []
    for x, y in curves:
        idx = np.searchsorted(x, grid, side="right") - 1
        vals.append(np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any curve starts
        return np.nanpercentile(np.vstack(vals), list(q), axis=0)
