"""Command-line entry points: ``nmfexp-run`` (:mod:`.run`) and the sweep planner (:mod:`.sweep`)."""
