"""The sweeper plugin of nmfexp (``hydra/sweeper=nmfexp``, the default of ``nmfexp-run``).

Hydra only loads plugins from the ``hydra_plugins`` namespace, so this module
is a thin shim: the work is done by :func:`nmfexp.cli.sweep.sweep`. It is
imported by Hydra's plugin scan at every start, so it imports nothing heavy.
It derives from Hydra's ``Sweeper`` interface, not from ``BasicSweeper``
(whose module the plugin scan re-executes, which would leave a subclass
pointing at a stale class).
"""

# OmegaConf reads the dataclass annotations at runtime and wants typing.Optional/Dict:
# ruff: noqa: UP006, UP035, UP045

from dataclasses import dataclass
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper


@dataclass
class NmfexpSweeperConf:
    _target_: str = "hydra_plugins.nmfexp.sweeper.NmfexpSweeper"
    max_batch_size: Optional[int] = None  # accepted for compatibility with the basic sweeper; jobs are planned at once
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="nmfexp", node=NmfexpSweeperConf, provider="nmfexp")


class NmfexpSweeper(Sweeper):
    """The basic sweeper's Cartesian products, planned by nmfexp before anything is launched:
    every job is composed and validated once, jobs whose record already exists are not submitted,
    and the sweep ends with a summary of every job's status."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config = None
        self.hydra_context = None
        self.launcher = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from nmfexp.cli.sweep import sweep

        return sweep(self, [f"{k}={v}" for k, v in self.params.items()] + list(arguments))
