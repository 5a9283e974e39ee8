"""Targeting conditions: GrowthBook conformance, compile-once predicates, editor lint."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from app.engine.conditions import ConditionError, check_condition, compile_condition

CASES_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "growthbook" / "cases.json"


def _conformance_cases() -> list[Any]:
    """One pytest param per evalCondition case, ids made unique by index suffix."""
    if not CASES_FILE.is_file():
        return [pytest.param(None, id="conformance-file-missing")]
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))["evalCondition"]
    counts = Counter(case[0] for case in cases)
    return [
        pytest.param(case, id=case[0] if counts[case[0]] == 1 else f"{case[0]} #{index}")
        for index, case in enumerate(cases)
    ]


CONFORMANCE = _conformance_cases()


@pytest.mark.parametrize("case", CONFORMANCE)
def test_conformance(case: list[Any] | None) -> None:
    if case is None:
        pytest.skip(f"GrowthBook conformance file not found at {CASES_FILE}")
    _name, condition, attributes, expected, *rest = case
    saved_groups = rest[0] if rest else None
    assert compile_condition(condition, saved_groups)(attributes) is expected


def test_conformance_file_has_every_case() -> None:
    if not CASES_FILE.is_file():
        pytest.skip(f"GrowthBook conformance file not found at {CASES_FILE}")
    assert len(CONFORMANCE) == 248


def _conformance_conditions() -> list[Any]:
    return [p.values[0][1] for p in CONFORMANCE if p.values[0] is not None]


# --- compiled once, evaluated many times ------------------------------------


def test_one_compiled_predicate_serves_many_visitors() -> None:
    matches = compile_condition({"daypart": {"$in": ["night", "evening"]}, "behavior.visits": {"$gte": 3}})
    assert matches({"daypart": "night", "behavior": {"visits": 3}}) is True
    assert matches({"daypart": "morning", "behavior": {"visits": 9}}) is False
    assert matches({"daypart": "evening", "behavior": {"visits": 2}}) is False
    assert matches({"daypart": "evening"}) is False
    assert matches({"daypart": "evening", "behavior": {"visits": 12}}) is True
    # Evaluation keeps no state: the first visitor still gets the same answer.
    assert matches({"daypart": "night", "behavior": {"visits": 3}}) is True


def test_predicate_does_not_depend_on_the_source_condition_afterwards() -> None:
    condition: dict[str, Any] = {"device": {"$in": ["mobile"]}}
    matches = compile_condition(condition)
    condition["device"]["$in"].append("desktop")
    assert matches({"device": "desktop"}) is False


def test_saved_groups_are_resolved_at_compile_time() -> None:
    groups = {"beta": ["u1", "u2"]}
    in_beta = compile_condition({"id": {"$inGroup": "beta"}}, groups)
    not_in_beta = compile_condition({"id": {"$notInGroup": "beta"}}, groups)
    assert [in_beta({"id": i}) for i in ("u1", "u3")] == [True, False]
    assert [not_in_beta({"id": i}) for i in ("u1", "u3")] == [False, True]
    assert compile_condition({"id": {"$inGroup": "beta"}})({"id": "u1"}) is False


def test_any_mapping_and_tuples_count_as_objects_and_arrays() -> None:
    matches = compile_condition({"behavior.pages": {"$elemMatch": {"$eq": "/pricing"}}})
    assert matches(MappingProxyType({"behavior": MappingProxyType({"pages": ("/", "/pricing")})}))
    assert matches({"behavior": {"pages": ("/",)}}) is False


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        # A missing attribute is never equal to a number or text...
        ({"visits": {"$ne": 0}}, {}, True),
        ({"visits": {"$eq": 0}}, {}, False),
        ({"device": {"$ne": "mobile"}}, {}, True),
        # ...but orders as 0, as GrowthBook does.
        ({"visits": {"$lt": 1}}, {}, True),
        ({"visits": {"$eq": 3}}, {"visits": "3"}, True),
        ({"visits": {"$eq": "3"}}, {"visits": 3.0}, True),
        ({"version": {"$vgte": "2.0.0"}}, {"version": "v2.1.0+build.7"}, True),
        ({"version": {"$vgte": "2.0.0"}}, {}, False),
        ({"tags": {"$all": []}}, {"tags": []}, True),
        ({"tags": {"$size": {"$gte": 1, "$lte": 2}}}, {"tags": ["a", "b"]}, True),
        ({"$nor": []}, {}, False),
        ({"tags": {}}, {"tags": {}}, True),
        ({"tags": {}}, {"tags": {"a": 1}}, False),
    ],
)
def test_edge_semantics(condition: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    assert compile_condition(condition)(attributes) is expected


@pytest.mark.parametrize(
    "attributes",
    [
        None,
        "mobile",
        42,
        [],
        [{"name": None}],
        {"name": ["x", {"y": 1}], "tags": [[1], {"a": 1}, None], "age": [3]},
        {"father": {"age": "old"}, "version": 3.5, "userAgent": 7, "id": {"a": 1}},
        {"tags": {"hello": [1, 2]}, "hobbies": [1, "x", None, [2]], "n": float("nan")},
    ],
)
def test_predicates_never_raise_for_any_attributes(attributes: Any) -> None:
    for condition in _conformance_conditions():
        result = compile_condition(condition, {"group_id": [1, "2", 3]})(attributes)
        assert result is True or result is False


# --- conditions that cannot be compiled --------------------------------------


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        (["device", "mobile"], ""),
        ({"$and": {"device": "mobile"}}, "$and"),
        ({"$or": [{"device": "mobile"}, "tablet"]}, "$or[1]"),
        ({"$and": [{"$not": "mobile"}]}, "$and[0].$not"),
        ({"hobbies": {"$elemMatch": "tennis"}}, "hobbies.$elemMatch"),
        ({1: "mobile"}, ""),
    ],
)
def test_uncompilable_shape_raises_condition_error_with_path(condition: Any, path: str) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition(condition)
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)
    assert caught.value.message


def test_invalid_regex_compiles_to_never_matching() -> None:
    matches = compile_condition({"referrer": {"$regex": "(unclosed"}})
    assert matches({"referrer": "(unclosed"}) is False


def test_unknown_operator_compiles_to_never_matching() -> None:
    assert compile_condition({"device": {"$inn": ["mobile"]}})({"device": "mobile"}) is False


# --- editors' lint ------------------------------------------------------------

ATTRIBUTES = {
    "device": "string",
    "daypart": "string",
    "country": "string",
    "app_version": "string",
    "returning": "boolean",
    "behavior.visits": "number",
    "behavior.pages": "array",
    "score.convert": "number",
    "score.affinity.*": "number",
}


def test_clean_condition_has_no_problems() -> None:
    condition = {
        "device": "mobile",
        "daypart": {"$in": ["night", "evening"]},
        "returning": True,
        "behavior.visits": {"$gte": 3, "$lt": 10},
        "behavior.pages": {"$elemMatch": {"$regex": "^/pricing"}},
        "score.affinity.privacy": {"$gt": 0.5},
        "app_version": {"$vgte": "2.0.0"},
        "$or": [
            {"country": {"$nin": ["US"]}},
            {"$not": {"score.convert": {"$lte": 0.2}}},
        ],
    }
    assert check_condition(condition, ATTRIBUTES) == []
    compile_condition(condition)  # what the lint accepts always compiles


def test_unknown_operator_is_reported_with_suggestion() -> None:
    assert check_condition({"device": {"$inn": ["mobile"]}}, ATTRIBUTES) == [
        ("device.$inn", "unknown operator '$inn' (did you mean '$in'?)")
    ]


def test_unknown_operator_without_close_match() -> None:
    [(path, message)] = check_condition({"device": {"$xyzzy": 1}}, ATTRIBUTES)
    assert path == "device.$xyzzy"
    assert message == "unknown operator '$xyzzy'"


def test_unknown_attribute_lists_close_matches() -> None:
    [(path, message)] = check_condition({"devise": "mobile"}, ATTRIBUTES)
    assert path == "devise"
    assert message == "unknown attribute 'devise' (did you mean 'device'?)"
    [(_, message)] = check_condition({"weather": "rain"}, ATTRIBUTES)
    assert message == "unknown attribute 'weather'"


def test_wildcard_allows_exactly_one_more_segment() -> None:
    assert check_condition({"score.affinity.privacy": {"$gt": 0.5}}, ATTRIBUTES) == []
    [(path, message)] = check_condition({"score.affinity.a.b": 1}, ATTRIBUTES)
    assert path == "score.affinity.a.b"
    assert message.startswith("unknown attribute 'score.affinity.a.b'")
    [(_, message)] = check_condition({"score.afinity.privacy": 1}, ATTRIBUTES)
    assert "did you mean 'score.affinity.privacy'" in message


def test_wildcard_attribute_kind_is_checked() -> None:
    [(path, message)] = check_condition({"score.affinity.privacy": {"$gt": "high"}}, ATTRIBUTES)
    assert path == "score.affinity.privacy.$gt"
    assert "needs a number" in message


@pytest.mark.parametrize(
    ("condition", "path", "fragment"),
    [
        ({"device": {"$in": "mobile"}}, "device.$in", "needs a list"),
        ({"behavior.pages": {"$all": "/"}}, "behavior.pages.$all", "needs a list"),
        ({"device": {"$nin": 5}}, "device.$nin", "needs a list"),
        ({"behavior.visits": {"$gte": "3"}}, "behavior.visits.$gte", "needs a number"),
        ({"behavior.pages": {"$size": "2"}}, "behavior.pages.$size", "whole number"),
        (
            {"behavior.pages": {"$size": {"$gt": "2"}}},
            "behavior.pages.$size.$gt",
            "needs a number",
        ),
        ({"device": {"$exists": "yes"}}, "device.$exists", "true or false"),
        ({"device": {"$regex": 5}}, "device.$regex", "pattern written as text"),
        ({"$and": {"device": "mobile"}}, "$and", "list of conditions"),
        ({"$or": ["mobile"]}, "$or[0]", "condition object"),
        ({"$not": ["mobile"]}, "$not", "condition object"),
        ({"device": 5}, "device", "holds text"),
        ({"returning": "yes"}, "returning", "holds true or false"),
        (
            {"behavior.visits": {"$in": [1, "two"]}},
            "behavior.visits.$in[1]",
            "holds a number",
        ),
        ({"device": {"$size": 2}}, "device.$size", "only works on lists"),
        ({"device": {"$type": "text"}}, "device.$type", "needs one of"),
        ({"app_version": {"$vgt": 2}}, "app_version.$vgt", "version"),
        ({"device": {"$and": [{"a": 1}]}}, "device.$and", "move it up"),
        ({"$in": ["mobile"]}, "$in", "under an attribute"),
        ({"device": {"$eq": "mobile", "os": "ios"}}, "device", "mixed with plain keys"),
    ],
)
def test_wrong_value_types_are_reported(condition: Any, path: str, fragment: str) -> None:
    problems = check_condition(condition, ATTRIBUTES)
    assert [p for p, _ in problems] == [path]
    assert fragment in problems[0][1]


def test_literal_of_wrong_kind_names_attribute_and_value() -> None:
    assert check_condition({"device": 5}, ATTRIBUTES) == [
        ("device", "'device' holds text, but this is the number 5, so it never matches")
    ]


def test_bad_regex_is_reported() -> None:
    [(path, message)] = check_condition({"device": {"$regex": "(mobile"}}, ATTRIBUTES)
    assert path == "device.$regex"
    assert "not a valid regular expression" in message


def test_nested_paths_locate_the_problem() -> None:
    condition = {
        "$and": [
            {"device": "mobile"},
            {"$or": [{"daypart": "night"}, {"behavior.visits": {"$gte": "many"}}]},
        ],
        "$nor": [{"$not": {"contry": "US"}}],
        "behavior.pages": {"$elemMatch": {"$regexi": "[unclosed"}},
    }
    paths = [path for path, _ in check_condition(condition, ATTRIBUTES)]
    assert paths == [
        "$and[1].$or[1].behavior.visits.$gte",
        "$nor[0].$not.contry",
        "behavior.pages.$elemMatch.$regexi",
    ]


def test_condition_that_is_not_a_mapping() -> None:
    [(path, message)] = check_condition(["device", "mobile"], ATTRIBUTES)
    assert path == ""
    assert "must be an object" in message


def test_check_never_crashes_on_conformance_conditions() -> None:
    for condition in _conformance_conditions():
        for path, message in check_condition(condition, ATTRIBUTES):
            assert isinstance(path, str) and isinstance(message, str) and message
