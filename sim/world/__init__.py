"""The synthetic world: geography, households, the IRS master file and ICE's request file.

Data flows top to bottom through the modules: ``geography`` (which ZIP areas, how many people and
requests in each) -> ``vocab`` (the words) -> ``population`` (households, people, dwellings,
moves) -> ``master_file`` (what the IRS holds) -> ``requests`` (what ICE sent) -> ``generate``
(block by block, to Parquet).
"""
