"""The probabilistic policy's model does not depend on how much of the country is simulated.

A world at a larger scale has more ZIP areas in each block, so a random request x record pair is
less likely to be a match, or to share a TIN, a dwelling or a ZIP, in proportion: the prior and
the u of those levels shrink as 1/N, and they are compared as "chance agreements per request"
(u times the records each request is compared with), which a larger sample of the same country
leaves where it was. m, the u of agreements that do not depend on where people live (names,
dates of birth, a surname elsewhere), the prior in true records per request, and precision and
recall at a fixed match probability must then agree between scales, within sampling error.

The default case compares scales 0.005 and 0.02; the full case (``--runslow``) 0.01 and 0.05, as
issue 12 states the target: precision and recall within 2 points.
"""

from __future__ import annotations

import math

import pytest

from sim.config import load_config
from sim.runs.pipeline import run

SEED = 20250627
#: surname_address levels whose agreement needs a shared place (a dwelling, a street, a ZIP)
LOCAL_LEVELS = {"home_family", "street_family", "zip_family", "home_other", "street", "zip"}


def _fit(baseline_config_path, scale: float) -> dict:
    config = load_config(baseline_config_path, [f"world.scale={scale}", "policy=probabilistic", "study.alternatives=[]",
                                                 "study.replicates=1", f"seed={SEED}"])
    result = run(config)
    fs = result.summary["fellegi_sunter"]["all"]
    path = config.policy.paths[0]
    return {"summary": result.summary, "fs": fs, "path": path,
            "records_per_request": fs["prior"]["n_possible_pairs"] / fs["prior"]["n_requests"],
            "random_pairs": path.fellegi_sunter.u_random_pairs_per_request * fs["prior"]["n_requests"]}


def _binomial_se(p: float, n: float) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _compare(small: dict, large: dict, *, flat: float) -> None:
    from sim.match.policy import comparisons_of

    comps = comparisons_of(small["path"])
    n_train = small["summary"]["simulated"]["right_person_disclosures"]   # about the true pairs EM trains on
    checked = 0
    for k, comp in enumerate(comps):
        names = ["different", *comp.level_names]
        for g, name in enumerate(names):
            m_s, m_l = small["fs"]["m"][k][g], large["fs"]["m"][k][g]
            # m: EM on the true pairs of the training rules; a level the smaller world reached
            # a handful of times is estimated from those few
            tolerance = 4 * _binomial_se(max(m_s, m_l), n_train) + 0.01
            assert abs(m_s - m_l) <= tolerance, f"m of {comp.name}={name}: {m_s:.4f} at the small scale, {m_l:.4f} at the large"
            u_s, u_l = small["fs"]["u"][k][g], large["fs"]["u"][k][g]
            count = u_s * small["random_pairs"]
            if count < 30:      # too few random pairs at this level to estimate u to a factor of 1.5
                continue
            if name == "different" and comp.name in ("tin", "surname_address"):
                continue        # the rest of the pairs once the local levels (which shrink as 1/N) are taken
            local = comp.name == "tin" and name == "exact" or comp.name == "surname_address" and name in LOCAL_LEVELS
            if local:           # chance agreements per request, not per pair
                u_s, u_l = u_s * small["records_per_request"], u_l * large["records_per_request"]
            ratio = u_l / u_s
            # sampling error of the random pairs, and the two worlds' different samples of ZIP areas
            # (their mix of names, household sizes and densities): a factor of 1.25 per pair, 1.5 per
            # request
            bound = max(math.exp(4 / math.sqrt(count)), 1.5 if local else 1.25)
            assert 1 / bound <= ratio <= bound, f"u of {comp.name}={name} ({'per request' if local else 'per pair'}): {u_s:.3g} and {u_l:.3g}"
            checked += 1
    assert checked >= 15
    # the prior, in true records per request
    a, b = small["fs"]["prior"]["matches_per_request"], large["fs"]["prior"]["matches_per_request"]
    assert abs(a - b) / a < 0.2, (a, b)
    # precision and recall at the policy's threshold (match probability 0.99)
    for rate, denominator in (("precision", "disclosed"), ("recall", "findable")):
        r_s, r_l = small["summary"]["rates"][rate], large["summary"]["rates"][rate]
        se = math.hypot(_binomial_se(r_s, small["summary"]["simulated"][denominator]),
                        _binomial_se(r_l, large["summary"]["simulated"][denominator]))
        assert abs(r_s - r_l) <= max(flat, 3 * se), f"{rate}: {r_s:.4f} and {r_l:.4f} (3 SE {3 * se:.4f})"


def test_the_model_is_the_same_at_two_scales(baseline_config_path):
    """Scales 0.005 and 0.02: within 2 points, or 3 standard errors where a small world's are larger."""
    _compare(_fit(baseline_config_path, 0.005), _fit(baseline_config_path, 0.02), flat=0.02)


@pytest.mark.slow
def test_the_model_is_the_same_at_scales_001_and_005(baseline_config_path):
    """Issue 12's target: at match probability 0.99, precision and recall within 2 points."""
    small, large = _fit(baseline_config_path, 0.01), _fit(baseline_config_path, 0.05)
    _compare(small, large, flat=0.02)
    for rate in ("precision", "recall"):
        assert abs(small["summary"]["rates"][rate] - large["summary"]["rates"][rate]) <= 0.02
