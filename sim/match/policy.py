"""A policy, run: route each request to one path, gate it on its address, find and score its
candidates, decide, and say what is disclosed.

The steps, in the order the data flows (each a function below):

1. :func:`route` - each request (left row) goes to the first path whose ``requests`` selector
   takes it (``with_tin`` / ``without_tin`` / ``all``): the IRS's two processes are mutually
   exclusive. A request no path takes has outcome ``no_path``.
2. :func:`address_gate` - the path's check on ICE's address text; a request that fails it is
   ``gated`` and never matched.
3. :func:`candidates` - blocking and comparison levels by the policy's matcher, for the requests
   that passed, path by path (:class:`PathCandidates`).
4. :func:`fit` - for Fellegi-Sunter paths, m/u estimated by EM on all candidate pairs (of every
   block of a world), or the fixed ones.
5. :func:`decide` - a pair matches when it satisfies any rule (or its match weight reaches the
   threshold). A request with no matching pair is ``unmatched``; with one, ``disclosed``; with
   several, ``disclosed`` to the single best under ``on_multiple = "best"`` and ``ambiguous``
   otherwise (or on a tie for the top).

:func:`match` runs all five on two prepared tables (:mod:`sim.match.prepare`). The world's
pipeline (:mod:`sim.runs.pipeline`) runs steps 1-3 block by block and 4-5 once every block's
candidates are known, so EM sees the whole world.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import PathConfig, PolicyConfig
from sim.compare import comparisons as compare
from sim.compare.encode import EncodedColumn, EncodedTable
from sim.match.blocking import BlockKeys, Runs, block_on
from sim.match.matchers import get_matcher
from sim.match.fellegi_sunter import TINY, FellegiSunter, pattern_counts

#: What became of a request, in the order a request meets them.
OUTCOMES = ("no_path", "gated", "unmatched", "ambiguous", "disclosed")
#: A 5- or 9-digit number anywhere in the text (the opinion's reading of the IRS's filter):
#: "FAILED TO PROVIDE 30301" passes, "UNKNOWN" does not. RE2 has no look-behind, hence the groups.
ZIP_LIKE = r"(^|[^0-9])([0-9]{5}|[0-9]{9}|[0-9]{5}-[0-9]{4})([^0-9]|$)"


# ---------------------------------------------------------------------------------------------
# 1-2. Routing and the address gate


def route(policy: PolicyConfig, left: pa.Table) -> np.ndarray:
    """Index of the path each left row takes (-1: none takes it)."""
    has_tin = pc.is_valid(left.column("tin")).to_numpy(zero_copy_only=False)
    out = np.full(left.num_rows, -1, dtype=np.int8)
    for i, path in reversed(list(enumerate(policy.paths))):     # the first path that takes a row wins
        takes = {"with_tin": has_tin, "without_tin": ~has_tin, "all": np.ones_like(has_tin)}[path.requests]
        out[takes] = i
    return out


def address_gate(name: str, left: pa.Table) -> np.ndarray:
    """Whether each row's address text passes the gate ``name`` (:data:`sim.config.ADDRESS_GATES`)."""
    text = pc.fill_null(left.column("address_text"), "") if "address_text" in left.column_names else None
    if name == "none":
        return np.ones(left.num_rows, dtype=bool)
    if text is None or pc.all(pc.is_null(left.column("address_text"))).as_py():
        raise ValueError(f"address gate {name!r} reads a free-text address, and this side has none; map an 'address' column or use address_gate = \"none\"")
    if name == "nonblank":
        passed = pc.not_equal(pc.utf8_trim_whitespace(text), "")
    elif name == "zip_regex":
        passed = pc.match_substring_regex(text, ZIP_LIKE)
    elif name == "sufficient":
        passed = pc.equal(pc.fill_null(left.column("address_sufficiency"), ""), "complete")
    else:
        raise ValueError(f"The 'address_gate' parameter must be one of none, nonblank, zip_regex, sufficient. Got {name!r} instead.")
    return np.asarray(passed.to_numpy(zero_copy_only=False), dtype=bool)


# ---------------------------------------------------------------------------------------------
# 3. Candidates


def comparisons_of(path: PathConfig) -> list:
    """The path's comparisons, built by the named constructors of :mod:`sim.compare.comparisons`."""
    return [compare.build(c) for c in path.comparisons]


@dataclass
class PathCandidates:
    """One path's candidate pairs on one pair of tables: ``left_idx``/``right_idx`` index the
    full tables; ``levels`` is their (n_pairs, n_comparisons) level matrix; ``tf`` the term
    frequency, among the right side's records, of the value of each tf-adjusted comparison."""

    path: PathConfig
    routed: np.ndarray            # left rows this path took
    gate_passed: np.ndarray       # of those, whether the address gate let them through
    left_idx: np.ndarray
    right_idx: np.ndarray
    levels: np.ndarray
    tf: dict[int, np.ndarray] = field(default_factory=dict)
    # the random record pairs that estimate u, as distinct level vectors and their counts (a
    # few hundred rows, not the 200 pairs a request: u needs only the level frequencies)
    random_levels: tuple[np.ndarray, np.ndarray] | None = None
    rule_hits: np.ndarray | None = None       # per pair, bit i set when blocking rule i paired it
    n_possible: int = 0                       # request x record pairs the path could have compared

    def take_right(self, rows: np.ndarray) -> "PathCandidates":
        """The same candidates with right indices renumbered into ``rows`` (a sorted subset of
        the right table that contains every candidate), for keeping only the rows needed."""
        position = np.zeros(int(rows[-1]) + 1 if len(rows) else 0, np.int64)
        position[rows] = np.arange(len(rows))         # a look-up, not a binary search per pair
        return PathCandidates(self.path, self.routed, self.gate_passed, self.left_idx,
                              position[self.right_idx], self.levels, self.tf, self.random_levels,
                              self.rule_hits, self.n_possible)


def candidates(policy: PolicyConfig, left: pa.Table, right: pa.Table | EncodedTable, *, matcher: str | None = None,
               rng: np.random.Generator | None = None) -> list[PathCandidates]:
    """Steps 1-3 for every path: routing, the address gate, blocking and comparison levels.

    A Fellegi-Sunter path whose u is estimated from random pairs also gets the levels of
    ``u_random_pairs_per_request`` random master-file records per request, drawn from ``rng``.
    ``right`` may be an :class:`~sim.compare.encode.EncodedTable`, shared by the policies that
    match the same block: each of its columns is then encoded once for all of them."""
    runner = get_matcher(matcher or policy.matcher)
    right = right if isinstance(right, EncodedTable) else EncodedTable(right)
    keys = BlockKeys.of(right, left)      # each column looked up once for every path and policy
    paths = route(policy, left)
    out = []
    for i, path in enumerate(policy.paths):
        routed = np.flatnonzero(paths == i)
        gate = address_gate(path.address_gate, left.take(routed)) if len(routed) else np.zeros(0, bool)
        active = routed[gate]
        sub = left.take(active)
        # each rule blocked once: the union is the candidates; the pairs each training rule
        # would make (a refinement of a blocking rule) are what Fellegi-Sunter's EM sessions train on
        rules = [block_on(*cols) for cols in path.blocking]
        li, ri = runner.pairs(rules, sub, right, runs=check_pairs(policy, path, sub, keys))
        hits = _training_hits(path, sub, keys, li, ri) if _em(path) else None
        comps = comparisons_of(path)
        levels = runner.levels(comps, sub, right, li, ri)
        tf = {}
        fs = path.fellegi_sunter
        for key in (fs.tf_adjust if fs is not None else ()):
            k = [c.key for c in path.comparisons].index(key)
            tf[k] = term_frequencies(right[comps[k].column])[ri]      # encoded and kept: the random pairs read it too
        random_levels = None
        if fs is not None and fs.estimate == "em" and fs.u_estimate == "random_sampling" and len(active) and right.num_rows:
            if rng is None:
                raise ValueError(f"path '{path.name}' estimates u from random pairs and needs a random generator: pass rng=")
            k = fs.u_random_pairs_per_request
            rl = np.repeat(np.arange(len(active), dtype=np.int64), k)
            rr = rng.integers(0, right.num_rows, len(rl))
            random_levels = pattern_counts([runner.levels(comps, sub, right, rl, rr)], _n_levels(path))
        out.append(PathCandidates(path, routed, gate, active[li], ri, levels, tf, random_levels, hits,
                                  n_possible=len(active) * right.num_rows))
    return out


#: Peak memory a candidate pair costs while a path is matched: its two indices, the union of the
#: rules' pairs, and a level (and, for Fellegi-Sunter, a weight) per comparison, with the
#: temporaries of each comparison. Measured with the IRS address path (5 comparisons) made to
#: block on zip5 alone: 54-64 bytes a pair between 13M and 38M pairs (peak RSS, scale 0.001-0.004);
#: 40 + 8 a comparison (80 there) leaves a margin.
BYTES_PER_PAIR, BYTES_PER_PAIR_COMPARISON = 40, 8
#: Columns a too-coarse rule may be refined with, most useful first (sim.config.MATCH_COLUMNS)
REFINEMENTS = ("zip5", "name_control", "surname_1", "street6", "given_1", "date_of_birth", "city")


def check_pairs(policy: PolicyConfig, path: PathConfig, left: pa.Table, right: pa.Table | BlockKeys) -> list[Runs]:
    """Refuse, before any pair is made, a path whose blocking rules would make more candidate
    pairs than ``policy.max_pairs`` or, when that is unset, than the memory available now holds
    (:func:`sim.common.parallel.available_memory`, at :data:`BYTES_PER_PAIR` and
    :data:`BYTES_PER_PAIR_COMPARISON`). The error names the rule, the count, the memory, and the
    refinements of the largest rule (one more column) that would fit, with their counts.
    Returns each rule's :class:`~sim.match.blocking.Runs`, from which its pairs are then made."""
    from sim.common.errors import BlockingTooCoarse
    from sim.common.parallel import available_memory

    columns = lambda table, rule: {c: table.column(c) for c in rule}  # noqa: E731
    runs = [block_on(*rule).runs(columns(left, rule), columns(right, rule)) for rule in path.blocking]
    if not left.num_rows or not right.num_rows:
        return runs
    counts = {tuple(rule): r.total for rule, r in zip(path.blocking, runs)}
    total = sum(counts.values())
    per_pair = BYTES_PER_PAIR + BYTES_PER_PAIR_COMPARISON * len(path.comparisons)
    if policy.max_pairs is not None:
        limit, why = policy.max_pairs, f"the policy's max_pairs of {policy.max_pairs:,}"
    else:
        memory = available_memory()
        limit = memory // per_pair
        why = (f"the {_gib(memory)} of memory available now holds at about {per_pair} bytes a pair "
               f"(about {_gib(total * per_pair)} needed)")
    if total <= limit:
        return runs
    worst = max(counts, key=counts.get)
    shown = ", ".join(f"{list(rule)}: {n:,}" for rule, n in counts.items())
    fits = []
    for column in REFINEMENTS:
        if column in worst or column not in left.column_names or column not in right.column_names:
            continue
        rule = (*worst, column)
        n = block_on(*rule).count(columns(left, rule), columns(right, rule))
        if total - counts[worst] + n <= limit:
            fits.append((n, rule))
    fits.sort(key=lambda f: -f[0])      # the largest that fits keeps the most true pairs
    advice = ("block on more columns: " + "; ".join(f"{list(rule)} makes {n:,}" for n, rule in fits[:3])
              if fits else "no single added column brings it under the limit; block on a finer key")
    raise BlockingTooCoarse(
        f"path '{path.name}' of policy '{policy.name}' would make {total:,} candidate pairs in one block "
        f"({left.num_rows:,} records against {right.num_rows:,}; by rule: {shown}), more than {why}. "
        f"To fix: {advice}; or, where the memory is there (fewer parallel jobs, a larger machine), "
        f"raise the limit with --set policy.max_pairs={total:_}")


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def training_rules(path: PathConfig) -> tuple[tuple[str, ...], ...]:
    """The rules whose pairs train m, one EM session each: ``training_blocking``, else the
    path's blocking rules."""
    return tuple(tuple(r) for r in path.fellegi_sunter.training_blocking) or tuple(tuple(r) for r in path.blocking)


def _training_hits(path: PathConfig, left: pa.Table, right: pa.Table | BlockKeys, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Bit i of each candidate pair is set when training rule i would pair it. Each training
    rule refines a blocking rule (sim.config checks it), so its pairs are among the candidates."""
    hits = np.zeros(len(li), dtype=np.int64)
    for i, rule in enumerate(training_rules(path)):
        columns = {c: left.column(c) for c in rule}
        hits[block_on(*rule).agrees(columns, {c: right.column(c) for c in rule}, li, ri)] |= 1 << i
    return hits


def term_frequencies(column) -> np.ndarray:
    """Each row's value's share of the non-missing rows of ``column`` (0 where missing: null or
    empty, as everywhere in matching). A block's :class:`~sim.compare.encode.EncodedColumn`
    is counted from its codes, without encoding it again."""
    codes = (column if isinstance(column, EncodedColumn) else EncodedColumn(column)).codes
    present = codes >= 0
    counts = np.bincount(codes[present]).astype(np.float64)
    out = np.zeros(len(codes))
    out[present] = counts[codes[present]] / max(present.sum(), 1)
    return out


# ---------------------------------------------------------------------------------------------
# 4. Fellegi-Sunter parameters


@dataclass
class FitData:
    """What estimating one Fellegi-Sunter path needs from the candidates of some blocks: the
    distinct level vectors of its pairs with their counts (``pairs``), the same for the pairs of
    each training rule on the comparisons it can inform (``rules``: rule index -> counts), and
    for the random pairs that estimate u (``random``); for the prior, how many request x record
    pairs the path could have compared (``n_possible``) and how many candidate pairs its
    deterministic rules accept (``n_deterministic``). A few thousand rows however many pairs:
    a large world is fitted from the blocks' FitData without holding their candidates."""

    pairs: tuple[np.ndarray, np.ndarray]
    rules: dict[int, tuple[np.ndarray, np.ndarray]]
    random: tuple[np.ndarray, np.ndarray] | None
    n_possible: int = 0
    n_requests: int = 0
    n_deterministic: int = 0


def needs_fit(policy: PolicyConfig) -> bool:
    """Whether any path of ``policy`` needs every block's candidates before it can decide: a
    Fellegi-Sunter path, whose prior (and, under EM, m and u) is estimated from them."""
    return any(_fitted(path) for path in policy.paths)


def _fitted(path: PathConfig) -> bool:
    return path.decide == "fellegi_sunter" and path.fellegi_sunter is not None


def _em(path: PathConfig) -> bool:
    return _fitted(path) and path.fellegi_sunter.estimate == "em"


def _n_levels(path: PathConfig) -> list[int]:
    """How many levels each comparison of a path has, from "different" to the closest."""
    return [c.n_levels for c in path.comparisons]


def fit_data(policy: PolicyConfig, cands: Sequence[PathCandidates]) -> dict[str, FitData]:
    """The :class:`FitData` of each Fellegi-Sunter path of ``policy`` from one block's candidates."""
    out = {}
    for path, c in zip(policy.paths, cands):
        if not _fitted(path):
            continue
        n_levels = _n_levels(path)
        rules = {}
        fs = path.fellegi_sunter
        if _em(path) and fs.u_estimate == "random_sampling" and c.rule_hits is not None:
            for r, keep in _training_rules(path):
                rules[r] = pattern_counts([c.levels[(c.rule_hits & (1 << r)) != 0][:, keep]], [n_levels[k] for k in keep])
        deterministic = int(meets_rules(path, c.levels, fs.deterministic_rules).sum()) if fs.deterministic_rules else 0
        out[path.name] = FitData(pattern_counts([c.levels], n_levels), rules, c.random_levels,
                                 n_possible=int(c.n_possible), n_requests=int(c.gate_passed.sum()),
                                 n_deterministic=deterministic)
    return out


def merge_counts(parts: Sequence[tuple[np.ndarray, np.ndarray] | None], n_levels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct level vectors with counts from several such (patterns, counts): exactly what
    :func:`pattern_counts` gives on all their pairs at once (same order, same integer counts)."""
    parts = [p for p in parts if p is not None and len(p[0])]
    if not parts:
        return pattern_counts([], n_levels)
    patterns = np.concatenate([p for p, _ in parts])
    counts = np.concatenate([np.asarray(c, np.int64) for _, c in parts])
    unique, inverse = np.unique(patterns.astype(np.int64), axis=0, return_inverse=True)
    summed = np.zeros(len(unique), dtype=np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    # pattern_counts orders vectors by their mixed-radix key, which is the lexicographic order
    # np.unique(axis=0) gives (levels start at -1, the radix is n + 1)
    return unique.astype(np.int16), summed


def fit(policy: PolicyConfig, blocks: Sequence[Sequence[PathCandidates]]) -> dict[str, FellegiSunter]:
    """A fitted (or fixed) :class:`FellegiSunter` for each Fellegi-Sunter path, from the
    candidates of every block (see :func:`fit_from`)."""
    return fit_from(policy, [fit_data(policy, b) for b in blocks])


def fit_from(policy: PolicyConfig, blocks: Sequence[Mapping[str, FitData]]) -> dict[str, FellegiSunter]:
    """A fitted (or fixed) :class:`FellegiSunter` for each Fellegi-Sunter path, from the
    :class:`FitData` of every block. Fitting uses the distinct level vectors with their counts
    summed over the blocks, so the result does not depend on how the world was cut."""
    models = {}
    for path in policy.paths:
        if not _fitted(path):
            continue
        fs = path.fellegi_sunter
        keys = [c.key for c in path.comparisons]
        n_levels = _n_levels(path)
        m = [fs.m[k] for k in keys] if all(k in fs.m for k in keys) else None
        u = [fs.u[k] for k in keys] if all(k in fs.u for k in keys) else None
        model = FellegiSunter(n_levels, m=m, u=u, prior_match=fs.prior_match,
                              max_iterations=fs.max_iterations, tolerance=fs.tolerance)
        data = [b[path.name] for b in blocks]
        if fs.estimate == "em":
            model = _estimate(path, model, data, n_levels)
        model.tf_gammas = tf_gammas(path)
        if fs.prior != "em":
            model.prior_match_, model.prior_ = prior(path, data)
        models[path.name] = model
    return models


def tf_gammas(path: PathConfig) -> dict[int, int]:
    """Comparison index -> the gamma whose u a term frequency replaces, for each comparison of
    ``fellegi_sunter.tf_adjust``: the closest level, or the one a composite names (``surname_address``
    adjusts "the same surname elsewhere", not the same family at the same address)."""
    comps = comparisons_of(path)
    keys = [c.key for c in path.comparisons]
    return {k: comps[k].tf_gamma for k in (keys.index(key) for key in path.fellegi_sunter.tf_adjust)}


def prior(path: PathConfig, data: Sequence[FitData]) -> tuple[float, dict]:
    """The probability that a random request x record pair is a match (Splink's lambda), and
    how it was found, from every block's :class:`FitData`:

    * ``deterministic_rules``: the candidate pairs the strict rules accept, divided by the rules'
      stated recall, over all the request x record pairs the path could compare (Splink's
      ``estimate_probability_two_random_records_match``);
    * ``matches_per_request``: the stated expected true records per request, over the master
      file's records (summed over blocks: each block's requests are compared with its records).

    Both are shares of *all* pairs, the universe u's random pairs are drawn from, which is what
    makes ``log2(prior odds) + sum log2(m/u)`` the log2 posterior odds of a pair. A share of the
    candidate pairs instead would count the blocking's evidence twice."""
    fs = path.fellegi_sunter
    n_possible = sum(d.n_possible for d in data)
    n_requests = sum(d.n_requests for d in data)
    if n_possible == 0:
        raise ValueError(f"path '{path.name}': no request x record pairs to set the prior over "
                         f"(no request passed its address gate, or the master file is empty)")
    if fs.prior == "deterministic_rules":
        accepted = sum(d.n_deterministic for d in data)
        expected = accepted / fs.deterministic_recall
        how = {"method": "deterministic_rules", "pairs_accepted": accepted, "recall": fs.deterministic_recall}
    else:
        expected = fs.matches_per_request * n_requests
        how = {"method": "matches_per_request", "matches_per_request": fs.matches_per_request}
    if expected <= 0:
        raise ValueError(f"path '{path.name}': the deterministic rules accept no candidate pair, so the prior would be 0; "
                         f"loosen fellegi_sunter.deterministic_rules or use prior = \"matches_per_request\"")
    lam = float(np.clip(expected / n_possible, TINY, 1 - TINY))
    how.update(n_requests=n_requests, n_possible_pairs=n_possible, expected_matches=expected,
               matches_per_request=expected / max(n_requests, 1))
    return lam, how


#: Comparisons that say nothing new about pairs blocked on a column: a pair blocked on the name
#: control agrees on the last name's first letters, one blocked on street6 on the house number.
_BLOCKED_WITH = {"name_control": ("last_name", "name_control", "surname_1"),
                 "last_name": ("last_name", "name_control", "surname_1", "surname_2"),
                 "first_name": ("first_name", "given_1", "given_2", "given_variant"),
                 "street6": ("street6", "street_line", "street", "street_number")}


def _training_rules(path: PathConfig) -> list[tuple[int, list[int]]]:
    """(training rule index, comparisons it can inform) of each training rule of a path
    (:func:`training_rules`): a comparison that reads a column the rule blocks on is left out
    (every pair it made agrees there)."""
    comps = comparisons_of(path)
    out = []
    for r, rule in enumerate(training_rules(path)):
        held_out = {col for b in rule for col in _BLOCKED_WITH.get(b, (b,))}
        keep = [k for k, c in enumerate(comps) if not set(compare.columns_of([c])) & held_out]
        if keep:
            out.append((r, keep))
    return out


def _estimate(path: PathConfig, model: FellegiSunter, data: Sequence[FitData], n_levels: list[int]) -> FellegiSunter:
    """EM for one path on the candidates of every block (their :class:`FitData`).

    With ``u_estimate = "random_sampling"`` (the default, as Splink does it): u is the level
    frequencies among random record pairs; m is then estimated by one EM session per training
    rule (``training_blocking``, else every blocking rule), on the pairs that rule produced,
    leaving out the comparisons that read the rule's own columns (every pair agrees on them, so
    they cannot inform m) with u held fixed; each comparison's m is the mean over the sessions
    that estimated it. The prior is then set by :func:`prior` (each session's own prior is a
    share of that rule's pairs, used only inside the session). Without it, m, u and the prior
    are estimated together by one EM over all the candidate pairs (``prior = "em"``)."""
    fs = path.fellegi_sunter
    name = path.name
    patterns, counts = merge_counts([d.pairs for d in data], n_levels)
    if len(patterns) == 0:
        raise ValueError(f"path '{name}': no candidate pairs to estimate m and u from; "
                         f"check its blocking rules or give fixed m and u (estimate = \"fixed\")")
    if fs.u_estimate == "em":
        return model.fit(patterns, counts)
    randoms = [d.random for d in data if d.random is not None]
    if not randoms:
        raise ValueError(f"path '{name}': no random pairs to estimate u from (no request passed its address gate)")
    random_patterns, random_counts = merge_counts(randoms, n_levels)
    u = FellegiSunter.u_from_random_pairs(random_patterns, n_levels, random_counts)
    # one session per training rule
    sums = [np.zeros(n) for n in n_levels]
    sessions = np.zeros(len(n_levels))
    iterations, converged = 0, True
    for r, keep in _training_rules(path):
        sub_n = [n_levels[k] for k in keep]
        sub_patterns, sub_counts = merge_counts([d.rules.get(r) for d in data], sub_n)
        if len(sub_patterns) == 0:
            continue
        session = FellegiSunter(sub_n, u=[u[k] for k in keep], prior_match=fs.prior_match,
                                max_iterations=fs.max_iterations, tolerance=fs.tolerance)
        if model.m is not None:
            session.m = [model.m[k] for k in keep]
        session.fit(sub_patterns, sub_counts, fix_u=True)
        iterations, converged = max(iterations, session.n_iter_), converged and session.converged_
        for j, k in enumerate(keep):
            sums[k] += session.m_[j]
            sessions[k] += 1
    m = [sums[k] / sessions[k] if sessions[k] else (np.asarray(model.m[k]) if model.m is not None else FellegiSunter._default_m(n))
         for k, n in enumerate(n_levels)]
    final = FellegiSunter(n_levels, m=m, u=u, prior_match=fs.prior_match, max_iterations=fs.max_iterations, tolerance=fs.tolerance)
    # what the summary reports of the fit: the longest session, and whether every one converged
    final.n_iter_, final.converged_ = iterations, converged
    return final


# ---------------------------------------------------------------------------------------------
# 5. Decisions


def meets_rules(path: PathConfig, levels: np.ndarray, rules) -> np.ndarray:
    """Whether each pair (a row of ``levels``) meets any of ``rules``: each names comparisons
    (by key) and the loosest level accepted (a threshold, ``"exact"`` or a composite's label)."""
    index = {c.key: k for k, c in enumerate(path.comparisons)}
    comps = comparisons_of(path)
    matched = np.zeros(len(levels), dtype=bool)
    for rule in rules:
        ok = np.ones(len(levels), dtype=bool)
        for key, level in rule.items():
            k = index[key]
            ok &= levels[:, k] >= list(comps[k].level_names).index(level) + 1
        matched |= ok
    return matched


def pair_scores(cands: PathCandidates, models: dict[str, FellegiSunter]) -> tuple[np.ndarray, np.ndarray]:
    """(matched, score) of each candidate pair. Rules: a pair matches when all the comparisons of
    any rule reach their levels; its score, used to rank several matches, is the sum of its
    levels (closer agreement first). Fellegi-Sunter: the match weight, matched at the threshold
    (a match probability threshold p is the weight log2(p / (1 - p)))."""
    path = cands.path
    levels = cands.levels
    if path.decide == "fellegi_sunter":
        weight = models[path.name].match_weight(levels, cands.tf)
        return weight >= path.fellegi_sunter.threshold_weight, weight
    return meets_rules(path, levels, path.rules), np.clip(levels, 0, None).sum(axis=1).astype(np.float64)


def decide(policy: PolicyConfig, n_left: int, cands: Sequence[PathCandidates], models: dict[str, FellegiSunter]) -> dict[str, np.ndarray]:
    """One decision per left row: ``path`` (index, -1 none), ``gate_passed``, ``n_candidates``,
    ``n_matches``, ``outcome`` (index into :data:`OUTCOMES`), ``right_row`` (-1 when nothing
    is disclosed) and ``score``; and, for the rows of a Fellegi-Sunter path, the ranking of all
    their candidates whatever the threshold, from which every threshold's decision follows
    (:func:`sim.evaluate.frontier`): ``top_weight`` and ``second_weight`` (the two highest
    match weights, NaN where there are fewer candidates) and ``top_row`` (the right row of the
    highest, the lowest row among equals; -1 none)."""
    path_of = np.full(n_left, -1, dtype=np.int8)
    gate = np.zeros(n_left, dtype=bool)
    n_cand = np.zeros(n_left, dtype=np.int32)
    n_match = np.zeros(n_left, dtype=np.int32)
    right_row = np.full(n_left, -1, dtype=np.int64)
    score = np.full(n_left, np.nan)
    top_weight, second_weight = np.full(n_left, np.nan), np.full(n_left, np.nan)
    top_row = np.full(n_left, -1, dtype=np.int64)
    outcome = np.full(n_left, OUTCOMES.index("no_path"), dtype=np.int8)
    for i, c in enumerate(cands):
        path_of[c.routed] = i
        gate[c.routed] = c.gate_passed
        outcome[c.routed] = np.where(c.gate_passed, OUTCOMES.index("unmatched"), OUTCOMES.index("gated"))
        n_cand += np.bincount(c.left_idx, minlength=n_left).astype(np.int32)
        matched, scores = pair_scores(c, models)
        if c.path.decide == "fellegi_sunter" and len(c.left_idx):
            requests, first, second = _ranked(c.left_idx, c.right_idx, scores)
            top_weight[requests], top_row[requests] = scores[first], c.right_idx[first]
            has_second = second >= 0
            second_weight[requests[has_second]] = scores[second[has_second]]
        li, ri, sc = c.left_idx[matched], c.right_idx[matched], scores[matched]
        n_match += np.bincount(li, minlength=n_left).astype(np.int32)
        if len(li) == 0:
            continue
        # best first within each request: highest score, then lowest right row (only to make
        # the order total; a tie for the top is never disclosed)
        order = np.lexsort((ri, -sc, li))
        li, ri, sc = li[order], ri[order], sc[order]
        first = np.flatnonzero(np.r_[True, li[1:] != li[:-1]])
        top = sc[first]
        per_request = np.diff(np.r_[first, len(li)])
        tied = np.add.reduceat((sc == np.repeat(top, per_request)).astype(np.int32), first) > 1
        requests = li[first]
        single = per_request == 1
        disclose = single | ((c.path.on_multiple == "best") & ~tied)
        outcome[requests] = np.where(disclose, OUTCOMES.index("disclosed"), OUTCOMES.index("ambiguous"))
        right_row[requests[disclose]] = ri[first][disclose]
        score[requests] = top
    return {"path": path_of, "gate_passed": gate, "n_candidates": n_cand, "n_matches": n_match,
            "outcome": outcome, "right_row": right_row, "score": score,
            "top_weight": top_weight, "second_weight": second_weight, "top_row": top_row}


def _ranked(li: np.ndarray, ri: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each left row with pairs: (the row, the index of its best pair, of its second best or
    -1), best first by score then lowest right row, as :func:`decide` orders them (one
    compiled pass, :func:`sim.compare.kernels.top_two`)."""
    from sim.compare import kernels

    best, second = kernels.top_two(li, ri, np.asarray(scores, np.float64), int(li.max()) + 1 if len(li) else 0)
    requests = np.flatnonzero(best >= 0)
    return requests, best[requests], second[requests]


#: What a disclosure releases, as decision columns: the disclosed record's last known address,
#: in the USPS forms of the match schema.
DISCLOSED_COLUMNS = {
    "disclosed_street_address": "street_line",
    "disclosed_city": "city",
    "disclosed_state": "state",
    "disclosed_zip5": "zip5",
    "disclosed_zip4": "zip4",
}


def disclosed_values(decisions: dict[str, np.ndarray], values) -> pa.Array:
    """``values`` (a column of the right side) at each left row's disclosed record; null where
    nothing was disclosed."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    disclosed = decisions["right_row"] >= 0
    if len(values) == 0:
        return pa.nulls(len(disclosed), values.type)
    taken = values.take(pa.array(np.where(disclosed, decisions["right_row"], 0)))
    return pc.if_else(pa.array(disclosed), taken, pa.scalar(None, values.type))


def decision_columns(path_names: Sequence[str], decisions: dict[str, np.ndarray], right: pa.Table) -> dict[str, pa.Array]:
    """The columns every table of decisions shares (``matchsim run``'s and ``matchsim link``'s):
    the path that took the row, whether its address passed the gate (null: no path), the
    outcome, candidate and match counts, and :data:`DISCLOSED_COLUMNS`."""
    path = decisions["path"].astype(np.int64)
    routed = path >= 0
    names = pa.array(list(path_names), pa.string())
    out = {
        "path": pc.if_else(pa.array(routed), names.take(pa.array(np.where(routed, path, 0))), pa.scalar(None, pa.string())),
        "address_gate_passed": pa.array(decisions["gate_passed"].astype(bool), mask=~routed),
        "outcome": pa.array(OUTCOMES, pa.string()).take(pa.array(decisions["outcome"].astype(np.int64))),
        "n_candidates": pa.array(decisions["n_candidates"].astype(np.int32)),
        "n_matches": pa.array(decisions["n_matches"].astype(np.int32)),
    }
    for name, column in DISCLOSED_COLUMNS.items():
        out[name] = disclosed_values(decisions, right.column(column))
    return out


def match(policy: PolicyConfig, left: pa.Table, right: pa.Table, *, matcher: str | None = None,
          rng: np.random.Generator | None = None) -> tuple[dict[str, np.ndarray], list[PathCandidates], dict[str, FellegiSunter]]:
    """Steps 1-5 on two prepared tables: (decisions, candidates, models). ``rng`` draws the
    random pairs a Fellegi-Sunter path estimates u from."""
    cands = candidates(policy, left, right, matcher=matcher, rng=rng)
    models = fit(policy, [cands])
    return decide(policy, left.num_rows, cands, models), cands, models


__all__ = ["prior", "meets_rules", "OUTCOMES", "DISCLOSED_COLUMNS", "disclosed_values", "decision_columns", "route", "address_gate", "candidates",
           "fit", "fit_data", "fit_from", "needs_fit", "merge_counts", "FitData", "decide", "match", "PathCandidates",
           "pair_scores"]
