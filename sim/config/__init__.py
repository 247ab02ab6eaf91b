"""Configuration: where config files are read and checked.

A config file is parsed once, at the edge, into frozen pydantic models. Every problem (unknown
key, wrong type, value out of range, shares that do not sum to 1) is collected and reported at
once with its dotted key path, the value received and what is allowed; unknown keys get a
"did you mean". Any key can be overridden with ``KEY=VALUE`` strings (the CLI's ``--set``).

The shipped ``configs/august-2025.toml`` is the complete, documented reference: every field of
the world and the policy is required, so a value lives in exactly one place and nothing silently
falls back to a default. Only ``[study]`` (one replicate, no alternatives, when absent) and
``[calibration]`` (the record ``matchsim calibrate`` writes) are optional. A scenario also names
the files it reads in: its policy, the policies of ``[[study.alternatives]]``, and the targets
file of ``study.published`` (:func:`load_targets`, also read by ``matchsim calibrate``).

>>> cfg = load_config("configs/august-2025.toml", ["world.scale=0.001"])  # doctest: +SKIP
>>> cfg.world.scale  # doctest: +SKIP
0.001

The package is in the parts of that job, each importing only those above it: :mod:`.base` (the
frozen model), :mod:`.world`, :mod:`.policy` and :mod:`.study` (the schemas), :mod:`.messages`
(validation errors reworded), :mod:`.keys` (dotted keys and ``--set`` overrides) and
:mod:`.files` (reading and resolving the files). Everything is importable from ``sim.config``.
"""

from __future__ import annotations

from sim.config.base import (Float, Int, Share, SHARE_TOLERANCE)
from sim.config.world import (AddressClasses, AddressConfig, DatesConfig, FormattingConfig,
                              HispanicSurnameForms, HouseholdsConfig, MasterFileConfig, MAX_REQUESTS,
                              MobilityConfig, NamesConfig, OrderAgeShares, OriginCounts, OriginShares, RecordConfig, RequestedConfig, RequestsConfig,
                              SsnConfig, SsnSources, WorldConfig)
from sim.config.policy import (ADDRESS_GATES, AddressGate, ComparisonConfig, ComparisonKindName,
                               CompositeKindName, CompositeLevelConfig, DERIVED_COLUMNS, FellegiSunterConfig,
                               LevelCondition, LinkConfig, LinkSideConfig, MAPPABLE_COLUMNS, MATCH_COLUMNS,
                               MatchColumn, MatcherName, MATCHERS, OnMultiple, PathConfig, PathRequests,
                               PolicyConfig, PriorMethod)
from sim.config.study import (CalibrationSettings, Config, FreeParameter, PublishedConfig, StudyConfig,
                              SweepConfig, SweepDesign, SweepParameter, TargetConfig, TargetsConfig)
from sim.config.keys import (apply_overrides, balanced_updates, get_dotted, set_dotted, toml_literal,
                             unknown_key)
from sim.config.files import (config_with, load_config, load_link_config, load_policy, load_sweep,
                              load_targets, MAX_CONFIG_BYTES, parse_toml, policy_path, read_config_text,
                              resolve_policy, resolve_study, validate_config)
