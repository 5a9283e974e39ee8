"""The engine's side of the learning loop: rule control groups, learning draws, propensities, evidence."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from app.engine import Catalog, PageSpec, Preferences, Profile, Scores, decide, explain
from app.engine.model import Allocation, BlockSettings, Experiments, Slot
from tests.unit.test_engine import catalog, ctx, variant

HERO = PageSpec(path="/", slots=(Slot("hero", "hero"),), budget=5)
LEARN = BlockSettings(strategy="learn", goal="click", by=("device",), explore=0.05)


def visitors(n: int) -> list[str]:
    return [uuid.UUID(int=i + 1).hex for i in range(n)]


NONE = Experiments()


def decision(page, cat, visitor, experiments=NONE, prefs=Preferences(), **context):  # type: ignore[no-untyped-def]
    context.setdefault("device", "mobile")
    return decide(
        page, cat, ctx(visitor_id=visitor, **context), Profile(), Scores(), prefs,
        holdout_share=0.0, experiments=experiments,
    )  # fmt: skip


# ------------------------------------------------------------------ rule control groups


def test_a_control_share_of_matching_visitors_sees_the_next_candidate() -> None:
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "phone", {"device": "mobile"}, priority=2),
        variant("hero", "night", {"daypart": "night"}, priority=1),
    )
    shown = Counter()
    for visitor in visitors(4000):
        block = decision(HERO, cat, visitor, Experiments(control_share=0.2), daypart="night").blocks[0]
        shown[block.variant.id] += 1
        assert block.test == "hero/phone"  # the first matching rule's test
        if block.control:
            # What they would have seen without "phone": the next candidate, treated as usual.
            assert block.variant.id == "night" and block.chose is not None and block.chose.rule == "hero/night"
            assert block.propensity == pytest.approx(0.2)
        else:
            assert block.variant.id == "phone" and block.propensity == pytest.approx(0.8)
    assert 0.18 < shown["night"] / 4000 < 0.22  # the share, by a hash


def test_control_assignment_is_sticky_per_visitor_and_rule() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "phone", {"device": "mobile"}))
    experiments = Experiments(control_share=0.5)
    for visitor in visitors(200):
        first = decision(HERO, cat, visitor, experiments).blocks[0]
        again = decision(HERO, cat, visitor, experiments, daypart="evening").blocks[0]
        assert (first.control, first.variant.id) == (again.control, again.variant.id)


def test_a_control_visitor_reads_no_personalized_reason() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "phone", {"device": "mobile"}))
    controlled = [
        b for v in visitors(400) if (b := decision(HERO, cat, v, Experiments(control_share=0.3)).blocks[0]).control
    ]
    assert controlled
    for block in controlled:
        assert block.variant.id == "default" and block.layer == "default" and explain(block) is None


def test_a_rules_own_control_share_wins_and_zero_means_no_control() -> None:
    from dataclasses import replace

    phone = replace(variant("hero", "phone", {"device": "mobile"}), control=0.0)
    cat = catalog(variant("hero", "default"), phone)
    blocks = [decision(HERO, cat, v, Experiments(control_share=0.5)).blocks[0] for v in visitors(300)]
    assert all(not b.control and b.variant.id == "phone" and b.propensity == 1.0 for b in blocks)


def test_a_paused_rule_is_no_candidate_until_its_file_changes() -> None:
    from dataclasses import replace

    phone = replace(variant("hero", "phone", {"device": "mobile"}), fingerprint="v1")
    cat = catalog(variant("hero", "default"), phone)
    paused = Experiments(paused=frozenset({("hero/phone", "v1")}))
    block = decision(HERO, cat, "a" * 32, paused).blocks[0]
    assert block.variant.id == "default" and block.test is None
    edited = catalog(variant("hero", "default"), replace(phone, fingerprint="v2"))
    assert decision(HERO, edited, "a" * 32, paused).blocks[0].variant.id == "phone"


def test_propensity_follows_the_budget_through_both_arms() -> None:
    """Budget 1: a stronger rule elsewhere takes it, so both arms of a weak rule show the default."""
    page = PageSpec(path="/", slots=(Slot("hero", "hero"), Slot("cta", "hero")), budget=1)
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "phone", {"device": "mobile"}, priority=9),
        variant("cta", "default"),
        variant("cta", "phone", {"device": "mobile"}, priority=1),
    )
    experiments = Experiments(control_share=0.25)
    seen = set()
    for visitor in visitors(300):
        hero, cta = decision(page, cat, visitor, experiments).blocks
        if hero.variant.id == "phone":
            # The hero takes the one place: the cta shows the default whatever its own arm.
            assert cta.variant.id == "default" and cta.propensity == pytest.approx(1.0)
            seen.add("hero took it")
        else:
            # The hero's control arm left the place free: the cta's own arms decide.
            assert hero.control
            expected = ("default", 0.25) if cta.control else ("phone", 0.75)
            assert (cta.variant.id, cta.propensity) == (expected[0], pytest.approx(expected[1]))
            seen.add("cta control" if cta.control else "cta treated")
    assert seen == {"hero took it", "cta control", "cta treated"}


# ----------------------------------------------------------------------- learning blocks


def learning_catalog() -> Catalog:
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "bold", {"device": {"$in": ["mobile", "desktop"]}}),
        variant("hero", "calm", {"device": {"$in": ["mobile", "desktop"]}}),
    )
    return Catalog(defaults=cat.defaults, conditional=cat.conditional, settings={"hero": LEARN})


def allocation(version: int = 3) -> Allocation:
    return Allocation(
        block="hero",
        version=version,
        by=("device",),
        segments={"device=mobile": {"default": 0.1, "bold": 0.8, "calm": 0.1}},
        overall={"default": 0.6, "bold": 0.2, "calm": 0.2},
    )


def test_a_learning_block_draws_by_its_segments_allocation_and_logs_the_propensity() -> None:
    experiments = Experiments(allocations={"hero": allocation()})
    shown = Counter()
    for visitor in visitors(5000):
        block = decision(HERO, learning_catalog(), visitor, experiments).blocks[0]
        shown[block.variant.id] += 1
        assert block.strategy == "learn" and block.segment == "device=mobile" and block.allocation == 3
        assert block.propensity == pytest.approx({"default": 0.1, "bold": 0.8, "calm": 0.1}[block.variant.id])
    assert 0.77 < shown["bold"] / 5000 < 0.83


def test_a_visitor_keeps_their_draw_within_a_version() -> None:
    cat = learning_catalog()
    for visitor in visitors(100):
        picks = {decision(HERO, cat, visitor, Experiments(allocations={"hero": allocation()})).blocks[0].variant.id
                 for _ in range(3)}  # fmt: skip
        assert len(picks) == 1


def test_eligibility_narrows_the_candidates_and_renormalizes() -> None:
    experiments = Experiments(allocations={"hero": allocation()})
    # On a tablet only the default is eligible ("bold" and "calm" say mobile or desktop): no draw at all.
    block = decision(HERO, learning_catalog(), "b" * 32, experiments, device="tablet").blocks[0]
    assert block.variant.id == "default" and block.propensity == 1.0 and block.allocation is None
    # A desktop has no segment entry: the block-wide allocation serves.
    block = decision(HERO, learning_catalog(), "c" * 32, experiments, device="desktop").blocks[0]
    assert block.segment == "device=desktop"
    assert block.propensity == pytest.approx({"default": 0.6, "bold": 0.2, "calm": 0.2}[block.variant.id])


def test_a_segment_on_a_layer_the_visitor_switched_off_uses_the_block_wide_allocation() -> None:
    from dataclasses import replace

    cat = learning_catalog()
    by_topic = Catalog(cat.defaults, cat.conditional, {"hero": replace(LEARN, by=("behavior.top_topic",))})
    prefs = Preferences(contextual=True, behavioral=False, predictive=True)
    block = decision(HERO, by_topic, "d" * 32, Experiments(allocations={"hero": allocation()}), prefs=prefs).blocks[0]
    assert block.segment is None
    assert block.propensity == pytest.approx({"default": 0.6, "bold": 0.2, "calm": 0.2}[block.variant.id])
    explanation = explain(block)
    assert explanation is not None and "find what helps visitors most" in explanation.sentence


def test_with_every_layer_off_a_learning_block_shows_the_default() -> None:
    off = Preferences(contextual=False, behavioral=False, predictive=False)
    for visitor in visitors(50):
        block = decision(HERO, learning_catalog(), visitor, Experiments(allocations={"hero": allocation()}),
                         prefs=off).blocks[0]  # fmt: skip
        assert block.variant.id == "default" and block.layer == "default" and explain(block) is None


def test_without_an_allocation_every_eligible_candidate_is_equally_likely() -> None:
    shown = Counter(decision(HERO, learning_catalog(), v).blocks[0].variant.id for v in visitors(3000))
    assert all(0.29 < n / 3000 < 0.38 for n in shown.values()) and len(shown) == 3


def test_the_learning_explanation_names_the_segment_and_nothing_more() -> None:
    block = decision(HERO, learning_catalog(), "e" * 32, Experiments(allocations={"hero": allocation()})).blocks[0]
    explanation = explain(block)
    assert explanation is not None
    assert explanation.sentence == (
        "We're comparing versions of this section to find what helps visitors like you (on a phone)."
    )
    assert block.layer == "contextual"


def test_learning_blocks_take_only_the_budget_rules_leave() -> None:
    page = PageSpec(path="/", slots=(Slot("top", "hero"), Slot("hero", "hero")), budget=1)
    cat = learning_catalog()
    with_rule = catalog(variant("top", "default"), variant("top", "phone", {"device": "mobile"}))
    full = Catalog({**cat.defaults, **with_rule.defaults}, {**cat.conditional, **with_rule.conditional}, cat.settings)
    for visitor in visitors(100):
        top, hero = decision(page, full, visitor, Experiments(allocations={"hero": allocation()})).blocks
        assert top.variant.id == "phone"  # the rule keeps the one place
        assert hero.variant.id == "default" and hero.propensity == 1.0 and hero.allocation is None


# ------------------------------------------------------------------------- evidence


@pytest.mark.parametrize(
    ("when", "layer"),
    [({"behavior.visits": {"$lt": 3}}, "behavioral"), ({"score.convert": {"$lt": 0.3}}, "predictive")],
)
def test_a_rule_over_behavior_or_scores_needs_that_evidence(when: dict, layer: str) -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "new", when))
    nothing = decide(HERO, cat, ctx(), Profile(), Scores(), Preferences(), holdout_share=0.0)
    assert nothing.blocks[0].variant.id == "default"  # no profile / no score: the rule does not fire
    profile = Profile({"visits": 1, "pages_viewed": 4})
    scores = Scores({"convert": 0.1, "model": {"convert": "convert v1"}}, {"convert": "convert v1"})
    evident = decide(HERO, cat, ctx(), profile, scores, Preferences(), holdout_share=0.0)
    assert evident.blocks[0].variant.id == "new" and evident.blocks[0].layer == layer
