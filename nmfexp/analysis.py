"""Statistics for solver comparisons, computed from the tables of :mod:`nmfexp.results`.

Every function here takes the pandas tables that :func:`nmfexp.results.load`
(one row per job) and :func:`nmfexp.results.load_history` (one row per
recorded iteration) return, and returns a new tidy table; none reads a file
or changes its input. Figures and commands call them; they draw nothing.

::

    import nmfexp.results, nmfexp.analysis as A
    df, hist = nmfexp.results.load_all("results/")
    fstar = A.best_known(df, hist)                        # best-known optimum of every problem and loss
    A.suboptimality(df, fstar)                            # (f - f*) / f* per job, on its own loss
    A.suboptimality(df, fstar, hist)                      # ... per recorded iteration (vs time and iteration)
    A.compare_solvers(df, "heldout_relative_error", baseline="column_mean")   # paired statistics
    A.performance_profile(df, "heldout_relative_error")  # Dolan-More profiles as data

Problems
--------
A *problem* is what a job optimises: the data set with its config, the mask,
the held-out fraction, the seed (which draws the data, the mask and the
held-out set) and the rank. :func:`problem_key` derives it from the columns
of :func:`~nmfexp.results.load`: the short columns :data:`PROBLEM_COLUMNS`
(``dataset, n_rows, n_cols, mask, mask_rate, holdout, seed, rank``) and every
config column whose name starts with ``dataset.`` or ``mask.``. A new data-set
option therefore becomes part of the problem without code here. Everything
else is a setting of the run, not of the problem: the solver and its
``solver.*`` parameters, ``timing.*``, the ``tag``, ``info.*``, ``env.*``,
the metrics and bookkeeping (``job``, ``path``, ``status``...). So a long
reference run under another tag solves the same problem as the sweep it
checks. ``n_rows``/``n_cols`` are config for synthetic data and facts of the
built matrix otherwise; a record that failed before its matrix was built
takes them from the other records of its problem. Two spellings of the same
data set (``dataset.table`` vs ``dataset.package`` + ``dataset.item``), or
records from versions whose configs differ by a key, are different problems:
the key is conservative, it never merges records that might differ.

Comparisons
-----------
Lower is better for every metric (errors, losses, times). A comparison uses
only problems on which both sides have a *usable* value: a record with status
``ok`` and a finite metric. Every other problem is counted, per side, as
missing (no record), skipped, failed or non-finite, never silently dropped.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.stats

__all__ = [
    "PROBLEM_COLUMNS",
    "PROBLEM_PREFIXES",
    "LOSS_MEASURES",
    "DEFAULT_TIE",
    "problem_columns",
    "problem_key",
    "own_loss",
    "best_known",
    "suboptimality",
    "paired",
    "paired_statistics",
    "compare_solvers",
    "holm",
    "performance_ratios",
    "performance_profile",
    "comparison_report",
]

#: Short columns of :func:`nmfexp.results.load` that belong to the problem a job solves.
PROBLEM_COLUMNS = ("dataset", "n_rows", "n_cols", "mask", "mask_rate", "holdout", "seed", "rank")
#: Config columns with these prefixes belong to the problem too (every data-set and mask option).
PROBLEM_PREFIXES = ("dataset.", "mask.")
#: The metric column that measures each solver loss on the training entries.
LOSS_MEASURES = {"kl": "weighted_kl", "frobenius": "weighted_frobenius"}

#: Default tie threshold of paired comparisons: two values within 1% of each other (the larger at most
#: 1.01 times the smaller) are a tie. Why 1%: (1) it is the threshold of "within 1% of the best" that
#: the performance profiles and the headlines use, so that a tie here is a tie there; (2) below it, a
#: difference in held-out error is smaller than the sampling noise of the held-out set itself: the
#: relative error over k held-out entries has a relative standard error of at least about
#: 1/sqrt(2k) (about 3% for the ~450 held-out entries of a median corpus table, 1% only from k = 5,000);
#: (3) iterative solvers stop on a relative decrease of 1e-4 per iteration, and the objective of two
#: runs stopped that way commonly differs by more than 1e-4 without either being better.
DEFAULT_TIE = 0.01

_USABLE = "ok"


# --------------------------------------------------------------------------- problems


def problem_columns(df: pd.DataFrame) -> list[str]:
    """The columns of ``df`` that identify the problem a job solves (see the module docstring).

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.

    Returns
    -------
    list of str
        :data:`PROBLEM_COLUMNS` present in ``df``, then the ``dataset.*`` and
        ``mask.*`` columns in name order.
    """
    cols = [c for c in PROBLEM_COLUMNS if c in df.columns]
    return cols + sorted(c for c in df.columns if str(c).startswith(PROBLEM_PREFIXES))


def _plain(value):
    """A JSON-able, type-stable form of a cell: missing -> None, numbers -> float, rest -> str."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} takes a pandas DataFrame from nmfexp.results.load(), got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the table has no column(s) {missing}; pass the table of nmfexp.results.load() "
                         f"(its columns include {', '.join(columns)}).")


def problem_key(df: pd.DataFrame) -> pd.Series:
    """The identity of the problem each job solves, as a short stable string.

    Two rows get the same key exactly when they agree on every column of
    :func:`problem_columns` (missing values agreeing with missing values),
    ``n_rows``/``n_cols`` excepted: a row where they are missing (a record that
    failed before its matrix was built) takes the single value the other rows
    of its problem hold.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load` (needs ``dataset`` and ``seed``).

    Returns
    -------
    pandas.Series of str
        Named ``problem``, aligned with ``df``: ``"p"`` and 12 hexadecimal
        digits of a SHA-256 over the problem's column names and values, stable
        across processes and machines.
    """
    _require(df, ["dataset", "seed"], "problem_key")
    cols = problem_columns(df)
    values = pd.DataFrame({c: [_plain(v) for v in df[c]] for c in cols}, index=df.index)
    shape = [c for c in ("n_rows", "n_cols") if c in cols]
    rest = [c for c in cols if c not in shape]
    if shape and len(df):
        base = values[rest].apply(lambda r: json.dumps(list(r)), axis=1)
        for c in shape:  # fill a missing size from the other records of the same problem
            known = values[c].notna()
            sizes = values[c][known].groupby(base[known]).unique()
            single = {k: v[0] for k, v in sizes.items() if len(v) == 1}
            fill = base.map(single)
            values[c] = values[c].where(known, fill)
            values[c] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values[c]]

    def digest(row) -> str:
        text = json.dumps(dict(zip(cols, row, strict=True)), sort_keys=True)
        return "p" + hashlib.sha256(text.encode()).hexdigest()[:12]

    keys = [digest(row) for row in values.itertuples(index=False, name=None)] if len(df) else []
    return pd.Series(keys, index=df.index, name="problem", dtype=object)


def own_loss(df: pd.DataFrame) -> pd.Series:
    """The loss each job's solver minimises (``"kl"``, ``"frobenius"``) or None.

    From the record (``info.loss``) when it says, else from the solver
    registry (:data:`nmfexp.SOLVERS`) by name; None for a solver neither knows
    (a user's solver that did not run, a baseline without a loss).
    """
    from .solvers import SOLVERS

    _require(df, ["solver"], "own_loss")
    recorded = df["info.loss"] if "info.loss" in df.columns else pd.Series(None, index=df.index, dtype=object)

    def one(rec, solver):
        if isinstance(rec, str) and rec:
            return rec
        spec = SOLVERS.get(solver) if isinstance(solver, str) else None
        return spec.loss if spec is not None else None

    return pd.Series([one(r, s) for r, s in zip(recorded, df["solver"], strict=True)], index=df.index,
                     name="loss", dtype=object)


def _usable(df: pd.DataFrame, column: str) -> pd.Series:
    """Rows with status ok and a finite value of ``column``."""
    values = pd.to_numeric(df[column], errors="coerce").astype(float)
    return (df["status"] == _USABLE).to_numpy() & np.isfinite(values.to_numpy())


# --------------------------------------------------------------------------- best-known optimum


def best_known(df: pd.DataFrame, history: pd.DataFrame | None = None, *,
               exclude: Sequence[str] = ()) -> pd.DataFrame:
    """The best-known optimum f* of every problem, for each loss.

    For a problem and a loss, f* is the lowest value of that loss's measure
    (:data:`LOSS_MEASURES`: ``weighted_kl`` for ``kl``, ``weighted_frobenius``
    for ``frobenius``, both on the training entries) reached by any record of
    the problem, whatever solver produced it and whatever loss that solver
    minimises: every returned factorisation is a feasible point, so its value
    is an upper bound on the optimum, and the lowest one is the best bound
    known. Long reference runs count as soon as they are records of the same
    problem (any tag). Only records with status ``ok`` and a finite value count.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.
    history : pandas.DataFrame, optional
        The matching table from :func:`nmfexp.results.load_history`. Every
        recorded iterate is a feasible point too, so the lowest objective of
        each job's history also counts, for the loss that job's solver
        minimises (its history measures that loss). Without it, only final
        values count.
    exclude : sequence of str, optional
        Solvers whose records must not count because their result is not a
        feasible point of the problem (not non-negative, or above the rank):
        an unconstrained imputation baseline such as soft-impute.

    Returns
    -------
    pandas.DataFrame
        One row per problem and loss with at least one finite value:
        ``problem``, the problem columns, ``loss``, ``measure``, ``fstar``,
        ``job`` and ``solver`` of the record that reached it, ``source``
        (``"final"`` or ``"history"``: an iterate of that job), ``n_records``
        (records with a finite value of the measure) and ``n_solvers``.
    """
    _require(df, ["job", "solver", "status", "dataset", "seed"], "best_known")
    exclude = set([exclude] if isinstance(exclude, str) else exclude)
    keys = problem_key(df)
    cols = problem_columns(df)
    counted = ~df["solver"].isin(exclude).to_numpy()
    candidates = []
    for loss, measure in LOSS_MEASURES.items():
        if measure not in df.columns:
            continue
        use = counted & _usable(df, measure)
        part = pd.DataFrame({"problem": keys[use], "loss": loss, "measure": measure,
                             "value": df.loc[use, measure].astype(float), "job": df.loc[use, "job"],
                             "solver": df.loc[use, "solver"], "source": "final"})
        candidates.append(part)
    if history is not None and len(history):
        _require(history, ["job", "objective"], "best_known(history=...)")
        info = pd.DataFrame({"problem": keys, "loss": own_loss(df), "job": df["job"], "solver": df["solver"],
                             "ok": (df["status"] == _USABLE).to_numpy() & counted})
        info = info[info["ok"] & info["loss"].isin(list(LOSS_MEASURES))].drop_duplicates("job").set_index("job")
        h = history[history["job"].isin(info.index)]
        obj = pd.to_numeric(h["objective"], errors="coerce").astype(float)
        h = h.assign(objective=obj)[np.isfinite(obj.to_numpy())]
        if len(h):
            low = h.loc[h.groupby("job")["objective"].idxmin(), ["job", "objective"]].set_index("job")
            low = low.join(info)
            candidates.append(pd.DataFrame({
                "problem": low["problem"], "loss": low["loss"], "measure": low["loss"].map(LOSS_MEASURES),
                "value": low["objective"], "job": low.index, "solver": low["solver"], "source": "history"}))
    out_cols = ["problem", *cols, "loss", "measure", "fstar", "job", "solver", "source", "n_records", "n_solvers"]
    if not candidates or all(c.empty for c in candidates):
        return pd.DataFrame(columns=out_cols)
    cand = pd.concat([c for c in candidates if not c.empty], ignore_index=True)
    # the lowest value; among equal values a final value before an iterate, then the job name (deterministic)
    cand = cand.sort_values(["problem", "loss", "value", "source", "job"], kind="stable")
    best = cand.drop_duplicates(["problem", "loss"]).rename(columns={"value": "fstar"})
    finals = cand[cand["source"] == "final"].groupby(["problem", "loss"])
    counts = finals.agg(n_records=("job", "nunique"), n_solvers=("solver", "nunique")).reset_index()
    best = best.merge(counts, on=["problem", "loss"], how="left")
    best[["n_records", "n_solvers"]] = best[["n_records", "n_solvers"]].fillna(0).astype(int)
    described = pd.concat([keys, df[cols]], axis=1).drop_duplicates("problem")
    best = best.merge(described, on="problem", how="left")
    return best[out_cols].sort_values(["problem", "loss"]).reset_index(drop=True)


def _relative_gap(value: np.ndarray, fstar: np.ndarray) -> np.ndarray:
    """(f - f*) / f*, with f* = 0 (an exact fit is known): 0 where f = 0 too, inf where f > 0."""
    value, fstar = np.asarray(value, float), np.asarray(fstar, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (value - fstar) / fstar
    zero = fstar == 0
    rel[zero] = np.where(value[zero] == 0, 0.0, np.inf)
    return rel


def suboptimality(df: pd.DataFrame, fstar: pd.DataFrame, history: pd.DataFrame | None = None, *,
                  loss: str | None = None) -> pd.DataFrame:
    """How far each job (or each recorded iterate) is from the best-known optimum.

    ``suboptimality = (f - f*) / f*`` on the job's own loss (the one its
    solver minimises, :func:`own_loss`), or on ``loss`` for every job. When
    f* = 0 (a problem some record fits exactly) the relative gap is 0 for
    f = 0 and ``inf`` otherwise, with no division by zero; ``gap = f - f*``
    (absolute) is given alongside for such problems. A value below f* (an
    iterate, when f* was computed without the histories) gives a negative
    suboptimality: compute f* with the same ``history`` to avoid it.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.
    fstar : pandas.DataFrame
        From :func:`best_known` (columns ``problem``, ``loss``, ``fstar``).
    history : pandas.DataFrame, optional
        From :func:`nmfexp.results.load_history`: then one row per recorded
        iteration of each job whose history measures the loss asked for, with
        ``iteration`` and ``time`` (seconds of updates) for plots against
        either.
    loss : {"kl", "frobenius"}, optional
        Score every job on this loss instead of its own. With ``history``, only
        jobs whose solver minimises it have rows (a history records the
        solver's own loss only).

    Returns
    -------
    pandas.DataFrame
        Per job: ``job, solver, status, problem, loss, measure, value, fstar,
        gap, suboptimality`` (NaN where the job has no usable value or its
        problem no f*). With ``history``: ``job, solver, problem, loss,
        iteration, time, objective, fstar, gap, suboptimality``.
    """
    _require(df, ["job", "solver", "status", "dataset", "seed"], "suboptimality")
    _require(fstar, ["problem", "loss", "fstar"], "suboptimality(fstar=...)")
    if loss is not None and loss not in LOSS_MEASURES:
        raise ValueError(f"loss must be one of {', '.join(LOSS_MEASURES)} or None (each job's own), got {loss!r}.")
    own = own_loss(df)
    jobs = pd.DataFrame({"job": df["job"].to_numpy(), "solver": df["solver"].to_numpy(),
                         "status": df["status"].to_numpy(), "problem": problem_key(df).to_numpy(),
                         "loss": own.to_numpy() if loss is None else loss})
    ref = fstar[["problem", "loss", "fstar"]].drop_duplicates(["problem", "loss"])
    jobs = jobs.merge(ref, on=["problem", "loss"], how="left")
    jobs.insert(5, "measure", jobs["loss"].map(LOSS_MEASURES))
    if history is None:
        value = np.full(len(jobs), np.nan)
        for measure in LOSS_MEASURES.values():
            rows = (jobs["measure"] == measure).to_numpy()
            if measure in df.columns and rows.any():
                v = pd.to_numeric(df[measure], errors="coerce").astype(float).to_numpy()
                value[rows] = np.where(jobs["status"].to_numpy()[rows] == _USABLE, v[rows], np.nan)
        jobs["value"] = value
        jobs = jobs[["job", "solver", "status", "problem", "loss", "measure", "value", "fstar"]]
        jobs["gap"] = jobs["value"] - jobs["fstar"]
        jobs["suboptimality"] = _relative_gap(jobs["value"], jobs["fstar"])
        return jobs.reset_index(drop=True)
    _require(history, ["job", "iteration", "time", "objective"], "suboptimality(history=...)")
    own_of = dict(zip(df["job"], own, strict=True))
    jobs = jobs[jobs["loss"] == jobs["job"].map(own_of)].drop_duplicates("job")
    h = history[["job", "iteration", "time", "objective"]].merge(
        jobs[["job", "solver", "problem", "loss", "fstar"]], on="job", how="inner")
    h = h[["job", "solver", "problem", "loss", "iteration", "time", "objective", "fstar"]]
    h = h.sort_values(["job", "iteration"], kind="stable").reset_index(drop=True)
    objective = pd.to_numeric(h["objective"], errors="coerce").astype(float)
    h["gap"] = objective - h["fstar"]
    h["suboptimality"] = _relative_gap(objective, h["fstar"])
    return h


# --------------------------------------------------------------------------- paired comparisons


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


def _one_record_each(df: pd.DataFrame, keys: pd.Series, solver_column: str) -> None:
    dup = df.assign(_problem=keys.to_numpy()).duplicated(["_problem", solver_column], keep=False)
    if not dup.any():
        return
    d = df[dup.to_numpy()]
    settings = [c for c in d.columns if c == "tag" or str(c).startswith(("solver.", "timing."))]
    groups = d.groupby([keys[dup.to_numpy()].to_numpy(), d[solver_column].to_numpy()])
    differ = [c for c in settings if groups[c].nunique(dropna=False).max() > 1]
    first = d.iloc[0]
    raise ValueError(
        f"{int(dup.sum())} records share a problem with another record of the same solver (e.g. "
        f"{first[solver_column]!r} on {first['dataset']!r}, seed {first['seed']}); they differ in "
        f"{', '.join(differ) or 'no setting (duplicate records)'}. Compare one set at a time: by=['tag'] or a "
        "filtered table (e.g. df[df['solver.params.max_iter'] == 200]), or name each variant in a column of "
        "its own and pass it as solver_column.")


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


# --------------------------------------------------------------------------- performance profiles


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
