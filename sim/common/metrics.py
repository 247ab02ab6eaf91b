"""The names of everything a summary counts, in one place below the config that names them.

A target (``configs/published-2025.toml``), a sweep's metrics and the report all name figures as
``GROUP.KEY``: ``estimates.disclosed``, ``rates.precision``. The keys are defined here;
:mod:`sim.evaluate` computes them (its module docstring defines each count).
"""

from __future__ import annotations

from collections.abc import Mapping

#: Count keys of ``summary.json`` (``simulated`` and ``estimates``).
COUNT_KEYS = (
    "requests", "requests_with_tin", "findable", "disclosed", "disclosed_tin_path", "disclosed_address_path",
    "right_person_disclosures", "wrong_person_disclosures", "deficient_address_disclosures",
    "updated_address_disclosures", "current_address_disclosures", "missed_matches", "gated", "unmatched", "ambiguous", "no_path",
)
#: Rate keys of ``summary.json`` (``rates``).
RATE_KEYS = (
    "precision", "recall", "disclosure_rate", "wrong_person_rate", "deficient_address_rate",
    "updated_address_rate", "current_address_rate", "tin_path_share",
)
#: The groups a metric is named in: counts scaled to the national request file, the simulated
#: counts themselves, and the rates (the order a sweep's results table has them in).
METRIC_GROUPS = ("simulated", "estimates", "rates")
#: Request attributes the summary breaks every count down by.
BREAKDOWNS = ("path", "address_class", "ssn_source", "corruption", "origin_group", "name_commonness", "wrong_person_kind",
              "miss_reason", "ice_address_age", "irs_address_age", "final_order_year")
#: Bands of an address's age in years on the day of ICE's file (ICE's, or the IRS's last known one).
ADDRESS_AGE_BANDS = ("under_1", "1_to_3", "3_to_5", "5_to_10", "10_to_20", "20_plus")
#: The statistics ``address_ages`` gives of each group of address ages (years).
AGE_QUARTILES = ("q1", "median", "q3")
#: Buckets of how common a request's (first) surname is, by its rank in the Census 2010 table.
NAME_COMMONNESS = ("top_10", "rank_11_100", "rank_101_1000", "rank_1001_10000", "rarer")
#: Whose record a wrong-person disclosure was, tested in this order.
WRONG_PERSON_KINDS = ("ssn_owner", "household_member", "same_name_neighbour", "other")
#: Why a findable request was missed (``miss_reason``), in the order a request meets them.
MISS_REASONS = ("no_path", "gated", "unmatched", "ambiguous", "wrong_person")


def check_metric(name: str) -> str:
    """``name`` if it is ``GROUP.KEY`` of a known group and key; else a ValueError listing them."""
    group, _, key = name.partition(".")
    if group not in METRIC_GROUPS:
        raise ValueError(f"unknown metric {name!r}; a metric is GROUP.KEY with GROUP one of {', '.join(METRIC_GROUPS)}")
    allowed = RATE_KEYS if group == "rates" else COUNT_KEYS
    if key not in allowed:
        raise ValueError(f"unknown metric {name!r}; {group}.* has: {', '.join(allowed)}")
    return name


def metric(summary: Mapping, key: str):
    """The value of a dotted metric (``estimates.disclosed``, ``rates.precision``) in a run summary."""
    group, _, name = key.partition(".")
    return summary[group][name]


__all__ = ["metric", "COUNT_KEYS", "RATE_KEYS", "METRIC_GROUPS", "BREAKDOWNS", "ADDRESS_AGE_BANDS", "AGE_QUARTILES",
           "NAME_COMMONNESS", "WRONG_PERSON_KINDS", "MISS_REASONS", "check_metric"]
