"""The ``learn`` job: allocations for learning blocks, and pauses for rules that hurt.

From the logged decisions and outcomes (``app.store.analysis``):

- every learning block gets a new allocation version when its shares moved
  (by more than ``MIN_CHANGE``), or its first: Thompson sampling over
  partially pooled posteriors per segment, every candidate at least the
  block's ``explore`` share;
- every rule whose test has enough evidence that it hurts (the upper bound of
  the always-valid 95% interval of its lift against its own control below
  zero: a confidence sequence, since the job looks again every hour; both
  arms at least ``RULE_MIN_SAMPLE`` visitors) is paused for its current file
  version; an editor resumes it by changing the file.

The engine reads both as data (``app.web.experiments``); nothing here runs
per request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from app import store
from app.content import Site
from app.ml.experiments import RuleTest, learn_block, rule_tests, seed_for
from app.store.analysis import Outcomes, decision_rows

log = logging.getLogger(__name__)

#: A new allocation version is published only when a share moved by more than this: a
#: visitor's draw is stable within a version, so versions should not churn for nothing.
MIN_CHANGE = 0.01


def rule_settings(site: Site, control_share: float) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Per block its goal; per rule its control share and its file's fingerprint, from the content."""
    goals = {block: settings.goal for block, settings in site.catalog.settings.items()}
    shares, fingerprints = {}, {}
    for block, variants in site.catalog.conditional.items():
        settings = site.catalog.settings.get(block)
        if settings is not None and settings.strategy == "learn":
            continue
        for variant in variants:
            shares[variant.rule_id] = variant.control if variant.control is not None else control_share
            fingerprints[variant.rule_id] = variant.fingerprint
    return goals, shares, fingerprints


def current_pauses(fingerprints: dict[str, str]) -> set[str]:
    """Rules paused for the version of their file that is live now."""
    return {rule for rule, fingerprint, _, _ in store.paused_rules() if fingerprints.get(rule) == fingerprint}


def run_learn(now: datetime, site: Site, *, window: timedelta, control_share: float, min_sample: int) -> dict[str, Any]:
    """Publish allocations and pauses from the decisions of the last ``window``; a summary of what changed."""
    since = now - window
    outcomes = Outcomes(since, now)
    summary: dict[str, Any] = {"allocations": {}, "paused": []}
    for block, settings in sorted(site.catalog.settings.items()):
        default = site.catalog.defaults.get(block)
        if settings.strategy != "learn" or default is None:
            continue
        candidates = [default.id, *(v.id for v in site.catalog.conditional.get(block, ()))]
        previous = store.newest_allocation(block)
        version = (previous[0] if previous else 0) + 1
        learned = learn_block(
            block,
            decision_rows(since, now, strategy="learn", block=block),
            outcomes,
            candidates=candidates,
            default=default.id,
            goal=settings.goal,
            by=settings.by,
            explore=settings.explore,
            seed=seed_for(block, version),
        )
        table = learned.table()
        if previous is not None and not _moved(previous[1], table):
            summary["allocations"][block] = f"v{previous[0]} kept (no share moved by {MIN_CHANGE:.0%})"
            continue
        published = store.publish_allocation(block, table, learned.detail(), now)
        summary["allocations"][block] = f"v{published}"
    goals, shares, fingerprints = rule_settings(site, control_share)
    tests = rule_tests(
        decision_rows(since, now, strategy="rules"),
        outcomes,
        goals=goals,
        shares=shares,
        paused=current_pauses(fingerprints),
        min_sample=min_sample,
    )
    for test in tests:
        hurting = test.status == "hurting" and test.rule in fingerprints
        if hurting and store.pause_rule(test.rule, fingerprints[test.rule], pause_reason(test), now):
            log.warning("rule %s paused: %s", test.rule, pause_reason(test))
            summary["paused"].append(test.rule)
    return summary


def pause_reason(test: RuleTest) -> str:
    assert test.sequence is not None
    diff, low, high = test.sequence
    return (
        f"{test.goal} rate {test.treated.goals}/{test.treated.visitors} with the rule vs "
        f"{test.control.goals}/{test.control.visitors} in its control: {diff * 100:+.1f} points "
        f"[{low * 100:+.1f}, {high * 100:+.1f}], the whole always-valid 95% interval below zero"
    )


def _moved(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if old.get("by") != new.get("by") or set(old.get("segments", {})) != set(new.get("segments", {})):
        return True
    tables = [(old.get("overall", {}), new["overall"])]
    tables += [(old["segments"][s], shares) for s, shares in new["segments"].items()]
    for before, after in tables:
        if set(before) != set(after):
            return True
        if any(abs(before[v] - after[v]) > MIN_CHANGE for v in after):
            return True
    return False
