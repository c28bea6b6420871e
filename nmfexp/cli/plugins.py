"""Registration of nmfexp's Hydra plugins (the sweeper and the launchers), for the command line.

Hydra finds plugins by scanning the ``hydra_plugins`` namespace, which it
cannot see in editable installs (setuptools' import hook hides namespace
packages from ``pkgutil``); the command-line entry points therefore register
them by hand with :func:`register`. The experiment layer
(:mod:`nmfexp.experiment`) knows nothing of them: its configs are stored by
:func:`nmfexp.experiment.config.register_configs`.
"""

from __future__ import annotations

from ..experiment.config import register_configs

__all__ = ["register", "register_plugins"]

_registered = False


def register_plugins() -> None:
    """Register the sweeper (``hydra/sweeper=nmfexp``), the submitit launchers when
    ``hydra-submitit-launcher`` is installed (``hydra/launcher=slurm``, ``local_parallel``) and
    store nmfexp's ``hydra/launcher=joblib`` preset when ``hydra-joblib-launcher`` is. Idempotent."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    # importing the modules stores their configs (hydra/sweeper=nmfexp, the launcher presets)
    from hydra_plugins.nmfexp import launchers
    from hydra_plugins.nmfexp.sweeper import NmfexpSweeper

    Plugins.instance().register(NmfexpSweeper)
    for name in ("SlurmLauncher", "LocalLauncher"):
        if hasattr(launchers, name):  # only when hydra-submitit-launcher is installed
            Plugins.instance().register(getattr(launchers, name))
    joblib = launchers.joblib_preset()
    if joblib is not None:
        ConfigStore.instance().store(group="hydra/launcher", name="joblib", node=joblib, provider="nmfexp")
    slurm = launchers.slurm_schema()
    if slurm is not None:
        ConfigStore.instance().store(group="hydra/launcher", name="nmfexp_slurm_schema", node=slurm, provider="nmfexp")
    _registered = True


def register() -> None:
    """Everything ``nmfexp-run`` needs before Hydra composes a config: the plugins and nmfexp's configs
    (call it before ``hydra.initialize_config_dir``/``compose`` too)."""
    register_plugins()
    register_configs()
