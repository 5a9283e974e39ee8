"""The trace agrees with the decision it explains: it reads ``decide``'s result and never decides itself."""

from __future__ import annotations

import itertools

import pytest

from app.engine import PageSpec, Preferences, Profile, Scores, decide
from app.engine.model import Allocation, BlockSettings, Catalog, Experiments, Slot
from app.engine.trace import trace_page
from tests.unit.test_engine import catalog, ctx, variant
from tests.unit.test_experiments_engine import visitors

PAGE = PageSpec(path="/", slots=(Slot("hero", "hero"), Slot("cta", "hero"), Slot("quote", "hero")), budget=1)
RULES = catalog(
    variant("hero", "default"),
    variant("hero", "phone", {"device": "mobile"}, priority=2),
    variant("hero", "night", {"daypart": "night"}, priority=1),
    variant("cta", "default"),
    variant("cta", "night", {"daypart": "night"}),
    variant("quote", "default"),
    variant("quote", "phone", {"device": "mobile"}),
    variant("quote", "tablet", {"device": "tablet"}),
)
LEARNING = Catalog(
    defaults=RULES.defaults,
    conditional=RULES.conditional,
    settings={"quote": BlockSettings(strategy="learn", by=("device",), priority=5)},
)
ALLOCATION = Experiments(
    control_share=0.3,
    allocations={
        "quote": Allocation(
            "quote", 3, ("device",), {"device=mobile": {"default": 0.25, "phone": 0.75}}, {"default": 0.5, "phone": 0.5}
        )
    },  # fmt: skip
)


@pytest.mark.parametrize("cat", [RULES, LEARNING], ids=["rules", "learning"])
def test_exactly_the_shown_variant_is_traced_as_shown(cat: Catalog) -> None:
    for visitor, device, daypart, holdout in itertools.product(
        visitors(30), ("mobile", "desktop", "tablet", "bot"), ("afternoon", "night"), (False, True)
    ):
        context = ctx(visitor_id=visitor, device=device, daypart=daypart)
        decision = decide(PAGE, cat, context, Profile(), Scores(), Preferences(), holdout_share=0.0,
                          holdout=holdout, experiments=ALLOCATION)  # fmt: skip
        for trace in trace_page(decision, PAGE, cat, context, Profile(), Scores(), Preferences(), ALLOCATION):
            shown = [c for c in trace.candidates if c.shown]
            assert [c.variant.id for c in shown] == [trace.decision.variant.id]
            assert trace.candidates[0].shown
            for c in trace.candidates[1:]:
                assert c.reason and trace.why_not(c.variant.id).endswith(c.reason)
            if trace.shares:
                # The learning draw's probability, as the resolver weighed it.
                assert trace.shares[trace.decision.variant.id] == pytest.approx(trace.decision.propensity)
            if holdout or device == "bot":
                assert {c.kind for c in trace.candidates[1:]} <= {"holdout", "bot"}


def test_a_candidate_over_the_budget_and_one_of_lower_priority() -> None:
    context = ctx(device="mobile", daypart="night")
    decision = decide(PAGE, RULES, context, Profile(), Scores(), Preferences(), holdout_share=0.0)
    traces = {t.block: t for t in trace_page(decision, PAGE, RULES, context, Profile(), Scores(), Preferences(),
                                              Experiments())}  # fmt: skip
    assert traces["hero"].candidate("night").kind == "priority"
    assert "hero/phone comes first: its priority is 2, this one's 1" in traces["hero"].why_not("night")
    assert traces["cta"].candidate("night").kind == "budget"
    assert "the page's variation budget of 1 went to stronger candidates: hero/phone" in traces["cta"].why_not("night")
    assert traces["quote"].candidate("tablet").kind == "condition"
    assert traces["quote"].why_not("nothing") == "quote has no variant “nothing”."
