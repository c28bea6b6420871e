"""The experiment layer: a job object and a straight pipeline.

::

    job = Job.from_config(cfg)        # validate, identity, seeds, record path   (job.py)
    run_job(job)                      # build -> measure(factorize) -> evaluate -> write_record   (run.py)

Modules: :mod:`.config` (schemas, config folders), :mod:`.job` (the job and
its data), :mod:`.evaluate` (the metric table), :mod:`.provenance`
(environment facts),
:mod:`.run` (``run_job``). The command line, the sweeper and progress live
in :mod:`nmfexp.cli` and never inside a job.
"""

from .job import ConfigError, Job, JobData, Seeds, job_config
from .run import run, run_job

__all__ = ["ConfigError", "Job", "JobData", "Seeds", "job_config", "run", "run_job"]
