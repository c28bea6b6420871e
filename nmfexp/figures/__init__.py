"""Figures, tables and the HTML report, from HDF5 records alone (no solver runs).

One module per artifact, a shared style and the statistics they use:

==========================  ================================================================
module                      what it makes
==========================  ================================================================
:mod:`.fig5`                paper Fig. 5(a)(b): ``fig5_runtime``, ``fig5_error``, ``fig5_table``
:mod:`.patterns`            ``a1gm_good_enough`` and its table (missing patterns and rates)
:mod:`.real_data`           ``real_data_table``, ``real_data_paper_table`` (the paper's columns)
:mod:`.zoo`                 ``zoo_*``: convergence, held-out error, time to target
:mod:`.corpus`              ``corpus_*``: A1GM over the corpus of R tables, performance profiles
:mod:`.sweep`               any sweep: :func:`plot_sweep`, :func:`plot_convergence`, :func:`auto_sweep`
:mod:`.report`              ``index.html``: every figure and table, environment, deviations
                            (``deviations.md``), references
:mod:`.stats`               runtime statistics, paired ratios, time to target, performance profiles
:mod:`.style`               colours, markers, matplotlib settings, file writers
:mod:`.registry`            :data:`ARTIFACTS` (shared with ``nmfexp-reproduce``) and the captions
:mod:`.artifacts`           :func:`plot_all`: every artifact, other sweeps and the report
:mod:`.cli`                 the ``nmfexp-plot`` command
==========================  ================================================================

Importing this package changes neither matplotlib's backend nor its rcParams:
figures are :class:`matplotlib.figure.Figure` objects (no pyplot) drawn under
a local ``rc_context``.

    nmfexp-plot results/ --plots-dir plots/ [--report]
"""

from .artifacts import ARTIFACTS, DEFAULT_ARTIFACTS, Artifact, plot_all
from .fig5 import fig5_summary, plot_fig5
from .patterns import patterns_summary, plot_missing_patterns
from .real_data import real_data_table
from .report import write_report
from .stats import performance_profile, time_to_target
from .style import RC, write_table
from .sweep import auto_sweep, convergence_summary, plot_convergence, plot_sweep, sweep_summary
from .zoo import plot_solver_comparison

__all__ = [
    "ARTIFACTS", "DEFAULT_ARTIFACTS", "Artifact", "plot_all", "write_report",
    "plot_fig5", "fig5_summary", "plot_missing_patterns", "patterns_summary", "real_data_table",
    "plot_solver_comparison", "plot_sweep", "sweep_summary", "plot_convergence", "convergence_summary",
    "auto_sweep", "performance_profile", "time_to_target", "write_table", "RC",
]
