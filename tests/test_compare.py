"""nmfexp-results compare: the jobs two result sets both hold, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmfexp import results
from nmfexp.experiment import run

QUICK = {"warmup": 0, "repeats": 1, "min_time": 0.0, "max_repeats": 1, "max_time": 60.0, "blas_threads": 1}


def conf(solver, seed=0) -> dict:
    params = {} if solver == "a1gm" else {"max_iter": 30, "tol": 1e-4}
    return {"dataset": {"kind": "uniform", "name": "uniform", "n_rows": 12}, "mask": {"kind": "grid", "rate": 0.05},
            "solver": {"name": solver, "params": params}, "timing": dict(QUICK), "seed": seed}


def test_compare_two_result_sets(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    for folder in (a, b):
        for solver in ("a1gm", "wnmf_kl"):
            run(conf(solver), folder)
    run(conf("wnmf_kl", seed=1), a)  # only in A
    table = results.compare(a, b)
    assert len(table) == 2 and table.attrs["only_a"] == 1 and table.attrs["only_b"] == 0
    assert (table["weighted_kl_diff"] == 0).all()  # the same seed gives the same numbers
    assert np.allclose(table["runtime_ratio"], table["runtime_b"] / table["runtime_a"])
    summary = results.compare_summary(table).set_index("solver")
    assert summary.loc["wnmf_kl", "jobs in both"] == 1 and summary.loc["a1gm", "status differs"] == 0
    out = tmp_path / "side.csv"
    assert results.main(["compare", str(a), str(b), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 2
    assert results.main(["compare", str(a), str(tmp_path / "missing")]) == 2
