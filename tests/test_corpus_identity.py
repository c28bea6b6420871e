"""The corpus options keep nmfexp 0.2's job keys and seeds where they reproduce 0.2's data."""

from __future__ import annotations

import hashlib
import json

from nmfexp.experiment import Job
from nmfexp.experiment.config import RUN_CONTROL_KEYS


def _conf(**dataset):
    return {"dataset": {"_target_": "nmfexp.data.corpus.load_rdataset", "name": None, "table": "ISLR/Hitters",
                        "package": None, "item": None, **dataset},
            "solver": {"name": "wnmf_kl"}, "mask": {"kind": "given", "rate": 0.0}, "rank": 1, "seed": 3,
            "holdout": 0.0, "tag": "t"}


def _old_key(job: Job) -> str:
    """0.2.0's rule, written out: sha256 of the canonical JSON of every key but the run-control ones, with a
    data-set config that did not have the corpus options."""
    identity = {k: v for k, v in job.config.items() if k not in (*RUN_CONTROL_KEYS, "holdout_design", "budget")}
    identity["dataset"] = {k: v for k, v in identity["dataset"].items()
                           if k not in ("corpus_version", "column_scaling")}
    params = identity["solver"]["params"]  # stop_on, added since, at its default is not part of the key either
    identity["solver"] = {**identity["solver"], "params": {k: v for k, v in params.items() if k != "stop_on"}}
    # mask.share, added since, is part of the key of `rows` masks only
    identity["mask"] = {k: v for k, v in identity["mask"].items() if k != "share"}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()[:16]


def _seeds(job: Job):
    s = job.seeds
    return s.init, s.data.entropy, s.mask.entropy, s.holdout.entropy


def test_corpus_version_1_is_the_job_of_nmfexp_0_2():
    v1 = Job.from_config(_conf(corpus_version=1, column_scaling="none"), "/tmp/unused")
    assert v1.key == _old_key(v1)


def test_corpus_versions_are_different_jobs_with_the_same_random_start():
    v1 = Job.from_config(_conf(corpus_version=1), "/tmp/unused")
    v2 = Job.from_config(_conf(corpus_version=2), "/tmp/unused")
    assert v1.key != v2.key  # a version-1 record is never taken for a version-2 job
    assert _seeds(v1) == _seeds(v2)  # a table the rules leave as it was gets the start 0.2 gave it


def test_column_scaling_is_a_job_of_its_own():
    none = Job.from_config(_conf(corpus_version=2, column_scaling="none"), "/tmp/unused")
    scaled = Job.from_config(_conf(corpus_version=2, column_scaling="observed_mean"), "/tmp/unused")
    assert none.key != scaled.key and _seeds(none) != _seeds(scaled)
