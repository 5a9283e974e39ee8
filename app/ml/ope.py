"""Off-policy evaluation: what a target policy would have earned, estimated from logged choices.

Every personalized choice is logged with the propensity of the action taken
(1 for a deterministic one), so the value of another policy for the same
decision point (a block) can be estimated from the logs alone, by importance
weighting each row with ``w = target_prob / propensity``:

- **IPS** (inverse propensity scoring): ``mean(w * r)``; unbiased when every
  action the target can take had a positive logging propensity, but noisy
  when weights are large;
- **SNIPS** (self-normalised IPS): ``sum(w * r) / sum(w)``; slightly biased,
  usually far less noisy;
- **DR** (doubly robust): ``mean(q_target + w * (r - q_logged))``; unbiased if
  either the propensities or the reward model are right, and low-variance when
  the reward model is decent. ``fit_reward_model`` provides a cross-fitted
  reward model so that no row is scored by a model fitted on it.

``evaluate`` reports all of them with percentile-bootstrap intervals and the
Kish effective sample size of the weights, and withholds numbers when that
effective sample is too small to mean anything. Pure numpy: no Flask, no
database.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
# A target policy: a function of the context, or a table by context, giving each action's probability.
Policy = Callable[[Hashable], Mapping[Hashable, float]] | Mapping[Hashable, Mapping[Hashable, float]]

_CHUNK = 1_000_000  # bootstrap indices drawn per batch (bounds memory on large logs)


def _weights(
    rewards: npt.ArrayLike, propensities: npt.ArrayLike, target_probs: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r = np.asarray(rewards, dtype=float)
    p = np.asarray(propensities, dtype=float)
    t = np.asarray(target_probs, dtype=float)
    if r.ndim != 1 or r.shape != p.shape or r.shape != t.shape:
        raise ValueError("rewards, propensities and target_probs must be flat arrays of the same length")
    if (p <= 0).any() or (p > 1).any() or np.isnan(p).any():
        raise ValueError("propensities must be in (0, 1]")
    if (t < 0).any() or (t > 1).any() or np.isnan(t).any():
        raise ValueError("target_probs must be in [0, 1]")
    return r, t / p


def _nonempty(r: FloatArray) -> None:
    if len(r) == 0:
        raise ValueError("no logged rows")


def ips(rewards: npt.ArrayLike, propensities: npt.ArrayLike, target_probs: npt.ArrayLike) -> float:
    """Inverse propensity scoring estimate of the target policy's mean reward: ``mean(w * r)``."""
    r, w = _weights(rewards, propensities, target_probs)
    _nonempty(r)
    return float(np.mean(w * r))


def snips(rewards: npt.ArrayLike, propensities: npt.ArrayLike, target_probs: npt.ArrayLike) -> float:
    """Self-normalised IPS estimate: ``sum(w * r) / sum(w)``; ValueError when every weight is 0."""
    r, w = _weights(rewards, propensities, target_probs)
    _nonempty(r)
    total = w.sum()
    if total == 0:
        raise ValueError("the target policy gives no weight to any logged action")
    return float(np.sum(w * r) / total)


def _q_arrays(n: int, q_logged: npt.ArrayLike, q_target: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ql = np.asarray(q_logged, dtype=float)
    qt = np.asarray(q_target, dtype=float)
    if ql.shape != (n,) or qt.shape != (n,):
        raise ValueError("q_logged and q_target must have one value per logged row")
    return ql, qt


def doubly_robust(
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target_probs: npt.ArrayLike,
    q_logged: npt.ArrayLike,
    q_target: npt.ArrayLike,
) -> float:
    """Doubly robust estimate: ``mean(q_target + w * (r - q_logged))``."""
    r, w = _weights(rewards, propensities, target_probs)
    _nonempty(r)
    ql, qt = _q_arrays(len(r), q_logged, q_target)
    return float(np.mean(qt + w * (r - ql)))


def effective_sample_size(weights: npt.ArrayLike) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``; 0 when every weight is 0."""
    w = np.asarray(weights, dtype=float)
    square = float(np.sum(w * w))
    return 0.0 if square == 0 else float(np.sum(w)) ** 2 / square


@dataclass(frozen=True)
class Estimate:
    """One estimator's answer: value and interval, or None with the reason why not."""

    name: str
    value: float | None
    low: float | None
    high: float | None
    ess: float
    n: int
    reason: str | None


def _estimators(
    r: FloatArray, w: FloatArray, ql: FloatArray | None, qt: FloatArray | None, rows: IntArray | None = None
) -> dict[str, FloatArray]:
    """IPS, SNIPS (and DR) over ``rows`` resamples (shape (B, n) indices), or over the data itself."""
    if rows is None:
        rows = np.arange(len(r))[None, :]
    rr, ww = r[rows], w[rows]
    n = rows.shape[1]
    weighted = (ww * rr).sum(axis=1)
    total = ww.sum(axis=1)
    out = {
        "ips": weighted / n,
        "snips": np.divide(weighted, total, out=np.full(len(rows), np.nan), where=total > 0),
    }
    if ql is not None and qt is not None:
        out["dr"] = (qt[rows] + ww * (rr - ql[rows])).sum(axis=1) / n
    return out


def evaluate(
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target_probs: npt.ArrayLike,
    q_logged: npt.ArrayLike | None = None,
    q_target: npt.ArrayLike | None = None,
    *,
    bootstrap: int = 500,
    seed: int = 0,
    min_ess: float = 100.0,
    level: float = 0.95,
) -> list[Estimate]:
    """IPS, SNIPS and, when both q arrays are given, DR, each with a percentile bootstrap interval.

    The bootstrap resamples rows with replacement ``bootstrap`` times (a numpy
    Generator seeded with ``seed``); all estimators share the resamples, and
    the reward model's q values are held fixed. ``ess`` is the Kish effective
    sample size of the importance weights. When it is below ``min_ess`` (or
    every weight is 0) no value or interval is given, only the reason.
    """
    r, w = _weights(rewards, propensities, target_probs)
    if bootstrap < 1:
        raise ValueError("bootstrap must be at least 1")
    if (q_logged is None) != (q_target is None):
        raise ValueError("give both q_logged and q_target, or neither")
    ql = qt = None
    if q_logged is not None and q_target is not None:
        ql, qt = _q_arrays(len(r), q_logged, q_target)
    names = ["ips", "snips"] + (["dr"] if ql is not None else [])
    n = len(r)
    ess = effective_sample_size(w)
    if ess == 0 or ess < min_ess:
        if ess < min_ess:
            reason = f"too little data: effective sample {int(ess)} < {min_ess:g}"
        else:
            reason = "no data: the target policy gives no weight to any logged action"
        return [Estimate(name, None, None, None, ess, n, reason) for name in names]
    values = _estimators(r, w, ql, qt)
    rng = np.random.default_rng(seed)
    per_batch = max(1, _CHUNK // n)
    draws: dict[str, list[FloatArray]] = {name: [] for name in names}
    for start in range(0, bootstrap, per_batch):
        rows = rng.integers(0, n, size=(min(per_batch, bootstrap - start), n))
        for name, stat in _estimators(r, w, ql, qt, rows).items():
            draws[name].append(stat)
    tail = (1 - level) / 2
    estimates = []
    for name in names:
        low, high = np.nanquantile(np.concatenate(draws[name]), [tail, 1 - tail])
        estimates.append(Estimate(name, float(values[name][0]), float(low), float(high), ess, n, None))
    return estimates


# --- the reward model for DR ----------------------------------------------------------------------


def _codes(items: Sequence[Hashable]) -> tuple[list[Hashable], IntArray]:
    """Distinct items in first-seen order and each item's index among them."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(item, len(index)) for item in items), dtype=np.intp, count=len(items))
    return list(index), codes


def _table(
    c: IntArray, a: IntArray, r: FloatArray, shape: tuple[int, int], strength: float
) -> tuple[FloatArray, FloatArray, float]:
    """Smoothed means: per (context, action) toward the action's mean, per action toward the overall mean."""
    overall = float(r.mean())
    n_a = np.bincount(a, minlength=shape[1]).astype(float)
    sum_a = np.bincount(a, weights=r, minlength=shape[1])
    action = (sum_a + strength * overall) / (n_a + strength)
    n_ca = np.zeros(shape)
    sum_ca = np.zeros(shape)
    np.add.at(n_ca, (c, a), 1.0)
    np.add.at(sum_ca, (c, a), r)
    return (sum_ca + strength * action) / (n_ca + strength), action, overall


@dataclass(frozen=True, eq=False)
class RewardModel:
    """Cross-fitted smoothed mean reward per (context, action), built by ``fit_reward_model``.

    ``q_logged()`` and ``q_target(policy)`` give one value per logged row, each
    from the fold model that did not see that row; ``q(context, action)`` uses
    the model fitted on all rows. A context or action never seen falls back to
    the action's mean or the overall mean.
    """

    contexts: Mapping[Hashable, int]  # distinct logged contexts -> table row
    actions: Mapping[Hashable, int]  # distinct logged actions -> table column
    context_codes: IntArray  # per logged row
    action_codes: IntArray  # per logged row
    fold: IntArray  # per logged row: the fold whose model scores it
    fold_tables: tuple[tuple[FloatArray, FloatArray, float], ...]  # per fold: fitted without that fold's rows
    table: tuple[FloatArray, FloatArray, float]  # fitted on all rows

    def q(self, context: Hashable, action: Hashable) -> float:
        """Estimated mean reward of ``action`` in ``context`` (all rows)."""
        by_pair, by_action, overall = self.table
        if action not in self.actions:
            return overall
        a = self.actions[action]
        if context not in self.contexts:
            return float(by_action[a])
        return float(by_pair[self.contexts[context], a])

    def q_logged(self) -> FloatArray:
        """Cross-fitted estimate for each logged row's own action."""
        out = np.empty(len(self.fold))
        for f, (by_pair, _, _) in enumerate(self.fold_tables):
            rows = self.fold == f
            out[rows] = by_pair[self.context_codes[rows], self.action_codes[rows]]
        return out

    def q_target(self, policy: Policy) -> FloatArray:
        """Cross-fitted expected reward under ``policy`` for each logged row: ``sum_a pi(a|x) q(x, a)``."""
        probs, unseen = _policy_matrix(policy, list(self.contexts), list(self.actions))
        out = np.empty(len(self.fold))
        for f, (by_pair, _, overall) in enumerate(self.fold_tables):
            rows = self.fold == f
            c = self.context_codes[rows]
            out[rows] = (probs[c] * by_pair[c]).sum(axis=1) + unseen[c] * overall
        return out


def _policy_row(policy: Policy, context: Hashable) -> Mapping[Hashable, float]:
    if isinstance(policy, Mapping):
        if context not in policy:
            raise ValueError(f"the target policy has no entry for context {context!r}")
        return policy[context]
    return policy(context)


def _policy_matrix(
    policy: Policy, contexts: Sequence[Hashable], actions: Sequence[Hashable]
) -> tuple[FloatArray, FloatArray]:
    """Probabilities (contexts x actions) and, per context, the mass on actions never logged."""
    column = {action: k for k, action in enumerate(actions)}
    probs = np.zeros((len(contexts), len(actions)))
    unseen = np.zeros(len(contexts))
    for i, context in enumerate(contexts):
        row = _policy_row(policy, context)
        values = np.fromiter(row.values(), dtype=float, count=len(row))
        if (values < 0).any() or not np.isclose(values.sum(), 1.0):
            raise ValueError(f"the target policy's probabilities for {context!r} must be non-negative and sum to 1")
        for action, p in row.items():
            if action in column:
                probs[i, column[action]] = p
            else:
                unseen[i] += p
    return probs, unseen


def policy_probs(policy: Policy, contexts: Sequence[Hashable], actions: Sequence[Hashable]) -> FloatArray:
    """The target policy's probability of each logged row's action: the ``target_probs`` the estimators take."""
    if len(contexts) != len(actions):
        raise ValueError("contexts and actions must have one entry per logged row")
    distinct, codes = _codes(contexts)
    action_list, action_codes = _codes(actions)
    probs, _ = _policy_matrix(policy, distinct, action_list)
    return probs[codes, action_codes]


def fit_reward_model(
    contexts: Sequence[Hashable],
    actions: Sequence[Hashable],
    rewards: npt.ArrayLike,
    *,
    prior_strength: float = 10.0,
    folds: int = 2,
    seed: int = 0,
) -> RewardModel:
    """Fit a cross-fitted reward model for DR from logged (context, action, reward) rows.

    The model is a table of smoothed means: each action's mean reward is
    shrunk toward the overall mean, and each (context, action) mean toward its
    action's mean, both by ``prior_strength`` pseudo-rows. Rows are split into
    ``folds`` random folds (seeded); each fold's rows are scored by a table
    fitted on the other folds, so DR never evaluates a row with a model that
    saw it.
    """
    r = np.asarray(rewards, dtype=float)
    n = len(r)
    if r.ndim != 1 or len(contexts) != n or len(actions) != n:
        raise ValueError("contexts, actions and rewards must have one entry per logged row")
    if folds < 2 or n < folds:
        raise ValueError("need at least 2 folds and at least one row per fold")
    if prior_strength <= 0:
        raise ValueError("prior_strength must be positive")
    distinct, c = _codes(contexts)
    action_list, a = _codes(actions)
    shape = (len(distinct), len(action_list))
    fold = np.empty(n, dtype=np.intp)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    fold_tables = tuple(_table(c[fold != f], a[fold != f], r[fold != f], shape, prior_strength) for f in range(folds))
    return RewardModel(
        contexts={context: i for i, context in enumerate(distinct)},
        actions={action: k for k, action in enumerate(action_list)},
        context_codes=c,
        action_codes=a,
        fold=fold,
        fold_tables=fold_tables,
        table=_table(c, a, r, shape, prior_strength),
    )
