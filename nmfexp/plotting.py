"""Compatibility module: the figures now live in :mod:`nmfexp.figures`.

``nmfexp.plotting.plot_all``, ``plot_fig5``, ... and ``python -m nmfexp.plotting``
keep working; new code should import from :mod:`nmfexp.figures`.
"""

from __future__ import annotations

import sys

from .figures import (
    RC,
    fig5_summary,
    patterns_summary,
    plot_all,
    plot_fig5,
    plot_missing_patterns,
    plot_solver_comparison,
    real_data_table,
    write_table,
)
from .figures.cli import main
from .figures.style import PATTERN_STYLE
from .figures.style import SOLVER_STYLE as STYLE

__all__ = ["plot_fig5", "plot_missing_patterns", "real_data_table", "plot_solver_comparison", "plot_all",
           "write_table", "fig5_summary", "patterns_summary", "main", "RC", "STYLE", "PATTERN_STYLE"]

if __name__ == "__main__":
    sys.exit(main())
