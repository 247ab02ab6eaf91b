"""What every layer uses and that uses nothing of matchsim above it: errors and their exit codes
(:mod:`~sim.common.errors`), seeded random streams (:mod:`~sim.common.rng`), atomic files and
output directories (:mod:`~sim.common.io`), the metric names (:mod:`~sim.common.metrics`),
intervals over seeds (:mod:`~sim.common.stats`), numbers as text (:mod:`~sim.common.text`),
checksummed reference data (:mod:`~sim.common.reference`), provenance (:mod:`~sim.common.provenance`)
and where tasks run, local processes or Dask (:mod:`~sim.common.parallel`).
"""
