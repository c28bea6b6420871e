"""``nmfexp-plot``: figures, tables and the HTML report from existing records (no solver runs).

    nmfexp-plot results/ --plots-dir plots/                 # every artifact (and any other sweep)
    nmfexp-plot results/ --plots-dir plots/ --report        # ... and plots/index.html
    nmfexp-plot results/fig5_synthetic --artifact fig5_synthetic   # one artifact: its figures and tables only
    nmfexp-plot results/mysweep --x mask.rate --y heldout_relative_error --hue solver [--col rank]
    nmfexp-plot results/mysweep --convergence --hue solver [--col mask_rate] [--iterations]
    nmfexp-plot --from-archive results.zip --plots-dir plots/   # verified, extracted to a temporary folder
    nmfexp-plot results/solver_zoo --suboptimality --hue solver [--col rank] [--x time|iteration]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

from ..record import ignore_sigxfsz
from ..results import RecordsWarning
from .artifacts import ARTIFACTS
from .stats import RUNTIME_STATISTICS

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nmfexp-plot",
        description="Regenerate figures and tables from existing HDF5 records (no solver runs): every paper "
                    "artifact found, generic figures for other sweeps, or one figure of your choice (--x/--y).")
    p.add_argument("results", nargs="?", default="results", help="results folder, record or merged file (default: results)")
    p.add_argument("--from-archive", metavar="ARCHIVE",
                   help="read the records from an archive of nmfexp-results archive instead of RESULTS: its manifest "
                        "is checked (checksums, safe paths, sizes), then it is extracted to a temporary folder")
    p.add_argument("--plots-dir", default="plots", help="where figures and tables go (default: plots)")
    p.add_argument("--report", action="store_true", help="also write <plots-dir>/index.html with every figure and "
                                                         "table, the environment, deviations and references")
    p.add_argument("--artifact", action="append", metavar="NAME",
                   help=f"draw this paper artifact only (repeatable; one of {', '.join(ARTIFACTS)}); its tables only")
    p.add_argument("--runtime-statistic", choices=list(RUNTIME_STATISTICS), default="median",
                   help="per-job runtime: median (default) or minimum of its timing samples, across seeds the median "
                        "with the interquartile range; 'mean': mean and SD pooled over seeds (the reference code's)")
    p.add_argument("--exclude-concurrent", action="store_true",
                   help="leave out the runtimes of jobs timed while other nmfexp jobs were timed on the same host "
                        "(execution.concurrent_jobs > 1; footers say how many there are); other results still count")
    p.add_argument("--x-axis", choices=["n", "3n"], default="n",
                   help="x axis of Fig. 5: n, the side of the n x n matrix (default), or 3n, the axis the reference "
                        "plot.jl draws ('Matrix size N')")
    g = p.add_argument_group("one figure of any sweep")
    g.add_argument("--x", help="column on the x axis (e.g. mask.rate, n_rows, rank)")
    g.add_argument("--y", help="numeric column on the y axis (e.g. heldout_relative_error, runtime_median)")
    g.add_argument("--hue", help="one line per value of this column (e.g. solver)")
    g.add_argument("--col", help="one panel per value of this column")
    g.add_argument("--tag", help="only records with this tag (the preset or your own 'tag=' override)")
    g.add_argument("--logx", action=argparse.BooleanOptionalAction, default=None, help="force a log (or linear) x axis")
    g.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None, help="force a log (or linear) y axis")
    g.add_argument("--name", help="file stem of the figure (default from the columns)")
    g.add_argument("--convergence", action="store_true",
                   help="objective vs update time (or --iterations) with quantile bands, per --hue (default solver when "
                        "the records hold several) and --col")
    g.add_argument("--iterations", action="store_true", help="with --convergence: iterations on the x axis")
    g.add_argument("--suboptimality", action="store_true",
                   help="(f(t) - f*) / f* against the best-known optimum of each problem, on each solver's own loss "
                        "(KL and Frobenius in separate panels), median and 10-90%% bands over runs; --x time "
                        "(default) or iteration; --hue (default solver) and --col split the runs. Records tagged "
                        "solver_reference(_quick) count towards f* and are not drawn")
    g.add_argument("--reference", metavar="RESULTS",
                   help="with --suboptimality: reference runs of the same problems (a folder, record or merged file, "
                        "e.g. of nmfexp-run -m +experiment=solver_reference) whose values count towards f*")
    return p


def _one_figure(args, parser) -> int:
    import pandas as pd

    from .artifacts import read_results
    from .suboptimality import X_AXES, split_reference, write_suboptimality
    from .sweep import write_convergence, write_sweep

    df, hist, _ = read_results(args.results)
    if args.exclude_concurrent:
        from .stats import exclude_concurrent

        df = exclude_concurrent(df)
    if args.tag is not None:
        df, hist = df[df["tag"] == args.tag], hist[hist["tag"] == args.tag] if not hist.empty else hist
    if df.empty:
        print(f"nmfexp-plot: no records in {args.results}" + (f" with tag {args.tag!r}" if args.tag else ""),
              file=sys.stderr)
        return 2
    if args.suboptimality and args.x not in (None, *X_AXES):
        parser.error(f"with --suboptimality, --x is one of {', '.join(X_AXES)} (got {args.x!r})")
    if args.suboptimality and (args.y or args.convergence):
        parser.error("--suboptimality draws its own y axis; leave out --y and --convergence")
    if args.reference and not args.suboptimality:
        parser.error("--reference is for --suboptimality (reference runs count towards f*)")
    try:
        if args.suboptimality:
            df, reference = split_reference(df)
            if args.reference:
                reference = pd.concat([reference, read_results(args.reference)[0]], ignore_index=True)
            written = write_suboptimality(df, hist, args.plots_dir, x=args.x or "time", hue=args.hue or "solver",
                                          col=args.col, stem=args.name, reference=reference)
        elif args.convergence:
            several = "solver" in df and df["solver"].nunique() > 1  # never pool two solvers into one band
            written = write_convergence(hist, args.plots_dir, hue=args.hue or ("solver" if several else None),
                                        col=args.col,
                                        x="iteration" if args.iterations else "time", stem=args.name,
                                        records=df)
        else:
            if not (args.x and args.y):
                parser.error("a figure of your choice needs both --x and --y (or --convergence)")
            written = write_sweep(df, args.plots_dir, args.x, args.y, args.hue, args.col, stem=args.name,
                                  logx=args.logx, logy=args.logy)
    except ValueError as exc:
        print(f"nmfexp-plot: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console script ``nmfexp-plot``."""
    parser = _parser()
    args = parser.parse_args(argv)
    ignore_sigxfsz()
    if args.from_archive is not None:
        if args.results != "results" and args.results is not None:
            parser.error("give either RESULTS or --from-archive, not both")
        from ..archive import opened_archive

        with contextlib.ExitStack() as stack:
            try:  # only the archive's own problems are reported here; drawing reports its own
                found = stack.enter_context(opened_archive(args.from_archive))
            except ValueError as exc:
                print(f"nmfexp-plot: {exc}", file=sys.stderr)
                return 2
            print(f"nmfexp-plot: {args.from_archive}: {len(found.members) - 1} files match their manifest",
                  file=sys.stderr)
            args.results = str(found.extracted)
            return _draw(args, parser)
    return _draw(args, parser)


def _draw(args, parser) -> int:
    if not Path(args.results).exists():
        print(f"nmfexp-plot: {args.results} does not exist; run nmfexp-reproduce or nmfexp-run first.", file=sys.stderr)
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordsWarning)
        if args.x or args.y or args.convergence or args.suboptimality or args.hue or args.col:
            status = _one_figure(args, parser)
        else:
            from .artifacts import plot_all

            unknown = sorted(set(args.artifact or ()) - set(ARTIFACTS))
            if unknown:
                parser.error(f"unknown artifact(s) {', '.join(unknown)}; choose from {', '.join(ARTIFACTS)}")
            out = plot_all(args.results, args.plots_dir, statistic=args.runtime_statistic, report=args.report,
                           errors="report", x_axis=args.x_axis, only=args.artifact,
                           exclude_concurrent=args.exclude_concurrent)
            status = 1 if out.outcome.errors else 0
            if not any(out.values()):
                print("nmfexp-plot: nothing to draw (no records with status ok). For a figure of your own: "
                      "nmfexp-plot PATH --x COLUMN --y COLUMN [--hue COLUMN] [--col COLUMN]", file=sys.stderr)
            if args.report:
                print(f"report: {Path(args.plots_dir) / 'index.html'}")
    for w in caught:
        if issubclass(w.category, RecordsWarning):
            print(f"nmfexp-plot: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return status


if __name__ == "__main__":
    sys.exit(main())
