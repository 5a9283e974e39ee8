"""``flask report``: what helped and what hurt, with intervals, from the app's own records.

Causal comparisons only where the app randomized: the holdout against the
personalized visitors, and every rule against its own control group. The
per-layer arms are the visitors' own choice on ``/preferences`` and are
labelled so. Learning blocks report the allocation the learn job published
and each candidate's posterior. ``report policy-value`` estimates, off the
logged propensities, what other policies would have got.

The JSON form (``--json``) is the structure :func:`build_report` returns; its
schema is documented in the README.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from app import store
from app.content import Site
from app.ml import ope, stats
from app.ml.experiments import Arm, RuleTest, rule_tests
from app.ml.learn import current_pauses, rule_settings
from app.store.analysis import DecisionRow, Outcomes, VisitorRow, decision_rows, visitor_rows

LAYER_NOTE = (
    "the visitors' own choice on /preferences, not a randomized comparison: "
    "differences between these groups are not caused by the layers alone"
)


def _rate(k: int, n: int) -> dict[str, float] | None:
    found = stats.wilson(k, n)
    return None if found is None else {"rate": found[0], "low": found[1], "high": found[2]}


def _lift(result: tuple[float, float, float] | None) -> dict[str, float] | None:
    return None if result is None else {"diff": result[0], "low": result[1], "high": result[2]}


def _mean(values: list[float]) -> dict[str, float] | None:
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    half = stats.Z * sd / math.sqrt(len(values))
    return {"mean": m, "low": m - half, "high": m + half, "n": len(values)}


def _group(rows: list[VisitorRow]) -> dict[str, Any]:
    converted = sum(r.converted for r in rows)
    return {
        "visitors": len(rows),
        "conversions": converted,
        "conversion": _rate(converted, len(rows)),
        "pages": _mean([float(r.pages) for r in rows]),
        "dwell_seconds": _mean([r.dwell_seconds for r in rows if r.dwell_seconds is not None]),
    }


def _arm_name(settings: tuple[bool | None, bool | None, bool | None]) -> str:
    on = [name for name, value in zip(("contextual", "behavioral", "predictive"), settings, strict=True)
          if value is not False]  # fmt: skip
    return "+".join(on) if on else "everything off"


def holdout_section(rows: list[VisitorRow], share: float) -> dict[str, Any]:
    held = [r for r in rows if r.holdout]
    personalized = [r for r in rows if not r.holdout]
    srm_p = stats.srm_pvalue([len(personalized), len(held)], [1 - share, share]) if 0 < share < 1 else None
    arms: dict[str, list[VisitorRow]] = defaultdict(list)
    for row in personalized:
        arms[_arm_name(row.settings)].append(row)
    return {
        "causal": True,
        "share": share,
        "personalized": _group(personalized),
        "holdout": _group(held),
        "conversion_lift": _lift(
            stats.newcombe(
                sum(r.converted for r in personalized), len(personalized), sum(r.converted for r in held), len(held)
            )
        ),  # fmt: skip
        "srm_p": srm_p,
        "srm": srm_p is not None and srm_p < stats.SRM_ALPHA,
        "layers": {
            "causal": False,
            "note": LAYER_NOTE,
            "arms": {name: _group(group) for name, group in sorted(arms.items())},
        },
    }


def _arm(arm: Arm) -> dict[str, Any]:
    return {
        "visitors": arm.visitors,
        "goals": arm.goals,
        "rate": _rate(arm.goals, arm.visitors),
        "clicks": arm.clicks,
        "signups": arm.signups,
    }


def _rule(test: RuleTest, pauses: dict[str, tuple[datetime, str]]) -> dict[str, Any]:
    paused = pauses.get(test.rule)
    return {
        "rule": test.rule,
        "block": test.block,
        "goal": test.goal,
        "control_share": test.control_share,
        "treated": _arm(test.treated),
        "control": _arm(test.control),
        "lift": _lift(test.lift),
        "sequence": _lift(test.sequence),
        "status": test.status,
        "paused": None if paused is None else {"at": paused[0].isoformat() + "Z", "reason": paused[1]},
        "srm_p": test.srm_p,
        "srm": test.srm,
        "segments": [
            {
                "dimension": s.dimension,
                "value": s.value,
                "treated": {"visitors": s.treated.visitors, "goals": s.treated.goals},
                "control": {"visitors": s.control.visitors, "goals": s.control.goals},
                "lift": _lift(s.lift),
                "p": s.p_value,
                "adjusted_p": s.adjusted_p,
                "hurts": s.hurts,
            }
            for s in test.segments
        ],
        "hurts_in": [f"{s.dimension}={s.value}" for s in test.segments if s.hurts],
    }


def learning_section(site: Site) -> list[dict[str, Any]]:
    blocks = []
    for block, settings in sorted(site.catalog.settings.items()):
        if settings.strategy != "learn":
            continue
        newest = store.newest_allocation(block)
        entry: dict[str, Any] = {"block": block, "goal": settings.goal, "by": list(settings.by),
                                 "explore": settings.explore}  # fmt: skip
        if newest is None:
            entry.update(version=None, published_at=None, note="no allocation published yet: every eligible "
                         "candidate is equally likely until the learn job runs")  # fmt: skip
        else:
            version, _table, detail, created_at = newest
            entry.update(version=version, published_at=created_at.isoformat() + "Z", **detail)
        blocks.append(entry)
    return blocks


def build_report(since: datetime, until: datetime, site: Site, config: Any) -> dict[str, Any]:
    """Everything ``flask report`` shows, as JSON-ready data (inside an app context)."""
    outcomes = Outcomes(since, until)
    rows = list(decision_rows(since, until))
    goals, shares, fingerprints = rule_settings(site, config["RULE_CONTROL_SHARE"])
    live_pauses = current_pauses(fingerprints)
    pauses = {rule: (at, reason) for rule, fingerprint, at, reason in store.paused_rules()
              if fingerprints.get(rule) == fingerprint}  # fmt: skip
    tests = rule_tests(rows, outcomes, goals=goals, shares=shares, paused=live_pauses,
                       min_sample=config["RULE_MIN_SAMPLE"])  # fmt: skip
    return {
        "period": {"since": since.isoformat() + "Z", "until": until.isoformat() + "Z"},
        "synthetic": False,
        "holdout": holdout_section(list(visitor_rows(since, until)), config["HOLDOUT_SHARE"]),
        "rules": [_rule(t, pauses) for t in tests],
        "learning": learning_section(site),
        "settings": {
            "rule_control_share": config["RULE_CONTROL_SHARE"],
            "rule_min_sample": config["RULE_MIN_SAMPLE"],
            "goal_window_minutes": 30,
        },  # fmt: skip
    }


# ------------------------------------------------------------------------ text


def rate_text(rate: Mapping[str, float] | None) -> str:
    """A rate with its 95% interval, as the report prints it (also the studio's tables)."""
    if rate is None:
        return "n/a"
    return f"{rate['rate'] * 100:.1f}% [{rate['low'] * 100:.1f}, {rate['high'] * 100:.1f}]"


def lift_text(lift: Mapping[str, float] | None) -> str:
    """A lift in points with its 95% interval, as the report prints it (also the studio's tables)."""
    if lift is None:
        return "n/a"
    return f"{lift['diff'] * 100:+.1f} pts [{lift['low'] * 100:+.1f}, {lift['high'] * 100:+.1f}]"


def _num(mean: dict[str, float] | None, digits: int = 1) -> str:
    if mean is None:
        return "n/a"
    return f"{mean['mean']:.{digits}f} [{mean['low']:.{digits}f}, {mean['high']:.{digits}f}]"


def format_report(report: dict[str, Any]) -> str:
    lines = [f"Report from {report['period']['since']} to {report['period']['until']}"]
    h = report["holdout"]
    lines += ["", f"Holdout vs personalized (randomized: causal; holdout share {h['share']:.0%})"]
    lines.append(f"  {'group':<14}{'visitors':>9}  {'conversion (95% CI)':<24}{'pages/visitor':<20}dwell s/visitor")
    for name in ("personalized", "holdout"):
        g = h[name]
        lines.append(f"  {name:<14}{g['visitors']:>9}  {rate_text(g['conversion']):<24}{_num(g['pages']):<20}"
                     f"{_num(g['dwell_seconds'])}")  # fmt: skip
    lines.append(f"  conversion lift: {lift_text(h['conversion_lift'])}")
    if h["srm_p"] is not None:
        flag = "MISMATCH: the split is not what the share says; check before trusting it" if h["srm"] else "ok"
        lines.append(f"  sample ratio check: p = {h['srm_p']:.3g} ({flag})")
    lines += ["", f"By the layers visitors chose ({h['layers']['note']}):"]
    for name, g in h["layers"]["arms"].items():
        lines.append(f"  {name:<40}{g['visitors']:>7} visitors  conversion {rate_text(g['conversion'])}")
    lines += ["", "Rules, each against its own control group (randomized: causal)"]
    if not report["rules"]:
        lines.append("  no rule has a test in this period")
    for r in report["rules"]:
        lines.append(
            f"  {r['rule']}  [{r['status']}]  goal {r['goal']}: with {rate_text(r['treated']['rate'])} "
            f"(n={r['treated']['visitors']}), control {rate_text(r['control']['rate'])} "
            f"(n={r['control']['visitors']}), "
            f"lift {lift_text(r['lift'])} (always-valid: {lift_text(r['sequence'])})"
        )
        if r["srm"]:
            lines.append(
                f"      sample ratio MISMATCH (p = {r['srm_p']:.3g}): the control split is off; check before trusting"
            )
        if r["paused"]:
            lines.append(f"      paused {r['paused']['at']}: {r['paused']['reason']}; change the file to resume")
        if r["hurts_in"]:
            lines.append(f"      hurts in {', '.join(r['hurts_in'])} (Holm-corrected across its segments)")
    lines += ["", "Learning blocks"]
    for block in report["learning"]:
        head = f"  {block['block']} (goal {block['goal']}, by {', '.join(block['by']) or 'nothing'})"
        if block.get("version") is None:
            lines.append(f"{head}: {block['note']}")
            continue
        lines.append(f"{head}: allocation v{block['version']} of {block['published_at']}")
        for segment in [block["overall"], *block["segments"]]:
            gain = segment["gain"]
            lines.append(
                f"    {segment['segment']}: gain over the default {gain[0] * 100:+.1f} pts "
                f"[{gain[1] * 100:+.1f}, {gain[2] * 100:+.1f}]"
            )
            for c in segment["candidates"]:
                lines.append(
                    f"      {c['variant']:<22} share {c['share']:>5.1%}  {c['goals']:>5}/{c['visitors']:<6} "
                    f"posterior {c['mean'] * 100:.1f}% [{c['low'] * 100:.1f}, {c['high'] * 100:.1f}]"
                )
    return "\n".join(lines)


# ---------------------------------------------------------------- policy value


def _rows_by_block(rows: Iterable[DecisionRow]) -> dict[str, list[DecisionRow]]:
    grouped: dict[str, list[DecisionRow]] = defaultdict(list)
    for row in rows:
        grouped[row.block].append(row)
    return grouped


def _estimates(found: list[ope.Estimate]) -> list[dict[str, Any]]:
    return [
        {"estimator": e.name, "value": e.value, "low": e.low, "high": e.high, "ess": e.ess, "n": e.n,
         "reason": e.reason}
        for e in found
    ]  # fmt: skip


def policy_value(
    since: datetime, until: datetime, site: Site, config: Any, *, bootstrap: int = 500, seed: int = 0
) -> dict[str, Any]:
    """Off-policy estimates of candidate policies' goal rates from the logged decisions.

    Learning blocks: the newest allocation, "always the learned favourite per
    segment" and "always the default" (next to the rate the logging policy
    actually got). Rules: "as written" (everyone it
    matches gets it) and "without it" (they get what its control group saw).
    """
    outcomes = Outcomes(since, until)
    rows = _rows_by_block(decision_rows(since, until))
    goals, shares, _ = rule_settings(site, config["RULE_CONTROL_SHARE"])
    out: dict[str, Any] = {"period": {"since": since.isoformat() + "Z", "until": until.isoformat() + "Z"},
                           "learning": [], "rules": []}  # fmt: skip
    for block, settings in sorted(site.catalog.settings.items()):
        if settings.strategy != "learn":
            continue
        logged = [r for r in rows.get(block, []) if r.allocation is not None and r.candidates]
        default = site.catalog.defaults[block].id
        newest = store.newest_allocation(block)
        table = newest[1] if newest else {}
        detail = newest[2] if newest else {}
        favourite = _favourites(detail)
        policies = _learning_policies(table, favourite, default)
        result = _evaluate(logged, outcomes, settings.goal, policies, lambda r: (r.segment, r.candidates),
                           bootstrap=bootstrap, seed=seed)  # fmt: skip
        result.update(block=block, goal=settings.goal, rows=len(logged),
                      observed_rate=_observed(logged, outcomes, settings.goal))  # fmt: skip
        out["learning"].append(result)
    for rule in sorted(shares):
        block = rule.split("/", 1)[0]
        logged = [r for r in rows.get(block, []) if r.test == rule]
        if not logged:
            continue
        goal = goals.get(block, "click")
        # The arm is the action: the rule's own content, or its control's.
        rule_policies = {"as written": lambda _c: {"treated": 1.0}, "without it": lambda _c: {"control": 1.0}}
        share = shares[rule]
        if not 0 < share < 1:
            continue
        arms = [replace(r, variant="control" if r.control else "treated", propensity=share if r.control else 1 - share)
                for r in logged]  # fmt: skip
        result = _evaluate(arms, outcomes, goal, rule_policies, lambda r: r.device or "-",
                           bootstrap=bootstrap, seed=seed)  # fmt: skip
        result.update(rule=rule, goal=goal, rows=len(arms))
        out["rules"].append(result)
    return out


def _learning_policies(table: dict[str, Any], favourite: dict[str, list[str]], default: str) -> dict[str, Any]:
    """Candidate policies of a learning block; the context is (segment, eligible candidates)."""
    return {
        "newest allocation": lambda c: _renormalized(_shares(table, c[0]), c[1]),
        "learned favourite per segment": lambda c: {_best(favourite, c[0], c[1], default): 1.0},
        "always the default": lambda c: {default: 1.0},
    }


def _shares(table: dict[str, Any], segment: str | None) -> dict[str, float]:
    if segment is not None and segment in table.get("segments", {}):
        return dict(table["segments"][segment])
    return dict(table.get("overall", {}))


def _renormalized(shares: dict[str, float], candidates: str | None) -> dict[str, float]:
    eligible = (candidates or "").split()
    weights = {c: shares.get(c, 0.0) for c in eligible}
    total = sum(weights.values())
    if total <= 0:
        return {c: 1 / len(eligible) for c in eligible}
    return {c: w / total for c, w in weights.items()}


def _favourites(detail: dict[str, Any]) -> dict[str, list[str]]:
    """Per segment ("*" block-wide), candidates by posterior mean, best first."""
    ranked = {}
    for segment in [detail.get("overall"), *detail.get("segments", [])]:
        if segment:
            order = sorted(segment["candidates"], key=lambda c: -c["mean"])
            ranked[segment["segment"]] = [c["variant"] for c in order]
    return ranked


def _best(favourites: dict[str, list[str]], segment: str | None, candidates: str | None, default: str) -> str:
    eligible = set((candidates or "").split())
    for variant in favourites.get(segment or "*", favourites.get("*", [])):
        if variant in eligible:
            return variant
    return default


def _observed(rows: list[DecisionRow], outcomes: Outcomes, goal: str) -> float | None:
    return sum(outcomes.reached(r, goal) for r in rows) / len(rows) if rows else None


def _evaluate(
    rows: list[DecisionRow],
    outcomes: Outcomes,
    goal: str,
    policies: dict[str, Any],
    context_of: Any,
    *,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """IPS, SNIPS and DR for each policy (a function of the row's context), with a cross-fitted reward model."""
    import numpy as np

    if not rows:
        return {"policies": {name: [] for name in policies}, "note": "no logged decisions in this period"}
    rewards = np.array([float(outcomes.reached(r, goal)) for r in rows])
    propensities = np.array([r.propensity for r in rows])
    contexts = [context_of(r) for r in rows]
    actions = [r.variant for r in rows]
    model = ope.fit_reward_model(contexts, actions, rewards, seed=seed)
    q_logged = model.q_logged()
    found = {}
    for name, policy in policies.items():
        target_probs = ope.policy_probs(policy, contexts, actions)
        found[name] = _estimates(
            ope.evaluate(rewards, propensities, target_probs, q_logged, model.q_target(policy),
                         bootstrap=bootstrap, seed=seed)
        )  # fmt: skip
    return {"policies": found}


def format_policy_value(result: dict[str, Any]) -> str:
    lines = [f"Policy value from {result['period']['since']} to {result['period']['until']} "
             "(off-policy estimates from the logged propensities; 95% bootstrap intervals)"]  # fmt: skip

    def estimates(policies: dict[str, list[dict[str, Any]]]) -> None:
        for name, found in policies.items():
            lines.append(f"    {name}")
            for e in found:
                if e["value"] is None:
                    lines.append(f"      {e['estimator']:<6} {e['reason']}")
                else:
                    value, low, high = (e[k] * 100 for k in ("value", "low", "high"))
                    lines.append(
                        f"      {e['estimator']:<6} {value:5.1f}% [{low:.1f}, {high:.1f}]"
                        f"  effective sample {e['ess']:.0f} of {e['n']}"
                    )

    lines.append("")
    lines.append("Learning blocks")
    for block in result["learning"]:
        observed = "n/a" if block.get("observed_rate") is None else f"{block['observed_rate'] * 100:.1f}%"
        lines.append(f"  {block['block']} (goal {block['goal']}, {block['rows']} draws, observed {observed})")
        estimates(block["policies"])
    lines.append("")
    lines.append("Rules (the arm is the action: the rule's content or its control's)")
    for rule in result["rules"]:
        lines.append(f"  {rule['rule']} (goal {rule['goal']}, {rule['rows']} assignments)")
        estimates(rule["policies"])
    return "\n".join(lines)
