"""Experiment statistics: intervals, tests, corrections and the learn job's posteriors.

Plain functions over counts and numpy arrays, with no Flask or database
imports, so that the scheduled learn job, the report command and tests call the
same code. Where a well-tested implementation exists it is used (scipy's
chi-square, Fisher exact test, Benjamini-Hochberg and beta quantiles); what is
written here is tested against statsmodels and published values.

Two halves:

- **frequentist checks** for rule-vs-control and holdout comparisons: Wilson
  and Newcombe intervals, a two-proportion p-value, the sample-ratio-mismatch
  check, Holm and Benjamini-Hochberg adjustments;
- **learning blocks**: empirical-Bayes Beta posteriors pooled across segments,
  Thompson-sampling allocations with an exploration floor, and the expected
  gain of an allocation over the default variant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def _sps():  # type: ignore[no-untyped-def]
    """scipy.stats, imported when first needed: it takes a second to load, and web workers never need it."""
    from scipy import stats

    return stats


Z = 1.959963984540054  # the 97.5% quantile of the standard normal ("1.96")
SRM_ALPHA = 0.001  # the conventional threshold below which a sample-ratio mismatch is flagged
_FISHER_BELOW = 5.0  # Cochran's rule: an expected cell count under this uses Fisher's exact test
_MEAN_PRIOR = 10.0  # pseudo-visitors that pull a candidate's pooled rate toward the block-wide rate

FloatArray = npt.NDArray[np.float64]


# --- frequentist checks ---------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = Z) -> tuple[float, float, float] | None:
    """Rate ``successes / n`` and its Wilson score interval (95% by default); None when ``n == 0``."""
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return p, max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z) -> tuple[float, float, float] | None:
    """Difference ``p1 - p2`` and Newcombe's hybrid score interval (1998, method 10); None when a group is empty.

    The interval combines the two Wilson intervals: the lower end is
    ``d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, the upper ``d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.
    """
    a, b = wilson(k1, n1, z), wilson(k2, n2, z)
    if a is None or b is None:
        return None
    (p1, l1, u1), (p2, l2, u2) = a, b
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def two_proportion_pvalue(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value for "the two rates are equal"; None when a group is empty.

    The pooled two-proportion z test, except when an expected cell count of the
    2x2 table is below ``_FISHER_BELOW`` (Cochran's rule), where the normal
    approximation is poor and Fisher's exact test (scipy) is used instead.
    """
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if min(expected) < _FISHER_BELOW:
        table = [[k1, n1 - k1], [k2, n2 - k2]]
        return float(_sps().fisher_exact(table, alternative="two-sided").pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    statistic = (k1 / n1 - k2 / n2) / se
    return float(2 * _sps().norm.sf(abs(statistic)))


def srm_pvalue(observed: Sequence[int], expected_shares: Sequence[float]) -> float | None:
    """Sample-ratio-mismatch check: chi-square goodness-of-fit p-value; None when no one was counted.

    ``expected_shares`` are normalised to sum to 1. An arm with a zero share
    and no observations is left out; one with a zero share that did receive
    observations is a certain mismatch (0.0). With a single arm left nothing
    can mismatch (1.0). Compare the result with ``SRM_ALPHA``.
    """
    counts = np.asarray(observed, dtype=float)
    shares = np.asarray(expected_shares, dtype=float)
    if counts.shape != shares.shape or counts.ndim != 1:
        raise ValueError("observed and expected_shares must be sequences of the same length")
    if (counts < 0).any() or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError("counts and shares must be non-negative, with some positive share")
    total = counts.sum()
    if total == 0:
        return None
    if (counts[shares == 0] > 0).any():
        return 0.0
    keep = shares > 0
    if keep.sum() < 2:
        return 1.0
    expected = total * shares[keep] / shares[keep].sum()
    return float(_sps().chisquare(counts[keep], f_exp=expected).pvalue)


def _pvalue_array(pvalues: Sequence[float]) -> FloatArray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must be a flat sequence of numbers in [0, 1]")
    return p


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error), in input order, monotone and at most 1."""
    p = _pvalue_array(pvalues)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in input order, monotone and at most 1.

    scipy's ``false_discovery_control`` does the work.
    """
    p = _pvalue_array(pvalues)
    if len(p) == 0:
        return []
    return np.asarray(_sps().false_discovery_control(p, method="bh"), dtype=float).tolist()


# --- learning blocks ------------------------------------------------------------------------------


def _strength(successes: FloatArray, trials: FloatArray, min_strength: float, max_strength: float) -> float:
    """Method-of-moments Beta prior strength for one candidate from its per-segment counts.

    Under a beta-binomial model with mean ``m`` and strength ``kappa`` the true
    rates vary across segments with variance ``tau2 = m(1-m)/(kappa+1)``, and
    ``E[sum n_s (p_s - p)^2] = (S-1) m(1-m) + tau2 (N - sum n_s^2 / N - (S-1))``.
    Solving for ``tau2`` gives ``kappa = m(1-m)/tau2 - 1``. No measurable
    spread (one segment, a rate of 0 or 1, or a spread no larger than the
    binomial noise) means strong pooling: ``max_strength``.
    """
    seen = trials > 0
    x, n = successes[seen], trials[seen]
    segments = len(n)
    if segments < 2:
        return min_strength  # nothing says how alike segments are: lean on the data
    total = n.sum()
    p = x.sum() / total
    if p <= 0 or p >= 1:
        return max_strength
    spread = float(np.sum(n * (x / n - p) ** 2))
    denominator = total - float(np.sum(n * n)) / total - (segments - 1)
    if denominator <= 0:
        return max_strength
    tau2 = (spread - (segments - 1) * p * (1 - p)) / denominator
    if tau2 <= 0:
        return max_strength
    return float(np.clip(p * (1 - p) / tau2 - 1, min_strength, max_strength))


def pooled_posteriors(
    successes: npt.ArrayLike,
    trials: npt.ArrayLike,
    *,
    min_strength: float = 2.0,
    max_strength: float = 200.0,
) -> tuple[FloatArray, FloatArray]:
    """Beta posteriors ``(alpha, beta)``, shape (S, K), for S segments x K candidates, pooled across segments.

    Empirical Bayes, one Beta prior per candidate k, shared by its segments:

    - the prior mean ``m_sk`` of candidate k in segment s is k's rate over the
      *other* segments (so a segment's data is never counted twice, once in its
      prior and once in its likelihood), shrunk toward the block-wide rate (all
      candidates, with a Beta(1, 1) smoothing so that no data at all gives 0.5)
      by ``_MEAN_PRIOR`` pseudo-visitors;
    - the prior strength ``kappa_k`` comes from the method of moments on the
      between-segment spread of k's rates (see ``_strength``), clipped to
      ``[min_strength, max_strength]``; little spread means strong pooling, so
      a thin segment borrows from the whole block; with fewer than two segments
      with data it is ``min_strength`` (nothing says segments are alike).

    Then ``alpha = m_k * kappa_k + successes`` and ``beta = (1 - m_k) * kappa_k + trials - successes``;
    a segment with no data gets exactly the prior.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if x.ndim != 2 or x.shape != n.shape:
        raise ValueError("successes and trials must be arrays of the same shape (segments, candidates)")
    if (x < 0).any() or (x > n).any():
        raise ValueError("successes must be between 0 and trials")
    if not 0 < min_strength <= max_strength:
        raise ValueError("need 0 < min_strength <= max_strength")
    block_rate = (x.sum() + 1) / (n.sum() + 2)
    others_x, others_n = x.sum(axis=0) - x, n.sum(axis=0) - n  # each segment's candidates, left out
    mean = (others_x + _MEAN_PRIOR * block_rate) / (others_n + _MEAN_PRIOR)
    kappa = np.array([_strength(x[:, k], n[:, k], min_strength, max_strength) for k in range(x.shape[1])])
    return mean * kappa + x, (1 - mean) * kappa + n - x


def thompson_allocation(
    alpha: npt.ArrayLike,
    beta: npt.ArrayLike,
    eligible: npt.ArrayLike,
    *,
    explore: float,
    draws: int = 4000,
    seed: int = 0,
) -> FloatArray:
    """Allocation probabilities, shape (K,), for one segment: 0 for ineligible candidates, summing to 1.

    Each eligible candidate's probability of being best under its Beta
    posterior, by Monte Carlo (``draws`` joint draws from a numpy Generator
    seeded with ``seed``, so the result is deterministic; a tie shares the
    draw equally). Then every eligible candidate is raised to at least
    ``explore`` and the others scaled down proportionally so the total stays 1
    (repeated until no scaled value falls under the floor). When
    ``explore * eligible >= 1`` the allocation is uniform. Raises ValueError
    when nothing is eligible.
    """
    a = np.asarray(alpha, dtype=float)
    b = np.asarray(beta, dtype=float)
    ok = np.asarray(eligible, dtype=bool)
    if a.ndim != 1 or a.shape != b.shape or a.shape != ok.shape:
        raise ValueError("alpha, beta and eligible must be flat arrays of the same length")
    count = int(ok.sum())
    if count == 0:
        raise ValueError("no eligible candidate")
    if (a[ok] <= 0).any() or (b[ok] <= 0).any():
        raise ValueError("alpha and beta must be positive for eligible candidates")
    allocation = np.zeros(len(a))
    if explore * count >= 1:
        allocation[ok] = 1 / count
        return allocation
    samples = np.random.default_rng(seed).beta(a[ok], b[ok], size=(draws, count))
    best = samples == samples.max(axis=1, keepdims=True)
    wins = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    allocation[ok] = _floor(wins, explore)
    return allocation


def _floor(p: FloatArray, floor: float) -> FloatArray:
    """Raise every share to at least ``floor`` and scale the rest so the total stays 1 (needs ``floor * len < 1``)."""
    fixed = np.zeros(len(p), dtype=bool)
    while True:
        scaled = p * (1 - floor * fixed.sum()) / p[~fixed].sum()
        under = ~fixed & (scaled < floor)
        if not under.any():
            return np.where(fixed, floor, scaled)
        fixed |= under


def posterior_mean(alpha: npt.ArrayLike, beta: npt.ArrayLike) -> FloatArray:
    """Mean ``alpha / (alpha + beta)`` of Beta posteriors, elementwise."""
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    return a / (a + b)


def posterior_interval(alpha: npt.ArrayLike, beta: npt.ArrayLike, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Equal-tailed credible interval ``(low, high)`` of Beta posteriors, elementwise (scipy's beta quantiles)."""
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    tail = (1 - level) / 2
    beta_dist = _sps().beta
    return np.asarray(beta_dist.ppf(tail, a, b), dtype=float), np.asarray(beta_dist.ppf(1 - tail, a, b), dtype=float)


def expected_gain(
    alpha: npt.ArrayLike,
    beta: npt.ArrayLike,
    allocation: npt.ArrayLike,
    default_index: int,
    draws: int = 4000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Posterior mean and 95% interval of the allocation-weighted rate minus the default candidate's, for one segment.

    Monte Carlo: ``draws`` joint draws of the candidates' rates from their Beta
    posteriors (a numpy Generator seeded with ``seed``); only candidates with a
    positive allocation and the default are drawn.
    """
    a = np.asarray(alpha, dtype=float)
    b = np.asarray(beta, dtype=float)
    w = np.asarray(allocation, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.shape != w.shape:
        raise ValueError("alpha, beta and allocation must be flat arrays of the same length")
    if (w < 0).any() or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-9):
        raise ValueError("allocation must be non-negative and sum to 1")
    if not 0 <= default_index < len(a):
        raise ValueError("default_index is out of range")
    used = w > 0
    used[default_index] = True
    if (a[used] <= 0).any() or (b[used] <= 0).any():
        raise ValueError("alpha and beta must be positive for allocated candidates and the default")
    columns = np.flatnonzero(used)
    rates = np.random.default_rng(seed).beta(a[columns], b[columns], size=(draws, len(columns)))
    gain = rates @ w[columns] - rates[:, int(np.searchsorted(columns, default_index))]
    low, high = np.quantile(gain, [0.025, 0.975])
    return float(gain.mean()), float(low), float(high)


def confidence_sequence(
    k1: int, n1: int, k2: int, n2: int, *, alpha: float = 0.05, planned_per_arm: int = 200
) -> tuple[float, float, float] | None:
    """Difference p1 - p2 with an always-valid (1 - alpha) confidence sequence: safe to look at every day.

    A fixed-sample 95% interval checked at every run of a job excludes zero
    by chance far more often than 5% of the time; this one holds uniformly over
    all the looks (Robbins' normal mixture, as in Howard et al. 2021): with
    information ``I = 1/Var(p1 - p2)`` the half-width is
    ``sqrt((I + rho) * log((I + rho) / (rho * alpha**2))) / I``, where ``rho``
    makes it tightest around ``planned_per_arm`` visitors per arm. The rates in
    the variance are smoothed by one success and one failure, so a 0/n arm
    still has a width. None when an arm is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    s1, s2 = (k1 + 1) / (n1 + 2), (k2 + 1) / (n2 + 2)
    variance = s1 * (1 - s1) / n1 + s2 * (1 - s2) / n2
    information = 1 / variance
    log_term = -2 * math.log(alpha)
    planned = planned_per_arm / (2 * 0.25)  # the information of the planned size at its widest (p = 1/2)
    rho = planned / (log_term + math.log(1 + log_term))
    half = math.sqrt((information + rho) * math.log((information + rho) / (rho * alpha**2))) / information
    return p1 - p2, p1 - p2 - half, p1 - p2 + half
