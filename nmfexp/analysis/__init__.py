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

Modules: :mod:`~nmfexp.analysis.problems` (problem identity, best-known
optimum, suboptimality), :mod:`~nmfexp.analysis.paired` (paired comparisons,
Holm, the command's report), :mod:`~nmfexp.analysis.profiles` (performance
profiles); everything is importable from ``nmfexp.analysis``.
"""

from .paired import DEFAULT_TIE, compare_solvers, comparison_report, holm, paired, paired_statistics
from .problems import (
    LOSS_MEASURES,
    PROBLEM_COLUMNS,
    PROBLEM_PREFIXES,
    best_known,
    own_loss,
    problem_columns,
    problem_key,
    reference_gain,
    suboptimality,
)
from .profiles import performance_profile, performance_ratios

__all__ = [
    "PROBLEM_COLUMNS",
    "PROBLEM_PREFIXES",
    "LOSS_MEASURES",
    "DEFAULT_TIE",
    "problem_columns",
    "problem_key",
    "reference_gain",
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
