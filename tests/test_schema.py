"""One schema for records and metrics (nmfexp.record.schema): every declared field reaches the tables
with its declared type, the writer stores nothing undeclared, old records read as before, the figures'
notion of a setting and of a solver's loss come from the declarations, the documentation matches."""

from __future__ import annotations

import importlib
import json
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nmfexp
from nmfexp import results
from nmfexp.experiment import Job, run
from nmfexp.experiment import evaluate as evaluate_module
from nmfexp.record import read_record, schema
from nmfexp.record.schema import SchemaError

run_module = importlib.import_module("nmfexp.experiment.run")
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
QUICK = {"warmup": 0, "repeats": 2, "min_time": 0.0, "max_repeats": 2, "max_time": 60.0, "blas_threads": 1}


def conf(solver: str = "wnmf_kl", *, n: int = 12, rate: float = 0.1, holdout: float = 0.2, seed: int = 0,
         dataset: dict | None = None, **extra) -> dict:
    return {"dataset": dataset or {"kind": "lowrank", "name": "lowrank", "n_rows": n, "true_rank": 2, "noise": 0.05},
            "mask": {"kind": "random", "rate": rate}, "holdout": holdout, "rank": 2 if solver != "a1gm" else 1,
            "solver": {"name": solver, "params": {} if solver == "a1gm" else {"max_iter": 15}},
            "timing": dict(QUICK), "seed": seed, "tag": "schema", **extra}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """An ok job with held-out entries, truth and saved factors; an A1GM job; a skipped job."""
    root = tmp_path_factory.mktemp("schema")
    grid = conf("a1gm", holdout=0.0)
    grid["mask"] = {"kind": "grid", "rate": 0.05}
    outs = [run(conf(save_factors=True), root), run(grid, root), run(conf("a1gm", rate=0.6, holdout=0.0), root)]
    assert [o["status"] for o in outs] == ["ok", "ok", "skipped"]
    return root, outs


def _same(a, b) -> bool:
    if a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a)):
        return b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, np.ndarray):
        a = a.tolist()
    return a == b


# --------------------------------------------------------------------------- every field reaches load()

def test_every_declared_field_reaches_a_table(records):
    """Each field is a column of load() (or the config columns, or load_history()), with the value the
    record holds; factors are the one kind of field no table holds."""
    root, outs = records
    df, hist = results.load_all(root)
    df = df.set_index("job")
    held = {}  # field path -> records holding it
    for out in outs:
        rec = read_record(out["path"])
        row = df.loc[rec.attrs["job"]]
        for f in schema.FIELDS:
            where = rec.arrays if f.is_array else (rec.attrs if not f.group else rec.groups.get(f.group, {}))
            key = f.path if f.is_array else f.name
            if key not in where:
                continue
            held.setdefault(f.path, 0)
            held[f.path] += 1
            value = where[key]
            if f.group == "history":
                assert f.name in hist.columns
                mine = hist[hist["job"] == rec.attrs["job"]][f.name].to_numpy()
                assert np.array_equal(mine, value), f.path
            elif f.group == "factors":
                assert f.column is None
            elif f.column == schema.CONFIG_TEXT:
                config = json.loads(rec.attrs["config_json"])
                assert row["dataset.kind"] == config["dataset"]["kind"]
                assert row["solver.n_restarts"] == config["solver"]["n_restarts"]
            elif f.path == "timing/samples":
                assert row["runtime_samples"] == len(value)
            elif f.path == "overrides":
                assert json.loads(row["overrides"]) == list(value)
            elif f.path == "environment/threadpools":
                blas = [p for p in value if p["user_api"] == "blas"]
                if blas:
                    assert row["env.blas"].startswith(f"{blas[0]['internal_api']} {blas[0]['version']}")
                    assert row["env.blas_threads"] == max(p["num_threads"] for p in blas)
            elif f.path in ("environment/cpu_model", "environment/processor"):
                assert row["env.cpu"] == (value or row["env.cpu"])
            elif f.path == "environment/version_nmfexp":
                assert row["env.nmfexp"] == value == rec.attrs["nmfexp_version"]
            elif f.path == "environment/blas_threads":
                assert row["timing.blas_threads"] == value
            else:
                assert f.column in df.columns or f.column == "job", f.path
                assert _same(row[f.column] if f.column != "job" else rec.attrs["job"], value), f.path
    # the records hold every field they are meant to hold
    must = {f.path for f in schema.FIELDS if f.written in ("always", "ok", "failure")}
    assert must <= set(held), sorted(must - set(held))


@pytest.mark.parametrize("name", ["n_entries", "n_missing_own", "n_observed_train", "has_truth"])
def test_data_facts_written_in_0_2_0_reach_load(records, name):
    root, outs = records
    df = results.load(root).set_index("job")
    for out in outs:
        rec = read_record(out["path"])
        assert df.loc[rec.attrs["job"], name] == rec.groups["data"][name]
    ok = df[df["status"] == "ok"]
    assert (ok["n_entries"] == ok["n_rows"] * ok["n_cols"]).all()
    assert (ok["n_observed_train"] == ok["n_entries"] - ok["n_missing"] - ok["n_heldout"]).all()


def test_columns_have_their_declared_types(records):
    root, _ = records
    df = results.load(root)
    pandas_type = {"int": "Int64", "bool": "boolean", "float": "float64"}
    for column in df.columns:
        declared = schema.column_dtype(column)
        if declared in pandas_type:
            assert str(df[column].dtype) == pandas_type[declared], column
    assert list(df.columns[: len(schema.COLUMNS)]) == schema.COLUMNS
    assert df.columns.is_unique


def test_open_groups_keep_every_key(records):
    """A solver's own facts are kept even when a declared column has the same name (A1GM's n_missing
    counts the solver's mask, the data's n_missing the experiment's)."""
    root, outs = records
    df = results.load(root).set_index("job")
    a1gm = read_record(outs[1]["path"])
    row = df.loc[a1gm.attrs["job"]]
    for key, value in a1gm.groups["info"].items():
        column = schema.open_column("info", key) or schema.field_of(f"info/{key}").column
        assert _same(row[column], value), key
    for key, value in a1gm.groups["dataset_meta"].items():
        assert _same(row[f"dataset_meta.{key}"], value if not isinstance(value, list) else json.dumps(value)), key


# --------------------------------------------------------------------------- records stay readable

def _expected(path: Path) -> pd.DataFrame:
    data = json.loads(path.read_text())
    return pd.DataFrame(data["rows"]), data["dtypes"]


@pytest.mark.parametrize("folder", ["v1", "v2"])
def test_old_records_load_with_the_values_0_2_0_gave(folder):
    """Records of format 1 (nmfexp 0.1.0) and 2 (0.2.0) give every column 0.2.0's load() gave them, with
    the same values; new columns are only added."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        now = results.load(DATA / folder / "records")
    old, dtypes = _expected(DATA / folder / "load_0.2.0.json")
    now["path"] = now["path"].map(lambda p: Path(p).name)
    now = now.set_index("path").loc[old["path"]]
    for column in old.columns:
        if column == "path":
            continue
        if column not in now.columns:  # the expected table has the columns of all 0.2.0 quick records
            assert all(_same(v, None) for v in old[column]), column
            continue
        for a, b in zip(old[column], now[column], strict=True):
            assert _same(a, b.item() if isinstance(b, np.generic) else b), (column, a, b)
        if dtypes[column] in ("Int64", "boolean", "float64"):
            assert str(now[column].dtype) == dtypes[column], column
        elif dtypes[column] == "int64":  # config keys some fields state are now Int64, as declared
            assert str(now[column].dtype) == "Int64", column


def test_old_records_in_a_merged_file_give_the_same_table(tmp_path):
    merged = tmp_path / "all.h5"
    assert results.main(["merge", str(DATA / "v2" / "records"), "-o", str(merged)]) == 0
    a = results.load(DATA / "v2" / "records").drop(columns="path")
    b = results.load(merged).drop(columns="path")
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- the writer

def test_records_written_now_match_the_schema(records):
    _, outs = records
    for out in outs:
        assert schema.problems(read_record(out["path"])) == []


def test_declarations_that_contradict_each_other_are_refused(monkeypatch):
    schema.check_declarations()
    twice = (*schema.FIELDS, schema.FIELDS[0])
    monkeypatch.setattr(schema, "FIELDS", twice)
    with pytest.raises(SchemaError, match="field job is declared twice"):
        schema.check_declarations()
    bad_metric = schema.Field("m", "metrics", "float", "result", "no entries")
    monkeypatch.setattr(schema, "FIELDS", (*schema.FIELDS[:-1], bad_metric))
    with pytest.raises(SchemaError, match="a metric is a float on train, heldout or truth entries"):
        schema.check_declarations()
    monkeypatch.setattr(schema, "FIELDS", (schema.Field("x", "nowhere", "float", "result", ""),))
    with pytest.raises(SchemaError, match="unknown group"):
        schema.check_declarations()
    monkeypatch.undo()
    sources = dict(schema._SOURCES)
    sources["runtime_samples"] = [*sources["runtime_samples"], (schema.field_of("job"), None, "str")]
    monkeypatch.setattr(schema, "_SOURCES", sources)
    with pytest.raises(SchemaError, match="column 'runtime_samples' disagree on its role or type"):
        schema.check_declarations()


def test_the_writer_refuses_undeclared_names_and_wrong_types():
    with pytest.raises(SchemaError, match="'n_foo' not declared in group 'data'"):
        schema.attrs("data", {"n_rows": 3, "n_foo": 1})
    with pytest.raises(SchemaError, match="'bogus' not declared in the root"):
        schema.attrs("", {"job": "x", "bogus": 1})
    with pytest.raises(SchemaError, match="data/n_rows is declared int, got str"):
        schema.attrs("data", {"n_rows": "3"})
    with pytest.raises(SchemaError, match="declared int, got float"):
        schema.attrs("data", {"n_rows": 3.5})
    with pytest.raises(SchemaError, match="not a record group"):
        schema.attrs("metricz", {})
    assert schema.attrs("info", {"n_iter": np.int64(4), "anything": [1, 2]}) == {"n_iter": 4, "anything": [1, 2]}
    assert type(schema.attrs("data", {"n_rows": np.int64(3)})["n_rows"]) is int


def test_a_record_that_does_not_match_is_written_failed_with_the_reason(tmp_path, monkeypatch):
    """An undeclared field is a defect of nmfexp: the job's record says so (status failed, stage
    record) instead of storing a name no reader knows, and nothing is lost: it is written."""
    real = run_module._data_facts
    monkeypatch.setattr(run_module, "_data_facts", lambda data: {**real(data), "n_undeclared": 1})
    out = run(conf(), tmp_path)
    assert out["status"] == "failed"
    rec = read_record(out["path"])
    assert rec.attrs["error_stage"] == "record" and rec.attrs["error_type"] == "SchemaError"
    assert "'n_undeclared' not declared in group 'data'" in rec.attrs["message"]
    assert "weighted_kl" in rec.groups["metrics"]  # what was computed is kept
    row = results.load(tmp_path).iloc[0]
    assert row["status"] == "failed" and row["error_stage"] == "record"


def test_a_missing_required_field_is_named():
    rec = nmfexp.record.Record(attrs={"job": "x", "status": "ok"})
    found = schema.problems(rec)
    assert "metrics/weighted_kl is missing (records of status 'ok' hold it)." in found
    assert not any("traceback" in p for p in found)  # only skipped/failed records need one


# --------------------------------------------------------------------------- metrics

def test_the_metrics_computed_are_the_metrics_declared():
    assert sorted(m.name for m in evaluate_module.METRICS) == sorted(schema.METRICS)
    assert results.COMPARE_METRICS == schema.METRICS
    for m in evaluate_module.METRICS:
        assert m.field.group == "metrics" and m.field.entries in evaluate_module.ENTRIES


@pytest.mark.parametrize("holdout", [0.0, 0.25])
def test_dense_and_block_paths_give_exactly_the_declared_metrics(tmp_path, monkeypatch, holdout):
    """A matrix forced over the threshold gets the declared metrics, equal to the dense ones to rounding."""
    job = Job.from_config(conf("hals", n=30, holdout=holdout), tmp_path)
    data = job.build()
    result = job.solve(data)
    dense = evaluate_module.evaluate(data, result, job.solver)
    monkeypatch.setattr(evaluate_module, "DENSE_MAX_ENTRIES", data.X.size - 1)
    blocked = evaluate_module.evaluate(data, result, job.solver)
    assert list(dense) == list(blocked) == schema.METRICS
    for name in schema.METRICS:
        if np.isnan(dense[name]):
            assert np.isnan(blocked[name]) and holdout == 0 and name == "heldout_relative_error"
        else:
            assert blocked[name] == pytest.approx(dense[name], rel=1e-12, abs=1e-300), name


def test_a_metric_written_on_pairs_runs_on_both_paths(tmp_path, monkeypatch):
    """Fit.pairs gives the same entries on both paths, so a metric written with it needs no block form."""
    job = Job.from_config(conf("hals", n=30, holdout=0.25), tmp_path)
    data = job.build()
    result = job.solve(data)
    R = result.reconstruct()
    dense = evaluate_module._DenseFit(data, R)
    block = evaluate_module._BlockFit(data, result)
    for entries in evaluate_module.ENTRIES:
        x1, r1 = dense.pairs(entries)
        x2, r2 = block.pairs(entries)
        assert np.array_equal(np.sort(x1), np.sort(x2))
        np.testing.assert_allclose(np.sort(r1), np.sort(r2), rtol=1e-12)
    # by hand: the held-out entries and the truth
    held = np.zeros(data.X.size, bool)
    held[data.heldout] = True
    x, r = dense.pairs("heldout")
    assert np.array_equal(np.sort(x), np.sort(data.X.ravel()[held]))
    x, r = dense.pairs("truth")
    assert np.array_equal(x, data.dataset.truth.ravel()) and np.array_equal(r, R.ravel())


def test_each_solver_loss_has_its_metric():
    assert schema.metric_for_loss("kl") == "weighted_kl"
    assert schema.metric_for_loss("frobenius") == "weighted_frobenius"
    assert schema.metric_for_loss("nonsense") is None and schema.metric_for_loss(None) is None
    for name, spec in nmfexp.SOLVERS.items():
        assert schema.metric_for_loss(spec.loss) in schema.METRICS, name


# --------------------------------------------------------------------------- roles and the figures

def test_roles():
    assert {schema.column_role(c) for c in ("solver", "mask_rate", "rank", "seed", "dataset.noise",
                                            "solver.params.max_iter", "timing.repeats")} == {"setting"}
    for column in ("weighted_kl", "runtime_median", "n_iter", "n_entries", "has_truth", "info.whatever"):
        assert schema.column_role(column) == "result", column
    for column in ("job", "path", "status", "message", "created", "env.numpy", "env.SLURM_JOB_ID",
                   "execution.pid", "dataset_meta.source", "results_dir", "overwrite", "save_factors"):
        assert schema.column_role(column) == "bookkeeping", column
    from nmfexp.experiment.config import RUN_CONTROL_KEYS, ExperimentConfig

    assert set(RUN_CONTROL_KEYS) <= set(ExperimentConfig.__dataclass_fields__)


def test_auto_sweep_never_takes_a_result_or_bookkeeping_column_for_a_setting():
    """Every column of a load() table varies here; only settings may be swept."""
    from nmfexp.figures import sweep

    columns = [*schema.COLUMNS, *schema.ENV_COLUMNS, *schema.EXECUTION_COLUMNS, *schema.DECLARED_OTHER_COLUMNS,
               "info.relative_residual", "dataset_meta.title", "results_dir", "dataset.noise", "solver.params.tol"]
    df = pd.DataFrame({c: [0.1, 0.2, 0.3] for c in columns})
    df["solver"] = ["a", "b", "c"]
    swept = sweep._swept(df)
    assert swept and all(schema.column_role(c) == "setting" for c in swept)
    assert set(swept) == {"solver", "dataset", "mask", "mask_rate", "n_rows", "n_cols", "rank", "holdout", "tag",
                          "solver.n_restarts", "dataset.noise"}
    others = sweep._other_dimensions(df, ["solver"])
    assert all(schema.column_role(o.split(" (")[0]) == "setting" for o in others)


@pytest.mark.slow
def test_auto_sweep_of_a_real_sweep_plots_against_the_setting(tmp_path):
    from nmfexp.figures import sweep

    root = tmp_path / "r"
    for solver in ("wnmf_kl", "hals"):
        for n in (10, 14, 20):
            assert run(conf(solver, n=n, tag="mine"), root)["status"] == "ok"
    df, hist = results.load_all(root)
    assert set(sweep._swept(df)) == {"solver", "n_rows", "n_cols"}
    written = sweep.auto_sweep(df, hist, tmp_path / "plots", tag="mine")
    names = {p.name for p in written}
    assert "sweep_mine_heldout_relative_error.png" in names and "sweep_mine_runtime_median.png" in names
    table = pd.read_csv(tmp_path / "plots" / "sweep_mine_heldout_relative_error.csv")
    assert "n_rows" in table.columns  # x is the swept size, not n_entries or n_observed_train


def test_history_measure_comes_from_the_declared_loss():
    from nmfexp.figures.stats import _history_measure

    assert _history_measure({"info.loss": "kl"}) == "weighted_kl"
    assert _history_measure({"solver": "hals"}) == "weighted_frobenius"
    assert _history_measure({"solver": "nope"}) is None


# --------------------------------------------------------------------------- documentation

def test_the_documented_tables_are_the_schema():
    text = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    assert schema.rewrite_doc(text) == text, "regenerate them: python docs/make_records_tables.py"
    assert sorted(schema.doc_groups(text)) == sorted([*schema.GROUPS, "columns"])
    for f in schema.FIELDS:
        assert f"| `{f.name}` |" in schema.markdown(f.group)


def test_a_field_missing_from_the_doc_is_noticed(tmp_path):
    text = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    stale = "\n".join(line for line in text.splitlines() if not line.startswith("| `n_observed_train` |")) + "\n"
    assert schema.rewrite_doc(stale) != stale
    doc = tmp_path / "records.md"
    doc.write_text(stale, encoding="utf-8")
    assert schema.main([str(doc), "--check"]) == 1
    assert schema.main([str(doc)]) == 0 and schema.main([str(doc), "--check"]) == 0
    assert doc.read_text(encoding="utf-8") == text


# --------------------------------------------------------------------------- adding a metric

ADDED_FIELD = '''    Field("heldout_max_error", "metrics", "float", _R, "largest absolute error on the held-out entries",
          written="ok", entries="heldout"),
'''
ADDED_METRIC = '''    Metric("heldout_max_error", lambda fit, entries: float(np.max(np.abs(np.subtract(*fit.pairs(entries)))))),
'''


@pytest.mark.slow
def test_adding_a_metric_is_its_function_and_one_declaration(tmp_path):
    """A copy of the package with one Field and one Metric line added: the metric is in the record on
    both paths, in load() as a float result, in compare(), a result for the figures, and the doc check
    asks for the regenerated tables."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "nmfexp", copy / "nmfexp", ignore=shutil.ignore_patterns("__pycache__", "*.csv"))
    shutil.copy(ROOT / "nmfexp" / "data" / "corpus_v1.csv", copy / "nmfexp" / "data" / "corpus_v1.csv")
    shutil.copytree(ROOT / "docs", copy / "docs")
    schema_py = copy / "nmfexp" / "record" / "schema.py"
    text = schema_py.read_text()
    anchor = '    # ---- runtimes\n'
    schema_py.write_text(text.replace(anchor, ADDED_FIELD + anchor, 1))
    evaluate_py = copy / "nmfexp" / "experiment" / "evaluate.py"
    text = evaluate_py.read_text()
    anchor = "    Metric(\"truth_relative_error\""
    evaluate_py.write_text(text.replace(anchor, ADDED_METRIC + anchor, 1))
    script = f'''
import json, sys, warnings
sys.path.insert(0, {str(copy)!r})
import numpy as np
import nmfexp
assert nmfexp.__file__.startswith({str(copy)!r})
from nmfexp import results
from nmfexp.experiment import Job, run, evaluate as ev
from nmfexp.record import schema
from nmfexp.figures.sweep import _swept
c = {json.dumps(conf("hals", n=30, holdout=0.25))}
out = run(c, {str(tmp_path / "r")!r})
assert out["status"] == "ok", out
df = results.load({str(tmp_path / "r")!r})
job = Job.from_config(c, {str(tmp_path / "r2")!r}); data = job.build(); res = job.solve(data)
dense = ev.evaluate(data, res, job.solver)
ev.DENSE_MAX_ENTRIES = 0
block = ev.evaluate(data, res, job.solver)
held = np.zeros(data.X.size, bool); held[data.heldout] = True
by_hand = float(np.max(np.abs(data.X[held.reshape(data.X.shape)] - res.reconstruct()[held.reshape(data.X.shape)])))
print(json.dumps({{"column": float(df["heldout_max_error"].iloc[0]), "dtype": str(df["heldout_max_error"].dtype),
                  "dense": dense["heldout_max_error"], "block": block["heldout_max_error"], "by_hand": by_hand,
                  "role": schema.column_role("heldout_max_error"), "compare": results.COMPARE_METRICS,
                  "doc_check": schema.main([{str(copy / "docs" / "records.md")!r}, "--check"])}}))
'''
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={"NMFEXP_DISABLE_NUMBA": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dense"] == got["by_hand"] and got["block"] == pytest.approx(got["by_hand"], rel=1e-12)
    assert got["column"] == got["dense"] and got["dtype"] == "float64" and got["role"] == "result"
    assert "heldout_max_error" in got["compare"]
    assert got["doc_check"] == 1  # the doc lags until the tables are regenerated
