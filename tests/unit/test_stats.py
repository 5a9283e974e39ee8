"""Experiment statistics against published values and independent implementations (statsmodels, scipy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from app.ml.stats import (
    SRM_ALPHA,
    benjamini_hochberg,
    expected_gain,
    holm,
    newcombe,
    pooled_posteriors,
    posterior_interval,
    posterior_mean,
    srm_pvalue,
    thompson_allocation,
    two_proportion_pvalue,
    wilson,
)

ROOT = Path(__file__).resolve().parents[2]

# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Statistics in Medicine 17: 873-890, table II, method 10 (hybrid score, no continuity correction).
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]
# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17:
# 857-872, table I, method 3 (Wilson score, no continuity correction).
WILSON_1998 = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]

COUNTS = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (7, 250), (120, 400), (999, 1000), (51, 10_000)]


@pytest.mark.parametrize(("counts", "interval"), WILSON_1998)
def test_wilson_matches_published_values(counts: tuple[int, int], interval: tuple[float, float]) -> None:
    rate, low, high = wilson(*counts)  # type: ignore[misc]
    assert rate == counts[0] / counts[1]
    assert (round(low, 4), round(high, 4)) == interval


@pytest.mark.parametrize(("k", "n"), COUNTS)
@pytest.mark.parametrize("z", [1.959963984540054, 2.5758293035489004])
def test_wilson_matches_statsmodels(k: int, n: int, z: float) -> None:
    _, low, high = wilson(k, n, z)  # type: ignore[misc]
    expected = proportion_confint(k, n, alpha=2 * sps.norm.sf(z), method="wilson")
    assert (low, high) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("counts", "interval"), NEWCOMBE_1998)
def test_newcombe_matches_published_values(counts: tuple[int, int, int, int], interval: tuple[float, float]) -> None:
    difference, low, high = newcombe(*counts)  # type: ignore[misc]
    assert difference == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(low, 4), round(high, 4)) == interval


@pytest.mark.parametrize("first", COUNTS)
@pytest.mark.parametrize("second", [(0, 5), (4, 9), (60, 400), (5000, 10_000)])
def test_newcombe_matches_statsmodels(first: tuple[int, int], second: tuple[int, int]) -> None:
    _, low, high = newcombe(*first, *second)  # type: ignore[misc]
    expected = confint_proportions_2indep(*first, *second, method="newcomb", compare="diff")
    assert (low, high) == pytest.approx(expected, abs=1e-12)


def test_empty_groups_have_no_interval_or_pvalue() -> None:
    assert wilson(0, 0) is None
    assert newcombe(1, 2, 0, 0) is None and newcombe(0, 0, 1, 2) is None
    assert two_proportion_pvalue(0, 0, 3, 10) is None and two_proportion_pvalue(3, 10, 0, 0) is None


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(56, 70, 48, 80), (120, 1000, 95, 1000), (500, 5000, 560, 5100)])
def test_two_proportion_pvalue_is_the_pooled_z_test_on_ample_counts(k1: int, n1: int, k2: int, n2: int) -> None:
    _, expected = proportions_ztest([k1, k2], [n1, n2])
    assert two_proportion_pvalue(k1, n1, k2, n2) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(1, 10, 5, 10), (0, 40, 4, 40), (0, 3, 0, 5), (7, 7, 2, 9)])
def test_two_proportion_pvalue_is_fisher_exact_on_small_counts(k1: int, n1: int, k2: int, n2: int) -> None:
    expected = sps.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    assert two_proportion_pvalue(k1, n1, k2, n2) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("observed", "shares"),
    [([5000, 5000], [0.5, 0.5]), ([4870, 5130], [0.5, 0.5]), ([900, 100], [9, 1]), ([300, 330, 370], [0.3, 0.3, 0.4])],
)
def test_srm_pvalue_is_the_chi_square_goodness_of_fit(observed: list[int], shares: list[float]) -> None:
    expected = [sum(observed) * s / sum(shares) for s in shares]
    assert srm_pvalue(observed, shares) == pytest.approx(sps.chisquare(observed, f_exp=expected).pvalue, rel=1e-12)


def test_srm_flags_a_clear_mismatch_and_handles_edge_cases() -> None:
    # 50/50 split, 10 000 visitors, 5 200 in one arm: chi2 = 16, p ~ 6.3e-5.
    assert srm_pvalue([5200, 4800], [0.5, 0.5]) < SRM_ALPHA  # type: ignore[operator]
    assert srm_pvalue([5010, 4990], [0.5, 0.5]) > SRM_ALPHA  # type: ignore[operator]
    assert srm_pvalue([0, 0], [0.5, 0.5]) is None
    assert srm_pvalue([10, 1], [1.0, 0.0]) == 0.0  # traffic where none was expected
    assert srm_pvalue([10, 0], [1.0, 0.0]) == 1.0  # one arm left: nothing can mismatch
    with pytest.raises(ValueError):
        srm_pvalue([10, 10], [0.5])


@pytest.mark.parametrize("seed", range(20))
def test_holm_and_benjamini_hochberg_match_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 30))
    # A mix of small and uniform p-values, with ties, as real reports have.
    p = np.where(rng.random(m) < 0.3, rng.random(m) * 0.01, rng.random(m))
    p[rng.random(m) < 0.1] = 0.04
    assert holm(p.tolist()) == pytest.approx(multipletests(p, method="holm")[1].tolist(), abs=1e-12)
    assert benjamini_hochberg(p.tolist()) == pytest.approx(multipletests(p, method="fdr_bh")[1].tolist(), abs=1e-12)


def test_adjusted_pvalues_keep_order_are_monotone_and_capped() -> None:
    p = [0.04, 0.001, 0.9, 0.02, 0.5]
    for adjusted in (holm(p), benjamini_hochberg(p)):
        assert len(adjusted) == len(p) and max(adjusted) <= 1.0
        assert all(a >= b for a, b in zip(adjusted, p, strict=True))
        ranked = [adjusted[i] for i in np.argsort(p)]
        assert ranked == sorted(ranked)
    assert holm(p)[1] == pytest.approx(0.005)  # the smallest of five, times five
    assert holm([]) == [] and benjamini_hochberg([]) == []
    with pytest.raises(ValueError):
        holm([0.5, 1.5])


def _prior(alpha: np.ndarray, beta: np.ndarray, successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    return np.stack([alpha - successes, beta - (trials - successes)])


def test_pooled_posteriors_give_an_empty_segment_exactly_the_prior() -> None:
    successes = np.array([[30, 12], [0, 0], [45, 20], [2, 0]])
    trials = np.array([[300, 200], [0, 0], [400, 210], [10, 3]])
    alpha, beta = pooled_posteriors(successes, trials)
    assert alpha.shape == beta.shape == (4, 2)
    prior = _prior(alpha, beta, successes, trials)
    # One strength per candidate, shared by its segments; the empty segment's posterior is its prior,
    # centred on the candidate's rate over the segments that have data.
    strengths = prior.sum(axis=0)
    assert np.allclose(strengths, strengths[:1, :])
    assert np.array_equal(np.stack([alpha[1], beta[1]]), prior[:, 1, :])
    mean_empty = alpha[1] / (alpha[1] + beta[1])
    pooled = successes.sum(axis=0) / trials.sum(axis=0)
    assert np.all(np.abs(mean_empty - pooled) < 0.01)
    assert (prior > 0).all()


def test_a_segments_own_data_is_not_counted_twice() -> None:
    """Its prior comes from the other segments: a candidate seen in one segment only has the block's prior there."""
    successes = np.array([[0, 40], [0, 30]])
    trials = np.array([[29, 400], [0, 300]])
    alpha, beta = pooled_posteriors(successes, trials)
    # Candidate 0 (0 of 29, only in segment 0): its prior there is the block's rate, not its own 0%.
    prior = _prior(alpha, beta, successes, trials)
    block = (successes.sum() + 1) / (trials.sum() + 2)
    assert abs(prior[0, 0, 0] / prior[:, 0, 0].sum() - block) < 1e-9
    low, high = posterior_interval(alpha, beta)
    assert high[0, 0] > 0.025  # not the narrow [0.1%, 2.2%] that counting 0/29 twice gave


def test_pooled_posteriors_without_any_data_are_centred_on_one_half() -> None:
    alpha, beta = pooled_posteriors(np.zeros((2, 3)), np.zeros((2, 3)))
    assert np.allclose(posterior_mean(alpha, beta), 0.5)
    assert np.allclose(alpha + beta, 2.0)  # nothing measured: the weakest prior


def test_a_thin_segment_is_pulled_toward_the_block_more_than_a_thick_one() -> None:
    # Both segments observe a 30% rate against a block near 10%; only the size differs.
    successes = np.array([[3], [300], [100], [100]])
    trials = np.array([[10], [1000], [1000], [1000]])
    alpha, beta = pooled_posteriors(successes, trials)
    mean = posterior_mean(alpha, beta)[:, 0]
    block = successes.sum() / trials.sum()
    assert block < mean[0] < mean[1] < 0.3
    assert mean[1] > 0.28  # a thousand visitors mostly speak for themselves


def test_pooling_strength_follows_the_spread_between_segments() -> None:
    trials = np.full((4, 1), 1000)
    identical = pooled_posteriors(np.full((4, 1), 100), trials)
    spread = pooled_posteriors(np.array([[20], [100], [200], [400]]), trials)
    single = pooled_posteriors(np.array([[3]]), np.array([[10]]))
    strength = [float((a + b - trials)[0, 0]) for a, b in (identical, spread)]
    assert strength[0] == 200.0  # identical segments: strong pooling (max_strength)
    assert 2.0 <= strength[1] < 20.0  # very different segments: weak pooling
    assert float(single[0][0, 0] + single[1][0, 0] - 10) == 2.0  # one segment: nothing to pool across
    clipped = pooled_posteriors(np.array([[100], [110]]), np.full((2, 1), 1000), min_strength=5.0, max_strength=50.0)
    assert float(clipped[0][0, 0] + clipped[1][0, 0] - 1000) == 50.0


def test_pooled_posteriors_reject_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pooled_posteriors(np.array([[5]]), np.array([[3]]))
    with pytest.raises(ValueError):
        pooled_posteriors(np.array([1, 2]), np.array([3, 4]))


def test_posterior_interval_and_mean_are_scipy_beta_quantiles() -> None:
    alpha, beta = np.array([2.0, 30.0, 1.0]), np.array([8.0, 70.0, 1.0])
    low, high = posterior_interval(alpha, beta)
    assert np.allclose(low, sps.beta.ppf(0.025, alpha, beta)) and np.allclose(high, sps.beta.ppf(0.975, alpha, beta))
    assert np.allclose(posterior_mean(alpha, beta), [0.2, 0.3, 0.5])
    assert (low < posterior_mean(alpha, beta)).all() and (posterior_mean(alpha, beta) < high).all()
    narrow = posterior_interval(alpha, beta, level=0.5)
    assert (narrow[0] > low).all() and (narrow[1] < high).all()


ALPHA = np.array([20.0, 60.0, 25.0, 22.0])
BETA = np.array([180.0, 140.0, 175.0, 178.0])  # candidate 1 is clearly better: 30% against 10-12.5%


def test_thompson_allocation_favours_the_clearly_better_candidate() -> None:
    allocation = thompson_allocation(ALPHA, BETA, np.ones(4, dtype=bool), explore=0.05)
    assert allocation.sum() == pytest.approx(1.0)
    assert allocation[1] > 0.8
    assert allocation.min() >= 0.05 - 1e-12


def test_thompson_allocation_respects_eligibility_and_the_floor() -> None:
    eligible = np.array([True, False, True, True])
    allocation = thompson_allocation(ALPHA, BETA, eligible, explore=0.2)
    assert allocation[1] == 0.0
    assert allocation.sum() == pytest.approx(1.0)
    assert (allocation[eligible] >= 0.2 - 1e-12).all()
    assert allocation[2] == allocation.max()  # the best eligible candidate keeps the most


def test_thompson_allocation_is_uniform_when_the_floor_covers_everything() -> None:
    eligible = np.array([True, True, False, True])
    allocation = thompson_allocation(ALPHA, BETA, eligible, explore=0.34)
    assert allocation.tolist() == [1 / 3, 1 / 3, 0.0, 1 / 3]


def test_thompson_allocation_is_deterministic_per_seed() -> None:
    eligible = np.ones(4, dtype=bool)
    close_alpha, close_beta = np.array([20.0, 21.0, 20.5, 19.0]), np.array([80.0, 79.0, 79.5, 81.0])
    first = thompson_allocation(close_alpha, close_beta, eligible, explore=0.01, seed=7)
    assert np.array_equal(first, thompson_allocation(close_alpha, close_beta, eligible, explore=0.01, seed=7))
    assert not np.array_equal(first, thompson_allocation(close_alpha, close_beta, eligible, explore=0.01, seed=8))


def test_thompson_allocation_shares_ties_and_refuses_an_empty_choice() -> None:
    same = thompson_allocation(np.full(3, 5.0), np.full(3, 5.0), np.ones(3, dtype=bool), explore=0.0, draws=20_000)
    assert same == pytest.approx(np.full(3, 1 / 3), abs=0.02)
    with pytest.raises(ValueError, match="no eligible"):
        thompson_allocation(ALPHA, BETA, np.zeros(4, dtype=bool), explore=0.05)


def test_expected_gain_has_the_sign_of_the_clear_case() -> None:
    allocation = thompson_allocation(ALPHA, BETA, np.ones(4, dtype=bool), explore=0.05)
    mean, low, high = expected_gain(ALPHA, BETA, allocation, default_index=0)
    assert 0 < low < mean < high
    exact = float(allocation @ posterior_mean(ALPHA, BETA) - posterior_mean(ALPHA, BETA)[0])
    assert mean == pytest.approx(exact, abs=0.005)
    # Sending everyone to the worse candidate 0 instead of the default 1 loses.
    mean, low, high = expected_gain(ALPHA, BETA, np.array([1.0, 0.0, 0.0, 0.0]), default_index=1)
    assert low < mean < high < 0
    assert expected_gain(ALPHA, BETA, allocation, 0, seed=3) == expected_gain(ALPHA, BETA, allocation, 0, seed=3)
    # All traffic on the default: exactly no gain.
    assert expected_gain(ALPHA, BETA, np.array([0.0, 0.0, 1.0, 0.0]), default_index=2) == (0.0, 0.0, 0.0)


def test_module_is_pure() -> None:
    # The scheduled learn job and the report command call it: importing it loads no web or database code.
    banned = {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", "apscheduler"}
    code = (
        "import sys, app.ml.stats; "
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & {banned!r}); "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_confidence_sequence_survives_daily_looks_where_a_fixed_interval_does_not() -> None:
    """No true difference, a look every 50 visitors per arm up to 4,000: how often is zero ever excluded?"""
    from app.ml.stats import confidence_sequence

    rng = np.random.default_rng(11)
    simulations, looks, step = 300, 80, 50
    fixed_false, sequence_false = 0, 0
    for _ in range(simulations):
        a = rng.random((looks * step,)) < 0.1
        b = rng.random((looks * step,)) < 0.1
        fixed_hit = sequence_hit = False
        for look in range(1, looks + 1):
            n = look * step
            k1, k2 = int(a[:n].sum()), int(b[:n].sum())
            _, low, high = newcombe(k1, n, k2, n)
            fixed_hit |= low > 0 or high < 0
            _, low, high = confidence_sequence(k1, n, k2, n, planned_per_arm=200)
            sequence_hit |= low > 0 or high < 0
        fixed_false += fixed_hit
        sequence_false += sequence_hit
    assert fixed_false / simulations > 0.15  # peeking at a fixed 95% interval: many false alarms
    assert sequence_false / simulations <= 0.05  # the sequence keeps its promise over every look


def test_the_confidence_sequence_finds_a_real_harm() -> None:
    from app.ml.stats import confidence_sequence

    diff, low, high = confidence_sequence(100, 1000, 200, 1000)
    assert diff == pytest.approx(-0.1) and high < 0 and low < diff
    fixed = newcombe(100, 1000, 200, 1000)
    assert fixed is not None and low < fixed[1]  # wider than the one-look interval: the price of looking often
    assert confidence_sequence(0, 0, 1, 10) is None
