"""Fellegi-Sunter scoring: m and u probabilities per comparison level, estimated by EM.

Each candidate pair has a vector of comparison levels (:mod:`sim.compare.comparisons`). Under the
Fellegi-Sunter model the levels are independent given whether the pair is a match: ``m[k][l]``
is the probability that comparison ``k`` is at level ``l`` for a true match, ``u[k][l]`` for a
non-match. A pair's **match weight** is ``log2(prior odds) + sum_k log2(m[k][l_k] / u[k][l_k])``;
a missing level (-1) adds nothing. With term-frequency adjustment (as Splink does it), an exact
agreement on a common value (GARCIA) counts for less than on a rare one: for the adjusted
columns, the exact level's ``u`` is replaced by the value's frequency among the records.

``fit`` estimates m, u and the share of matches (``prior_match_``) by expectation-maximisation
on the distinct level vectors with their counts (Winkler's EM), so a million pairs with a few
thousand distinct patterns cost a few thousand rows per iteration. Learned attributes end in
``_`` (scikit-learn style).

>>> import numpy as np
>>> levels = np.array([[2, 1], [2, 1], [0, 0], [0, 0], [0, 1], [0, 0]], dtype=np.int8)
>>> model = FellegiSunter([3, 2]).fit(levels)
>>> bool(model.match_weight(levels)[0] > 0 > model.match_weight(levels)[2])
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Probabilities estimated by EM are kept inside [EPS, 1 - EPS] so that a level never seen in one
#: class does not give an infinite weight.
EPS = 1e-6
#: The floor of every probability that is a share of all record pairs (u from random pairs, a
#: term frequency, the prior): those shrink as the master file grows (a TIN is shared by 1 in
#: N random pairs, a unique surname has frequency 1/N), and a floor near them would make weights
#: depend on the size of the world. Only keeps logarithms finite.
TINY = 1e-15


class FellegiSunter:
    """The Fellegi-Sunter model over comparisons with ``n_levels[k]`` levels each (0 =
    different ... last = exact; -1, missing, is not a level).

    ``m`` and ``u`` (a list of per-level probability arrays) are the starting point of EM, or
    the model itself when ``fit`` is not called; by default m leans to the exact level and u is
    the level frequencies among all the pairs fitted (nearly all candidate pairs are non-matches).
    """

    def __init__(self, n_levels: Sequence[int], *, m: Sequence[Sequence[float]] | None = None,
                 u: Sequence[Sequence[float]] | None = None, prior_match: float = 0.01,
                 max_iterations: int = 200, tolerance: float = 1e-6, tf_gammas: Mapping[int, int] | None = None):
        self.n_levels = tuple(int(n) for n in n_levels)
        # comparison index -> the level whose u a term frequency replaces (default: the closest)
        self.tf_gammas = dict(tf_gammas or {})
        self.m = m
        self.u = u
        self.prior_match = prior_match
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        if any(n < 2 for n in self.n_levels):
            raise ValueError(f"The 'n_levels' parameter of FellegiSunter must give each comparison at least 2 levels. Got {self.n_levels} instead.")
        if not 0 < prior_match < 1:
            raise ValueError(f"The 'prior_match' parameter of FellegiSunter must be in (0, 1). Got {prior_match!r} instead.")
        # fixed parameters are usable without fit
        self.m_ = self._start(m, "m") if m is not None else None
        self.u_ = self._start(u, "u") if u is not None else None
        self.prior_match_ = prior_match
        self.prior_: dict | None = None      # how the prior was set, when not by this model's EM
        self.n_iter_ = 0
        self.converged_ = m is not None and u is not None

    # -- estimation ----------------------------------------------------------------------------

    def fit(self, levels: np.ndarray, counts: np.ndarray | None = None, *, fix_u: bool = False,
            fix_m: bool = False) -> "FellegiSunter":
        """Estimate m, u and the prior by EM on ``levels`` (n_pairs, n_comparisons), or on
        distinct level vectors with their ``counts``. Returns ``self``.

        ``fix_u=True`` keeps the given ``u`` (estimated beforehand, e.g. from random pairs, which
        are nearly all non-matches) and estimates only m and the prior, as Splink recommends: EM
        left free on blocked pairs may otherwise take "same household" for "same person".
        ``fix_m=True`` keeps the given ``m`` too, and estimates only the prior."""
        if fix_u and self.u is None:
            raise ValueError("fix_u=True needs u; pass u=... (e.g. from FellegiSunter.u_from_random_pairs)")
        if fix_m and self.m is None:
            raise ValueError("fix_m=True needs m; pass m=...")
        patterns, weights = self._patterns(levels, counts)
        m = self._start(self.m, "m") if self.m is not None else [self._default_m(n) for n in self.n_levels]
        u = self._start(self.u, "u") if self.u is not None else [self._frequencies(patterns[:, k], weights, n)
                                                                  for k, n in enumerate(self.n_levels)]
        prior = self.prior_match
        self.converged_ = False
        for iteration in range(1, self.max_iterations + 1):
            g = self._posterior(patterns, m, u, prior)
            new_m = m if fix_m else [self._frequencies(patterns[:, k], weights * g, n) for k, n in enumerate(self.n_levels)]
            new_u = u if fix_u else [self._frequencies(patterns[:, k], weights * (1 - g), n) for k, n in enumerate(self.n_levels)]
            new_prior = float(np.clip((weights * g).sum() / weights.sum(), EPS, 1 - EPS))
            change = max([abs(new_prior - prior)] + [float(np.abs(a - b).max()) for a, b in zip(new_m + new_u, m + u)])
            m, u, prior = new_m, new_u, new_prior
            self.n_iter_ = iteration
            if change < self.tolerance:
                self.converged_ = True
                break
        self.m_, self.u_, self.prior_match_ = m, u, prior
        return self

    @classmethod
    def u_from_random_pairs(cls, levels: np.ndarray, n_levels: Sequence[int], counts: np.ndarray | None = None) -> list[np.ndarray]:
        """u estimated as the level frequencies among random record pairs (almost none of which
        are matches); ``levels`` may be distinct vectors with ``counts``.

        A level no random pair reached (a TIN one digit off, among a few million pairs) gets half
        a pair: its true u is below 1/n, and 0 would give an infinite weight. Only such levels
        depend on how many random pairs were drawn."""
        levels = np.asarray(levels)
        weights = np.ones(len(levels)) if counts is None else np.asarray(counts, np.float64)
        out = []
        for k, n in enumerate(n_levels):
            column = levels[:, k].astype(np.int64)
            present = column >= 0
            freq = np.bincount(column[present], weights=weights[present], minlength=n)[:n]
            total = freq.sum()
            if total <= 0:
                out.append(np.full(n, 1.0 / n))
                continue
            freq = np.maximum(freq, 0.5)
            out.append(freq / freq.sum())
        return out

    # -- scoring -------------------------------------------------------------------------------

    def bayes_factors(self, levels: np.ndarray, tf: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        """log2(m/u) of each comparison of each pair, (n_pairs, n_comparisons); 0 where missing.
        ``tf`` maps a comparison's index to each pair's term frequency of the value compared,
        used in place of ``u`` at the exact level (or the level ``tf_gammas`` names)."""
        if self.m_ is None or self.u_ is None:
            raise ValueError("This FellegiSunter has neither fixed m and u nor a fit; call fit(levels) first.")
        levels = np.asarray(levels)
        out = np.zeros(levels.shape, dtype=np.float64)
        for k, n in enumerate(self.n_levels):
            col = levels[:, k].astype(np.int64)
            present = col >= 0
            ratio = np.log2(self.m_[k] / self.u_[k])
            out[present, k] = ratio[col[present]]
            if tf is not None and k in tf:
                g = self.tf_gammas.get(k, n - 1)
                exact = col == g
                freq = np.clip(np.asarray(tf[k], np.float64)[exact], TINY, 1.0)
                out[exact, k] = np.log2(self.m_[k][g] / freq)
        return out

    def match_weight(self, levels: np.ndarray, tf: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        """The match weight of each pair: log2 prior odds plus the comparisons' log2 m/u."""
        prior_odds = np.log2(self.prior_match_ / (1 - self.prior_match_))
        return prior_odds + self.bayes_factors(levels, tf).sum(axis=1)

    def match_probability(self, levels: np.ndarray, tf: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-self.match_weight(levels, tf)))

    def parameters(self) -> dict:
        """The fitted parameters as plain data, for a run's summary."""
        return {
            "prior_match": self.prior_match_,
            "log2_prior_odds": float(np.log2(self.prior_match_ / (1 - self.prior_match_))),
            **({"prior": self.prior_} if self.prior_ is not None else {}),
            # 8 significant digits: a u of a TIN or a dwelling is about 1 / N, far below 1e-8 nationally
            "m": [[float(f"{x:.8g}") for x in p] for p in self.m_],
            "u": [[float(f"{x:.8g}") for x in p] for p in self.u_],
            "iterations": self.n_iter_,
            "converged": bool(self.converged_),
        }

    # -- helpers -------------------------------------------------------------------------------

    def _start(self, given, name: str) -> list[np.ndarray]:
        if len(given) != len(self.n_levels):
            raise ValueError(f"The '{name}' parameter of FellegiSunter must have one array per comparison ({len(self.n_levels)}). Got {len(given)} instead.")
        out = []
        for k, (probs, n) in enumerate(zip(given, self.n_levels)):
            p = np.asarray(probs, np.float64)
            if p.shape != (n,) or (p < 0).any() or not np.isclose(p.sum(), 1.0, atol=1e-3):
                raise ValueError(f"The '{name}' parameter of FellegiSunter must give comparison {k} {n} probabilities summing to 1. Got {p.tolist()} instead.")
            out.append(np.clip(p / p.sum(), TINY, 1 - TINY))
        return out

    @staticmethod
    def _default_m(n: int) -> np.ndarray:
        # matches mostly agree exactly: half the mass on exact, the rest halving towards "different"
        p = 0.5 ** np.arange(n, 0, -1, dtype=np.float64)
        return np.clip(p / p.sum(), EPS, 1 - EPS)

    @staticmethod
    def _frequencies(column: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
        present = column >= 0
        freq = np.bincount(column[present].astype(np.int64), weights=weights[present], minlength=n)[:n]
        total = freq.sum()
        p = freq / total if total > 0 else np.full(n, 1.0 / n)
        p = np.clip(p, EPS, 1 - EPS)
        return p / p.sum()

    def _posterior(self, patterns, m, u, prior) -> np.ndarray:
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for k in range(patterns.shape[1]):
            col = patterns[:, k].astype(np.int64)
            present = col >= 0
            log_m[present] += np.log(m[k][col[present]])
            log_u[present] += np.log(u[k][col[present]])
        logit = np.log(prior) - np.log1p(-prior) + log_m - log_u
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))

    def _patterns(self, levels, counts):
        levels = np.asarray(levels)
        if levels.ndim != 2 or levels.shape[1] != len(self.n_levels):
            raise ValueError(f"levels must be a (n_pairs, {len(self.n_levels)}) matrix; got shape {levels.shape}")
        if counts is not None:
            return levels.astype(np.int16), np.asarray(counts, np.float64)
        if len(levels) == 0:
            raise ValueError("cannot fit Fellegi-Sunter on zero candidate pairs; check the blocking rules")
        patterns, counts = pattern_counts([levels], self.n_levels)
        return patterns, counts.astype(np.float64)


def pattern_counts(matrices: Sequence[np.ndarray], n_levels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct level vectors of several (n_pairs, n_comparisons) matrices together, in a
    fixed order, and how often each occurs: what EM needs, a few thousand rows however many
    pairs. Each vector is one int64 (mixed radix over level + 1) while counting."""
    keys = []
    for levels in matrices:
        key = np.zeros(len(levels), dtype=np.int64)
        for k, n in enumerate(n_levels):
            key = key * (n + 1) + (levels[:, k].astype(np.int64) + 1)
        keys.append(key)
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    unique, counts = np.unique(key, return_counts=True)
    patterns = np.zeros((len(unique), len(n_levels)), dtype=np.int16)
    rest = unique.copy()
    for k in range(len(n_levels) - 1, -1, -1):
        rest, digit = np.divmod(rest, n_levels[k] + 1)
        patterns[:, k] = digit - 1
    return patterns, counts


__all__ = ["FellegiSunter", "pattern_counts", "EPS", "TINY"]
