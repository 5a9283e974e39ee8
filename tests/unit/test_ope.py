"""Off-policy estimators on synthetic logs whose logging policy and true target value are known exactly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.ml.ope import (
    Estimate,
    doubly_robust,
    effective_sample_size,
    evaluate,
    fit_reward_model,
    ips,
    policy_probs,
    snips,
)

ROOT = Path(__file__).resolve().parents[2]

# Three contexts (their shares of traffic), three actions, and each action's true reward rate per context.
CONTEXT_SHARE = np.array([0.5, 0.3, 0.2])
REWARD_RATE = np.array([[0.10, 0.30, 0.50], [0.40, 0.20, 0.10], [0.20, 0.20, 0.60]])
LOGGING = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.5, 0.3, 0.2]])
TARGET = np.array([[0.1, 0.2, 0.7], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
# The target policy's true value, analytically: sum over contexts and actions of share x pi(a|x) x rate.
TRUE_VALUE = float(CONTEXT_SHARE @ (TARGET * REWARD_RATE).sum(axis=1))  # 0.413
ROWS = 2000
REPETITIONS = 100


def as_table(policy: np.ndarray) -> dict[Hashable, Mapping[Hashable, float]]:
    return {f"c{i}": {f"a{k}": float(p) for k, p in enumerate(row)} for i, row in enumerate(policy)}


@dataclass(frozen=True)
class Log:
    contexts: list[str]
    actions: list[str]
    rewards: np.ndarray
    propensities: np.ndarray


def simulate(rng: np.random.Generator, rows: int, logging: np.ndarray = LOGGING) -> Log:
    """Contexts by their shares, actions by the logging policy, 0/1 rewards by the true rates."""
    c = rng.choice(len(CONTEXT_SHARE), size=rows, p=CONTEXT_SHARE)
    a = (rng.random(rows)[:, None] > logging[c].cumsum(axis=1)).sum(axis=1)
    a = np.minimum(a, logging.shape[1] - 1)
    rewards = (rng.random(rows) < REWARD_RATE[c, a]).astype(float)
    return Log([f"c{i}" for i in c], [f"a{k}" for k in a], rewards, logging[c, a])


def estimate_target(log: Log, policy: np.ndarray, seed: int, bootstrap: int = 200) -> dict[str, Estimate]:
    table = as_table(policy)
    model = fit_reward_model(log.contexts, log.actions, log.rewards, seed=seed)
    target = policy_probs(table, log.contexts, log.actions)
    results = evaluate(
        log.rewards, log.propensities, target, model.q_logged(), model.q_target(table), bootstrap=bootstrap, seed=seed
    )
    return {e.name: e for e in results}


@pytest.fixture(scope="module")
def repetitions() -> list[dict[str, Estimate]]:
    return [
        estimate_target(simulate(np.random.default_rng(1000 + i), ROWS), TARGET, seed=i) for i in range(REPETITIONS)
    ]


@pytest.mark.parametrize("name", ["ips", "snips", "dr"])
def test_estimators_are_unbiased_and_their_intervals_cover_the_true_value(
    repetitions: list[dict[str, Estimate]], name: str
) -> None:
    estimates = [r[name] for r in repetitions]
    values = np.array([e.value for e in estimates])
    # Unbiased-ish: the average of 100 independent estimates is within 3 standard errors of the truth.
    assert abs(values.mean() - TRUE_VALUE) < 3 * values.std(ddof=1) / np.sqrt(REPETITIONS)
    covered = sum(e.low <= TRUE_VALUE <= e.high for e in estimates)  # type: ignore[operator]
    assert covered >= 85, f"{name}: the 95% interval covered the true value in {covered} of {REPETITIONS}"
    assert all(e.reason is None and e.n == ROWS and e.ess > 100 for e in estimates)


def test_doubly_robust_is_less_noisy_than_ips(repetitions: list[dict[str, Estimate]]) -> None:
    spread = {name: np.std([r[name].value for r in repetitions]) for name in ("ips", "dr")}
    assert spread["dr"] < 0.85 * spread["ips"]
    widths = {name: np.mean([r[name].high - r[name].low for r in repetitions]) for name in ("ips", "dr")}  # type: ignore[operator]
    assert widths["dr"] < widths["ips"]


def test_evaluating_the_logging_policy_recovers_the_on_policy_mean() -> None:
    log = simulate(np.random.default_rng(5), ROWS)
    results = estimate_target(log, LOGGING, seed=5)
    on_policy = float(log.rewards.mean())
    assert results["ips"].value == pytest.approx(on_policy) and results["snips"].value == pytest.approx(on_policy)
    assert results["dr"].value == pytest.approx(on_policy, abs=0.01)
    assert results["ips"].ess == pytest.approx(ROWS)  # every weight is 1


def test_too_little_data_when_the_target_prefers_what_the_logger_rarely_did() -> None:
    rare = np.array([[0.98, 0.01, 0.01]] * 3)
    log = simulate(np.random.default_rng(9), 1000, logging=rare)
    results = estimate_target(log, np.array([[0.0, 0.0, 1.0]] * 3), seed=9)
    assert set(results) == {"ips", "snips", "dr"}
    for e in results.values():
        assert e.value is None and e.low is None and e.high is None
        assert e.ess < 100 and e.n == 1000
        assert e.reason == f"too little data: effective sample {int(e.ess)} < 100"
    # The same logs do support evaluating a policy close to the logger's.
    assert estimate_target(log, np.array([[0.9, 0.05, 0.05]] * 3), seed=9)["snips"].value is not None


def test_estimators_on_a_hand_computed_log() -> None:
    rewards = np.array([1.0, 0.0, 1.0, 0.0])
    propensities = np.array([0.5, 0.5, 0.25, 1.0])
    target = np.array([1.0, 0.5, 0.5, 0.0])  # weights 2, 1, 2, 0
    assert ips(rewards, propensities, target) == pytest.approx((2 + 2) / 4)
    assert snips(rewards, propensities, target) == pytest.approx(4 / 5)
    q_logged, q_target = np.array([0.5, 0.5, 0.5, 0.5]), np.array([0.6, 0.6, 0.4, 0.4])
    dr = (0.6 + 2 * 0.5 + 0.6 + 1 * -0.5 + 0.4 + 2 * 0.5 + 0.4) / 4
    assert doubly_robust(rewards, propensities, target, q_logged, q_target) == pytest.approx(dr)
    assert effective_sample_size([2.0, 1.0, 2.0, 0.0]) == pytest.approx(25 / 9)
    assert effective_sample_size(np.ones(7)) == pytest.approx(7.0) and effective_sample_size([0.0, 0.0]) == 0.0


def test_evaluate_is_deterministic_per_seed_and_dr_needs_both_q_arrays() -> None:
    log = simulate(np.random.default_rng(3), 500)
    target = policy_probs(as_table(TARGET), log.contexts, log.actions)
    first = evaluate(log.rewards, log.propensities, target, bootstrap=100, seed=1)
    assert [e.name for e in first] == ["ips", "snips"]
    assert first == evaluate(log.rewards, log.propensities, target, bootstrap=100, seed=1)
    assert first != evaluate(log.rewards, log.propensities, target, bootstrap=100, seed=2)
    with pytest.raises(ValueError, match="both"):
        evaluate(log.rewards, log.propensities, target, q_logged=np.zeros(500))


def test_evaluate_gives_no_numbers_when_the_target_never_takes_a_logged_action() -> None:
    results = evaluate([1.0, 0.0], [0.5, 0.5], [0.0, 0.0], min_ess=0)
    assert all(e.value is None and e.ess == 0 and e.reason is not None for e in results)


def test_estimators_reject_impossible_propensities() -> None:
    with pytest.raises(ValueError, match="propensities"):
        ips([1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="propensities"):
        snips([1.0], [1.5], [1.0])
    with pytest.raises(ValueError, match="same length"):
        ips([1.0, 0.0], [0.5], [1.0])


def test_reward_model_is_cross_fitted() -> None:
    log = simulate(np.random.default_rng(11), 600)
    model = fit_reward_model(log.contexts, log.actions, log.rewards, folds=3, seed=4)
    changed = log.rewards.copy()
    changed[0] = 1 - changed[0]
    again = fit_reward_model(log.contexts, log.actions, changed, folds=3, seed=4)
    # A row's own reward never enters its own estimate...
    assert again.q_logged()[0] == model.q_logged()[0]
    assert again.q_target(as_table(TARGET))[0] == model.q_target(as_table(TARGET))[0]
    # ...but it does enter the model fitted on all rows, and other folds' estimates.
    assert again.q(log.contexts[0], log.actions[0]) != model.q(log.contexts[0], log.actions[0])
    assert not np.array_equal(again.q_logged(), model.q_logged())


def test_reward_model_smooths_toward_the_action_and_overall_means() -> None:
    contexts = ["x"] * 8 + ["y"] * 2
    actions = ["a"] * 10
    rewards = np.array([1.0] * 8 + [0.0] * 2)  # action a: 8 of 10 overall; in y: 0 of 2
    model = fit_reward_model(contexts, actions, rewards, prior_strength=2.0)
    action_mean = (8 + 2 * 0.8) / (10 + 2)
    assert model.q("y", "a") == pytest.approx((0 + 2 * action_mean) / (2 + 2))
    assert model.q("never seen", "a") == pytest.approx(action_mean)
    assert model.q("x", "never taken") == pytest.approx(0.8)  # the overall mean
    flat = fit_reward_model(contexts, actions, rewards, prior_strength=1e6)
    assert flat.q("y", "a") == pytest.approx(0.8, abs=1e-4)


def test_a_policy_can_be_a_table_or_a_function() -> None:
    log = simulate(np.random.default_rng(2), 300)
    table = as_table(TARGET)

    def function(context: Hashable) -> Mapping[Hashable, float]:
        return table[context]

    model = fit_reward_model(log.contexts, log.actions, log.rewards)
    assert np.array_equal(model.q_target(table), model.q_target(function))
    expected = np.array([TARGET[int(c[1]), int(a[1])] for c, a in zip(log.contexts, log.actions, strict=True)])
    assert np.array_equal(policy_probs(function, log.contexts, log.actions), expected)
    # An action the logs never saw is valued at the overall mean; a policy that does not sum to 1 is refused.
    novel = {context: {"new": 1.0} for context in table}
    assert model.q_target(novel) == pytest.approx(np.full(300, model.q("c0", "new")), abs=0.05)
    with pytest.raises(ValueError, match="sum to 1"):
        model.q_target({context: {"a0": 0.5} for context in table})
    with pytest.raises(ValueError, match="no entry"):
        policy_probs({"c0": {"a0": 1.0}}, log.contexts, log.actions)


def test_module_is_pure() -> None:
    # The scheduled learn job and the report command call it: importing it loads no web or database code.
    banned = {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", "apscheduler"}
    code = (
        "import sys, app.ml.ope; "
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & {banned!r}); "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
