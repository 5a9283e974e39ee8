"""The measurement loop's analysis: each rule against its own control, and learning blocks' posteriors.

Input: randomized decisions (``app.store.analysis``) and when visitors reached
each goal. The unit is the visitor: a visitor counts once per rule test arm
(or per learning candidate and segment), and reached the goal when any of
their exposures there was followed within the goal window by a click on the
block (goal ``click``) or a sign-up (goal ``signup``). Rules and learning
blocks are randomized per visitor (sticky hashes), so comparing these units
is a randomized comparison; nothing else here is causal.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.ml import stats
from app.store.analysis import DecisionRow, Outcomes

#: The segment dimensions reports break every rule down by.
SEGMENT_DIMENSIONS = ("device", "country", "daypart")
#: The significance level of the segment flags, after the correction.
ALPHA = 0.05


@dataclass
class Arm:
    """Visitors in one arm, and how many reached the goal (and each goal, for the report)."""

    visitors: int = 0
    goals: int = 0
    clicks: int = 0
    signups: int = 0

    @property
    def rate(self) -> float | None:
        return self.goals / self.visitors if self.visitors else None


@dataclass
class _Unit:
    goal: bool = False
    click: bool = False
    signup: bool = False
    device: str | None = None
    country: str | None = None
    daypart: str | None = None


@dataclass
class SegmentResult:
    """A rule's test within one segment (device=mobile, country=DE, ...)."""

    dimension: str
    value: str
    treated: Arm
    control: Arm
    lift: tuple[float, float, float] | None
    p_value: float | None
    adjusted_p: float | None = None
    hurts: bool = False


@dataclass
class RuleTest:
    """A rule against its own control group, on the goal of its block."""

    rule: str
    block: str
    goal: str
    control_share: float
    treated: Arm
    control: Arm
    lift: tuple[float, float, float] | None
    srm_p: float | None
    status: str
    segments: list[SegmentResult] = field(default_factory=list)
    #: The lift with an always-valid 95% confidence sequence: what the status and pauses use,
    #: since the learn job looks at every test again and again.
    sequence: tuple[float, float, float] | None = None

    @property
    def srm(self) -> bool:
        return self.srm_p is not None and self.srm_p < stats.SRM_ALPHA


def _arm(units: Iterable[_Unit]) -> Arm:
    arm = Arm()
    for unit in units:
        arm.visitors += 1
        arm.goals += unit.goal
        arm.clicks += unit.click
        arm.signups += unit.signup
    return arm


def rule_tests(
    rows: Iterable[DecisionRow],
    outcomes: Outcomes,
    *,
    goals: Mapping[str, str],
    shares: Mapping[str, float],
    paused: Iterable[str],
    min_sample: int,
) -> list[RuleTest]:
    """Every rule with a test in ``rows``: lift against control with 95% intervals, and a status.

    ``goals``: block -> goal (click by default). ``shares``: rule -> its control
    share now (for the sample-ratio check). Status: ``paused`` (its file's
    current version is paused), ``collecting`` (an arm below ``min_sample``
    visitors), ``hurting`` (the whole always-valid interval below zero),
    ``winning`` (above zero) or ``no difference``. The always-valid interval
    (a confidence sequence) is wider than the one-look interval that is shown
    too, but a rule looked at every hour is not paused on a fluke.
    """
    units: dict[tuple[str, bool, str], _Unit] = {}
    blocks: dict[str, str] = {}
    for row in rows:
        if row.test is None:
            continue
        goal = goals.get(row.block, "click")
        key = (row.test, row.control, row.visitor)
        unit = units.get(key)
        if unit is None:
            unit = units[key] = _Unit(device=row.device, country=row.country, daypart=row.daypart)
            blocks[row.test] = row.block
        click, signup = outcomes.clicked(row), outcomes.converted(row)
        unit.click |= click
        unit.signup |= signup
        unit.goal |= click if goal == "click" else signup
    by_rule: dict[str, dict[bool, list[_Unit]]] = defaultdict(lambda: {True: [], False: []})
    for (rule, control, _visitor), unit in units.items():
        by_rule[rule][control].append(unit)
    paused_now = set(paused)
    results = []
    for rule in sorted(by_rule):
        arms = by_rule[rule]
        treated, control = _arm(arms[False]), _arm(arms[True])
        share = shares.get(rule, 0.0)
        lift = stats.newcombe(treated.goals, treated.visitors, control.goals, control.visitors)
        sequence = stats.confidence_sequence(
            treated.goals, treated.visitors, control.goals, control.visitors, planned_per_arm=max(min_sample, 1)
        )
        srm_p = stats.srm_pvalue([treated.visitors, control.visitors], [1 - share, share]) if 0 < share < 1 else None
        status = _status(rule, treated, control, sequence, paused_now, min_sample)
        result = RuleTest(
            rule=rule,
            block=blocks[rule],
            goal=goals.get(blocks[rule], "click"),
            control_share=share,
            treated=treated,
            control=control,
            lift=lift,
            srm_p=srm_p,
            status=status,
            sequence=sequence,
        )
        result.segments = _segments(arms)
        results.append(result)
    return results


def _status(
    rule: str,
    treated: Arm,
    control: Arm,
    lift: tuple[float, float, float] | None,
    paused: set[str],
    min_sample: int,
) -> str:
    if rule in paused:
        return "paused"
    if lift is None or min(treated.visitors, control.visitors) < min_sample:
        return "collecting"
    _, low, high = lift
    if high < 0:
        return "hurting"
    if low > 0:
        return "winning"
    return "no difference"


def _segments(arms: Mapping[bool, list[_Unit]]) -> list[SegmentResult]:
    """The test within each device, country and daypart, Holm-corrected across them all."""
    results = []
    for dimension in SEGMENT_DIMENSIONS:
        values = sorted({getattr(u, dimension) or "unknown" for units in arms.values() for u in units})
        for value in values:
            treated = _arm(u for u in arms[False] if (getattr(u, dimension) or "unknown") == value)
            control = _arm(u for u in arms[True] if (getattr(u, dimension) or "unknown") == value)
            results.append(
                SegmentResult(
                    dimension=dimension,
                    value=value,
                    treated=treated,
                    control=control,
                    lift=stats.newcombe(treated.goals, treated.visitors, control.goals, control.visitors),
                    p_value=stats.two_proportion_pvalue(
                        treated.goals, treated.visitors, control.goals, control.visitors
                    ),
                )
            )
    tested = [r for r in results if r.p_value is not None]
    for result, adjusted in zip(tested, stats.holm([r.p_value for r in tested]), strict=True):  # type: ignore[misc]
        result.adjusted_p = adjusted
        result.hurts = result.lift is not None and result.lift[0] < 0 and adjusted < ALPHA
    return results


# ---------------------------------------------------------------- learning blocks


@dataclass
class Candidate:
    """One candidate of a learning block in one segment: data, posterior and allocated share."""

    variant: str
    visitors: int
    goals: int
    mean: float
    low: float
    high: float
    share: float


@dataclass
class SegmentAllocation:
    segment: str
    candidates: list[Candidate]
    #: Posterior mean and 95% interval of the allocation's goal rate minus the default's.
    gain: tuple[float, float, float]


@dataclass
class LearnedBlock:
    """What the learn job publishes for a block: the table the engine reads, and the detail the report shows."""

    block: str
    goal: str
    by: tuple[str, ...]
    overall: SegmentAllocation
    segments: list[SegmentAllocation]

    def table(self) -> dict[str, Any]:
        return {
            "by": list(self.by),
            "overall": {c.variant: c.share for c in self.overall.candidates},
            "segments": {s.segment: {c.variant: c.share for c in s.candidates} for s in self.segments},
        }

    def detail(self) -> dict[str, Any]:
        def one(s: SegmentAllocation) -> dict[str, Any]:
            return {
                "segment": s.segment,
                "gain": list(s.gain),
                "candidates": [vars(c) for c in s.candidates],
            }

        return {"goal": self.goal, "overall": one(self.overall), "segments": [one(s) for s in self.segments]}


def _segment_format(by: tuple[str, ...], segment: str) -> bool:
    """A segment key written for the block's current ``by`` (older keys are not mixed in)."""
    parts = segment.split("|")
    return len(parts) == len(by) and all(p.split("=", 1)[0] == key for p, key in zip(parts, by, strict=True))


def learn_block(
    block: str,
    rows: Iterable[DecisionRow],
    outcomes: Outcomes,
    *,
    candidates: list[str],
    default: str,
    goal: str,
    by: tuple[str, ...],
    explore: float,
    seed: int,
) -> LearnedBlock:
    """Posteriors of each candidate's goal rate per segment (partially pooled) and Thompson allocations."""
    index = {variant: i for i, variant in enumerate(candidates)}
    reached: dict[tuple[str | None, str, str], bool] = {}
    for row in rows:
        if row.block != block or row.allocation is None or row.variant not in index:
            continue
        segment = row.segment if row.segment is not None and _segment_format(by, row.segment) else None
        key = (segment, row.variant, row.visitor)
        reached[key] = reached.get(key, False) or outcomes.reached(row, goal)
    segments = sorted({s for s, _, _ in reached if s is not None})
    k = len(candidates)
    trials = np.zeros((len(segments) + 1, k))
    successes = np.zeros((len(segments) + 1, k))
    position = {s: i for i, s in enumerate(segments)}
    for (segment, variant, _visitor), goal_reached in reached.items():
        # Every visitor counts in the block-wide row; those with a segment in theirs too.
        for row_index in (len(segments), *(() if segment is None else (position[segment],))):
            trials[row_index, index[variant]] += 1
            successes[row_index, index[variant]] += goal_reached
    if segments:
        alpha, beta = stats.pooled_posteriors(successes[:-1], trials[:-1])
    else:
        alpha, beta = np.zeros((0, k)), np.zeros((0, k))
    overall_alpha, overall_beta = stats.pooled_posteriors(successes[-1:], trials[-1:])
    eligible = np.ones(k, dtype=bool)

    def allocate(name: str, a: np.ndarray, b: np.ndarray, t: np.ndarray, s: np.ndarray, salt: int) -> SegmentAllocation:
        shares = stats.thompson_allocation(a, b, eligible, explore=explore, seed=seed + salt)
        low, high = stats.posterior_interval(a, b)
        means = stats.posterior_mean(a, b)
        gain = stats.expected_gain(a, b, shares, index[default], seed=seed + salt)
        return SegmentAllocation(
            segment=name,
            candidates=[
                Candidate(
                    candidates[j],
                    int(t[j]),
                    int(s[j]),
                    float(means[j]),
                    float(low[j]),
                    float(high[j]),
                    round(float(shares[j]), 6),
                )
                for j in range(k)
                if eligible[j]
            ],
            gain=gain,
        )

    return LearnedBlock(
        block=block,
        goal=goal,
        by=by,
        overall=allocate("*", overall_alpha[0], overall_beta[0], trials[-1], successes[-1], 0),
        segments=[allocate(name, alpha[i], beta[i], trials[i], successes[i], i + 1) for i, name in enumerate(segments)],
    )


def seed_for(block: str, version: int) -> int:
    """A stable seed per block and version: the allocation is reproducible from the same data."""
    return int.from_bytes(hashlib.sha256(f"{block}:{version}".encode()).digest()[:4], "big")
