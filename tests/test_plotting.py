"""Importing nmfexp.figures (and the compatibility module nmfexp.plotting) and making figures
leaves matplotlib's global state alone."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nmfexp import plotting

PROBE = textwrap.dedent("""
    import json, sys
    import matplotlib
    def state():
        return {"backend": matplotlib.get_backend(),
                "rc": {k: repr(v) for k, v in matplotlib.rcParams.items() if k != "backend"},
                "pyplot": "matplotlib.pyplot" in sys.modules}
    before = state()
    import nmfexp.figures, nmfexp.figures.cli, nmfexp.figures.report, nmfexp.reproduce
    import nmfexp.plotting as p
    after_import = state()
    import pandas as pd
    df = pd.read_pickle(sys.argv[1])
    written = p.plot_fig5(df, __import__("pathlib").Path(sys.argv[2]))
    fig = nmfexp.figures.plot_sweep(df, "n_rows", "runtime_median", hue="solver")
    after_figure = state()
    print(json.dumps({"before": before, "after_import": after_import, "after_figure": after_figure,
                      "written": [str(w) for w in written]}))
""")


def fig5_table(tmp_path: Path) -> Path:
    """A small table shaped like load()'s output for the Fig. 5 preset."""
    rows = []
    for solver in ("a1gm", "wnmf_kl"):
        for n in (10, 20):
            for seed in (0, 1):
                rows.append({"tag": "fig5_synthetic", "status": "ok", "solver": solver, "n_rows": n, "seed": seed,
                             "runtime_mean": 1e-4 * n * (1 if solver == "a1gm" else 5), "runtime_std": 1e-5,
                             "runtime_median": 1e-4 * n * (1 if solver == "a1gm" else 5),
                             "runtime_samples": 3, "weighted_kl": float(n), "n_iter": 0 if solver == "a1gm" else 3})
    df = pd.DataFrame(rows).astype({"n_rows": "Int64", "seed": "Int64", "runtime_samples": "Int64",
                                    "n_iter": "Int64"})
    path = tmp_path / "fig5.pkl"
    df.to_pickle(path)
    return path


@pytest.mark.slow
def test_import_and_figures_leave_backend_and_rcparams_alone(tmp_path):
    table = fig5_table(tmp_path)
    out = subprocess.run([sys.executable, "-c", PROBE, str(table), str(tmp_path / "plots")], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "MPLBACKEND": "svg"})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["before"]["backend"] == "svg"
    assert got["after_import"] == got["before"]  # no matplotlib.use("Agg"), no rcParams.update
    assert got["after_figure"] == got["before"]  # figures do not touch pyplot or the global style
    assert not got["after_figure"]["pyplot"]
    assert sorted(Path(p).name for p in got["written"]) == ["fig5_error.pdf", "fig5_error.png", "fig5_runtime.pdf",
                                                            "fig5_runtime.png", "fig5_table.csv", "fig5_table.md",
                                                            "fig5_table.tex"]


def _png_dpi(path: Path) -> float:
    data = path.read_bytes()
    at = data.index(b"pHYs")
    per_metre, _, _ = struct.unpack(">IIB", data[at + 4:at + 13])
    return per_metre * 0.0254


@pytest.mark.slow
def test_figures_still_use_the_house_style(tmp_path):
    df = pd.read_pickle(fig5_table(tmp_path))
    written = plotting.plot_fig5(df, tmp_path)
    png = next(p for p in written if p.name == "fig5_runtime.png")
    assert round(_png_dpi(png)) == plotting.RC["savefig.dpi"] == 200
    table = pd.read_csv(tmp_path / "fig5_table.csv")
    assert table["n"].tolist() == [10, 20] and np.allclose(table["speed ratio (WNMF/A1GM)"], 5.0)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no SIGXFSZ on this platform")
def test_nmfexp_plot_ignores_sigxfsz(tmp_path):
    before = signal.getsignal(signal.SIGXFSZ)
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        assert plotting.main([str(tmp_path), "--plots-dir", str(tmp_path / "plots")]) == 0
        assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGXFSZ, before)
