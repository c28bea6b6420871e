"""nmfexp's Hydra plugins: the sweeper (:mod:`.sweeper`) and fault-tolerant submitit launchers (:mod:`.launchers`).

Hydra loads plugins only from the ``hydra_plugins`` namespace and imports
every module here at each start, so these modules import nothing heavy; the
work is done in :mod:`nmfexp.cli.sweep`.
"""
