"""Structured-config schemas for the experiment runner, and where its configs live.

The YAML files under ``conf/`` (one folder per config group: ``dataset``,
``mask``, ``solver``, ``timing``) are merged onto the typed schema
:class:`ExperimentConfig`, so that Hydra rejects a misspelt key
(``mask.rat=0.1``) or a value of the wrong type (``mask.rate=abc``) with its
own clear message before any job runs.

Experiment presets live in the top-level ``experiments/`` folder, one YAML
file per paper artifact. :func:`register_configs` stores them in Hydra's
``ConfigStore`` under the group ``experiment``, which is what makes
``+experiment=<name>`` work from any working directory.

Where the folders are found (first match wins):

1. the environment variables ``NMFEXP_CONFIG_DIR`` / ``NMFEXP_EXPERIMENTS_DIR``;
2. ``nmfexp/_conf`` and ``nmfexp/_experiments`` inside the installed package
   (a non-editable install that ships them as package data);
3. ``conf/`` and ``experiments/`` next to the ``nmfexp`` package folder (a
   source checkout, or ``pip install -e .``).
"""

# OmegaConf 2.3 reads the schema annotations at runtime and wants typing.Optional/Dict:
# ruff: noqa: UP006, UP045

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035

from omegaconf import MISSING, OmegaConf

__all__ = [
    "DatasetConfig",
    "MaskConfig",
    "SolverConfig",
    "TimingConfig",
    "ExperimentConfig",
    "SCHEMA_NAME",
    "config_dir",
    "experiments_dir",
    "register_configs",
]

#: Name under which :class:`ExperimentConfig` is stored in the ConfigStore;
#: ``conf/config.yaml`` lists it first in its defaults.
SCHEMA_NAME = "nmfexp_schema"


@dataclass
class DatasetConfig:
    """Which data matrix to build; ``kind`` decides which fields are used.

    - ``uniform``: ``n_rows`` x ``n_cols`` entries uniform in [0, 1) (``n_cols``
      defaults to ``n_rows``).
    - ``lowrank``: a product of ``true_rank`` uniform factors plus Gaussian noise
      of standard deviation ``noise`` times the mean of the noiseless matrix,
      clipped at 0; the noiseless matrix is kept as ground truth.
    - ``real``: a registered real data set ``name`` (optionally read from ``path``).
    - ``file``: the user's own file at ``path``, read with ``options``.
    """

    kind: str = MISSING
    name: Optional[str] = None
    n_rows: Optional[int] = None
    n_cols: Optional[int] = None
    true_rank: Optional[int] = None
    noise: float = 0.0
    path: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class MaskConfig:
    """Which entries the experiment hides; see :func:`nmfexp.data.masks.make_mask`.

    ``kind`` is one of ``grid``, ``random``, ``corner``, ``none``, ``given``;
    ``rate`` is a fraction of all entries in [0, 1) (ignored by ``none`` and
    ``given``).
    """

    kind: str = "none"
    rate: float = 0.0


@dataclass
class SolverConfig:
    """A solver from ``nmfexp.SOLVERS`` and its keyword parameters.

    ``params`` must be keyword parameters of the solver function (checked
    before the job starts); adding an unknown one needs a ``+`` on the command
    line (``+solver.params.foo=1``) and then fails the job with a clear message.
    """

    name: str = MISSING
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TimingConfig:
    """How runtimes are measured (see :func:`nmfexp.timing.measure`).

    Attributes
    ----------
    warmup : int
        Untimed calls before measuring.
    repeats : int
        Minimum number of timed calls (samples).
    min_time : float
        Keep taking samples until their total reaches this many seconds
        (bounded by ``max_repeats``).
    max_repeats : int
        Never take more samples than this.
    max_time : float
        Stop taking samples once their total exceeds this many seconds, even
        before ``repeats`` (at least one sample is always taken).
    blas_threads : int or None
        BLAS threads during the job (threadpoolctl); None leaves them alone.
    """

    warmup: int = 1
    repeats: int = 5
    min_time: float = 0.02
    max_repeats: int = 1000
    max_time: float = 60.0
    blas_threads: Optional[int] = 1


@dataclass
class ExperimentConfig:
    """One job: data, mask, solver, seed and how to measure and store it.

    The keys ``results_dir``, ``overwrite``, ``retry_failed`` and
    ``save_factors`` control where and whether the record is written; all
    other keys define the job and enter its hash (the record's name).
    """

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    rank: int = 1
    seed: int = 0
    holdout: float = 0.0
    tag: str = ""
    results_dir: str = "results"
    save_factors: bool = False
    overwrite: bool = False
    retry_failed: bool = False


#: Keys that decide where/whether a record is written but not what it contains.
RUN_CONTROL_KEYS = ("results_dir", "save_factors", "overwrite", "retry_failed")


def _find_dir(env_var: str, installed: str, source: str) -> Path:
    if os.environ.get(env_var):
        path = Path(os.environ[env_var]).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"{env_var}={path} is not a directory.")
        return path
    package = Path(__file__).resolve().parent
    for path in (package / installed, package.parent / source):
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"cannot find the {source}/ folder: looked in {package / installed} and {package.parent / source}. "
        f"Install nmfexp from its repository (pip install -e .) or set {env_var}."
    )


def config_dir() -> Path:
    """The folder holding ``config.yaml`` and the config groups (absolute path)."""
    return _find_dir("NMFEXP_CONFIG_DIR", "_conf", "conf")


def experiments_dir() -> Path:
    """The folder holding the experiment presets, one ``<name>.yaml`` each."""
    return _find_dir("NMFEXP_EXPERIMENTS_DIR", "_experiments", "experiments")


_registered = False


def register_configs() -> None:
    """Store the schema and the experiment presets in Hydra's ConfigStore.

    Idempotent; call it before ``hydra.initialize_config_dir``/``compose``
    (the runner does it on import).
    """
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name=SCHEMA_NAME, node=ExperimentConfig)
    for path in sorted(experiments_dir().glob("*.yaml")):
        # Presets are global packages: they may set any key (solver, dataset, hydra.sweeper.params, ...).
        cs.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")
    _registered = True
