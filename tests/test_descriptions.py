"""One description per solver: everything that states a fact about a solver reads its SolverSpec.

The description (``nmfexp.SOLVERS[name]``) declares the parameters with
defaults and constraints; factorize, a direct call, the Hydra schema,
planning (``Job.from_config`` and ``nmfexp-run``), the YAML files, the
citations and the README's solver table must agree with it.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

import nmfexp
from nmfexp.citation import entries
from nmfexp.experiment import ConfigError, Job
from nmfexp.experiment.config import solver_schema
from nmfexp.solvers import SOLVERS, FactorizationResult, InitOption, Interval, Options, Param, SolverSpec

ROOT = Path(__file__).resolve().parents[1]
X = np.random.default_rng(0).random((8, 6))
QUICK = {"dataset": {"kind": "uniform", "n_rows": 5}, "timing": {"repeats": 1}}

# One example of each kind of constraint on a built-in solver: (solver, parameter, a bad value, what the
# message must say about the allowed values).
BAD = [
    ("hals", "max_iter", -1, r"an integer >= 1"),  # Interval, integer
    ("wnmf_kl", "tol", -1e-3, r"a finite number >= 0"),  # Interval, real
    ("kaczmarz", "relaxation", 2.0, r"a number in \(0, 2\)"),  # Interval, open on both sides
    ("als", "max_time", 0, r"None or a finite number > 0"),  # Interval with None
    ("kaczmarz", "sampling", "gaussian", r"one of 'norm', 'uniform'"),  # Options
    ("gdcls", "init", "banana", r"one of random, nndsvda, a1gm or a pair"),  # InitOption
]


# --------------------------------------------------------------------------- factorize and direct calls

@pytest.mark.parametrize(("name", "param", "value", "says"), BAD)
def test_factorize_and_direct_calls_check_values_from_the_description(name, param, value, says):
    spec = SOLVERS[name]
    # The message is the constraint's own, naming the parameter: factorize and a direct call of the
    # solver give exactly it, and so does the description when asked directly.
    with pytest.raises(ValueError) as declared:
        spec.parameters[param].check(value)
    message = str(declared.value)
    assert param in message and re.search(says, message)
    for call in (lambda: nmfexp.factorize(X, solver=name, rank=2, **{param: value}),
                 lambda: spec.func(X, rank=2, **{param: value})):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message


def test_unknown_parameter_names_list_the_accepted_ones():
    with pytest.raises(ValueError, match=r"does not take parameter\(s\) max_itr; it accepts: eval_every, init, "
                                         r"max_iter, max_time, stop_on, tol\.$"):
        nmfexp.factorize(X, solver="hals", max_itr=3)
    with pytest.raises(ValueError, match=r"it accepts: backend\.$"):
        nmfexp.factorize(X, solver="a1gm", tol=0.1)


def test_a_constraint_of_a_new_description_is_enforced_everywhere():
    """A description written here, not a built-in: its constraints reach factorize and the config schema."""
    seen = {}

    def probe(X, mask, *, rank, random_state, k, mode):
        seen.update(k=k, mode=mode)
        return FactorizationResult(A=np.ones((X.shape[0], rank)), B=np.ones((rank, X.shape[1])))

    spec = SolverSpec("probe", probe, "frobenius", params=(
        Param("k", 3, Interval("integer", low=1, high=5)), Param("mode", "a", Options(("a", "b")))))
    nmfexp.factorize(X, solver=spec)
    assert seen == {"k": 3, "mode": "a"}  # defaults filled in from the description
    nmfexp.factorize(X, solver=spec, k=np.int64(5), mode="b")
    assert seen == {"k": 5, "mode": "b"} and type(seen["k"]) is int
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, 5\], got 6\.$"):
        nmfexp.factorize(X, solver=spec, k=6)
    with pytest.raises(ValueError, match=r"^mode must be one of 'a', 'b', got 'c'\.$"):
        nmfexp.factorize(X, solver=spec, mode="c")
    schema = OmegaConf.structured(solver_schema(spec))
    assert OmegaConf.to_container(schema) == {"name": "probe", "params": {"k": 3, "mode": "a"}, "n_restarts": 1}
    with pytest.raises(ValidationError):
        OmegaConf.merge(schema, {"params": {"k": "three"}})  # the type comes from the constraint


def test_registered_solvers_signature_and_docstring_come_from_the_description():
    for name, spec in SOLVERS.items():
        sig = inspect.signature(spec.func)
        own = {p.name: p.default for p in sig.parameters.values()
               if p.kind == p.KEYWORD_ONLY and p.name not in ("rank", "random_state")}
        assert own == spec.defaults(), name
        doc = inspect.getdoc(spec.func)
        for p in spec.params:
            assert re.search(rf"^{p.name} : .*default {re.escape(repr(p.default))}$", doc, re.M), (name, p.name)
        # The code itself declares no defaults: they live in the description only.
        if spec.params:
            impl = inspect.signature(spec.impl).parameters
            assert all(impl[p.name].default is inspect.Parameter.empty for p in spec.params), name


# --------------------------------------------------------------------------- user solvers

def test_a_user_solver_is_described_by_its_signature_with_types_only():
    def meanfield(X, mask, *, rank, random_state, shrink: float = 0.5, label: str | None = None):
        return FactorizationResult(A=np.full((X.shape[0], 1), shrink), B=np.ones((1, X.shape[1])))

    spec = nmfexp.api.resolve_solver(meanfield)
    assert [p.name for p in spec.params] == ["shrink", "label"] and not spec.described and not spec.sparse
    # No constraint beyond the type: any value reaches the function, only the given ones are passed.
    assert spec.check_params({"shrink": -3.0}) == {"shrink": -3.0}
    assert nmfexp.factorize(X, solver=meanfield, shrink=2.0).A[0, 0] == 2.0
    with pytest.raises(ValueError, match="does not take parameter"):
        nmfexp.factorize(X, solver=meanfield, shrnk=2.0)
    fields = typing.get_type_hints(solver_schema(spec).__dataclass_fields__["params"].type)
    assert fields == {"shrink": float, "label": str | None}

    def anything(X, mask, *, rank, random_state, **params):
        return FactorizationResult(A=np.ones((X.shape[0], 1)), B=np.ones((1, X.shape[1])))

    assert nmfexp.api.accepted_parameters(nmfexp.api.resolve_solver(anything)) is None
    nmfexp.factorize(X, solver=anything, whatever=1)


# --------------------------------------------------------------------------- the config schema and planning

@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_the_config_schema_is_the_description(name):
    spec = SOLVERS[name]
    schema = solver_schema(spec)
    params = OmegaConf.to_container(OmegaConf.structured(schema))["params"]
    assert params == spec.defaults()
    hints = typing.get_type_hints(schema.__dataclass_fields__["params"].type)
    assert list(hints) == [p.name for p in spec.params]
    for p in spec.params:
        expect = {Interval: None, Options: str, InitOption: typing.Any}[type(p.constraint)]
        if expect is None:
            expect = int if p.constraint.kind == "integer" else float
            if p.constraint.allow_none:
                expect = expect | None
        assert hints[p.name] == expect, (name, p.name)


@pytest.mark.parametrize(("name", "param", "value", "says"), BAD)
def test_planning_rejects_values_out_of_range(name, param, value, says):
    with pytest.raises(ConfigError, match=rf"^solver\.params\.{param}\b.*{says}"):
        Job.from_config({**QUICK, "solver": {"name": name, "params": {param: value}}})


def test_planning_accepts_every_default_and_numbers_of_config_types():
    for name in SOLVERS:
        job = Job.from_config({**QUICK, "solver": {"name": name}})
        assert job.config["solver"]["params"] == SOLVERS[name].defaults()
    Job.from_config({**QUICK, "solver": {"name": "gdcls", "params": {"precision_goal": None, "max_time": 2}}})


def nmfexp_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from nmfexp.cli.run import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_sweep_with_a_value_out_of_range_exits_2_and_writes_nothing(tmp_path):
    out = nmfexp_run("-m", "solver=hals", "solver.params.max_iter=-1", "seed=0,1", "dataset.n_rows=12",
                     "timing=quick", f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 2, log
    assert "solver.params.max_iter must be an integer >= 1, got -1." in log and "nothing was run" in log
    assert not list(tmp_path.rglob("*")), sorted(tmp_path.rglob("*"))  # no record, no plan, no log folder


@pytest.mark.slow
def test_a_single_run_with_a_value_out_of_range_exits_2_and_writes_no_record(tmp_path):
    out = nmfexp_run("solver=hals", "solver.params.tol=-1", "dataset.n_rows=12", "timing=quick",
                     f"results_dir={tmp_path / 'r'}", cwd=tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 2, log
    assert "solver.params.tol must be a finite number >= 0, got -1.0." in log
    # Hydra keeps its own log folder of a single run (written before the job is read); no record, no plan.
    assert not list(tmp_path.rglob("*.h5")) and not list(tmp_path.rglob("plan.json"))


# --------------------------------------------------------------------------- YAML, citations, README

def test_solver_yaml_files_name_their_solver_and_restate_no_default():
    folder = ROOT / "conf" / "solver"
    assert {p.stem for p in folder.glob("*.yaml")} == set(SOLVERS)
    for name in SOLVERS:
        raw = OmegaConf.to_container(OmegaConf.load(folder / f"{name}.yaml"))
        assert raw["name"] == name
        assert f"/nmfexp_schema/solver/{name}@_here_" in raw["defaults"]
        # Defaults come from the description through the schema: the file neither restates nor contradicts one.
        assert not raw.get("params"), f"conf/solver/{name}.yaml sets params {raw.get('params')}"


def test_every_reference_is_a_bib_entry():
    bib = entries()
    for name, spec in SOLVERS.items():
        assert spec.reference, name
        assert set(spec.reference) <= set(bib), name
        assert nmfexp.citation.SOLVER_KEYS[name] == spec.reference


def _surnames_and_year(entry: str) -> tuple[list[str], str]:
    authors = re.search(r"author\s*=\s*\{(.+)\},", entry).group(1)
    surnames = [a.split(",")[0].strip() for a in authors.split(" and ")]
    return surnames, re.search(r"year\s*=\s*\{(\d{4})\}", entry).group(1)


def test_the_readme_solver_table_matches_the_descriptions():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| solver | loss |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    assert set(rows) == set(SOLVERS)
    bib = entries()
    for name, spec in SOLVERS.items():
        _, loss, _, reference, _ = rows[name]
        assert {"KL": "kl", "Frobenius": "frobenius"}[loss] == spec.loss, name
        for key in spec.reference:
            surnames, year = _surnames_and_year(bib[key])
            for surname in surnames:
                assert surname in reference, (name, key, surname)
            assert year in reference, (name, key, year)


def test_a_solver_registered_without_params_is_described_by_its_signature():
    from nmfexp.solvers import register

    try:
        @register("probe_registered", loss="kl", reference="Someone, 2024")
        def probe(X, mask=None, *, rank=1, random_state=None, alpha: float = 0.5):
            """A probe.

            Returns
            -------
            FactorizationResult
            """
            return FactorizationResult(A=np.full((np.shape(X)[0], rank), alpha), B=np.ones((rank, np.shape(X)[1])))

        spec = SOLVERS["probe_registered"]
        assert [p.name for p in spec.params] == ["alpha"] and spec.defaults() == {"alpha": 0.5}
        assert probe(X).A[0, 0] == 0.5 and nmfexp.factorize(X, solver="probe_registered", alpha=2.0).A[0, 0] == 2.0
        with pytest.raises(ValueError, match="does not take parameter"):
            probe(X, beta=1)
        assert "alpha : float, default 0.5" in probe.__doc__
        # A reference that is not a key of references.bib is kept in the description but not cited.
        assert spec.reference == ("Someone, 2024",)
        assert "Someone" not in nmfexp.cite(solvers=["probe_registered"])
    finally:
        SOLVERS.pop("probe_registered", None)
