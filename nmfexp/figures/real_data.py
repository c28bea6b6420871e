"""The paper's real-data table: A1GM against WNMF-KL on tables with their own gaps.

Artifacts: ``real_data_table`` (preset ``real_data``, the packaged data sets)
and ``real_data_paper_table`` (preset ``real_data_paper``, the paper's 23 data
sets once their files are in place). The corpus of R tables has its own
module (:mod:`nmfexp.figures.corpus`) built on :func:`real_data_table`.

A data set whose records failed still gets a row: its shape and counts are
left empty and the note says what went wrong; when the failure was that its
data are not on the machine (:class:`~nmfexp.data.real.DataUnavailable`),
and for a data set of the preset that has no record at all (the
reproduction leaves unavailable ones out of the sweep), the status is ``not
available`` and the note says how to get the data. The ``source`` column
says where each data set's records read it from: package, release, file and
licence, as the records store it.

The columns are those the reference code's ``show_results.jl`` prints, in
its order: dataset, shape, size, num_missing, num_missing_up (here "missing
after A1GM completion"), times_num_missing ("ratio"), WNMF WKLerror, A1GM
WKLerror, relative WKLerror, WNMF runtime, A1GM runtime, relative runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .stats import RUNTIME_STATISTICS, check_statistic, first_sentence, ok, paired, quartiles, select
from .style import write_table

__all__ = ["real_data_table", "readme_real_data_table", "README_COLUMNS", "REAL_DATA_NOTE", "make_real_data", "make_real_data_paper", "preset_datasets"]

NOT_AVAILABLE = "not available"
#: The columns of :func:`real_data_table` (then ``source`` when asked for).
COLUMNS = ("dataset", "shape", "size", "missing", "missing after A1GM completion", "ratio", "WNMF KL", "A1GM KL",
           "relative KL (A1GM/WNMF)", "WNMF runtime (s)", "A1GM runtime (s)", "relative runtime (A1GM/WNMF)",
           "status", "note", "seeds")
_UNAVAILABLE_PREFIX = "DataUnavailable: "  # how a job's record words the failure of a missing data set

#: How the columns of :func:`real_data_table` are computed.
REAL_DATA_NOTE = (
    "WNMF KL, A1GM KL and runtimes: median over seeds ({stat}); relative KL and relative runtime: "
    "A1GM/WNMF per seed on the same table, median over seeds; missing after A1GM completion: the "
    "missing entries plus those A1GM's step 1 adds; ratio: that over the missing entries (the reference "
    "code's show_results.jl columns num_missing_up and times_num_missing); source: package, release, file and "
    "licence the records read the data from.")


def _int_or_nan(value) -> float | int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return np.nan
    return int(v) if np.isfinite(v) else np.nan


def _facts(g: pd.DataFrame) -> pd.Series | None:
    """The data facts of a data set from its first record that has them (None if none has)."""
    have = g[pd.to_numeric(g["n_rows"], errors="coerce").notna()] if "n_rows" in g else g.iloc[0:0]
    return have.iloc[0] if len(have) else None


def preset_datasets(preset: str) -> list[str]:
    """The data sets a preset sweeps over (``hydra.sweeper.params.dataset`` of ``experiments/<preset>.yaml``),
    or ``[]`` when it has no such list."""
    from omegaconf import OmegaConf

    from ..experiment.config import experiments_dir

    path = experiments_dir() / f"{preset}.yaml"
    if not path.is_file():
        return []
    value = OmegaConf.select(OmegaConf.load(path), "hydra.sweeper.params.dataset", default=None)
    return [v.strip() for v in str(value).split(",") if v.strip()] if value else []


def _origin(g: pd.DataFrame) -> str:
    """Where the data set's records say its data came from (``dataset_meta/origin`` of one record)."""
    from ..record import read_record

    for path in g.sort_values("status", key=lambda s: s != "ok")["path"].dropna():
        try:
            meta = read_record(path).groups.get("dataset_meta", {})
        except (OSError, ValueError):
            continue
        if meta.get("origin"):
            return str(meta["origin"])
    return ""


def _missing_rows(expected, present) -> list[dict]:
    """Rows for expected data sets without records: not available (and why), or not run."""
    from ..data.real import availability

    rows = []
    for name in expected:
        if name in present:
            continue
        try:
            why = availability(name)
        except ValueError as exc:  # not a registered real data set
            why = str(exc)
        rows.append({"dataset": name, "status": NOT_AVAILABLE if why else "not run",
                     "note": first_sentence(why, short=False) if why else "no records", "seeds": 0})
    return rows


def real_data_table(df: pd.DataFrame, tag: str = "real_data", statistic: str = "median", *,
                    expected=(), sources: bool = False) -> pd.DataFrame:
    """The paper's real-data table, one row per data set.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`nmfexp.results.load` table; records tagged ``tag`` (or
        ``<tag>_quick``) are used, whatever their status.
    tag : str
        The preset (``real_data``, ``real_data_paper``, ``real_data_corpus``).
    statistic : {"median", "min", "mean"}
        Per-job runtime (``runtime_median``, ``runtime_min``, ``runtime_mean``).
    expected : sequence of str
        Data sets the table should list even without records (the preset's):
        each gets a row with status ``not available`` and how to get its
        data, or ``not run``.
    sources : bool
        Add the column ``source``: where the records read each data set
        from (read from one record per data set).

    Returns
    -------
    pandas.DataFrame
        The paper's columns (dataset, shape, size, missing, missing after A1GM
        completion, ratio, WNMF KL, A1GM KL, relative KL (A1GM/WNMF), WNMF
        runtime, A1GM runtime, relative runtime (A1GM/WNMF)), then ``status``
        (``ok``; ``A1GM skipped``; ``failed``; ``not available``; ``not run``),
        ``note`` (why A1GM was skipped, what failed, how to get missing data),
        ``seeds`` (seeds with both solvers ok) and, with ``sources``, ``source``.
    """
    check_statistic(statistic)
    sel = select(df, tag)
    if sel.empty and not expected:
        return pd.DataFrame()
    rt_col = RUNTIME_STATISTICS[statistic]
    rows = []
    for name, g in sel.groupby("dataset", dropna=False):
        a, w = g[g["solver"] == "a1gm"], g[g["solver"] == "wnmf_kl"]
        a_ok, w_ok = ok(a), ok(w)
        facts = _facts(g)
        n_rows = _int_or_nan(facts["n_rows"]) if facts is not None else np.nan
        n_cols = _int_or_nan(facts["n_cols"]) if facts is not None else np.nan
        n_missing = _int_or_nan(facts["n_missing"]) if facts is not None else np.nan
        added = _int_or_nan(a_ok["n_missing_added"].iloc[0]) if len(a_ok) else np.nan
        after = n_missing + added if not (np.isnan(n_missing) or np.isnan(added)) else np.nan
        both = ok(g[g["solver"].isin(["a1gm", "wnmf_kl"])])
        kl = paired(both, ["seed"], "weighted_kl") if len(both) else pd.DataFrame()
        rt = paired(both, ["seed"], rt_col) if len(both) else pd.DataFrame()
        has_both = {"a1gm", "wnmf_kl"} <= set(kl.columns)
        rel_kl = quartiles(kl["a1gm"] / kl["wnmf_kl"])[0] if has_both else np.nan
        rel_rt = quartiles(rt["a1gm"] / rt["wnmf_kl"])[0] if has_both else np.nan
        if statistic == "mean" and has_both:
            rel_rt = a_ok["runtime_mean"].mean() / w_ok["runtime_mean"].mean()
        failed = g[g["status"] == "failed"]
        message = str(failed["message"].iloc[0]) if len(failed) else ""
        if len(failed) and message.startswith(_UNAVAILABLE_PREFIX):
            status, note = NOT_AVAILABLE, first_sentence(message[len(_UNAVAILABLE_PREFIX):], short=False)
        elif len(failed):
            status, note = "failed", first_sentence(message, short=False)
        elif len(a) and not len(a_ok):
            status, note = "A1GM skipped", first_sentence(a["message"].iloc[0])
        elif not len(a):
            status, note = "A1GM not run", ""
        else:
            status, note = "ok", ""
        pair_seeds = int((kl["a1gm"].notna() & kl["wnmf_kl"].notna()).sum()) if has_both else 0
        rows.append({
            "dataset": name,
            "shape": f"{n_rows} x {n_cols}" if not (np.isnan(n_rows) or np.isnan(n_cols)) else "",
            "size": n_rows * n_cols if not (np.isnan(n_rows) or np.isnan(n_cols)) else np.nan,
            "missing": n_missing,
            "missing after A1GM completion": after,
            "ratio": after / n_missing if n_missing else np.nan,
            "WNMF KL": quartiles(w_ok["weighted_kl"])[0],
            "A1GM KL": quartiles(a_ok["weighted_kl"])[0],
            "relative KL (A1GM/WNMF)": rel_kl,
            "WNMF runtime (s)": quartiles(w_ok[rt_col])[0],
            "A1GM runtime (s)": quartiles(a_ok[rt_col])[0],
            "relative runtime (A1GM/WNMF)": rel_rt,
            "status": status,
            "note": note,
            "seeds": pair_seeds,
            **({"source": _origin(g)} if sources else {}),
        })
    rows += _missing_rows(expected, set(sel["dataset"]) if not sel.empty else set())
    order = {name: k for k, name in enumerate(expected)}
    rows.sort(key=lambda r: (order.get(r["dataset"], len(order)), str(r["dataset"])))
    table = pd.DataFrame(rows).reindex(columns=list(COLUMNS) + (["source"] if sources else []))
    for col in ("shape", "note") + (("source",) if sources else ()):
        table[col] = table[col].fillna("")
    for col in ("size", "missing", "missing after A1GM completion"):
        table[col] = pd.array(table[col].to_numpy(object), dtype="Int64") if table[col].notna().all() else table[col]
    return table


def _note(statistic: str) -> str:
    stat = {"median": "each job's median timing sample", "min": "each job's fastest timing sample",
            "mean": "each job's mean timing sample"}[statistic]
    return REAL_DATA_NOTE.format(stat=stat)


def _write(df: pd.DataFrame, plots_dir: Path, tag: str, stem: str, statistic: str) -> list[Path]:
    if select(df, tag).empty:  # the preset did not run here: no table (not a table of "not run" rows)
        return []
    table = real_data_table(df, tag, statistic, expected=preset_datasets(tag), sources=True)
    return write_table(table, plots_dir, stem, note=_note(statistic)) if not table.empty else []


def make_real_data(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *, statistic: str = "median") -> list[Path]:
    """``real_data_table`` (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return _write(df, plots_dir, "real_data", "real_data_table", statistic)


def make_real_data_paper(df: pd.DataFrame, hist: pd.DataFrame, plots_dir: Path, *,
                         statistic: str = "median") -> list[Path]:
    """``real_data_paper_table`` (the entry of :data:`nmfexp.figures.ARTIFACTS`)."""
    return _write(df, plots_dir, "real_data_paper", "real_data_paper_table", statistic)


#: The real-data table's columns in the README (all of them are in ``real_data_table.md``).
README_COLUMNS = {"dataset": "data set", "shape": "shape", "missing": "missing",
                  "missing after A1GM completion": "missing after A1GM's step 1",
                  "relative KL (A1GM/WNMF)": "KL A1GM / WNMF", "relative runtime (A1GM/WNMF)": "time A1GM / WNMF",
                  "source": "source"}


def readme_real_data_table(df: pd.DataFrame, statistic: str = "median") -> str:
    """The README's real-data table (Markdown) from the ``real_data`` records of ``df``: the columns of
    :data:`README_COLUMNS`, ratios to three decimals, a dash and the reason where A1GM has none; rows as in
    ``real_data_table.md``.

    ``tests/test_readme_real_data.py`` recomputes it from the committed records and compares it with the
    README's block between ``<!-- real-data-table -->`` and ``<!-- /real-data-table -->``.
    """
    table = real_data_table(df, "real_data", statistic, expected=preset_datasets("real_data"), sources=True)
    if table.empty:
        raise ValueError("no real_data records: run nmfexp-reproduce --only real_data first.")
    out = table[[c for c in README_COLUMNS if c in table.columns]].rename(columns=README_COLUMNS)
    why = [f"{status}: {note}" if note else str(status)
           for status, note in zip(table["status"], table.get("note", pd.Series("", index=table.index)), strict=True)]
    for col in ("KL A1GM / WNMF", "time A1GM / WNMF"):
        out[col] = [f"{v:.3f}" if pd.notna(v) else (w if col.startswith("KL") else "-")
                    for v, w in zip(pd.to_numeric(out[col], errors="coerce"), why, strict=True)]
    for col in ("missing", "missing after A1GM's step 1"):
        out[col] = [str(int(v)) if pd.notna(v) else "-" for v in pd.to_numeric(out[col], errors="coerce")]
    return out.astype(str).to_markdown(index=False)
