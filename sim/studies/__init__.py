"""Many runs gathered: :mod:`~sim.studies.study` (seeds x policies, every figure with an interval),
:mod:`~sim.studies.sweep` (a design over parameters, resumable unit by unit) and
:mod:`~sim.studies.calibrate` (the free parameters fitted to the published figures). They return
results; the command line writes the reports from them.
"""
