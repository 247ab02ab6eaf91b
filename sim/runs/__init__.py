"""One run: a world (or two files) matched under policies and evaluated. :mod:`~sim.runs.pipeline`
generates a world and runs each policy on it; :mod:`~sim.runs.link` matches any two files under a
policy; :mod:`~sim.runs.score` scores another linker's links on a world's truth as a run scores
its own.
"""
