"""Targeting conditions: GrowthBook conformance and compile-once predicates (the lint: test_lint.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from app.engine.conditions import ConditionError, compile_condition

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


# --- $notRegex and $notRegexi (GrowthBook's newer specification) --------------

NOT_REGEX = [
    # The cases growthbook-python's spec file has for them.
    ({"userAgent": {"$notRegex": "(Mobile|Tablet)"}}, {"userAgent": "Chrome Desktop Browser"}, True),
    ({"userAgent": {"$notRegex": "(Mobile|Tablet)"}}, {"userAgent": "Android Mobile Browser"}, False),
    ({"userAgent": {"$notRegexi": "(mobile|tablet)"}}, {"userAgent": "Chrome Desktop Browser"}, True),
    ({"userAgent": {"$notRegexi": "(mobile|tablet)"}}, {"userAgent": "Android Mobile Browser"}, False),
    # Case: only the "i" forms ignore it.
    ({"ua": {"$notRegex": "mobile"}}, {"ua": "Mobile"}, True),
    ({"ua": {"$notRegexi": "mobile"}}, {"ua": "MOBILE"}, False),
    ({"ua": {"$regexi": "^MOB"}}, {"ua": "mobile"}, True),
    # Only text is searched: a missing attribute, null or any other value
    # matches neither the pattern nor its negation.
    ({"ua": {"$notRegex": "x"}}, {}, False),
    ({"ua": {"$notRegex": "x"}}, {"ua": None}, False),
    ({"ua": {"$notRegexi": "x"}}, {"ua": 5}, False),
    ({"ua": {"$notRegex": "x"}}, {"ua": ["y"]}, False),
    ({"ua": {"$regex": "x"}}, {}, False),
    # A pattern that is not valid, or not text, never matches.
    ({"ua": {"$notRegex": "(unclosed"}}, {"ua": "anything"}, False),
    ({"ua": {"$notRegexi": "[z-a]"}}, {"ua": "anything"}, False),
    ({"ua": {"$notRegex": 5}}, {"ua": "5"}, False),
    # {$not: {$regex}} is the way to let a missing attribute through.
    ({"ua": {"$not": {"$regex": "x"}}}, {}, True),
    # With other operators on the same attribute, all must hold.
    ({"ua": {"$regex": "^Mozilla", "$notRegex": "Mobile"}}, {"ua": "Mozilla Desktop"}, True),
    ({"ua": {"$regex": "^Mozilla", "$notRegex": "Mobile"}}, {"ua": "Mozilla Mobile"}, False),
    ({"$or": [{"ua": {"$exists": False}}, {"ua": {"$notRegex": "bot"}}]}, {}, True),
]


@pytest.mark.parametrize(("condition", "attributes", "expected"), NOT_REGEX)
def test_not_regex(condition: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    assert compile_condition(condition)(attributes) is expected


def test_not_regex_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    matches = compile_condition({"ua": {"$notRegexi": "bot|crawler"}, "ref": {"$notRegex": "^spam"}})

    def no_compiling(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a pattern was compiled while evaluating")

    monkeypatch.setattr(re, "compile", no_compiling)
    monkeypatch.setattr(re, "search", no_compiling)
    assert matches({"ua": "Firefox", "ref": "example.com"}) is True
    assert matches({"ua": "GoogleBot", "ref": "example.com"}) is False
    assert matches({"ua": "Firefox", "ref": "spam.example"}) is False


@pytest.mark.parametrize("attributes", [None, {}, {"ua": 3}, {"ua": {"a": 1}}, {"ua": [None, 1]}, "ua"])
def test_not_regex_never_raises(attributes: Any) -> None:
    for op in ("$regex", "$regexi", "$notRegex", "$notRegexi"):
        assert compile_condition({"ua": {op: "a+"}})(attributes) is False
