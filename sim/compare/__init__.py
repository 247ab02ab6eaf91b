"""The matcher's vocabulary: how two columns are compared and the agreement levels each comparison
has (:mod:`~sim.compare.comparisons`), on columns of both sides encoded into one dictionary
(:mod:`~sim.compare.encode`). Below the config, which checks a policy's comparisons against it,
and below :mod:`sim.match`, which runs them.
"""
