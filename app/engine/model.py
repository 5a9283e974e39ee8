"""Plain data in and out of the decision core.

Inputs are built by the web glue (``Context``, ``Preferences``), the store
(``Profile``, ``Scores``) and the content loader (``Catalog``, ``PageSpec``);
the output is a ``PageDecision`` that carries its own reasons. Nothing here
knows about requests, rows or templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.attributes import Layer

Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Context:
    """What the request says about the visitor's situation (contextual layer)."""

    path: str
    visitor_id: str | None
    device: str
    daypart: str | None = None
    hour: int | None = None
    weekend: bool | None = None
    timezone: str | None = None
    timezone_source: str | None = None
    country: str | None = None
    language: str | None = None
    referrer: str | None = None
    returning: bool = False
    gpc: bool = False
    #: The moment of the request (naive UTC): scheduled variants are candidates only within their window.
    now: datetime | None = None

    @property
    def is_bot(self) -> bool:
        return self.device == "bot"

    def attributes(self) -> dict[str, Any]:
        """The contextual condition attributes; unknown values are left out."""
        values: dict[str, Any] = {
            "device": self.device,
            "daypart": self.daypart,
            "hour": self.hour,
            "weekend": self.weekend,
            "country": self.country,
            "language": self.language,
            "referrer": self.referrer,
            "returning": self.returning,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Profile:
    """What the visitor did (behavioral layer): the ``behavior.*`` attributes."""

    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scores:
    """Model scores (predictive layer): the ``score.*`` attributes and model versions."""

    attributes: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Preferences:
    """Which layers the visitor allows."""

    contextual: bool = True
    behavioral: bool = True
    predictive: bool = True

    def allows(self, layer: Layer) -> bool:
        return layer == "default" or bool(getattr(self, layer))

    @property
    def all_off(self) -> bool:
        return not (self.contextual or self.behavioral or self.predictive)


@dataclass(frozen=True)
class Rule:
    """A compiled ``when:`` condition with what precedence and explanation need."""

    condition: Mapping[str, Any]
    predicate: Predicate
    layer: Layer
    attributes: tuple[str, ...]
    priority: int = 0
    specificity: int = 0
    #: ``attributes`` split on dots once, for reading the visitor's values fast.
    paths: tuple[tuple[str, ...], ...] = ()
    #: Per attribute, the attribute that backs it up in explanations ("" for none).
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One prewritten version of a block. ``rule`` is None for the default."""

    block: str
    id: str
    component: str
    fields: Mapping[str, Any]
    topics: tuple[str, ...] = ()
    rule: Rule | None = None
    source: str = ""
    #: This rule's control share (``control:`` in its file); None: the site's setting.
    control: float | None = None
    #: A hash of the file's content: a paused rule resumes when its file changes.
    fingerprint: str = ""
    #: Its window (naive UTC, ``starts`` included, ``ends`` excluded): outside it, no candidate.
    starts: datetime | None = None
    ends: datetime | None = None
    #: The named audience (``content_variants/_audiences.yaml``) its condition includes.
    audience: str | None = None

    def scheduled_at(self, now: datetime | None) -> bool:
        """True when the variant may be shown at ``now`` (always, without a window)."""
        if now is None:
            return self.starts is None and self.ends is None
        return (self.starts is None or self.starts <= now) and (self.ends is None or now < self.ends)

    @property
    def layer(self) -> Layer:
        return self.rule.layer if self.rule else "default"

    @property
    def rule_id(self) -> str:
        """How reports and pauses name the rule: ``block/variant``."""
        return f"{self.block}/{self.id}"


#: Segment keys a learning block may use, and the layer each belongs to.
SEGMENT_KEYS: dict[str, Layer] = {
    "device": "contextual",
    "daypart": "contextual",
    "weekend": "contextual",
    "country": "contextual",
    "language": "contextual",
    "returning": "contextual",
    "behavior.top_topic": "behavioral",
    "score.top_topic": "predictive",
}


@dataclass(frozen=True)
class BlockSettings:
    """``content_variants/<block>/_block.yaml``: how a block chooses among its variants.

    ``strategy`` is ``rules`` (editors' conditions, each a controlled test) or
    ``learn`` (every variant is a candidate, allocated by the learn job).
    """

    strategy: str = "rules"
    goal: str = "click"
    by: tuple[str, ...] = ()
    explore: float = 0.05
    #: A learning block's rank for a place in the page's variation budget, like a rule's priority.
    priority: int = 0


@dataclass(frozen=True)
class Allocation:
    """A learning block's published allocation: per segment, each candidate's share.

    ``segments`` maps a segment key (``device=mobile|daypart=night``) to
    candidate -> probability; ``overall`` is the block-wide allocation, used
    for a segment without its own entry or when a segment's layer is off.
    """

    block: str
    version: int
    by: tuple[str, ...]
    segments: Mapping[str, Mapping[str, float]]
    overall: Mapping[str, float]


@dataclass(frozen=True)
class Experiments:
    """What the measurement loop tells the engine, as plain data loaded by the glue.

    ``control_share``: the share of the visitors a rule matches who see what
    they would have seen without it. ``paused``: rules (``block/variant``,
    file fingerprint) paused because their test showed they hurt.
    ``allocations``: learning blocks' published allocations.
    """

    control_share: float = 0.0
    paused: frozenset[tuple[str, str]] = frozenset()
    allocations: Mapping[str, Allocation] = field(default_factory=dict)


@dataclass(frozen=True)
class Arrangement:
    """A page-level rule that orders the flexible zone."""

    id: str
    order: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True)
class Slot:
    """A block's place on a page."""

    block: str
    component: str
    pinned: bool = True
    #: What the block is about, used to order the flexible zone by interest
    #: (a chosen variant's own ``topics`` take precedence).
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageSpec:
    """The guardrails of a page: its blocks, which may move, and the variation budget."""

    path: str
    slots: tuple[Slot, ...]
    budget: int
    arrangements: tuple[Arrangement, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Every block's variants: the default and the conditional ones in precedence order."""

    defaults: Mapping[str, Variant]
    conditional: Mapping[str, tuple[Variant, ...]]
    #: Blocks with a ``_block.yaml``; the others use the rules strategy.
    settings: Mapping[str, BlockSettings] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal:
    """One attribute that a rule used, and the visitor's value for it."""

    attribute: str
    value: Any


@dataclass(frozen=True)
class Choice:
    """Why a rule was applied: which rule, in which layer, from which signals.

    ``kind`` is ``rule`` (an editor's condition or arrangement) or ``learn``
    (a learning block's allocation; ``signals`` are the segment's values).
    """

    rule: str
    layer: Layer
    signals: tuple[Signal, ...]
    kind: str = "rule"


@dataclass(frozen=True)
class BlockDecision:
    """The decision for one block, with its trace."""

    block: str
    component: str
    variant: Variant
    chose: Choice | None = None
    moved: Choice | None = None
    #: Rules that matched but were not applied, and why (for operators).
    passed_over: tuple[str, ...] = ()
    #: What the block is about: the shown variant's topics, else the page's for the slot.
    topics: tuple[str, ...] = ()
    #: The measurement record: the rule whose test this visitor is in here (the first
    #: that matched, ``block/variant``), whether they are in its control group, the
    #: probability with which the shown variant was chosen, and for a learning block
    #: the segment and allocation version used.
    test: str | None = None
    control: bool = False
    propensity: float = 1.0
    strategy: str = "rules"
    segment: str | None = None
    allocation: int | None = None
    #: A learning draw's eligible candidates: what another policy could have shown here.
    candidates: tuple[str, ...] = ()

    @property
    def layer(self) -> Layer:
        if self.chose is not None:
            return self.chose.layer
        if self.moved is not None:
            return self.moved.layer
        return "default"


@dataclass(frozen=True)
class PageDecision:
    """The whole page: blocks in render order and where the decision came from."""

    path: str
    blocks: tuple[BlockDecision, ...]
    holdout: bool
    bot: bool
    arrangement: Choice | None = None
    #: The layers that were allowed to act on this render.
    layers: tuple[Layer, ...] = ()

    @property
    def personalized(self) -> bool:
        return any(b.layer != "default" for b in self.blocks)
