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
from dataclasses import replace
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
)
from app.engine.rules import precedence

_NO_PREFS = Preferences(contextual=False, behavioral=False, predictive=False)


def build_attributes(
    context: Context, profile: Profile, scores: Scores, prefs: Preferences
) -> dict[str, Any]:
    """The attributes conditions see: only those of the layers the visitor allows."""
    attributes: dict[str, Any] = context.attributes() if prefs.contextual else {}
    if prefs.behavioral and profile.attributes:
        attributes["behavior"] = dict(profile.attributes)
    if prefs.predictive and scores.attributes:
        attributes["score"] = dict(scores.attributes)
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
) -> PageDecision:
    """Choose a variant for every block of ``page`` and the order of its flexible zone."""
    bot = context.is_bot
    holdout = (
        not bot
        and context.visitor_id is not None
        and in_holdout(context.visitor_id, holdout_share)
    )
    effective = _NO_PREFS if bot or holdout else prefs
    layers = tuple(layer for layer in LAYERS if effective.allows(layer))
    attributes = build_attributes(context, profile, scores, effective) if layers else {}

    decisions = {
        slot.block: _decide_block(slot, catalog, attributes, effective) for slot in page.slots
    }
    decisions = _apply_budget(page, catalog, decisions)
    order, arrangement = _order(page, attributes, effective)
    blocks = tuple(
        _mark_moved(decision, arrangement, page, index)
        for index, block in enumerate(order)
        if (decision := decisions[block]) is not None
    )
    return PageDecision(
        path=page.path,
        blocks=blocks,
        holdout=holdout,
        bot=bot,
        arrangement=arrangement,
        layers=layers,
    )


def _matches(rule: Rule, attributes: Mapping[str, Any], prefs: Preferences) -> bool:
    return prefs.allows(rule.layer) and rule.predicate(attributes)


def _choice(name: str, rule: Rule, attributes: Mapping[str, Any]) -> Choice:
    signals = []
    for path in rule.attributes:
        value = _lookup(attributes, path)
        if value is not None:
            signals.append(Signal(path, value))
    return Choice(rule=name, layer=rule.layer, signals=tuple(signals))


def _lookup(attributes: Mapping[str, Any], path: str) -> Any:
    value: Any = attributes
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _decide_block(
    slot: Slot, catalog: Catalog, attributes: Mapping[str, Any], prefs: Preferences
) -> BlockDecision | None:
    default = catalog.defaults.get(slot.block)
    if default is None:
        # No valid default variant: the block is left out rather than guessed.
        return None
    for variant in catalog.conditional.get(slot.block, ()):
        rule = variant.rule
        assert rule is not None
        if _matches(rule, attributes, prefs):
            return BlockDecision(
                block=slot.block,
                component=slot.component,
                variant=variant,
                chose=_choice(f"{slot.block}/{variant.id}", rule, attributes),
            )
    return BlockDecision(block=slot.block, component=slot.component, variant=default)


def _apply_budget(
    page: PageSpec, catalog: Catalog, decisions: dict[str, BlockDecision | None]
) -> dict[str, BlockDecision | None]:
    """Keep at most ``page.budget`` non-default variants: those with the strongest rules.

    Strength is the same precedence as within a block (priority, then
    specificity); ties go to the block nearer the top of the page.
    """
    changed = [d for d in decisions.values() if d is not None and d.chose is not None]
    if len(changed) <= page.budget:
        return decisions
    position = {slot.block: i for i, slot in enumerate(page.slots)}

    def strength(d: BlockDecision) -> tuple[int, int, int]:
        rule = d.variant.rule
        assert rule is not None
        return (-rule.priority, -rule.specificity, position[d.block])

    kept = {d.block for d in sorted(changed, key=strength)[: page.budget]}
    result = dict(decisions)
    for d in changed:
        if d.block not in kept:
            result[d.block] = BlockDecision(
                block=d.block,
                component=d.component,
                variant=catalog.defaults[d.block],
                passed_over=(
                    f"{d.block}/{d.variant.id} matched but the page's variation budget "
                    f"of {page.budget} was used by stronger rules",
                ),
            )
    return result


def _order(
    page: PageSpec, attributes: Mapping[str, Any], prefs: Preferences
) -> tuple[list[str], Choice | None]:
    """Render order: pinned blocks keep their places; the flexible zone may be rearranged."""
    default = [slot.block for slot in page.slots]
    for arrangement in page.arrangements:
        if _matches(arrangement.rule, attributes, prefs):
            flexible = [slot.block for slot in page.slots if not slot.pinned]
            wanted = [b for b in arrangement.order if b in flexible]
            wanted += [b for b in flexible if b not in wanted]
            queue = iter(wanted)
            order = [slot.block if slot.pinned else next(queue) for slot in page.slots]
            if order == default:
                return default, None
            name = f"{page.path} arrangement {arrangement.id}"
            return order, _choice(name, arrangement.rule, attributes)
    return default, None


def _mark_moved(
    decision: BlockDecision,
    arrangement: Choice | None,
    page: PageSpec,
    index: int,
) -> BlockDecision:
    if arrangement is None or page.slots[index].block == decision.block:
        return decision
    return replace(decision, moved=arrangement)
