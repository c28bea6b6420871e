"""Fault-tolerant submitit launchers (presets ``hydra/launcher=slurm`` and ``local_parallel``).

Upstream's submitit launcher collects results in order and raises at the first
job that produced none (killed, out of memory, preempted, over its time
limit): the sweep then ends without a summary while later jobs still run.
These launchers collect every job's outcome; a lost job becomes a failed job
return, and the sweep reports it by name. The local variant also keeps at
most ``array_parallelism`` jobs running at once (submitit's local executor
starts them all). The work is in :mod:`nmfexp.cli.launch`; the classes exist
only when ``hydra-submitit-launcher`` is installed (``pip install "nmfexp[slurm]"``).
"""

# OmegaConf reads the dataclass annotations at runtime and wants typing.Optional:
# ruff: noqa: UP045

from collections.abc import Sequence
from typing import Any, Optional

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
except ImportError:  # the optional launcher is not installed: no classes, no import error at Hydra's start
    BaseSubmititLauncher = None

if BaseSubmititLauncher is not None:

    class _TolerantSubmititLauncher(BaseSubmititLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
            from nmfexp.cli.launch import submitit_launch

            return submitit_launch(self, job_overrides, initial_job_idx)

    class SlurmLauncher(_TolerantSubmititLauncher):
        _EXECUTOR = "slurm"

    class LocalLauncher(_TolerantSubmititLauncher):
        _EXECUTOR = "local"


def slurm_schema() -> Any:
    """The typed options of ``hydra/launcher=slurm``: Hydra's submitit Slurm options plus nmfexp's, or None
    without ``hydra-submitit-launcher``.

    Added: ``jobs_per_task`` (jobs one array task runs one after the
    other; ``auto``: about four tasks per slot the partition offers, at most
    25 jobs each). Changed: ``mem_gb`` null means a per-job estimate from the
    data size; ``signal_delay_s`` null means a tenth of the task's limit
    (10-120 s). Stored as ``hydra/launcher=nmfexp_slurm_schema`` by
    :func:`nmfexp.cli.plugins.register_plugins`.
    """
    from dataclasses import dataclass

    try:
        from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
    except ImportError:
        return None

    @dataclass
    class NmfexpSlurmConf(SlurmQueueConf):
        _target_: str = "hydra_plugins.nmfexp.launchers.SlurmLauncher"
        jobs_per_task: Any = "auto"
        mem_gb: Optional[int] = None
        signal_delay_s: Optional[int] = None

    return NmfexpSlurmConf


def joblib_preset() -> Any:
    """``hydra/launcher=joblib`` with nmfexp's defaults, or None without ``hydra-joblib-launcher``.

    The plugin's own options, except: at most cores / ``timing.blas_threads``
    jobs at once (``n_jobs``), so that timings do not measure contention; and
    one job per dispatch, so that a lost worker takes at most its current job
    down. Stored over the plugin's entry by :func:`nmfexp.cli.plugins.register_plugins`.
    """
    from dataclasses import dataclass

    try:
        from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
    except ImportError:
        return None

    @dataclass
    class NmfexpJoblibConf(JobLibLauncherConf):
        n_jobs: Any = "${nmfexp_parallel_jobs:${timing.blas_threads}}"
        batch_size: str = "1"

    return NmfexpJoblibConf
