"""sim.match.fellegi_sunter: EM recovers known m, u and prior; weights behave as the model says."""

from __future__ import annotations

import numpy as np
import pytest

from sim.match.fellegi_sunter import FellegiSunter, pattern_counts

TRUE_M = [np.array([0.05, 0.15, 0.80]), np.array([0.10, 0.90]), np.array([0.02, 0.08, 0.20, 0.70])]
TRUE_U = [np.array([0.90, 0.08, 0.02]), np.array([0.70, 0.30]), np.array([0.85, 0.10, 0.04, 0.01])]
TRUE_PRIOR = 0.05


def simulate(n: int, seed: int = 1, missing: float = 0.05) -> np.ndarray:
    """Level vectors drawn from the Fellegi-Sunter model itself, with some levels missing."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < TRUE_PRIOR
    levels = np.stack([np.where(is_match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
                       for m, u in zip(TRUE_M, TRUE_U)], axis=1).astype(np.int8)
    levels[rng.random(n) < missing, 1] = -1
    return levels


def test_em_recovers_m_u_and_the_prior_from_data_with_known_parameters():
    model = FellegiSunter([3, 2, 4]).fit(simulate(200_000))
    assert model.converged_
    # 200,000 pairs, 10,000 of them matches: m to within about 4 standard errors
    assert model.prior_match_ == pytest.approx(TRUE_PRIOR, abs=0.004)
    for got, want in zip(model.m_, TRUE_M):
        assert np.abs(got - want).max() < 0.02
    for got, want in zip(model.u_, TRUE_U):
        assert np.abs(got - want).max() < 0.005


def test_with_u_fixed_em_recovers_m_only():
    model = FellegiSunter([3, 2, 4], u=TRUE_U).fit(simulate(100_000, seed=2), fix_u=True)
    for got, want in zip(model.u_, TRUE_U):
        assert np.allclose(got, want, atol=1e-5)
    for got, want in zip(model.m_, TRUE_M):
        assert np.abs(got - want).max() < 0.03


def test_fitting_on_pattern_counts_equals_fitting_on_pairs():
    levels = simulate(20_000, seed=3)
    key, first, counts = np.unique(levels, axis=0, return_index=True, return_counts=True)
    a = FellegiSunter([3, 2, 4]).fit(levels)
    b = FellegiSunter([3, 2, 4]).fit(levels[first], counts)
    assert np.allclose(np.concatenate(a.m_), np.concatenate(b.m_))
    assert a.prior_match_ == pytest.approx(b.prior_match_)


def test_match_weight_is_prior_odds_plus_log_bayes_factors_and_missing_adds_nothing():
    model = FellegiSunter([3, 2], m=[[0.1, 0.1, 0.8], [0.2, 0.8]], u=[[0.8, 0.1, 0.1], [0.5, 0.5]], prior_match=0.2)
    weights = model.match_weight(np.array([[2, 1], [0, -1], [-1, -1]], dtype=np.int8))
    prior = np.log2(0.2 / 0.8)
    assert weights[0] == pytest.approx(prior + np.log2(8) + np.log2(1.6))
    assert weights[1] == pytest.approx(prior + np.log2(0.125))
    assert weights[2] == pytest.approx(prior)


def test_term_frequency_makes_agreement_on_a_common_value_weaker():
    model = FellegiSunter([2], m=[[0.1, 0.9]], u=[[0.99, 0.01]], prior_match=0.01)
    levels = np.array([[1], [1]], dtype=np.int8)
    weights = model.match_weight(levels, tf={0: np.array([0.05, 0.0001])})   # GARCIA, a rare name
    assert weights[0] < model.match_weight(levels)[0] < weights[1]
    assert weights[1] - weights[0] == pytest.approx(np.log2(0.05 / 0.0001))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_levels=[1, 2]), "The 'n_levels' parameter of FellegiSunter must give each comparison at least 2 levels. Got (1, 2) instead."),
    (dict(n_levels=[2], prior_match=1.5), "The 'prior_match' parameter of FellegiSunter must be in (0, 1). Got 1.5 instead."),
    (dict(n_levels=[2], m=[[0.5, 0.6]]), "The 'm' parameter of FellegiSunter must give comparison 0 2 probabilities summing to 1. Got [0.5, 0.6] instead."),
])
def test_bad_parameters_are_refused_with_the_house_message(kwargs, message):
    n_levels = kwargs.pop("n_levels")
    with pytest.raises(ValueError) as info:
        FellegiSunter(n_levels, **kwargs)
    assert str(info.value) == message


def test_scoring_before_fitting_says_what_to_do():
    with pytest.raises(ValueError, match="call fit"):
        FellegiSunter([2]).match_weight(np.zeros((1, 1), np.int8))


def test_level_counts_merged_over_blocks_are_those_of_all_pairs_at_once():
    """A large world is fitted from each block's distinct level vectors and counts; merged, they
    must be exactly what counting all the pairs together gives (same order, same counts)."""
    from sim.match.policy import merge_counts

    rng = np.random.default_rng(5)
    n_levels = [3, 4, 2]
    blocks = [np.column_stack([rng.integers(-1, n, size) for n in n_levels]) for size in (500, 0, 1, 2_000)]
    want = pattern_counts(blocks, n_levels)
    got = merge_counts([pattern_counts([b], n_levels) for b in blocks], n_levels)
    assert np.array_equal(got[0], want[0]) and got[0].dtype == want[0].dtype
    assert np.array_equal(got[1], want[1])
    assert len(merge_counts([None, pattern_counts([], n_levels)], n_levels)[0]) == 0
