"""Turn an editor's ``when:`` condition into a compiled :class:`Rule`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.engine.attributes import LAYERS, Layer, layer_of, lookup
from app.engine.conditions import compile_condition
from app.engine.model import Predicate, Rule

# Operators whose operand is itself a condition (or a list of them) over attributes.
_LOGICAL = {"$and", "$or", "$nor"}


def referenced_attributes(condition: Mapping[str, Any]) -> list[str]:
    """Attribute paths a condition names, in order, once per occurrence."""
    paths: list[str] = []
    for key, value in condition.items():
        if key in _LOGICAL and isinstance(value, list):
            for sub in value:
                if isinstance(sub, Mapping):
                    paths.extend(referenced_attributes(sub))
        elif key == "$not" and isinstance(value, Mapping):
            paths.extend(referenced_attributes(value))
        elif not key.startswith("$"):
            paths.append(key)
    return paths


def compile_rule(condition: Mapping[str, Any], priority: int = 0) -> Rule:
    """Compile a condition once; its layer is the highest layer it names.

    Specificity is the number of attribute constraints, so ``{device: mobile,
    daypart: night}`` outranks ``{device: mobile}`` when priorities tie.
    Attributes outside the documented list are the loader's to reject; here
    they count as contextual so an unknown name can never hide a layer switch.
    """
    paths = referenced_attributes(condition)
    layers = [layer_of(p) or _layer_from_prefix(p) for p in paths]
    layer: Layer = max(layers, key=LAYERS.index) if layers else "contextual"
    unique = tuple(dict.fromkeys(paths))
    return Rule(
        condition=condition,
        predicate=_with_evidence(compile_condition(condition), paths),
        layer=layer,
        attributes=unique,
        paths=tuple(tuple(p.split(".")) for p in unique),
        evidence=tuple((spec.evidence if (spec := lookup(p)) else "") for p in unique),
        priority=priority,
        specificity=len(paths),
    )


def _with_evidence(predicate: Predicate, paths: list[str]) -> Predicate:
    """A condition that names ``behavior.*`` or ``score.*`` matches only a visitor who has that evidence.

    Without it, ``{behavior.visits: {$lt: 3}}`` would fire for a visitor with no
    profile at all and ``{score.convert: {$lt: 0.3}}`` for everyone when no model
    is published, and the visitor would read a reason that was never used.
    Inside a present namespace GrowthBook's semantics hold unchanged.
    """
    needs = tuple(sorted({p.split(".", 1)[0] for p in paths} & {"behavior", "score"}))
    if not needs:
        return predicate
    if len(needs) == 1:
        (namespace,) = needs
        return lambda attributes: namespace in attributes and predicate(attributes)
    return lambda attributes: all(n in attributes for n in needs) and predicate(attributes)


def _layer_from_prefix(path: str) -> Layer:
    head = path.split(".", 1)[0]
    if head == "behavior":
        return "behavioral"
    if head == "score":
        return "predictive"
    return "contextual"


def precedence(rule: Rule, name: str) -> tuple[int, int, str]:
    """Sort key: higher priority first, then more specific, then by name for stability."""
    return (-rule.priority, -rule.specificity, name)
