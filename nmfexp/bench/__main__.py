"""``python -m nmfexp.bench``: print every benchmark line of the chosen suites."""

from __future__ import annotations

import argparse

from threadpoolctl import threadpool_limits

from . import __doc__ as _doc

SUITES = ("core", "zoo", "runner", "launchers", "results", "sparse", "all")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nmfexp.bench", description=_doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for a smoke check)")
    parser.add_argument("--suite", choices=SUITES, default="core")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for every measurement (default 1)")
    parser.add_argument("--job-seconds", type=float, default=20.0,
                        help="launchers suite: solver seconds of each of the eight long jobs (default 20)")
    parser.add_argument("--workloads", default="tiny,long,reproduce",
                        help="launchers suite: comma-separated workloads among tiny, long, reproduce "
                             "(default: all three)")
    parser.add_argument("--launchers", help="launchers suite: comma-separated launchers to compare with basic "
                                            "(default: every one available)")
    args = parser.parse_args(argv)
    if args.job_seconds <= 0:
        parser.error(f"--job-seconds must be positive, got {args.job_seconds}")
    with threadpool_limits(args.threads):
        print(f"nmfexp benchmarks (BLAS threads: {args.threads}; ratios are side by side in this run)")
        if args.suite in ("core", "all"):
            from .core import core_suite

            for line in core_suite(args.quick):
                print(line, flush=True)
        if args.suite in ("zoo", "all"):
            from .zoo import zoo_suite

            for line in zoo_suite(args.quick):
                print(line, flush=True)
        if args.suite in ("runner", "all"):
            from .runner import runner_suite

            for line in runner_suite(args.quick):
                print(line, flush=True)
        if args.suite == "sparse":  # minutes at 1M stored entries: not part of "all"
            from .peers import sparse_suite

            for line in sparse_suite(args.quick):
                print(line, flush=True)
        if args.suite == "results":  # minutes of reading records: not part of "all"
            from .results import results_suite

            for line in results_suite(args.quick):
                print(line, flush=True)
        if args.suite == "launchers":  # minutes of whole sweeps per launcher: not part of "all"
            from .runner import launcher_suite

            try:
                lines = launcher_suite(args.quick, args.job_seconds, tuple(w for w in args.workloads.split(",") if w),
                                       tuple(n for n in args.launchers.split(",") if n) if args.launchers else None)
            except ValueError as exc:
                parser.error(str(exc))
            for line in lines:
                print(line, flush=True)


if __name__ == "__main__":
    main()
