"""Which problem a job solves, the best-known optimum of each problem, and how far each job is from it.

See :mod:`nmfexp.analysis` for what a problem is.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["PROBLEM_COLUMNS", "PROBLEM_PREFIXES", "LOSS_MEASURES", "problem_columns", "problem_key", "own_loss",
           "INFEASIBLE", "REFERENCE_TAG", "CORPUS_REFERENCE_TAG", "REFERENCE_TAGS", "best_known", "reference_gain", "suboptimality", "CONVERGED_REASONS", "converged"]

#: Short columns of :func:`nmfexp.results.load` that belong to the problem a job solves.
PROBLEM_COLUMNS = ("dataset", "n_rows", "n_cols", "mask", "mask_rate", "holdout", "seed", "rank")
#: Config columns with these prefixes belong to the problem too (every data-set and mask option).
PROBLEM_PREFIXES = ("dataset.", "mask.")
#: Solvers whose result is not a feasible point of rank-r NMF (an unconstrained low-rank imputation):
#: they are scored against f* but never define it (``best_known(..., exclude=INFEASIBLE)``).
INFEASIBLE = ("soft_impute",)
#: The tag of the reference runs (preset ``solver_reference``; ``<tag>_quick`` for its quick run): records
#: whose values count towards f* of the solver zoo's problems and that are never compared or drawn.
REFERENCE_TAG = "solver_reference"
#: The same for the corpus zoo (preset ``real_data_corpus_reference``).
CORPUS_REFERENCE_TAG = "real_data_corpus_reference"
#: Every tag of reference runs, quick runs included.
REFERENCE_TAGS = tuple(t for tag in (REFERENCE_TAG, CORPUS_REFERENCE_TAG) for t in (tag, f"{tag}_quick"))
#: The metric column that measures each solver loss on the training entries.
LOSS_MEASURES = {"kl": "weighted_kl", "frobenius": "weighted_frobenius"}

_USABLE = "ok"


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
    from ..solvers import SOLVERS

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


def _one_record_each(df: pd.DataFrame, keys: pd.Series, solver_column: str) -> None:
    """A ValueError naming the differing settings when a solver has several records of one problem."""
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


# --------------------------------------------------------------------------- best-known optimum


def best_known(df: pd.DataFrame, history: pd.DataFrame | None = None, *,
               exclude: Sequence[str] = (), reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """The best-known optimum f* of every problem, for each loss.

    For a problem and a loss, f* is the lowest value of that loss's measure
    (:data:`LOSS_MEASURES`: ``weighted_kl`` for ``kl``, ``weighted_frobenius``
    for ``frobenius``, both on the training entries) reached by any record of
    the problem, whatever solver produced it and whatever loss that solver
    minimises: every returned factorisation is a feasible point, so its value
    is an upper bound on the optimum, and the lowest one is the best bound
    known. Long reference runs count as soon as they are records of the same
    problem (any tag), or when passed as ``reference``. Only records with
    status ``ok`` and a finite value count.

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
    reference : pandas.DataFrame, optional
        Records of reference runs (the ``solver_reference`` preset: the same
        problems solved far longer, from several starts): their final values
        count towards f* of the problems of ``df`` they solve (``source``
        ``"reference"``), and they add no problem of their own.

    Returns
    -------
    pandas.DataFrame
        One row per problem and loss with at least one finite value:
        ``problem``, the problem columns, ``loss``, ``measure``, ``fstar``,
        ``job`` and ``solver`` of the record that reached it, ``source``
        (``"final"``, ``"history"``: an iterate of that job, or
        ``"reference"``: a reference run), ``n_records`` (records of ``df``
        with a finite value of the measure) and ``n_solvers``.
    """
    _require(df, ["job", "solver", "status", "dataset", "seed"], "best_known")
    exclude = set([exclude] if isinstance(exclude, str) else exclude)
    n_own = len(df)
    if reference is not None and len(reference):
        _require(reference, ["job", "solver", "status", "dataset", "seed"], "best_known(reference=...)")
        # the reference keyed by df's problem columns only, so that df's keys are those it has alone (the ones
        # suboptimality() merges on); a reference run lacking one of them solves no problem of df
        df = pd.concat([df, reference[[c for c in reference.columns if c in df.columns]]], ignore_index=True)
    keys = problem_key(df)
    cols = problem_columns(df)
    counted = ~df["solver"].isin(exclude).to_numpy()
    own = np.arange(len(df)) < n_own
    candidates = []
    for loss, measure in LOSS_MEASURES.items():
        if measure not in df.columns:
            continue
        use = counted & _usable(df, measure)
        part = pd.DataFrame({"problem": keys[use], "loss": loss, "measure": measure,
                             "value": df.loc[use, measure].astype(float), "job": df.loc[use, "job"],
                             "solver": df.loc[use, "solver"],
                             "source": np.where(own[use], "final", "reference")})
        candidates.append(part[part["problem"].isin(set(keys[own]))])
    if history is not None and len(history):
        _require(history, ["job", "objective"], "best_known(history=...)")
        info = pd.DataFrame({"problem": keys, "loss": own_loss(df), "job": df["job"], "solver": df["solver"],
                             "ok": (df["status"] == _USABLE).to_numpy() & counted & own})
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
    described = pd.concat([keys[own], df.loc[own, cols]], axis=1).drop_duplicates("problem")
    best = best.merge(described, on="problem", how="left")
    return best[out_cols].sort_values(["problem", "loss"]).reset_index(drop=True)


def reference_gain(df: pd.DataFrame, reference: pd.DataFrame, history: pd.DataFrame | None = None, *,
                   exclude: Sequence[str] = ()) -> pd.DataFrame:
    """How much lower f* is with the reference runs than with the records of ``df`` alone, per problem and loss.

    Parameters
    ----------
    df, history, exclude
        As for :func:`best_known` (the compared runs and their iterates).
    reference : pandas.DataFrame
        Records of reference runs of the same problems.

    Returns
    -------
    pandas.DataFrame
        The table of ``best_known(df, history, exclude=exclude, reference=reference)`` with ``fstar_own``
        (f* from ``df`` and ``history`` alone) and ``gain``, ``(fstar_own - fstar) / fstar`` (0 where the
        reference runs did not improve on it; where f* is 0: 0 if ``fstar_own`` is 0 too, else inf).
    """
    both = best_known(df, history, exclude=exclude, reference=reference)
    own = best_known(df, history, exclude=exclude)
    out = both.merge(own[["problem", "loss", "fstar"]].rename(columns={"fstar": "fstar_own"}),
                     on=["problem", "loss"], how="left")
    out["gain"] = _relative_gap(out["fstar_own"].to_numpy(), out["fstar"].to_numpy())
    return out


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


#: Stop reasons that mean the run met its stopping rule (or needs none).
CONVERGED_REASONS = ("tol", "closed_form")


def converged(df: pd.DataFrame) -> pd.Series:
    """Whether each job met its stopping rule: from ``stop_reason`` when recorded (``tol`` or
    ``closed_form``), else from ``converged``; a record that says neither counts as not converged.

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`nmfexp.results.load`.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``df``, named ``converged``.
    """
    out = pd.Series(False, index=df.index, name="converged")
    if "converged" in df:
        out = df["converged"].map(lambda v: bool(v) if isinstance(v, (bool, np.bool_)) else v is True)
    if "stop_reason" in df:
        reason = df["stop_reason"]
        known = reason.map(lambda v: isinstance(v, str) and v != "")
        out = out.where(~known, reason.isin(CONVERGED_REASONS))
    return out.astype(bool).rename("converged")
