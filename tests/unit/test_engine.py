"""The decision core over hand-built content: precedence, layers, guardrails, holdout."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine import Catalog, Context, PageSpec, Preferences, Profile, Scores, decide, explain
from app.engine.bucketing import bucket, in_holdout
from app.engine.model import Arrangement, Slot, Variant
from app.engine.rules import compile_rule

ROOT = Path(__file__).resolve().parents[2]


def variant(block: str, vid: str, when: dict | None = None, priority: int = 0) -> Variant:
    return Variant(
        block=block,
        id=vid,
        component="hero",
        fields={"headline": vid},
        rule=compile_rule(when, priority) if when else None,
        source=f"content_variants/{block}/{vid}.yaml",
    )


def catalog(*variants: Variant) -> Catalog:
    defaults = {v.block: v for v in variants if v.rule is None}
    conditional: dict[str, list[Variant]] = {}
    for v in variants:
        if v.rule is not None:
            conditional.setdefault(v.block, []).append(v)
    from app.engine.rules import precedence

    return Catalog(
        defaults=defaults,
        conditional={b: tuple(sorted(vs, key=lambda v: precedence(v.rule, v.id))) for b, vs in conditional.items()},
    )


def ctx(**values: object) -> Context:
    base = {"path": "/", "visitor_id": "a" * 32, "device": "desktop", "daypart": "afternoon", "hour": 14}
    base.update(values)
    return Context(**base)  # type: ignore[arg-type]


def run(
    page: PageSpec,
    cat: Catalog,
    context: Context,
    prefs: Preferences = Preferences(),
    share: float = 0.0,
    profile: Profile = Profile(),
    scores: Scores = Scores(),
):  # type: ignore[no-untyped-def]
    return decide(page, cat, context, profile, scores, prefs, holdout_share=share)


ONE = PageSpec(path="/", slots=(Slot("hero", "hero"),), budget=5)


def chosen(decision) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {b.block: b.variant.id for b in decision.blocks}


def test_default_when_nothing_matches() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "phone", {"device": "mobile"}))
    d = run(ONE, cat, ctx())
    assert chosen(d) == {"hero": "default"}
    assert d.blocks[0].layer == "default"
    assert explain(d.blocks[0]) is None


def test_matching_variant_carries_its_trace() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "phone", {"device": "mobile"}))
    d = run(ONE, cat, ctx(device="mobile"))
    block = d.blocks[0]
    assert block.variant.id == "phone"
    assert block.layer == "contextual"
    assert block.chose is not None and block.chose.rule == "hero/phone"
    assert [(s.attribute, s.value) for s in block.chose.signals] == [("device", "mobile")]
    why = explain(block)
    assert why is not None and "you're on a phone" in why.sentence
    assert "rule hero/phone" in why.source


def test_priority_beats_specificity_and_specificity_beats_name() -> None:
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "a-phone", {"device": "mobile"}),
        variant("hero", "b-phone-night", {"device": "mobile", "daypart": "night"}),
        variant("hero", "c-night", {"daypart": "night"}, priority=5),
    )
    assert chosen(run(ONE, cat, ctx(device="mobile", daypart="night")))["hero"] == "c-night"
    assert chosen(run(ONE, cat, ctx(device="mobile", daypart="evening")))["hero"] == "a-phone"
    cat2 = catalog(
        variant("hero", "default"),
        variant("hero", "a-phone", {"device": "mobile"}),
        variant("hero", "b-phone-night", {"device": "mobile", "daypart": "night"}),
    )
    assert chosen(run(ONE, cat2, ctx(device="mobile", daypart="night")))["hero"] == "b-phone-night"
    # Equal priority and specificity: the variant id decides, so the result is stable.
    cat3 = catalog(
        variant("hero", "default"),
        variant("hero", "zeta", {"device": "mobile"}),
        variant("hero", "alpha", {"daypart": "night"}),
    )
    assert chosen(run(ONE, cat3, ctx(device="mobile", daypart="night")))["hero"] == "alpha"


def test_switched_off_layer_hides_its_attributes() -> None:
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "no-country", {"country": {"$exists": False}}),
    )
    # With contextual on and a country known, the condition is false.
    assert chosen(run(ONE, cat, ctx(country="DE")))["hero"] == "default"
    # Off: the variant's layer is off, so it is not a candidate even though an
    # absent attribute would satisfy "$exists: false".
    d = run(ONE, cat, ctx(country="DE"), Preferences(contextual=False))
    assert chosen(d)["hero"] == "default"
    assert d.layers == ("behavioral", "predictive")


def test_behavioral_and_predictive_attributes_are_layered() -> None:
    cat = catalog(
        variant("hero", "default"),
        variant("hero", "loyal", {"behavior.visits": {"$gte": 3}}),
        variant("hero", "likely", {"score.convert": {"$gte": 0.7}}, priority=1),
    )
    profile = Profile({"visits": 4})
    scores = Scores({"convert": 0.9}, {"convert": "v3"})
    d = run(ONE, cat, ctx(), profile=profile, scores=scores)
    assert chosen(d)["hero"] == "likely" and d.blocks[0].layer == "predictive"
    d = run(ONE, cat, ctx(), Preferences(predictive=False), profile=profile, scores=scores)
    assert chosen(d)["hero"] == "loyal" and d.blocks[0].layer == "behavioral"
    d = run(ONE, cat, ctx(), Preferences(behavioral=False, predictive=False), profile=profile, scores=scores)
    assert chosen(d)["hero"] == "default"


def test_mixed_condition_takes_the_highest_layer() -> None:
    rule = compile_rule({"device": "mobile", "behavior.visits": {"$gte": 2}})
    assert rule.layer == "behavioral"
    assert rule.specificity == 2


def test_variation_budget_keeps_the_strongest_rules() -> None:
    page = PageSpec(path="/", slots=(Slot("a", "hero"), Slot("b", "hero"), Slot("c", "hero")), budget=2)
    cat = catalog(
        variant("a", "default"),
        variant("a", "phone", {"device": "mobile"}),
        variant("b", "default"),
        variant("b", "phone", {"device": "mobile"}, priority=3),
        variant("c", "default"),
        variant("c", "phone-night", {"device": "mobile", "daypart": "night"}),
    )
    d = run(page, cat, ctx(device="mobile", daypart="night"))
    assert chosen(d) == {"a": "default", "b": "phone", "c": "phone-night"}
    dropped = next(b for b in d.blocks if b.block == "a")
    assert dropped.layer == "default" and "variation budget of 2" in dropped.passed_over[0]
    assert sum(b.layer != "default" for b in d.blocks) == 2


def test_arrangement_reorders_only_the_flexible_zone() -> None:
    page = PageSpec(
        path="/",
        slots=(
            Slot("hero", "hero", pinned=True),
            Slot("x", "hero", pinned=False),
            Slot("y", "hero", pinned=False),
            Slot("cta", "hero", pinned=True),
        ),
        budget=0,
        arrangements=(Arrangement("phone-first", ("y", "x"), compile_rule({"device": "mobile"})),),
    )
    cat = catalog(*(variant(b, "default") for b in ("hero", "x", "y", "cta")))
    assert [b.block for b in run(page, cat, ctx()).blocks] == ["hero", "x", "y", "cta"]
    d = run(page, cat, ctx(device="mobile"))
    assert [b.block for b in d.blocks] == ["hero", "y", "x", "cta"]
    moved = {b.block: b.layer for b in d.blocks}
    assert moved == {"hero": "default", "y": "contextual", "x": "contextual", "cta": "default"}
    why = explain(d.blocks[1])
    assert why is not None and "Placed here because you're on a phone" in why.sentence
    # Switched off: the default order.
    off = run(page, cat, ctx(device="mobile"), Preferences(contextual=False))
    assert [b.block for b in off.blocks] == ["hero", "x", "y", "cta"]


def test_bots_and_holdout_get_the_default_page() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "phone", {"device": "mobile"}))
    bot = run(ONE, cat, Context(path="/", visitor_id=None, device="bot"))
    assert bot.bot and chosen(bot) == {"hero": "default"} and bot.layers == ()
    held = run(ONE, cat, ctx(device="mobile"), share=1.0)
    assert held.holdout and chosen(held) == {"hero": "default"}


def test_missing_default_leaves_the_block_out() -> None:
    cat = catalog(variant("hero", "phone", {"device": "mobile"}))
    assert run(ONE, cat, ctx(device="mobile")).blocks == ()


def test_decisions_are_deterministic() -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "night", {"daypart": "night"}))
    first = run(ONE, cat, ctx(daypart="night"), share=0.5)
    for _ in range(20):
        assert run(ONE, cat, ctx(daypart="night"), share=0.5) == first


def test_holdout_is_a_stable_share_of_visitors() -> None:
    ids = [f"{i:032x}" for i in range(20000)]
    share = sum(in_holdout(i, 0.10) for i in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [in_holdout(i, 0.10) for i in ids[:200]] == [in_holdout(i, 0.10) for i in ids[:200]]
    assert not any(in_holdout(i, 0.0) for i in ids[:500])
    assert all(0 <= bucket("s", i) < 1 for i in ids[:500])


def test_engine_imports_no_web_database_or_scheduler_code() -> None:
    banned = {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", "apscheduler", "flask_wtf"}
    for path in (ROOT / "app" / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in banned, f"{path.name} imports {name}"
    # And at run time: importing the engine loads none of them.
    code = (
        "import sys, app.engine; "
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & {banned!r}); "
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        ({"device": "tablet"}, "you're on a tablet"),
        ({"daypart": "night"}, "it's late at night where you are"),
        ({"country": "DE"}, "you seem to be browsing from Germany"),
        ({"returning": True}, "you've been here before"),
        ({"referrer": "news.ycombinator.com"}, "you came here from news.ycombinator.com"),
    ],
)
def test_explanations_are_plain_words(signals: dict, expected: str) -> None:
    cat = catalog(variant("hero", "default"), variant("hero", "v", signals))
    d = run(ONE, cat, ctx(**signals))
    why = explain(d.blocks[0], {"DE": "Germany"})
    assert why is not None
    assert expected in why.sentence
    assert why.source.startswith("Contextual personalization")
