"""Every decision against the ground truth, and the counts an audit reports.

:func:`evaluate` turns the matcher's decisions on one set of requests into the rows of
``decisions.parquet``: what was decided (path, gate, outcome, what was disclosed) beside what
was true (whose record it was, and if it was someone else's, whose: the owner of a borrowed or
mistyped SSN, a household member, a same-name neighbour, or another person). :func:`counts`
counts those rows; every figure of ``summary.json`` is a count of rows of ``decisions.parquet``
under a condition stated here, so it can be recomputed from the file.

Definitions (a request is one row of ICE's file):

* **disclosed**: the IRS released an address for the request;
* **right person**: the record disclosed belongs to the person ICE asked about;
  **wrong person** otherwise (``wrong_person_kind`` says whose it was);
* **findable**: the person has a record of their own on the master file;
  a **missed match** is a findable request without a right-person disclosure
  (``miss_reason``: gated, unmatched, ambiguous, wrong_person, no_path; ``true_record_candidate``
  says whether blocking even paired the request with the person's record);
* **deficient address**: ICE's address text is not a complete address by the sufficiency
  classifier (:func:`sim.normalize.address_sufficiency`): partial, ZIP only, placeholder or blank.
  This is what the IRS could see from the text ("potentially incomplete or insufficient");
  the generator's own class (``truth_address_class``) is kept beside it;
* **updated address** (new to ICE): a disclosure whose address (standardized delivery line and
  ZIP) differs from ICE's, i.e. the IRS told ICE something ICE did not have;
* **current address**: a disclosure whose address is where the person ICE asked about lived on
  August 7, 2025, the day of the disclosure: the delivery line and ZIP of their home on the day of
  ICE's file (``truth_street_address``, ``truth_zip``), and no move in the six weeks since
  (``truth_moved_before_disclosure``). A wrong person's address is current only where the two
  live together;
* **address ages**: ``ice_address_age_years`` is how long before ICE's file ICE last recorded its
  address (``truth_address_age_years``), ``irs_address_age_years`` how long before it the IRS
  learned the address it disclosed (the disclosed record's ``truth_lka_age_years``); the
  breakdowns ``ice_address_age`` and ``irs_address_age`` band them
  (:data:`sim.common.metrics.ADDRESS_AGE_BANDS`), and ``final_order_year`` is the year of ICE's
  final order;
* **TIN path / address path** (the summary's ``disclosed_tin_path`` and ``disclosed_address_path``):
  disclosures for requests that carry a TIN, and for those that do not, whatever the policy's
  path names.

Precision is right-person disclosures over disclosures; recall is right-person disclosures over
findable requests.

A Fellegi-Sunter path's decision at any threshold follows from the ranking of each request's
candidates (``top_match_weight``, ``second_match_weight``, ``top_right_person``): :func:`frontier`
counts disclosures, right and wrong, at every threshold of a grid (the precision-recall
frontier), and :func:`at_volume` at the threshold where the policy discloses as many addresses as
another did on the same world.
"""

from __future__ import annotations

import bisect
import functools

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.match.policy import DISCLOSED_COLUMNS, OUTCOMES, PathCandidates, decision_columns, disclosed_values
from sim.common.metrics import ADDRESS_AGE_BANDS, AGE_QUARTILES, BREAKDOWNS, NAME_COMMONNESS, WRONG_PERSON_KINDS

_COMMONNESS_EDGES = (10, 100, 1_000, 10_000)
_AGE_EDGES = (1.0, 3.0, 5.0, 10.0, 20.0)            # years: the edges of ADDRESS_AGE_BANDS
_SSN_OWNER_SOURCES = ("borrowed_relative", "borrowed_stranger", "mistyped")
#: The master file's truth :func:`evaluate` reads, kept beside the prepared match columns.
RIGHT_TRUTH_COLUMNS = ("truth_person_id", "truth_household_id", "truth_lka_age_years")
#: The master-file columns :func:`evaluate` reads: its truth, what is compared with the request
#: (name control, ZIP) and what a disclosure hands over.
RIGHT_COLUMNS = tuple(dict.fromkeys((*RIGHT_TRUTH_COLUMNS, "tin", "name_control", "zip5", *DISCLOSED_COLUMNS.values())))


def evaluate(requests: pa.Table, left: pa.Table, right: pa.Table, decisions: Mapping[str, np.ndarray],
             cands: Sequence[PathCandidates], path_names: Sequence[str], *, name_ranks: Mapping[str, int]) -> pa.Table:
    """The decision rows of one set of requests.

    ``requests`` is ICE's file with its truth columns; ``left`` the same rows prepared for
    matching; ``right`` the master-file rows the candidates index (at least
    :data:`RIGHT_COLUMNS`); ``decisions`` from
    :func:`sim.match.policy.decide`; ``name_ranks`` maps a surname to its Census rank.
    """
    n = requests.num_rows
    disclosed = decisions["right_row"] >= 0
    rows = np.where(disclosed, decisions["right_row"], 0)

    def truth(column: str) -> np.ndarray:
        return requests.column(column).to_numpy(zero_copy_only=False)

    def disclosed_np(column: str) -> np.ndarray:
        return disclosed_values(decisions, right.column(column)).to_numpy(zero_copy_only=False)

    person = truth("truth_person_id")
    got_person = np.where(disclosed, _np(right, "truth_person_id", rows), -1)
    got_household = np.where(disclosed, _np(right, "truth_household_id", rows), -1)
    right_person = disclosed & (got_person == person)
    wrong = disclosed & ~right_person

    ssn_source = truth("truth_ssn_source").astype(str)
    name_control = left.column("name_control").to_numpy(zero_copy_only=False)
    kinds = np.select(
        [wrong & np.isin(ssn_source, _SSN_OWNER_SOURCES) & (got_person == truth("truth_ssn_owner_id")),
         wrong & (got_household == truth("truth_household_id")),
         wrong & (disclosed_np("name_control") == name_control) & (disclosed_np("zip5") == truth("truth_zip"))],
        WRONG_PERSON_KINDS[:3], default=WRONG_PERSON_KINDS[3])
    wrong_kind = pa.array(np.where(wrong, kinds, None), pa.string())

    findable = truth("truth_in_master_file").astype(bool)
    missed = findable & ~right_person
    outcome = np.asarray(OUTCOMES, dtype=object)[decisions["outcome"]]
    reason = np.where(outcome == "disclosed", "wrong_person", outcome)
    in_candidates = _true_record_candidate(n, cands, person, right)

    # every threshold's decision of a Fellegi-Sunter path follows from its ranking (frontier)
    top_row = np.asarray(decisions.get("top_row", np.full(n, -1)))
    ranked = top_row >= 0
    top_person = np.where(ranked, _np(right, "truth_person_id", np.where(ranked, top_row, 0)), -1)
    top_weight = np.asarray(decisions.get("top_weight", np.full(n, np.nan)), np.float64)
    second_weight = np.asarray(decisions.get("second_weight", np.full(n, np.nan)), np.float64)

    sufficiency = left.column("address_sufficiency")
    columns = decision_columns(path_names, decisions, right)
    same_address = pc.and_(pc.fill_null(pc.equal(columns["disclosed_street_address"], left.column("street_line")), False),
                           pc.fill_null(pc.equal(columns["disclosed_zip5"], left.column("zip5")), False))
    updated = disclosed & ~same_address.to_numpy(zero_copy_only=False)
    at_home = pc.and_(pc.fill_null(pc.equal(columns["disclosed_street_address"], requests.column("truth_street_address")), False),
                      pc.fill_null(pc.equal(columns["disclosed_zip5"], requests.column("truth_zip")), False))
    current = disclosed & at_home.to_numpy(zero_copy_only=False) & ~truth("truth_moved_before_disclosure").astype(bool)
    ice_age = truth("truth_address_age_years").astype(np.float64)
    irs_age = np.where(disclosed, _np(right, "truth_lka_age_years", rows), np.nan)
    order_year = pc.year(requests.column("final_order_date")).to_numpy(zero_copy_only=False)

    return pa.table({
        "request_id": requests.column("request_id"),
        "path": columns["path"],
        "has_tin": pc.is_valid(left.column("tin")),
        "address_gate_passed": columns["address_gate_passed"],
        "outcome": columns["outcome"],
        "n_candidates": columns["n_candidates"],
        "n_matches": columns["n_matches"],
        "score": pa.array(decisions["score"], pa.float64()),
        "disclosed": pa.array(disclosed),
        "disclosed_tin": disclosed_values(decisions, right.column("tin")),
        **{name: columns[name] for name in DISCLOSED_COLUMNS},
        "address_sufficiency": sufficiency,
        "address_deficient": pc.not_equal(pc.fill_null(sufficiency, "blank"), "complete"),
        "updated_address": pa.array(updated),
        "current_address": pa.array(np.where(disclosed, current, None), pa.bool_()),
        "ice_address_age_years": pa.array(ice_age, pa.float32()),
        "irs_address_age_years": pa.array(irs_age, pa.float32(), mask=~disclosed),
        "final_order_year": pa.array(order_year, pa.int16()),
        "ice_address_age": pa.array(age_band(ice_age), pa.string()),
        "irs_address_age": pa.array(np.where(disclosed, age_band(irs_age), None), pa.string()),
        "right_person": pa.array(np.where(disclosed, right_person, None), pa.bool_()),
        "wrong_person_kind": wrong_kind,
        "findable": pa.array(findable),
        "missed": pa.array(missed),
        "miss_reason": pa.array(np.where(missed, reason, None), pa.string()),
        "true_record_candidate": pa.array(np.where(findable, in_candidates, None), pa.bool_()),
        "disclosed_person_id": pa.array(np.where(disclosed, got_person, None), pa.int64()),
        "top_match_weight": pa.array(top_weight, mask=~ranked),
        "second_match_weight": pa.array(second_weight, mask=np.isnan(second_weight)),
        "top_right_person": pa.array(ranked & (top_person == person), mask=~ranked),
        "truth_person_id": requests.column("truth_person_id"),
        "truth_address_class": requests.column("truth_address_class"),
        "truth_ssn_source": requests.column("truth_ssn_source"),
        "truth_origin_group": requests.column("truth_origin_group"),
        "truth_name_pool": requests.column("truth_name_pool"),
        "truth_corruptions": requests.column("truth_corruptions"),
        "name_commonness": pa.array(name_commonness(requests.column("last_name"), name_ranks), pa.string()),
    })


def age_band(years: np.ndarray) -> np.ndarray:
    """The :data:`sim.common.metrics.ADDRESS_AGE_BANDS` band of each age in years (NaN: None).

    >>> age_band(np.array([0.5, 1.0, 9.99, 25.0, np.nan])).tolist()
    ['under_1', '1_to_3', '5_to_10', '20_plus', None]
    """
    years = np.asarray(years, dtype=np.float64)
    band = np.asarray(ADDRESS_AGE_BANDS, dtype=object)[np.searchsorted(_AGE_EDGES, np.nan_to_num(years), side="right")]
    return np.where(np.isnan(years), None, band)


#: The bucket of each last name met, for the ranks it was bucketed by (a process keeps one
#: table: every block and policy of a run asks about the same names).
_BUCKETS: dict[int, tuple[Mapping[str, int], dict[str, str]]] = {}


def name_commonness(last_names, ranks: Mapping[str, int]) -> np.ndarray:
    """The :data:`sim.common.metrics.NAME_COMMONNESS` bucket of each last name's first surname (particles kept with
    it: DE LA TORRE MUNOZ -> DELATORRE, as the Census table writes it). ``ranks`` is not to be
    changed once used: each name's bucket is kept for it."""
    from sim.normalize import PARTICLES, clean_name, map_distinct

    held = _BUCKETS.get(id(ranks))
    if held is None or held[0] is not ranks:
        _BUCKETS.clear()
        held = _BUCKETS[id(ranks)] = (ranks, {})
    known = held[1]

    def bucket(name: str) -> str:
        if name not in known:
            known[name] = bucketed(name)
        return known[name]

    def bucketed(name: str) -> str:
        words = clean_name(name).replace("-", " ").split(" ")
        first = []
        for w in words:
            first.append(w)
            if w not in PARTICLES:
                break
        rank = ranks.get("".join(first))
        if rank is None:
            return NAME_COMMONNESS[-1]
        return NAME_COMMONNESS[bisect.bisect_left(_COMMONNESS_EDGES, rank)]

    return map_distinct(last_names, bucket)


@functools.lru_cache(maxsize=1)
def census_ranks() -> dict[str, int]:
    """Surname -> rank (1 = most common) in the Census 2010 table the world draws from (built
    once a process; do not change the dict)."""
    from sim.world.vocab import census_surnames

    table, _ = census_surnames()
    ordered = table.sort_values(["count", "name"], ascending=[False, True], kind="stable")["name"].tolist()
    return {name: rank for rank, name in enumerate(ordered, start=1)}


# ---------------------------------------------------------------------------------------------
# The precision-recall frontier of a Fellegi-Sunter policy

#: Match probabilities a report quotes the frontier at.
FRONTIER_PROBABILITIES = (0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999)
#: The match weights (log2 posterior odds) at which every Fellegi-Sunter policy's frontier is
#: counted: every half bit from match probability 0.001 to 1 - 1e-12, and the weights of
#: :data:`FRONTIER_PROBABILITIES`.
FRONTIER_WEIGHTS: tuple[float, ...] = tuple(sorted(
    {float(w) for w in np.arange(-10.0, 40.0001, 0.5)} | {float(np.log2(p / (1 - p))) for p in FRONTIER_PROBABILITIES}))


def fellegi_sunter_paths(policy) -> dict[str, str]:
    """Path name -> ``on_multiple`` of each Fellegi-Sunter path of ``policy`` (empty: none)."""
    return {p.name: p.on_multiple for p in policy.paths if p.decide == "fellegi_sunter"}


class _Ranking:
    """What deciding a set of decision rows at another threshold needs, as numpy arrays."""

    def __init__(self, decisions: pa.Table, fs_paths: Mapping[str, str]):
        def col(name, fill):
            return pc.fill_null(decisions.column(name), fill).to_numpy(zero_copy_only=False)

        path = pc.fill_null(decisions.column("path"), "").to_numpy(zero_copy_only=False)
        fs = np.isin(path, list(fs_paths)) & col("address_gate_passed", False).astype(bool)
        self.best = np.isin(path, [p for p, how in fs_paths.items() if how == "best"])
        self.top = np.where(fs, col("top_match_weight", np.nan).astype(np.float64), np.nan)
        self.second = col("second_match_weight", np.nan).astype(np.float64)
        self.top_right = col("top_right_person", False).astype(bool)
        others = ~np.isin(path, list(fs_paths))
        self.fixed_disclosed = int((col("disclosed", False).astype(bool) & others).sum())
        self.fixed_right = int((col("right_person", False).astype(bool) & others).sum())
        self.findable = int(col("findable", False).astype(bool).sum())

    def at(self, weight: float) -> dict:
        with np.errstate(invalid="ignore"):
            over = self.top >= weight
            # "best": a tie for the top is never disclosed; "reject": nor any second match
            alone = np.where(self.best, ~(self.second == self.top), ~(self.second >= weight))
        disclosed = over & alone
        n = self.fixed_disclosed + int(disclosed.sum())
        right = self.fixed_right + int((disclosed & self.top_right).sum())
        return {"match_weight": float(weight), "match_probability": float(1.0 / (1.0 + 2.0 ** -float(weight))),
                "disclosed": n, "right_person_disclosures": right, "wrong_person_disclosures": n - right,
                "precision": right / n if n else None, "recall": right / self.findable if self.findable else None}


def frontier(decisions: pa.Table, fs_paths: Mapping[str, str], weights=FRONTIER_WEIGHTS) -> list[dict]:
    """The precision-recall frontier: disclosures, right and wrong, precision and recall of the
    same decisions with every Fellegi-Sunter path (``fs_paths``, :func:`fellegi_sunter_paths`)
    decided at each of ``weights`` instead of its own threshold. At a path's own threshold it
    is exactly what :func:`counts` gives (a test holds it to that)."""
    ranking = _Ranking(decisions, fs_paths)
    return [ranking.at(w) for w in weights]


def at_volume(decisions: pa.Table, fs_paths: Mapping[str, str], volume: int) -> dict:
    """The frontier's point at the highest number of disclosures not above ``volume`` (another
    policy's disclosures on the same world): the threshold is the lowest weight some request
    reaches at which the policy discloses at most that many. Same volume, how many to the wrong
    person?"""
    ranking = _Ranking(decisions, fs_paths)
    weights = np.unique(ranking.top[~np.isnan(ranking.top)])
    lo, hi = 0, len(weights)              # disclosures fall as the weight rises: find the first <= volume
    while lo < hi:
        mid = (lo + hi) // 2
        if ranking.at(weights[mid])["disclosed"] <= volume:
            hi = mid
        else:
            lo = mid + 1
    if lo == len(weights):      # the other paths alone disclose more: no threshold gets there
        point = {**ranking.at(np.inf), "match_weight": None, "match_probability": None}
    else:
        point = ranking.at(weights[lo])
    return {"volume": int(volume), **point}


# ---------------------------------------------------------------------------------------------
# Counting


def counts(decisions: pa.Table) -> dict[str, int]:
    """The :data:`sim.common.metrics.COUNT_KEYS` of a set of decision rows (see the module docstring)."""
    return {key: int(mask.sum()) for key, mask in _counted(decisions).items()}


def _counted(decisions: pa.Table) -> dict[str, np.ndarray]:
    """For each of :data:`sim.common.metrics.COUNT_KEYS`, which rows it counts (a boolean array):
    the one place the counts are defined."""
    def b(column) -> np.ndarray:
        return np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False), dtype=bool)

    d = decisions
    disclosed, has_tin = b(d.column("disclosed")), b(d.column("has_tin"))
    outcome = d.column("outcome")
    right = d.column("right_person")
    return {
        "requests": np.ones(d.num_rows, dtype=bool),
        "requests_with_tin": has_tin,
        "findable": b(d.column("findable")),
        "disclosed": disclosed,
        "disclosed_tin_path": disclosed & has_tin,
        "disclosed_address_path": disclosed & ~has_tin,
        "right_person_disclosures": b(right),
        "wrong_person_disclosures": disclosed & ~np.asarray(pc.fill_null(right, True).to_numpy(zero_copy_only=False), dtype=bool),
        "deficient_address_disclosures": disclosed & b(d.column("address_deficient")),
        "updated_address_disclosures": disclosed & b(d.column("updated_address")),
        "current_address_disclosures": b(d.column("current_address")),
        "missed_matches": b(d.column("missed")),
        **{name: b(pc.equal(outcome, name)) for name in ("gated", "unmatched", "ambiguous", "no_path")},
    }


def figures(decisions: pa.Table, n_requests: int) -> dict:
    """What a summary says of a set of decision rows (:class:`sim.common.summaries.Figures`): the
    counts, the same scaled to a national file of ``n_requests``, the rates, the breakdowns and
    the ages of the addresses."""
    simulated = counts(decisions)
    factor = n_requests / simulated["requests"] if simulated["requests"] else 0.0
    return {
        "estimate_factor": factor,
        "simulated": simulated,
        "estimates": {k: int(round(v * factor)) for k, v in simulated.items()},
        "rates": rates(simulated),
        "breakdowns": breakdowns(decisions),
        "address_ages": address_ages(decisions),
    }


def address_ages(decisions: pa.Table) -> dict[str, dict[str, float | None]]:
    """The quartiles (``q1``, ``median``, ``q3``, in years) of the age of ICE's address over all
    requests (``ice_requests``) and over disclosures (``ice_disclosed``), and of the IRS's
    disclosed address (``irs_disclosed``); None where there is nothing to measure."""
    disclosed = pc.fill_null(decisions.column("disclosed"), False)
    groups = {
        "ice_requests": decisions.column("ice_address_age_years"),
        "ice_disclosed": decisions.column("ice_address_age_years").filter(disclosed),
        "irs_disclosed": decisions.column("irs_address_age_years").filter(disclosed),
    }
    out = {}
    for name, values in groups.items():
        v = values.to_numpy(zero_copy_only=False).astype(np.float64)
        v = v[~np.isnan(v)]
        q = np.quantile(v, [0.25, 0.5, 0.75]) if len(v) else [None] * 3
        out[name] = {k: (round(float(x), 4) if x is not None else None) for k, x in zip(AGE_QUARTILES, q)}
    return out


def rates(c: Mapping[str, int]) -> dict[str, float | None]:
    """Precision, recall and the shares an audit quotes, from :func:`counts` (None when undefined)."""
    def share(a: str, b: str):
        return round(c[a] / c[b], 6) if c[b] else None

    return {
        "precision": share("right_person_disclosures", "disclosed"),
        "recall": share("right_person_disclosures", "findable"),
        "disclosure_rate": share("disclosed", "requests"),
        "wrong_person_rate": share("wrong_person_disclosures", "disclosed"),
        "deficient_address_rate": share("deficient_address_disclosures", "disclosed"),
        "updated_address_rate": share("updated_address_disclosures", "disclosed"),
        "current_address_rate": share("current_address_disclosures", "disclosed"),
        "tin_path_share": share("disclosed_tin_path", "disclosed"),
    }


def breakdowns(decisions: pa.Table) -> dict[str, dict[str, dict[str, int]]]:
    """:func:`counts` within each value of each of :data:`sim.common.metrics.BREAKDOWNS`. A request with several
    corruptions counts under each; one with none under ``none``."""
    columns = {
        "path": "path", "address_class": "truth_address_class", "ssn_source": "truth_ssn_source",
        "origin_group": "truth_origin_group", "name_commonness": "name_commonness", "wrong_person_kind": "wrong_person_kind",
        "miss_reason": "miss_reason", "ice_address_age": "ice_address_age", "irs_address_age": "irs_address_age",
        "final_order_year": "final_order_year",
    }
    counted = _counted(decisions)

    def within(rows: np.ndarray | None, category: np.ndarray, names) -> dict[str, dict[str, int]]:
        """The counts of ``rows`` (row numbers; None: every row) in each of ``names``
        (``category``: its code per row)."""
        sums = {key: np.bincount(category[mask if rows is None else mask[rows]], minlength=len(names)).tolist()
                for key, mask in counted.items()}
        return {name: {key: sums[key][code] for key in counted} for code, name in enumerate(names)}

    out: dict[str, dict[str, dict[str, int]]] = {}
    for name in BREAKDOWNS:
        if name == "corruption":
            lists = decisions.column("truth_corruptions").combine_chunks()
            lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
            parent = np.repeat(np.arange(decisions.num_rows), lengths)
            names, code = _sorted_codes(pc.list_flatten(lists).cast(pa.string()))
            # a corruption listed twice for one request counts once
            pair = _sorted_distinct(parent.astype(np.int64) * max(len(names), 1) + code)
            rows, code = pair // max(len(names), 1), pair % max(len(names), 1)
            none = np.flatnonzero(lengths == 0)
            out[name] = {**within(none, np.zeros(len(none), np.int64), ["none"]), **within(rows, code, names)}
            continue
        names, code = _sorted_codes(_as_text(decisions.column(columns[name]), "(none)"))
        out[name] = within(None, code, names)
    return out


def _as_text(column, missing: str) -> pa.Array:
    """A breakdown column as text, ``missing`` where it is null: a string as it is, a whole
    number as its decimal digits (what ``str`` gives)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not (pa.types.is_string(column.type) or pa.types.is_integer(column.type)):
        raise TypeError(f"a breakdown column must hold strings or whole numbers, got {column.type}")
    return pc.fill_null(column.cast(pa.string()), missing)


def _sorted_codes(text: pa.Array) -> tuple[list[str], np.ndarray]:
    """(the distinct values, sorted; each row's index in them): ``np.unique(text,
    return_inverse=True)``, with the rows hashed by Arrow instead of a million strings sorted."""
    encoded = pc.dictionary_encode(text)
    distinct = encoded.dictionary.to_pylist()
    order = sorted(range(len(distinct)), key=distinct.__getitem__)     # code point order, as numpy's
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return [distinct[i] for i in order], rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` of int keys by one sort (numpy 2.4's np.unique hashes first)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def _np(table: pa.Table, column: str, rows: np.ndarray) -> np.ndarray:
    if table.num_rows == 0:
        return np.full(len(rows), -1, dtype=np.int64)
    return table.column(column).to_numpy(zero_copy_only=False)[rows]


def _true_record_candidate(n: int, cands: Sequence[PathCandidates], person: np.ndarray, right: pa.Table) -> np.ndarray:
    """Whether blocking paired each request with a record of the person it is about."""
    found = np.zeros(n, dtype=bool)
    if right.num_rows == 0:
        return found
    right_person = right.column("truth_person_id").to_numpy(zero_copy_only=False)
    for c in cands:
        hit = right_person[c.right_idx] == person[c.left_idx]
        found[c.left_idx[hit]] = True
    return found


__all__ = ["evaluate", "figures", "counts", "rates", "breakdowns", "address_ages", "age_band", "name_commonness", "census_ranks"]
