"""The matcher: prepared columns, blocking, comparisons, the Fellegi-Sunter model and policies.

Data flows: both sides prepared into one schema (:mod:`sim.match.prepare`) -> candidate pairs as
two integer index arrays (:mod:`sim.match.blocking`) -> a small integer matrix of comparison
levels (:mod:`sim.compare.comparisons`, computed by a matcher of :mod:`sim.match.matchers`) -> a
policy's decision by rules or by Fellegi-Sunter weights (:mod:`sim.match.policy`,
:mod:`sim.match.fellegi_sunter`). :mod:`sim.match.splink` translates a policy into Splink's terms.
"""
