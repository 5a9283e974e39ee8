"""The decision core: context, profile, scores, preferences and content in; PageDecision out.

Pure and deterministic: no I/O, no clocks, no randomness. The same inputs
always give the same decision.

Precedence when several variants of a block match: the highest ``priority``
wins, then the most specific condition (most attribute constraints), then the
variant id in alphabetical order. Variants whose layer the visitor switched
off are never candidates, and that layer's attributes are invisible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engine.attributes import LAYERS, Layer
from app.engine.bucketing import bucket, in_holdout
from app.engine.model import (
    SEGMENT_KEYS,
    BlockDecision,
    BlockSettings,
    Catalog,
    Choice,
    Context,
    Experiments,
    PageDecision,
    PageSpec,
    Preferences,
    Profile,
    Rule,
    Scores,
    Signal,
    Slot,
    Variant,
)

_NO_PREFS = Preferences(contextual=False, behavioral=False, predictive=False)
_NO_EXPERIMENTS = Experiments()


def build_attributes(context: Context, profile: Profile, scores: Scores, prefs: Preferences) -> dict[str, Any]:
    """The attributes conditions see: only those of the layers the visitor allows."""
    attributes: dict[str, Any] = context.attributes() if prefs.contextual else {}
    # Shared, not copied: nothing in the engine writes to them.
    if prefs.behavioral and profile.attributes:
        attributes["behavior"] = profile.attributes
    if prefs.predictive and scores.attributes:
        attributes["score"] = scores.attributes
    return attributes


def decide(
    page: PageSpec,
    catalog: Catalog,
    context: Context,
    profile: Profile,
    scores: Scores,
    prefs: Preferences,
    *,
    holdout_share: float,
    holdout: bool | None = None,
    experiments: Experiments = _NO_EXPERIMENTS,
) -> PageDecision:
    """Choose a variant for every block of ``page`` and the order of its flexible zone.

    ``holdout`` is the visitor's stored group (fixed at their first exposure);
    None assigns it from ``holdout_share`` by a hash of the visitor id.
    ``experiments`` carries the control share, the paused rules and the
    learning blocks' allocations.
    """
    bot = context.is_bot
    if holdout is None:
        holdout = context.visitor_id is not None and in_holdout(context.visitor_id, holdout_share)
    holdout = holdout and not bot
    effective = _NO_PREFS if bot or holdout else prefs
    layers = tuple(layer for layer in LAYERS if effective.allows(layer))
    attributes = build_attributes(context, profile, scores, effective) if layers else {}
    allowed = frozenset(layers)
    visitor = context.visitor_id or ""

    # 1. Rules: the first matching variant of every block (variants are in precedence order).
    #    The first rule that matches puts the visitor in its test: a sticky share of them
    #    (its control group) sees what they would have seen without it, the next candidate.
    tests: dict[str, _Test] = {}
    learning: list[Slot] = []
    if layers:
        for slot in page.slots:
            settings = catalog.settings.get(slot.block)
            if settings is not None and settings.strategy == "learn":
                learning.append(slot)
                continue
            test = _first_match(
                catalog.conditional.get(slot.block, ()), attributes, allowed, experiments, visitor, context.now
            )
            if test is not None:
                tests[slot.block] = test
    hits = {block: t.shown for block, t in tests.items() if t.shown is not None}
    matched = dict(hits)  # before the budget: what each test's propensity is weighed against
    # A learning block with a choice to make here reserves a place in the budget whatever
    # it draws (so whether it may vary never depends on its own draw: propensities stay exact).
    eligible = {slot.block: _eligible(slot.block, catalog, attributes, allowed, context.now) for slot in learning}
    reserved = {block: catalog.settings[block].priority for block, found in eligible.items() if len(found) > 1}
    # 2. The variation budget: the strongest keep their place.
    passed_over = _over_budget(page, hits, reserved)
    for block in passed_over:
        hits.pop(block, None)
    # 3. Learning blocks draw from their allocation.
    learned: dict[str, _Learned] = {}
    for slot in learning:
        live = slot.block in reserved and slot.block not in passed_over
        learned[slot.block] = _learn(slot, catalog, eligible[slot.block], attributes, allowed, experiments, visitor,
                                     live=live)  # fmt: skip
        pick = learned[slot.block].variant
        if live and pick is not None and pick.rule is not None:
            hits[slot.block] = pick
    # 4. The order of the flexible zone: an editor's arrangement first, else interest.
    order, arrangement = _order(page, attributes, allowed) if layers else (None, None)
    if order is None and "behavioral" in allowed:
        order, arrangement = _order_by_interest(page, catalog, hits, attributes, "behavior")
    if order is None and "predictive" in allowed:
        order, arrangement = _order_by_interest(page, catalog, hits, attributes, "score")
    # 5. One decision per block, in render order, each with its trace and measurement record.
    slots = page.slots
    blocks = []
    for index, slot in enumerate(slots):
        if order is not None:
            slot = order[index]
        default = catalog.defaults.get(slot.block)
        if default is None:
            continue  # no valid default variant: the block is left out rather than guessed
        moved = arrangement if order is not None and slots[index] is not slot else None
        passed = passed_over.get(slot.block, ())
        if slot.block in learned:
            blocks.append(_learned_decision(slot, default, learned[slot.block], moved, passed))
            continue
        hit = hits.get(slot.block)
        shown = hit or default
        test = tests.get(slot.block)
        blocks.append(
            BlockDecision(
                block=slot.block,
                component=slot.component,
                variant=shown,
                topics=shown.topics or slot.topics,
                chose=_choice(f"{slot.block}/{hit.id}", hit.rule, attributes) if hit and hit.rule else None,
                moved=moved,
                passed_over=passed + ((f"{test.rule.rule_id} matched; this visitor is in its control group",)
                                      if test is not None and test.control else ()),
                test=test.rule.rule_id if test is not None else None,
                control=test.control if test is not None else False,
                propensity=_propensity(page, matched, reserved, slot.block, shown, test) if test is not None else 1.0,
            )
        )  # fmt: skip
    return PageDecision(
        path=page.path,
        blocks=tuple(blocks),
        holdout=holdout,
        bot=bot,
        arrangement=arrangement,
        layers=layers,
    )


@dataclass(frozen=True)
class _Test:
    """A block's first matching rule and the visitor's arm in its test."""

    rule: Variant
    control: bool
    share: float
    #: What each arm shows (before the budget): the rule's variant, or the next candidate.
    treated: Variant
    fallback: Variant | None

    @property
    def shown(self) -> Variant | None:
        return self.fallback if self.control else self.treated


def _first_match(
    variants: tuple[Variant, ...],
    attributes: Mapping[str, Any],
    allowed: frozenset[str],
    experiments: Experiments,
    visitor: str,
    now: datetime | None,
) -> _Test | None:
    tested: Variant | None = None
    for variant in variants:
        rule = variant.rule
        assert rule is not None
        if rule.layer not in allowed or not rule.predicate(attributes):
            continue
        if (variant.starts is not None or variant.ends is not None) and not variant.scheduled_at(now):
            continue  # outside its window: not a candidate
        if experiments.paused and (variant.rule_id, variant.fingerprint) in experiments.paused:
            continue  # paused because its test showed it hurts: the next candidate shows
        if tested is None:
            tested = variant
            continue
        return _assign(tested, variant, experiments, visitor)
    return _assign(tested, None, experiments, visitor) if tested is not None else None


def _assign(rule: Variant, fallback: Variant | None, experiments: Experiments, visitor: str) -> _Test:
    share = rule.control if rule.control is not None else experiments.control_share
    control = share > 0 and bucket(f"control:{rule.rule_id}", visitor) < share
    return _Test(rule=rule, control=control, share=share, treated=rule, fallback=fallback)


def _propensity(
    page: PageSpec, matched: Mapping[str, Variant], reserved: Mapping[str, int], block: str, shown: Variant, test: _Test
) -> float:
    """The probability that ``shown`` was shown here: the arms of the test that lead to it.

    The other blocks' realized matches are held as they are; the budget can turn
    either arm's variant into the default, so both arms are followed through it.
    """
    if test.share <= 0:
        return 1.0
    shown_rule = shown if shown.rule is not None else None
    if len(matched) + (block not in matched) + len(reserved) <= page.budget:
        # No arm can be squeezed out by the budget: each shows its own variant.
        return (1.0 - test.share) * (test.treated is shown_rule) + test.share * (test.fallback is shown_rule)
    position = {slot.block: i for i, slot in enumerate(page.slots)}
    others = [_strength(v, position[b]) for b, v in matched.items() if b != block]
    others += [(-priority, 0, position[b]) for b, priority in reserved.items()]
    probability = 0.0
    for arm_shows, weight in ((test.treated, 1.0 - test.share), (test.fallback, test.share)):
        if weight <= 0:
            continue
        kept = False
        if arm_shows is not None:
            mine = _strength(arm_shows, position[block])
            kept = sum(1 for other in others if other < mine) < page.budget
        if (arm_shows if kept else None) is shown_rule:
            probability += weight
    return probability


def _strength(variant: Variant, position: int) -> tuple[int, int, int]:
    """Rank for the budget: priority, then specificity, then nearer the top (smaller is stronger)."""
    rule = variant.rule
    assert rule is not None
    return (-rule.priority, -rule.specificity, position)


@dataclass(frozen=True)
class _Learned:
    """A learning block's draw: the candidate, its probability, the segment and version."""

    variant: Variant | None
    propensity: float
    segment: str | None
    version: int | None
    signals: tuple[Signal, ...]
    layer: Layer
    live: bool
    candidates: tuple[str, ...] = ()


def _segment(
    settings: BlockSettings, attributes: Mapping[str, Any], allowed: frozenset[str]
) -> tuple[str | None, tuple[Signal, ...], Layer]:
    """The visitor's segment of a learning block, or None (block-wide) when a key's layer is off."""
    if not settings.by or any(SEGMENT_KEYS[key] not in allowed for key in settings.by):
        lowest: Layer = next(layer for layer in LAYERS if layer in allowed)
        return None, (), lowest
    parts, signals = [], []
    for key in settings.by:
        value = _value(attributes, tuple(key.split(".")))
        parts.append(f"{key}={'-' if value is None else str(value).lower()}")
        if value is not None:
            signals.append(Signal(key, value))
    layer = max((SEGMENT_KEYS[key] for key in settings.by), key=LAYERS.index)
    return "|".join(parts), tuple(signals), layer


def _eligible(
    block: str, catalog: Catalog, attributes: Mapping[str, Any], allowed: frozenset[str], now: datetime | None
) -> list[Variant]:
    """A learning block's candidates here: the default and every variant whose ``when:`` and window allow it."""
    default = catalog.defaults.get(block)
    eligible = [] if default is None else [default]
    for variant in catalog.conditional.get(block, ()):
        rule = variant.rule
        assert rule is not None
        if rule.layer in allowed and rule.predicate(attributes) and variant.scheduled_at(now):
            eligible.append(variant)
    return eligible


def _learn(
    slot: Slot,
    catalog: Catalog,
    eligible: list[Variant],
    attributes: Mapping[str, Any],
    allowed: frozenset[str],
    experiments: Experiments,
    visitor: str,
    *,
    live: bool,
) -> _Learned:
    """Draw a learning block's variant from its allocation, by a hash of visitor, block and version."""
    settings = catalog.settings[slot.block]
    default = catalog.defaults.get(slot.block)
    segment, signals, layer = _segment(settings, attributes, allowed)
    if not live or len(eligible) <= 1:
        # No room on the page (the budget), or nothing to compare here: the default, for sure.
        return _Learned(default, 1.0, segment, None, signals, layer, live=False)
    allocation = experiments.allocations.get(slot.block)
    table: Mapping[str, float] = {}
    version = 0
    if allocation is not None:
        version = allocation.version
        table = (allocation.segments.get(segment) if segment is not None else None) or allocation.overall
    # A candidate the table does not know yet (a new file) gets the exploration floor.
    weights = [table.get(v.id, settings.explore) if table else 1.0 for v in eligible]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(eligible), float(len(eligible))
    ranked = sorted(zip(eligible, weights, strict=True), key=lambda vw: vw[0].id)
    u = bucket(f"learn:{slot.block}:{version}", visitor) * total
    chosen, chosen_weight = ranked[-1]  # (only reached through rounding at the very top)
    for variant, weight in ranked:
        if u < weight:
            chosen, chosen_weight = variant, weight
            break
        u -= weight
    ids = tuple(v.id for v, _ in ranked)
    return _Learned(chosen, chosen_weight / total, segment, version, signals, layer, live=True, candidates=ids)


def _learned_decision(
    slot: Slot, default: Variant, learned: _Learned, moved: Choice | None, passed: tuple[str, ...]
) -> BlockDecision:
    shown = learned.variant or default
    chose = None
    if learned.live:
        chose = Choice(rule=f"learning {slot.block}", layer=learned.layer, signals=learned.signals, kind="learn")
    return BlockDecision(
        block=slot.block,
        component=slot.component,
        variant=shown,
        topics=shown.topics or slot.topics,
        chose=chose,
        moved=moved,
        passed_over=passed,
        propensity=learned.propensity,
        strategy="learn",
        segment=learned.segment if learned.live else None,
        allocation=learned.version if learned.live else None,
        candidates=learned.candidates,
    )


def _value(attributes: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _choice(name: str, rule: Rule, attributes: Mapping[str, Any]) -> Choice:
    """The trace of an applied rule: the visitor's value of every attribute it names."""
    signals = []
    for attribute, path, evidence in zip(rule.attributes, rule.paths, rule.evidence, strict=True):
        value = _value(attributes, path)
        if value is not None:
            signals.append(Signal(attribute, value))
            if evidence:
                backing = evidence.format(value=value)
                extra = _value(attributes, tuple(backing.split(".")))
                if extra is not None:
                    signals.append(Signal(backing, extra))
    return Choice(rule=name, layer=rule.layer, signals=tuple(signals))


def _order_by_interest(
    page: PageSpec,
    catalog: Catalog,
    hits: Mapping[str, Variant],
    attributes: Mapping[str, Any],
    source: str,
) -> tuple[tuple[Slot, ...] | None, Choice | None]:
    """Move the flexible blocks about the visitor's leading topic to the front of the zone.

    ``source`` is ``behavior`` (what the visitor read) or ``score`` (what the
    affinity model expects next). Only a clear leader moves anything (no
    leader, no change), and the rest keep their relative order, so the page
    stays recognisable.
    """
    values = attributes.get(source)
    topic = values.get("top_topic") if isinstance(values, dict) else None
    if not topic:
        return None, None

    def closeness(slot: Slot) -> int:
        # 0: mainly about the topic (listed first), 1: also about it, 2: not about it.
        variant = hits.get(slot.block) or catalog.defaults.get(slot.block)
        topics = (variant.topics if variant else ()) or slot.topics
        if topics[:1] == (topic,):
            return 0
        return 1 if topic in topics else 2

    flexible = [slot for slot in page.slots if not slot.pinned]
    wanted = sorted(flexible, key=closeness)  # stable: ties keep the page's order
    if wanted == flexible:
        return None, None
    queue = iter(wanted)
    order = tuple(slot if slot.pinned else next(queue) for slot in page.slots)
    signals = [Signal(f"{source}.top_topic", topic)]
    backing = "topic_articles" if source == "behavior" else "model"
    extra = _value(attributes, (source, backing, topic if source == "behavior" else "affinity"))
    if extra:
        name = f"behavior.topic_articles.{topic}" if source == "behavior" else "score.model.affinity"
        signals.append(Signal(name, extra))
    layer: Layer = "behavioral" if source == "behavior" else "predictive"
    rule = f"order by {'interest' if source == 'behavior' else 'predicted interest'} in {topic} on {page.path}"
    return order, Choice(rule=rule, layer=layer, signals=tuple(signals))


def _over_budget(
    page: PageSpec, hits: Mapping[str, Variant], reserved: Mapping[str, int] | None = None
) -> dict[str, tuple[str, ...]]:
    """Blocks that must give way: at most ``page.budget`` may differ from their default.

    The strongest stay, by the same precedence as within a block (priority,
    then specificity); ties go to the block nearer the top. ``reserved`` are
    learning blocks (block -> the priority in their ``_block.yaml``; a learning
    block counts as specificity 0).
    """
    reserved = reserved or {}
    if len(hits) + len(reserved) <= page.budget:
        return {}
    position = {slot.block: i for i, slot in enumerate(page.slots)}

    def strength(block: str) -> tuple[int, int, int]:
        if block in reserved:
            return (-reserved[block], 0, position[block])
        return _strength(hits[block], position[block])

    ranked = sorted([*hits, *reserved], key=strength)
    return {
        block: (
            f"learning block {block} had no place left in the page's variation budget of {page.budget}"
            if block in reserved
            else f"{block}/{hits[block].id} matched but the page's variation budget of {page.budget} "
            "was used by stronger rules",
        )
        for block in ranked[page.budget :]
    }


def _order(
    page: PageSpec, attributes: Mapping[str, Any], layers: frozenset[str]
) -> tuple[tuple[Slot, ...] | None, Choice | None]:
    """Render order: pinned slots keep their places; the flexible zone may be rearranged.

    Returns None for the order when the page keeps its declared order.
    """
    for arrangement in page.arrangements:
        rule = arrangement.rule
        if rule.layer in layers and rule.predicate(attributes):
            flexible = {slot.block: slot for slot in page.slots if not slot.pinned}
            wanted = [flexible[b] for b in arrangement.order if b in flexible]
            wanted += [slot for slot in flexible.values() if slot not in wanted]
            queue = iter(wanted)
            order = tuple(slot if slot.pinned else next(queue) for slot in page.slots)
            if order == page.slots:
                return None, None
            name = f"arrangement {arrangement.id} on {page.path}"
            return order, _choice(name, rule, attributes)
    return None, None
