"""The config tree: every option composes, presets compose, typos are rejected, masks have exact counts."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

import nmfexp
from nmfexp.cli.plugins import register
from nmfexp.data.masks import grid_counts, make_mask, rows_counts
from nmfexp.experiment import ConfigError, Job, job_config
from nmfexp.experiment.config import config_dir, experiments_dir

GROUPS = ("dataset", "mask", "solver", "timing")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def presets() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.yaml"))


@pytest.fixture(scope="module")
def hydra_ctx():
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        yield


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes(hydra_ctx, group, option):
    cfg = compose("config", overrides=[f"{group}={option}"])
    node = cfg[group]
    if group == "solver":
        assert node.name in nmfexp.SOLVERS
    if group == "mask":
        assert node.kind == option
    job_config(cfg)  # passes the schema as a plain dict too


@pytest.mark.parametrize("preset", presets())
def test_every_experiment_preset_composes(hydra_ctx, preset):
    cfg = compose("config", overrides=[f"+experiment={preset}"], return_hydra_config=True)
    assert cfg.tag == preset
    # Every swept key must itself be a valid override of the composed config.
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    first = [f"{k}={str(v).split(',')[0]}" for k, v in params.items() if not str(v).startswith("range")]
    compose("config", overrides=[f"+experiment={preset}", *first])


def test_missing_pattern_preset_plans_and_builds_every_job(hydra_ctx):
    """Every job of the full study plans (no typo, no rate a `rows` block cannot hold) and builds its mask."""
    import itertools

    cfg = compose("config", overrides=["+experiment=a1gm_missing_patterns"], return_hydra_config=True)
    params = {k: str(v) for k, v in cfg.hydra.sweeper.params.items()}
    assert params["seed"] == "range(0,5)"
    axes = {k: v.split(",") for k, v in params.items() if k != "seed"}
    assert set(axes["mask"]) == {"random", "rows", "mnar", "corner"}
    assert min(map(float, axes["mask.rate"])) == 0.0001 and max(map(float, axes["mask.rate"])) <= 0.03
    kinds = set()
    for values in itertools.product(*axes.values()):
        overrides = [f"{k}={v}" for k, v in zip(axes, values, strict=True)]
        job = Job.from_config(compose("config", overrides=["+experiment=a1gm_missing_patterns", *overrides,
                                                           "seed=0"]))
        assert job.solver.name == "a1gm" and job.config["mask"]["share"] == 0.2
        observed = job.build().observed
        n_missing = int((~observed).sum())
        assert n_missing == round(job.config["mask"]["rate"] * observed.size) or job.config["mask"]["kind"] == "corner"
        kinds.add(job.config["mask"]["kind"])
    assert kinds == {"random", "rows", "mnar", "corner"}


def test_fig5_preset_matches_the_paper(hydra_ctx):
    cfg = compose("config", overrides=["+experiment=fig5_synthetic"], return_hydra_config=True)
    sizes = [int(s) for s in str(cfg.hydra.sweeper.params["dataset.n_rows"]).split(",")]
    assert sizes == [int(v) for v in np.floor(10 ** np.linspace(1, 3.3, 8))]
    assert (cfg.mask.kind, cfg.mask.rate, cfg.dataset.kind) == ("grid", 0.05, "uniform")
    assert set(str(cfg.hydra.sweeper.params.solver).split(",")) == {"a1gm", "wnmf_kl"}


@pytest.mark.parametrize("override", ["mask.rat=0.1", "mask.rate=abc", "timing.repeats=many", "dataset=nope",
                                      "seed=zero", "solver.params.max_itr=3"])
def test_typos_are_rejected_at_composition(hydra_ctx, override):
    with pytest.raises(ConfigCompositionException):
        compose("config", overrides=["solver=wnmf_kl", override])


def test_every_registered_solver_has_a_config_and_back(hydra_ctx):
    assert set(options("solver")) == set(nmfexp.SOLVERS)
    for name in options("solver"):
        composed = OmegaConf.to_container(compose("config", overrides=[f"solver={name}"]).solver)
        plain = job_config({"dataset": {"kind": "uniform", "n_rows": 5}, "solver": {"name": name}})
        # The composed option carries every parameter with the default of the solver's description
        # (tests/test_descriptions.py checks that the YAML itself restates none).
        assert composed["params"] == plain["solver"]["params"] == nmfexp.SOLVERS[name].defaults(), name


QUICK = {"dataset": {"kind": "uniform", "n_rows": 5}, "timing": {"repeats": 1}}


@pytest.mark.parametrize("params, match", [({"max_itr": 3}, "max_itr"), ({"max_iter": "three"}, "max_iter"),
                                           ({"tol": "small"}, "tol")])
def test_solver_params_are_checked(params, match):
    with pytest.raises(ConfigError, match=match):
        Job.from_config({**QUICK, "solver": {"name": "wnmf_kl", "params": params}})


@pytest.mark.parametrize("key, value, match", [
    ("mask", {"kind": "grid", "rate": 1.5}, "mask.rate"), ("mask", {"kind": "diagonal"}, "mask.kind"),
    ("holdout", 1.0, "holdout"), ("seed", -1, "seed"), ("rank", 0, "rank"),
    ("timing", {"repeats": 0}, "timing.repeats"), ("timing", {"blas_threads": 0}, "timing.blas_threads"),
    ("timing", {"min_time": float("inf")}, "timing.min_time"),
])
def test_values_a_type_cannot_check_are_rejected_before_anything_runs(key, value, match):
    with pytest.raises(ConfigError, match=match):
        Job.from_config({**QUICK, "solver": {"name": "a1gm"}, key: value})


def test_configs_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (config_dir() / "config.yaml").is_file()
    assert (experiments_dir() / "smoke.yaml").is_file()


# --------------------------------------------------------------------------- masks

@pytest.mark.parametrize("shape, rate", [((100, 80), 0.05), ((10, 10), 0.01), ((45, 7), 0.2), ((10, 10), 0.001)])
def test_mask_counts_are_exact(shape, rate):
    n, m = shape
    rng = np.random.default_rng(0)
    r, c = grid_counts(shape, rate)
    assert (r, c) == (int(np.floor(n * np.sqrt(rate) + 1e-9)), int(np.floor(m * np.sqrt(rate) + 1e-9)))
    grid = make_mask("grid", shape, rate, rng)
    assert (~grid).sum() == r * c
    assert (~grid).any(axis=1).sum() == r and (~grid).any(axis=0).sum() == c
    corner = make_mask("corner", shape, rate, rng)
    assert (~corner).sum() == r * c and (r * c == 0 or not corner[-1, -1])
    random = make_mask("random", shape, rate, rng)
    assert (~random).sum() == round(rate * n * m)
    assert make_mask("none", shape, rate, rng) is None


def test_grid_counts_do_not_lose_a_row_to_rounding():
    assert grid_counts((100, 100), 0.01) == (10, 10)


def test_given_mask_is_the_data_sets_own():
    own = np.ones((4, 5), bool)
    own[1, 2] = False
    out = make_mask("given", (4, 5), 0.3, np.random.default_rng(0), own_mask=own)
    assert np.array_equal(out, own) and out is not own
    with pytest.raises(ValueError, match="own_mask"):
        make_mask("given", (4, 5), 0.0, np.random.default_rng(0))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2, float("nan")])
def test_mask_rate_outside_unit_interval_is_rejected(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        make_mask("grid", (10, 10), rate, np.random.default_rng(0))


def test_unknown_mask_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown mask kind"):
        make_mask("diagonal", (10, 10), 0.1, np.random.default_rng(0))


def test_masks_are_deterministic_in_the_generator():
    a = make_mask("random", (30, 20), 0.1, np.random.default_rng(5))
    b = make_mask("random", (30, 20), 0.1, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_rows_mask_puts_every_gap_in_the_stated_share_of_rows_and_columns():
    shape, rate, share = (50, 40), 0.02, 0.2  # 40 gaps in a 10 x 8 block of 80 cells
    a = make_mask("rows", shape, rate, np.random.default_rng(3), share=share)
    assert np.array_equal(a, make_mask("rows", shape, rate, np.random.default_rng(3), share=share))
    assert not np.array_equal(a, make_mask("rows", shape, rate, np.random.default_rng(4), share=share))
    assert (~a).sum() == round(rate * 50 * 40)
    assert (~a).any(axis=1).sum() <= 10 and (~a).any(axis=0).sum() <= 8
    assert rows_counts(shape, share) == (10, 8)
    # rate = share ** 2 fills the block: exactly 10 rows x 8 columns, every cell of their product
    full = make_mask("rows", shape, 0.04, np.random.default_rng(3), share=share)
    r, c = (~full).any(axis=1), (~full).any(axis=0)
    assert r.sum() == 10 and c.sum() == 8 and np.array_equal(~full, r[:, None] & c[None, :])


def test_rows_mask_is_uniform_over_cells():
    # one gap in a 2 x 2 block of a 4 x 4 matrix: rows, columns and the cell within are uniform,
    # so every cell is hit with probability 1/16
    hits = np.zeros((4, 4))
    for seed in range(3200):
        hits += ~make_mask("rows", (4, 4), 1 / 16, np.random.default_rng(seed), share=0.5)
    assert hits.sum() == 3200 and np.all(np.abs(hits - 200) < 60)


def test_rows_mask_refuses_a_rate_its_block_cannot_hold():
    with pytest.raises(ValueError, match=r"share 0.1 gives 1 rows x 1 columns.*raise the share"):
        make_mask("rows", (10, 10), 0.05, np.random.default_rng(0), share=0.1)
    with pytest.raises(ValueError, match="mask share"):
        make_mask("rows", (10, 10), 0.05, np.random.default_rng(0), share=0.0)


def test_mnar_mask_hides_the_values_above_the_upper_quantile():
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, size=(30, 20))
    X[0, :5] = np.nan  # the source's own gaps are never chosen, even where they would be large
    X[1, 0] = 1e6
    observed = make_mask("mnar", X.shape, 0.1, np.random.default_rng(1), data=X)
    values = X[~np.isnan(X)]
    threshold = np.quantile(values, 1 - 60 / values.size)  # the 60 largest observed values lie above it
    assert (~observed).sum() == 60
    assert np.array_equal(~observed, np.nan_to_num(X, nan=-1.0) > threshold)
    assert np.array_equal(observed, make_mask("mnar", X.shape, 0.1, np.random.default_rng(9), data=X))
    assert np.isnan(X[0, :5]).all()  # the caller's array is not modified


def test_mnar_mask_breaks_ties_at_random_and_reproducibly():
    X = np.ones((10, 10))
    a = make_mask("mnar", X.shape, 0.1, np.random.default_rng(2), data=X)
    assert (~a).sum() == 10
    assert np.array_equal(a, make_mask("mnar", X.shape, 0.1, np.random.default_rng(2), data=X))
    assert not np.array_equal(a, make_mask("mnar", X.shape, 0.1, np.random.default_rng(3), data=X))


def test_mnar_mask_needs_the_data():
    with pytest.raises(ValueError, match="needs the data"):
        make_mask("mnar", (10, 10), 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        make_mask("mnar", (10, 10), 0.1, np.random.default_rng(0), data=np.ones((10, 9)))
    X = np.full((10, 10), np.nan)
    X[0, 0] = 1.0
    with pytest.raises(ValueError, match="only 1 observed"):
        make_mask("mnar", (10, 10), 0.1, np.random.default_rng(0), data=X)


def test_a_rows_rate_its_block_cannot_hold_is_refused_at_planning(hydra_ctx):
    base = ["dataset=uniform", "dataset.n_rows=100", "mask=rows", "solver=a1gm"]
    Job.from_config(compose("config", overrides=[*base, "mask.rate=0.04", "mask.share=0.2"]))  # 400 of 400 cells
    with pytest.raises(ConfigError, match=r"hides 500 entries.*20 rows x 20 columns = 400 cells"):
        Job.from_config(compose("config", overrides=[*base, "mask.rate=0.05", "mask.share=0.2"]))
    with pytest.raises(ConfigError, match="mask.share"):
        Job.from_config(compose("config", overrides=[*base, "mask.share=0"]))


def test_mask_share_enters_the_identity_of_rows_jobs_only():
    from nmfexp.experiment.job import Seeds, _identity

    def conf(kind, share):
        return {"seed": 0, "rank": 1, "holdout": 0.0, "dataset": {"_target_": "x", "n_rows": 10},
                "mask": {"kind": kind, "rate": 0.01, "share": share}}

    for kind, same in (("grid", True), ("random", True), ("mnar", True), ("rows", False)):
        a, b = conf(kind, 0.2), conf(kind, 0.5)
        assert (_identity(a) == _identity(b)) is same
        assert (Seeds.from_config(a).init == Seeds.from_config(b).init) is same
    # a job from before `share` existed keeps its seeds
    old = conf("grid", 0.2)
    del old["mask"]["share"]
    assert Seeds.from_config(old).init == Seeds.from_config(conf("grid", 0.7)).init


@pytest.mark.parametrize("override, known", [("+mask.rat=0.1", "mask.rate"), ("+dataset.n_row=500", "dataset.n_rows"),
                                             ("+solver.params.max_itr=3", "solver.params.max_iter"),
                                             ("+sede=3", "seed"), ("+timing.repeat=2", "timing.repeats")])
def test_a_key_added_with_plus_is_rejected_with_the_closest_valid_key(hydra_ctx, override, known):
    # `+key=value` adds a key even to a typed config: the job must refuse it, not run the default.
    cfg = compose("config", overrides=["solver=wnmf_kl", override])
    with pytest.raises(ConfigError, match=rf"unknown key {override[1:].split('=')[0]} \(did you mean {known}\?\)"):
        Job.from_config(cfg)


def test_an_open_group_accepts_a_new_key_added_with_plus(hydra_ctx):
    from omegaconf import open_dict

    cfg = compose("config", overrides=["solver=wnmf_kl", "+dataset.options.sep=tab"])
    assert Job.from_config(cfg).config["dataset"]["options"] == {"sep": "tab"}
    # A `_target_` data set's parameters are its own (checked against the target's signature).
    with open_dict(cfg):
        cfg.dataset = {"_target_": "test_experiment.load_squares", "name": "squares", "n": 7}
    OmegaConf.update(cfg, "dataset.scale", 2.0, force_add=True)
    assert Job.from_config(cfg).config["dataset"]["scale"] == 2.0


def test_unknown_keys_in_a_plain_dict_config_are_rejected():
    with pytest.raises(ConfigError, match=r"unknown key mask\.rat \(did you mean mask\.rate\?\); valid keys of "
                                          r"mask: kind, rate"):
        Job.from_config({**QUICK, "solver": {"name": "a1gm"}, "mask": {"kind": "grid", "rat": 0.1}})
