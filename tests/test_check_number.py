"""The one declarative number check: table of constraints, good and bad values, messages."""

import math

import numpy as np
import pytest

from nmfexp._validation import check_number

POSITIVE_INT = {"kind": "integer", "low": 1}
NON_NEGATIVE = {"low": 0}
POSITIVE_OR_NONE = {"low": 0, "closed": "neither", "allow_none": True}
OPEN_0_2 = {"low": 0, "high": 2, "closed": "neither"}
FRACTION = {"low": 0, "high": 1, "closed": "left"}
SECONDS_OR_INF = {"low": 0, "high": math.inf}
ANY_INT = {"kind": "integer"}

GOOD = [
    (POSITIVE_INT, 1, 1),
    (POSITIVE_INT, np.int64(7), 7),
    (POSITIVE_INT, 10**30, 10**30),
    (NON_NEGATIVE, 0, 0.0),
    (NON_NEGATIVE, -0.0, 0.0),
    (NON_NEGATIVE, 3, 3.0),
    (NON_NEGATIVE, np.float32(0.25), 0.25),
    (NON_NEGATIVE, np.uint8(2), 2.0),
    (POSITIVE_OR_NONE, None, None),
    (POSITIVE_OR_NONE, 1e-300, 1e-300),
    (OPEN_0_2, 1, 1.0),
    (OPEN_0_2, 1.999, 1.999),
    (FRACTION, 0, 0.0),
    (FRACTION, 0.999, 0.999),
    (SECONDS_OR_INF, math.inf, math.inf),
    (SECONDS_OR_INF, 0, 0.0),
    (ANY_INT, -5, -5),
]

BAD = [
    (POSITIVE_INT, 0, "an integer >= 1"),
    (POSITIVE_INT, -3, "an integer >= 1"),
    (POSITIVE_INT, 1.0, "an integer >= 1"),
    (POSITIVE_INT, 2.5, "an integer >= 1"),
    (POSITIVE_INT, True, "an integer >= 1"),
    (POSITIVE_INT, np.True_, "an integer >= 1"),
    (POSITIVE_INT, None, "an integer >= 1"),
    (POSITIVE_INT, "3", "an integer >= 1"),
    (POSITIVE_INT, math.nan, "an integer >= 1"),
    (POSITIVE_INT, math.inf, "an integer >= 1"),
    (NON_NEGATIVE, -0.1, "a finite number >= 0"),
    (NON_NEGATIVE, math.nan, "a finite number >= 0"),
    (NON_NEGATIVE, np.float64("nan"), "a finite number >= 0"),
    (NON_NEGATIVE, math.inf, "a finite number >= 0"),
    (NON_NEGATIVE, -math.inf, "a finite number >= 0"),
    (NON_NEGATIVE, False, "a finite number >= 0"),
    (NON_NEGATIVE, None, "a finite number >= 0"),
    (NON_NEGATIVE, "1", "a finite number >= 0"),
    (NON_NEGATIVE, 1 + 0j, "a finite number >= 0"),
    (NON_NEGATIVE, np.array([1.0]), "a finite number >= 0"),
    (POSITIVE_OR_NONE, 0, r"None or a finite number > 0"),
    (POSITIVE_OR_NONE, -1, r"None or a finite number > 0"),
    (POSITIVE_OR_NONE, math.inf, r"None or a finite number > 0"),
    (POSITIVE_OR_NONE, math.nan, r"None or a finite number > 0"),
    (POSITIVE_OR_NONE, True, r"None or a finite number > 0"),
    (OPEN_0_2, 0, r"a number in \(0, 2\)"),
    (OPEN_0_2, 2, r"a number in \(0, 2\)"),
    (OPEN_0_2, math.nan, r"a number in \(0, 2\)"),
    (OPEN_0_2, math.inf, r"a number in \(0, 2\)"),
    (FRACTION, 1, r"a number in \[0, 1\)"),
    (FRACTION, -1e-9, r"a number in \[0, 1\)"),
    (SECONDS_OR_INF, -1, r"a number in \[0, inf\]"),
    (SECONDS_OR_INF, -math.inf, r"a number in \[0, inf\]"),
    (SECONDS_OR_INF, math.nan, r"a number in \[0, inf\]"),
    (ANY_INT, None, "an integer"),
]


@pytest.mark.parametrize(("spec", "value", "expected"), GOOD)
def test_good_values_pass_and_come_back_as_int_or_float(spec, value, expected):
    out = check_number(value, "p", **spec)
    assert out == expected
    if expected is not None:
        assert type(out) is (int if spec.get("kind") == "integer" else float)


@pytest.mark.parametrize(("spec", "value", "says"), BAD)
def test_bad_values_raise_naming_the_parameter_and_the_constraint(spec, value, says):
    with pytest.raises(ValueError, match=rf"^my_param must be {says}, got .+\.$"):
        check_number(value, "my_param", **spec)


def test_hint_is_appended_and_value_shown():
    with pytest.raises(ValueError, match=r"^max_time must be .*, got 0\. None means no limit\.$"):
        check_number(0, "max_time", low=0, closed="neither", allow_none=True, hint="None means no limit.")


def test_misuse_of_the_checker_itself_is_reported():
    with pytest.raises(ValueError, match="kind"):
        check_number(1, "p", kind="int")
    with pytest.raises(ValueError, match="closed"):
        check_number(1, "p", low=0, closed="open")


# ---- the call sites: every number parameter goes through the check ------------------------------------


def _measure(**kw):
    from nmfexp.timing import measure

    return measure(lambda: None, **kw)


def _lowrank(**kw):
    from nmfexp.data.synthetic import lowrank

    args = {"n_rows": 5, "true_rank": 2, "noise": 0.1, "rng": np.random.default_rng(0)}
    return lowrank(**{**args, **kw})


def _mask(rate):
    from nmfexp.data.masks import make_mask

    return make_mask("random", (5, 4), rate, np.random.default_rng(0))


def _solver(name, **kw):
    from nmfexp.solvers import get_solver

    X = np.random.default_rng(0).random((6, 5))
    return get_solver(name).func(X, **{"rank": 2, "max_iter": 2, **kw})


@pytest.mark.parametrize(("call", "name", "bad"), [
    (lambda v: _measure(warmup=v), "timing.warmup", [-1, 1.0, True]),
    (lambda v: _measure(repeats=v), "timing.repeats", [0, None]),
    (lambda v: _measure(max_repeats=v), "timing.max_repeats", [0, np.float64(3)]),
    (lambda v: _measure(min_time=v), "timing.min_time", [-0.5, np.nan, True]),
    (lambda v: _measure(max_time=v), "timing.max_time", [-1, "60"]),
    (lambda v: _lowrank(n_rows=v), "n_rows", [0, 2.0, True]),
    (lambda v: _lowrank(true_rank=v), "true_rank", [0, False]),
    (lambda v: _lowrank(noise=v), "noise", [-0.1, np.nan, np.inf, True]),
    (_mask, "mask rate", [1.0, -0.1, np.nan, True]),
    (lambda v: _solver("hals", random_state=v), "random_state", [-1, 1.5, "seed", True]),
    (lambda v: _solver("hals", max_iter=v), "max_iter", [0, 1.5, True]),
    (lambda v: _solver("hals", tol=v), "tol", [-1e-3, np.nan, np.inf, True]),
    (lambda v: _solver("hals", max_time=v), "max_time", [0, -1, np.inf, np.nan, True]),
    (lambda v: _solver("gdcls", regularization=v), "regularization", [0, np.inf, True]),
    (lambda v: _solver("gdcls", precision_goal=v), "precision_goal", [0, np.nan, False]),
    (lambda v: _solver("gdcls", epsilon=v), "epsilon", [0, -1e-9, np.nan]),
    (lambda v: _solver("kaczmarz", kaczmarz_iter=v), "kaczmarz_iter", [0, 2.0, True, None]),
    (lambda v: _solver("kaczmarz", relaxation=v), "relaxation", [0, 2, np.nan, True]),
])
def test_every_number_parameter_is_checked(call, name, bad):
    for value in bad:
        with pytest.raises(ValueError, match=rf"^{name} must be "):
            call(value)


def test_call_sites_accept_numpy_numbers_and_infinite_timing_budgets():
    _, timing = _measure(warmup=np.int64(0), repeats=np.int32(1), min_time=np.float32(0), max_time=math.inf)
    assert timing.samples.size >= 1
    assert _lowrank(n_rows=np.int64(5), noise=np.float32(0.5)).X.shape == (5, 5)
    assert _mask(np.float64(0.5)).sum() == 10
    a = _solver("hals", random_state=np.int64(3))
    b = _solver("hals", random_state=3)
    assert np.array_equal(a.A, b.A)
