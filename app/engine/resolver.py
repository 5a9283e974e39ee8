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
from typing import Any

from app.engine.attributes import LAYERS, Layer
from app.engine.bucketing import in_holdout
from app.engine.model import (
    BlockDecision,
    Catalog,
    Choice,
    Context,
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
) -> PageDecision:
    """Choose a variant for every block of ``page`` and the order of its flexible zone.

    ``holdout`` is the visitor's stored group (fixed at their first exposure);
    None assigns it from ``holdout_share`` by a hash of the visitor id.
    """
    bot = context.is_bot
    if holdout is None:
        holdout = context.visitor_id is not None and in_holdout(context.visitor_id, holdout_share)
    holdout = holdout and not bot
    effective = _NO_PREFS if bot or holdout else prefs
    layers = tuple(layer for layer in LAYERS if effective.allows(layer))
    attributes = build_attributes(context, profile, scores, effective) if layers else {}
    allowed = frozenset(layers)

    # 1. The first matching variant of every block (variants are in precedence order).
    hits: dict[str, Variant] = {}
    if layers:
        for slot in page.slots:
            for variant in catalog.conditional.get(slot.block, ()):
                rule = variant.rule
                assert rule is not None
                if rule.layer in allowed and rule.predicate(attributes):
                    hits[slot.block] = variant
                    break
    # 2. The variation budget.
    passed_over = _over_budget(page, hits)
    for block in passed_over:
        del hits[block]
    # 3. The order of the flexible zone: an editor's arrangement first, else interest.
    order, arrangement = _order(page, attributes, allowed) if layers else (None, None)
    if order is None and "behavioral" in allowed:
        order, arrangement = _order_by_interest(page, catalog, hits, attributes, "behavior")
    if order is None and "predictive" in allowed:
        order, arrangement = _order_by_interest(page, catalog, hits, attributes, "score")
    # 4. One decision per block, in render order, each with its trace.
    slots = page.slots
    blocks = []
    for index, slot in enumerate(slots):
        if order is not None:
            slot = order[index]
        default = catalog.defaults.get(slot.block)
        if default is None:
            continue  # no valid default variant: the block is left out rather than guessed
        hit = hits.get(slot.block)
        shown = hit or default
        blocks.append(
            BlockDecision(
                block=slot.block,
                component=slot.component,
                variant=shown,
                topics=shown.topics or slot.topics,
                chose=_choice(f"{slot.block}/{hit.id}", hit.rule, attributes) if hit and hit.rule else None,
                moved=arrangement if order is not None and slots[index] is not slot else None,
                passed_over=passed_over.get(slot.block, ()),
            )
        )
    return PageDecision(
        path=page.path,
        blocks=tuple(blocks),
        holdout=holdout,
        bot=bot,
        arrangement=arrangement,
        layers=layers,
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


def _over_budget(page: PageSpec, hits: Mapping[str, Variant]) -> dict[str, tuple[str, ...]]:
    """Blocks whose matched variant must give way: at most ``page.budget`` may differ.

    The strongest rules stay, by the same precedence as within a block
    (priority, then specificity); ties go to the block nearer the top.
    """
    if len(hits) <= page.budget:
        return {}
    position = {slot.block: i for i, slot in enumerate(page.slots)}

    def strength(block: str) -> tuple[int, int, int]:
        rule = hits[block].rule
        assert rule is not None
        return (-rule.priority, -rule.specificity, position[block])

    ranked = sorted(hits, key=strength)
    return {
        block: (
            f"{block}/{hits[block].id} matched but the page's variation budget "
            f"of {page.budget} was used by stronger rules",
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
