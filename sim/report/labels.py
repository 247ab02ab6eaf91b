"""The words of the reports: titles, and the readable name of every code a summary holds (a path,
an address class, a metric). A code not listed is shown with its underscores as spaces, so a new
category never breaks a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


TITLE = "Address Disclosures to ICE: A Simulation of the August 2025 IRS Address Match"


SUBTITLE = ("How many of the disclosed addresses went to the wrong person, "
            "and what other matching rules would have done")


KICKER = "Simulation study, not an audit of IRS records"


# The public record the study reproduces (../shared/FACTS.md). The simulated figures and the
# published ones the study compares with come from the summary; these only tell the story.
FACTS_REQUESTS = "1.28 million"


FACTS_DISCLOSED = "47,289"


FACTS_TIN_PATH = "42,695"


PATH_LABELS = {"tin": "TIN path", "address": "Address path", "all": "Single path", "(none)": "No path"}


ADDRESS_CLASS_LABELS = {
    "complete": "Complete",
    "missing_unit": "Apartment, no unit number",
    "out_of_date": "Out of date (person moved)",
    "shared": "Shared (shelter, office)",
    "no_street_number": "No street number",
    "city_state_only": "City and state only",
    "zip_only": "ZIP code only",
    "placeholder": "Placeholder text",
    "blank": "Blank",
}


ADDRESS_AGE_LABELS = {
    "under_1": "Under 1 year",
    "1_to_3": "1 to 3 years",
    "3_to_5": "3 to 5 years",
    "5_to_10": "5 to 10 years",
    "10_to_20": "10 to 20 years",
    "20_plus": "20 years or more",
}


SSN_SOURCE_LABELS = {
    "correct": "Correct number",
    "mistyped": "Mistyped number",
    "borrowed_relative": "Borrowed from a household member",
    "borrowed_stranger": "Borrowed from a stranger",
    "never_issued": "Number never issued",
    "none": "No number",
}


WRONG_PERSON_LABELS = {
    "ssn_owner": "Owner of a borrowed or mistyped SSN",
    "household_member": "Household member",
    "same_name_neighbour": "Same-name neighbour",
    "other": "Other person",
}


WRONG_PERSON_PHRASES = {
    "ssn_owner": "the owners of borrowed or mistyped SSNs",
    "household_member": "household members",
    "same_name_neighbour": "same-name neighbours",
    "other": "other people",
}


CORRUPTION_LABELS = {
    "none": "None",
    "particles_dropped": "Name: surname particles dropped",
    "one_surname": "Name: first surname only",
    "given_truncated": "Name: compound given name truncated",
    "transliterated": "Name: other romanization",
    "name_order_swapped": "Name: given name and surname swapped",
    "first_name_typo": "Name: first-name typo",
    "last_name_typo": "Name: last-name typo",
    "dob_error": "Date of birth wrong",
    "ssn_mistyped": "SSN: mistyped",
    "ssn_borrowed_relative": "SSN: borrowed from a household member",
    "ssn_borrowed_stranger": "SSN: borrowed from a stranger",
    "ssn_never_issued": "SSN: never issued",
    "address_missing_unit": "Address: apartment, no unit number",
    "address_out_of_date": "Address: out of date",
    "address_shared": "Address: shared",
    "address_no_street_number": "Address: no street number",
    "address_city_state_only": "Address: city and state only",
    "address_zip_only": "Address: ZIP code only",
    "address_placeholder": "Address: placeholder text",
    "address_blank": "Address: blank",
    "address_typo": "Address: street-name typo",
    "address_zip_typo": "Address: ZIP typo",
}


NAME_COMMONNESS_LABELS = {
    "top_10": "Top 10 surnames",
    "rank_11_100": "Surname rank 11-100",
    "rank_101_1000": "Surname rank 101-1,000",
    "rank_1001_10000": "Surname rank 1,001-10,000",
    "rarer": "Rarer surnames",
}


ORIGIN_LABELS = {"el_salvador": "El Salvador", "other": "Other countries"}


def label_of(code: str, labels: Mapping[str, str]) -> str:
    return labels.get(code) or code.replace("_", " ").capitalize()


def ordered_codes(categories: Sequence[str], order: Sequence[str]) -> list[str]:
    """``categories`` in the report's fixed order, unknown ones after it, alphabetically."""
    known = [c for c in order if c in categories]
    return known + sorted(c for c in categories if c not in order)


SWEEP_KICKER = "Simulation sweep, not an audit of IRS records"


#: Readable names of the metrics a sweep can measure (``sim.common.metrics.COUNT_KEYS`` and
#: ``RATE_KEYS``); a key not listed is shown with its underscores as spaces.
METRIC_LABELS = {
    "requests": "Requests",
    "requests_with_tin": "Requests with a TIN",
    "findable": "Requests whose person has a record",
    "disclosed": "Disclosures",
    "disclosed_tin_path": "Disclosures, TIN path",
    "disclosed_address_path": "Disclosures, address path",
    "right_person_disclosures": "Right-person disclosures",
    "wrong_person_disclosures": "Wrong-person disclosures",
    "deficient_address_disclosures": "Disclosures on a deficient address",
    "updated_address_disclosures": "Disclosures of an address new to ICE",
    "current_address_disclosures": "Disclosures of the address current on August 7",
    "missed_matches": "Missed matches",
    "gated": "Gated requests",
    "unmatched": "Unmatched requests",
    "ambiguous": "Ambiguous requests",
    "no_path": "Requests with no path",
    "precision": "Precision",
    "recall": "Recall",
    "disclosure_rate": "Disclosure rate",
    "wrong_person_rate": "Wrong-person rate",
    "deficient_address_rate": "Deficient-address share",
    "updated_address_rate": "Share of disclosures new to ICE",
    "current_address_rate": "Share of disclosures current on August 7",
    "tin_path_share": "TIN-path share",
}


DESIGN_LABELS = {"grid": "grid", "random": "random design", "lhs": "Latin hypercube"}


def is_rate(metric: str) -> bool:
    """``rates.*`` are shares, shown as percentages; ``estimates.*`` and ``simulated.*`` counts."""
    return str(metric).startswith("rates.")


def metric_label(metric: str) -> str:
    """``Wrong-person disclosures`` for ``estimates.wrong_person_disclosures``; a simulated
    (unscaled) count says so."""
    group, _, leaf = str(metric).partition(".")
    label = METRIC_LABELS.get(leaf) or (leaf or group).replace("_", " ").capitalize()
    return f"{label} (simulated)" if group == "simulated" else label
