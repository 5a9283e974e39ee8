"""Why each variant of a block did or did not show, in words: the studio's trace.

The decision is always :func:`~app.engine.resolver.decide`'s; nothing here
chooses. For every candidate of a block this module reads that decision and
the same inputs, re-checks the candidate's layer, condition, window and pause
(the compiled predicates the resolver used) and says which of them kept it
out, or which stronger candidate, control group, budget or allocation did.
Pure like the rest of the engine: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.model import (
    BlockDecision,
    Catalog,
    Context,
    Experiments,
    PageDecision,
    PageSpec,
    Preferences,
    Profile,
    Scores,
    Signal,
    Variant,
)
from app.engine.resolver import build_attributes

_MAX_LISTED = 6


@dataclass(frozen=True)
class CandidateTrace:
    """One variant of a block, and why it is or is not the one shown.

    ``kind`` is ``shown`` for the one on the page; for the others it names
    what kept them out: ``bot``, ``holdout``, ``layer`` (switched off),
    ``condition``, ``schedule``, ``paused``, ``priority`` (a stronger rule
    came first), ``control`` (the visitor is in its control group),
    ``budget`` (the page's variation budget), ``allocation`` (a learning draw
    picked another) or ``default`` (the default, when a rule applied).
    ``values`` are the visitor's values of the attributes its condition names
    (None where the visitor has none, or the layer is off).
    """

    variant: Variant
    kind: str
    reason: str
    values: tuple[Signal, ...] = ()

    @property
    def shown(self) -> bool:
        return self.kind == "shown"


@dataclass(frozen=True)
class BlockTrace:
    """A block's decision and every candidate's place in it."""

    decision: BlockDecision
    #: The shown variant first, then the rest in precedence order, the default last.
    candidates: tuple[CandidateTrace, ...]
    #: The control share of the rule whose test the visitor is in here (None: no test).
    control_share: float | None = None
    #: A learning block's draw: each eligible candidate's probability here.
    shares: Mapping[str, float] = field(default_factory=dict)

    @property
    def block(self) -> str:
        return self.decision.block

    def candidate(self, variant_id: str) -> CandidateTrace | None:
        return next((c for c in self.candidates if c.variant.id == variant_id), None)

    def why_not(self, variant_id: str) -> str:
        """The answer to "why didn't this variant show?", as one sentence."""
        found = self.candidate(variant_id)
        if found is None:
            return f"{self.block} has no variant “{variant_id}”."
        if found.shown:
            return f"{self.block}/{variant_id} did show. {found.reason}"
        return f"{self.block}/{variant_id} did not show: {found.reason}"


def trace_page(
    decision: PageDecision,
    page: PageSpec,
    catalog: Catalog,
    context: Context,
    profile: Profile,
    scores: Scores,
    prefs: Preferences,
    experiments: Experiments,
) -> tuple[BlockTrace, ...]:
    """Trace every block of ``decision``, which ``decide`` made from these same inputs.

    ``prefs`` are the visitor's switches; the holdout and bots (no layer at
    all) are read from the decision itself.
    """
    allowed = frozenset(decision.layers)
    effective = Preferences(**{layer: layer in allowed for layer in ("contextual", "behavioral", "predictive")})
    attributes = build_attributes(context, profile, scores, effective) if allowed else {}
    kept = [f"{b.block}/{b.variant.id}" for b in decision.blocks if b.chose is not None]
    facts = _Facts(decision, page, attributes, allowed, context.now, experiments, prefs, tuple(kept))
    traces = []
    for block in decision.blocks:
        settings = catalog.settings.get(block.block)
        if settings is not None and settings.strategy == "learn":
            traces.append(_trace_learning(block, catalog, facts, settings.explore))
        else:
            traces.append(_trace_rules(block, catalog, facts))
    return tuple(traces)


@dataclass(frozen=True)
class _Facts:
    """What every block's trace reads: the decision and the attributes the rules saw."""

    page: PageDecision
    spec: PageSpec
    attributes: Mapping[str, Any]
    allowed: frozenset[str]
    now: datetime | None
    experiments: Experiments
    prefs: Preferences
    #: The blocks that vary on this page (``block/variant``): what a budget was spent on.
    kept: tuple[str, ...]


# ----------------------------------------------------------------- rules


def _trace_rules(decision: BlockDecision, catalog: Catalog, facts: _Facts) -> BlockTrace:
    variants = catalog.conditional.get(decision.block, ())
    default = catalog.defaults[decision.block]
    shown = decision.variant.id  # by id: the caller may have decided on a copy of the catalog
    # The candidates the resolver walked: layer allowed, condition met, in its window, not paused.
    eligible = [v for v in variants if _exclusion(v, facts, check_pause=True) is None]
    tested = eligible[0] if eligible else None
    fallback = eligible[1] if len(eligible) > 1 else None
    share = _share(tested, facts.experiments) if tested is not None else None
    squeezed = any("variation budget" in reason for reason in decision.passed_over)
    # What the visitor's arm of the test would have shown, had the budget allowed it.
    would = fallback if decision.control else tested

    def place(variant: Variant) -> tuple[str, str]:
        if variant.id == shown:
            return "shown", _shown_rules(decision, variant is default, tested, share, squeezed, facts)
        excluded = _exclusion(variant, facts, check_pause=True)
        if excluded is not None:
            return excluded
        assert tested is not None  # the variant is eligible, so there is a first eligible one
        if variant is tested and decision.control:
            return "control", (
                f"its rule matched first, but this visitor is in its control group ({_control(share)}), who see "
                "what they would have seen without it."
            )
        if variant is would and squeezed:
            return "budget", f"it matched, but {_budget_words(facts)}"
        winner = fallback if decision.control and fallback is not None else tested
        return "priority", f"it matches, but {winner.rule_id} comes first: {_precedence(winner, variant)}."

    traced = [_candidate(v, *place(v), facts) for v in variants]
    if default.id == shown:
        traced.append(_candidate(default, *place(default), facts))
    else:
        traced.append(_candidate(default, "default", _default_passed(decision), facts))
    ordered = sorted(traced, key=lambda c: not c.shown)  # stable: the rest keep precedence order
    return BlockTrace(decision=decision, candidates=tuple(ordered), control_share=share)


def _shown_rules(
    decision: BlockDecision,
    is_default: bool,
    tested: Variant | None,
    share: float | None,
    squeezed: bool,
    facts: _Facts,
) -> str:
    if not is_default:
        if decision.control and tested is not None:
            return (
                f"{tested.rule_id} matched first, but this visitor is in its control group ({_control(share)}), "
                "so they see the next candidate, whose rule matched too" + _used(decision) + "."
            )
        test = f" This visitor is in the treated group of its test (control share {_pct(share)})." if share else ""
        return f"Its rule matched{_used(decision)}.{test}"
    if facts.page.bot:
        return "The default: bots always get the default page."
    if facts.page.holdout:
        return (
            "The default: this visitor is in the holdout, who see the default page everywhere so that the lift "
            "of personalization can be measured."
        )
    if not facts.allowed:
        return "The default: every personalization layer is switched off."
    if decision.control and tested is not None:
        return (
            f"The default: {tested.rule_id} matched, but this visitor is in its control group ({_control(share)}), "
            "and no other rule matched."
        )
    if squeezed and tested is not None:
        return f"The default: {tested.rule_id} matched, but {_budget_words(facts)}"
    return "The default: no other variant's rule matches this visitor."


def _default_passed(decision: BlockDecision) -> str:
    if decision.chose is not None and decision.chose.kind == "learn":
        return f"the allocation drew {decision.variant.id} for this visitor."
    return f"a rule applied: {decision.block}/{decision.variant.id} is shown instead of the default."


def _share(variant: Variant, experiments: Experiments) -> float:
    return variant.control if variant.control is not None else experiments.control_share


# -------------------------------------------------------------- learning


def _trace_learning(decision: BlockDecision, catalog: Catalog, facts: _Facts, explore: float) -> BlockTrace:
    default = catalog.defaults[decision.block]
    variants = (*catalog.conditional.get(decision.block, ()), default)
    live = decision.chose is not None and decision.chose.kind == "learn"
    shown = decision.variant.id
    eligible = [v for v in variants if v is default or _exclusion(v, facts, check_pause=False) is None]
    shares = _learning_shares(decision, eligible, facts.experiments, explore) if live else {}
    where = f" in segment {decision.segment}" if decision.segment else ""
    version = f", allocation v{decision.allocation}" if decision.allocation else ", no allocation published yet"

    def place(variant: Variant) -> tuple[str, str]:
        excluded = None if variant is default else _exclusion(variant, facts, check_pause=False)
        if variant.id == shown:
            if live:
                return "shown", (
                    f"The learning allocation drew it for this visitor: its share here is "
                    f"{_pct(shares.get(variant.id))}{where}{version}."
                )
            if len(eligible) > 1:
                return "shown", f"The default: the learning block had no place, because {_budget_words(facts)}"
            if not facts.allowed:
                return "shown", _shown_rules(decision, True, None, None, False, facts)
            return "shown", "The default: it is the only candidate eligible here, so there is nothing to compare."
        if excluded is not None:
            return excluded
        if not live:
            return "budget", f"the learning block had no place, because {_budget_words(facts)}"
        return "allocation", (
            f"the learning allocation drew {shown} for this visitor; this one's share here is "
            f"{_pct(shares.get(variant.id))}{where}{version}."
        )

    traced = [_candidate(v, *place(v), facts) for v in variants]
    ordered = sorted(traced, key=lambda c: not c.shown)
    return BlockTrace(decision=decision, candidates=tuple(ordered), shares=shares)


def _learning_shares(
    decision: BlockDecision, eligible: list[Variant], experiments: Experiments, explore: float
) -> dict[str, float]:
    """Each eligible candidate's probability, weighed as the resolver's draw weighs them."""
    allocation = experiments.allocations.get(decision.block)
    table: Mapping[str, float] = {}
    if allocation is not None:
        table = (allocation.segments.get(decision.segment) if decision.segment else None) or allocation.overall
    weights = {v.id: (table.get(v.id, explore) if table else 1.0) for v in eligible}
    total = sum(weights.values())
    if total <= 0:
        return {v: 1 / len(weights) for v in weights}
    return {v: w / total for v, w in weights.items()}


# ------------------------------------------------------------- reasons


def _exclusion(variant: Variant, facts: _Facts, *, check_pause: bool) -> tuple[str, str] | None:
    """What keeps a variant from being a candidate at all here, or None."""
    rule = variant.rule
    if rule is None:
        return None
    if facts.page.bot:
        return "bot", "bots always get the default page."
    if facts.page.holdout:
        return "holdout", "this visitor is in the holdout, who see the default page everywhere."
    if rule.layer not in facts.allowed:
        return "layer", f"its rule uses the {rule.layer} layer, which is switched off here."
    if not rule.predicate(facts.attributes):
        audience = f" (it is for the audience “{variant.audience}”)" if variant.audience else ""
        return "condition", (
            f"its condition does not match{audience}. It needs {render_condition(rule.condition)}; "
            f"this visitor has {_values_words(_values(variant, facts))}."
        )
    if not variant.scheduled_at(facts.now):
        return "schedule", _schedule_words(variant, facts.now)
    if check_pause and (variant.rule_id, variant.fingerprint) in facts.experiments.paused:
        return "paused", "its rule is paused because its test showed it hurts; it serves again when its file changes."
    return None


def _candidate(variant: Variant, kind: str, reason: str, facts: _Facts) -> CandidateTrace:
    return CandidateTrace(variant=variant, kind=kind, reason=reason, values=_values(variant, facts))


def _values(variant: Variant, facts: _Facts) -> tuple[Signal, ...]:
    if variant.rule is None:
        return ()
    return tuple(
        Signal(name, _value(facts.attributes, path))
        for name, path in zip(variant.rule.attributes, variant.rule.paths, strict=True)
    )


def _value(attributes: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _values_words(values: tuple[Signal, ...]) -> str:
    if not values:
        return "no attributes it names"
    return ", ".join(f"{s.attribute} unknown" if s.value is None else f"{s.attribute} = {_render(s.value)}"
                     for s in values)  # fmt: skip


def _used(decision: BlockDecision) -> str:
    signals = decision.chose.signals if decision.chose is not None else ()
    if not signals:
        return ""
    return " (" + ", ".join(f"{s.attribute} = {_render(s.value)}" for s in signals) + ")"


def _precedence(winner: Variant, loser: Variant) -> str:
    a, b = winner.rule, loser.rule
    assert a is not None and b is not None
    if a.priority != b.priority:
        return f"its priority is {a.priority}, this one's {b.priority}"
    if a.specificity != b.specificity:
        return (
            f"the same priority ({a.priority}), and its condition is more specific "
            f"({a.specificity} constraints against {b.specificity})"
        )
    return f"the same priority and specificity, and {winner.id} comes before {loser.id} alphabetically"


def _budget_words(facts: _Facts) -> str:
    if facts.spec.budget == 0:
        return "the page's variation budget is 0: nothing on it may vary."
    used = ", ".join(facts.kept) if facts.kept else "nothing else"
    return f"the page's variation budget of {facts.spec.budget} went to stronger candidates: {used}."


def _schedule_words(variant: Variant, now: datetime | None) -> str:
    window = []
    if variant.starts is not None:
        window.append(f"from {variant.starts:%Y-%m-%d %H:%M}")
    if variant.ends is not None:
        window.append(f"until {variant.ends:%Y-%m-%d %H:%M}")
    when = " ".join(window) + " UTC"
    if now is None:
        return f"it is scheduled {when}, and this moment is not known."
    if variant.starts is not None and now < variant.starts:
        return f"it is scheduled {when}, and {now:%Y-%m-%d %H:%M} UTC is before it starts."
    return f"it is scheduled {when}, and {now:%Y-%m-%d %H:%M} UTC is after it ended."


def _control(share: float | None) -> str:
    if not share:
        return "empty for real visitors while its control share is 0"
    return f"{_pct(share)} of the visitors it matches"


def _pct(share: float | None) -> str:
    if share is None:
        return "n/a"
    return f"{share * 100:.0f}%" if share * 100 == round(share * 100) else f"{share * 100:.1f}%"


def render_condition(condition: Any) -> str:
    """A condition as an editor wrote it, in YAML's flow style (long lists shortened)."""
    return _render(condition)


def _render(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_render(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        items = [_render(item) for item in value[:_MAX_LISTED]]
        if len(value) > _MAX_LISTED:
            items.append(f"… {len(value)} in all")
        return "[" + ", ".join(items) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
