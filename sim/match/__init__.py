"""The matcher: blocking, vectorized comparisons, policies, engines (issue 3, in progress).

Data flows: candidate pairs (two integer index arrays) -> :mod:`sim.match.compare` (a small
integer matrix of comparison levels) -> a policy (rules or Fellegi-Sunter) -> decisions.
"""
