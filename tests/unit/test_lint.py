"""The editors' lint for conditions: errors that stop a variant, warnings that only ask for a look."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from app.engine.attributes import ATTRIBUTES as DOCUMENTED
from app.engine.attributes import attribute_kinds
from app.engine.conditions import compile_condition
from app.engine.lint import _FACTS, check_condition, warn_condition

CASES_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "growthbook" / "cases.json"


def _conformance_conditions() -> list[Any]:
    if not CASES_FILE.is_file():
        return []
    return [case[1] for case in json.loads(CASES_FILE.read_text(encoding="utf-8"))["evalCondition"]]


# --- errors ---------------------------------------------------------------------

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


@pytest.mark.parametrize("op", ["$regex", "$regexi", "$notRegex", "$notRegexi"])
def test_bad_regex_is_reported(op: str) -> None:
    assert check_condition({"device": {op: "(mobile"}}, ATTRIBUTES) == [
        (
            f"device.{op}",
            f"'{op}' pattern '(mobile' is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        )
    ]


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        (
            {"device": {"$notRegex": 5}},
            "device.$notRegex",
            "'$notRegex' needs a pattern written as text, not the number 5",
        ),
        (
            {"behavior.visits": {"$notRegexi": "^1"}},
            "behavior.visits.$notRegexi",
            "'$notRegexi' only matches text, but 'behavior.visits' holds a number",
        ),
        (
            {"device": {"$notregex": "x"}},
            "device.$notregex",
            "unknown operator '$notregex' (did you mean '$notRegex'?)",
        ),
    ],
)
def test_not_regex_problems(condition: Any, path: str, message: str) -> None:
    assert check_condition(condition, ATTRIBUTES) == [(path, message)]


def test_not_regex_is_a_known_operator() -> None:
    condition = {
        "device": {"$notRegex": "^desk", "$notRegexi": "TAB"},
        "behavior.pages": {"$elemMatch": {"$notRegex": "x"}},
    }
    assert check_condition(condition, ATTRIBUTES) == []


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


# --- warnings -------------------------------------------------------------------
# Each warning, with the message an editor reads. Paths are inside the condition;
# the loader prefixes them with the file, line and "when".

MISSING = "add $exists: true to leave them out (or $exists: false in an '$or' to keep them on purpose)"

WARNINGS = [
    # Clauses that never match, or always match, given what the attribute holds.
    pytest.param({"hour": {"$gt": 25}}, [("hour", "'hour' is 0-23, so $gt: 25 never matches")], id="hour-never"),
    pytest.param(
        {"hour": {"$gt": 20, "$lt": 5}},
        [("hour", "'hour' is 0-23, so {$gt: 20, $lt: 5} never matches")],
        id="hour-range",
    ),
    pytest.param(
        {"hour": {"$gte": 0}},
        [("hour", "'hour' is 0-23, so $gte: 0 always matches and narrows nothing")],
        id="hour-always",
    ),
    pytest.param(
        {"device": "mobile", "hour": {"$lt": 24}},
        [("hour", "'hour' is 0-23, so $lt: 24 always matches and narrows nothing")],
        id="hour-redundant",
    ),
    pytest.param(
        {"hour": {"$exists": True}},
        [("hour", "'hour' is 0-23, so $exists: true always matches and narrows nothing")],
        id="always-there",
    ),
    pytest.param(
        {"behavior.scroll_depth": {"$gt": 100}},
        [("behavior.scroll_depth", "'behavior.scroll_depth' is 0-100, so $gt: 100 never matches")],
        id="scroll-never",
    ),
    pytest.param(
        {"score.convert": {"$gt": 1}},
        [("score.convert", "'score.convert' is 0-1, so $gt: 1 never matches")],
        id="score",
    ),
    pytest.param(
        {"score.churn": {"$lte": 1}},
        [("score.churn", "'score.churn' is 0-1 or absent, so $lte: 1 always matches and narrows nothing")],
        id="score-always",
    ),
    pytest.param(
        {"behavior.affinity.privacy": {"$gte": 1.5}},
        [("behavior.affinity.privacy", "'behavior.affinity.privacy' is 0-1, so $gte: 1.5 never matches")],
        id="affinity",
    ),
    pytest.param(
        {"behavior.clicks": {"$lt": 0}},
        [("behavior.clicks", "'behavior.clicks' is 0 or more, so $lt: 0 never matches")],
        id="count",
    ),
    pytest.param(
        {"device": {"$regex": "^phone"}},
        [("device", "'device' is one of mobile, tablet, desktop, other, so $regex: '^phone' never matches")],
        id="device-regex",
    ),
    pytest.param(
        {"daypart": {"$nin": ["lunch"]}},
        [
            (
                "daypart",
                "'daypart' is one of morning, afternoon, evening, night, "
                "so $nin: ['lunch'] always matches and narrows nothing",
            )
        ],
        id="daypart",
    ),
    pytest.param(
        {"country": {"$regex": "^de"}},
        [("country", "'country' is a two-letter code in upper case, like 'DE', so $regex: '^de' never matches")],
        id="country-regex",
    ),
    pytest.param(
        {"weekend": {"$in": [True, False]}},
        [("weekend", "'weekend' is true or false, so $in: [true, false] always matches and narrows nothing")],
        id="boolean",
    ),
    # Values the attribute never holds.
    pytest.param(
        {"country": "de"},
        [("country", "'country' is a two-letter code in upper case, like 'DE', never 'de' (did you mean 'DE'?)")],
        id="country-lower-case",
    ),
    pytest.param(
        {"country": {"$in": ["AT", "Germany"]}},
        [("country.$in[1]", "'country' is a two-letter code in upper case, like 'DE', never 'Germany'")],
        id="country-name",
    ),
    pytest.param(
        {"language": {"$ne": "de-AT"}},
        [
            (
                "language.$ne",
                "'language' is the first part of a language tag, in lower case, like 'de', never 'de-AT' "
                "(did you mean 'de'?)",
            )
        ],
        id="language-tag",
    ),
    pytest.param(
        {"language": "DE"},
        [
            (
                "language",
                "'language' is the first part of a language tag, in lower case, like 'de', never 'DE' "
                "(did you mean 'de'?)",
            )
        ],
        id="language-upper-case",
    ),
    pytest.param({"hour": {"$in": [22, 23, 24]}}, [("hour.$in[2]", "'hour' is 0-23, never 24")], id="hour-24"),
    pytest.param({"hour": 7.5}, [("hour", "'hour' is a whole number, never 7.5")], id="hour-fraction"),
    pytest.param({"behavior.visits": 0}, [("behavior.visits", "'behavior.visits' is 1 or more, never 0")], id="visits"),
    pytest.param(
        {"behavior.topic_articles.privacy": 0},
        [
            (
                "behavior.topic_articles.privacy",
                "'behavior.topic_articles.privacy' is never 0: it is absent until the visitor has read a guide "
                "on privacy, so test for that with $exists",
            )
        ],
        id="topic-zero-is-absent",
    ),
    # Operators that cannot be meant.
    pytest.param(
        {"score.convert": {"$vgt": "0.3"}},
        [
            (
                "score.convert.$vgt",
                "'$vgt' compares versions like \"1.2.3\", but 'score.convert' holds a number: "
                "use '$gt' (as versions, 0.25 is above 0.3)",
            )
        ],
        id="version-on-number",
    ),
    pytest.param(
        {"hour": {"$not": {"$vlte": "9"}}},
        [
            (
                "hour.$not.$vlte",
                "'$vlte' compares versions like \"1.2.3\", but 'hour' holds a number: "
                "use '$lte' (as versions, 0.25 is above 0.3)",
            )
        ],
        id="version-under-not",
    ),
    pytest.param({"device": {"$in": []}}, [("device.$in", "'$in' with an empty list never matches")], id="empty-in"),
    pytest.param(
        {"referrer": {"$nin": []}},
        [("referrer.$nin", "'$nin' with an empty list matches everything, so it narrows nothing")],
        id="empty-nin",
    ),
    # Empty lists and empty conditions.
    pytest.param(
        {"$or": []},
        [
            (
                "$or",
                "an empty '$or' matches every visitor (GrowthBook reads no alternatives as no restriction); "
                "list the alternatives or remove it",
            )
        ],
        id="empty-or",
    ),
    pytest.param(
        {"device": "mobile", "$and": []},
        [("$and", "an empty '$and' matches every visitor; list the conditions or remove it")],
        id="empty-and",
    ),
    pytest.param(
        {"$nor": []}, [("$nor", "an empty '$nor' never matches; list the conditions or remove it")], id="empty-nor"
    ),
    pytest.param(
        {"$not": {}},
        [("$not", "'$not' of an empty condition never matches: the empty condition matches every visitor")],
        id="not-empty",
    ),
    pytest.param(
        {"$or": [{"device": "mobile"}, {}]},
        [("$or[1]", "an empty condition matches every visitor, so this '$or' always matches")],
        id="or-empty-entry",
    ),
    pytest.param(
        {"$and": [{}, {"device": "mobile"}]},
        [("$and[0]", "an empty condition matches every visitor, so it narrows nothing")],
        id="and-empty-entry",
    ),
    pytest.param(
        {"$nor": [{}]},
        [("$nor[0]", "an empty condition matches every visitor, so this '$nor' never matches")],
        id="nor-empty-entry",
    ),
    # Comparisons that also let in visitors for whom the attribute is missing.
    pytest.param(
        {"country": {"$ne": "US"}},
        [
            (
                "country",
                "'country' is absent when the visitor's country is unknown, "
                f"and $ne: 'US' matches those visitors too; {MISSING}",
            )
        ],
        id="ne-missing",
    ),
    pytest.param(
        {"language": {"$nin": ["de", "fr"]}},
        [
            (
                "language",
                "'language' is absent when the browser asks for no language, "
                f"and $nin: ['de', 'fr'] matches those visitors too; {MISSING}",
            )
        ],
        id="nin-missing",
    ),
    pytest.param(
        {"score.convert": {"$lt": 0.3}},
        [
            (
                "score.convert",
                "'score.convert' is absent when there is no fresh convert score, and $lt: 0.3 matches those visitors "
                f"too (a missing value counts as 0); {MISSING}",
            )
        ],
        id="lt-missing",
    ),
    pytest.param(
        {"behavior.days_since_last_visit": {"$lte": 7}},
        [
            (
                "behavior.days_since_last_visit",
                "'behavior.days_since_last_visit' is absent on a first visit, and $lte: 7 matches those visitors "
                f"too (a missing value counts as 0); {MISSING}",
            )
        ],
        id="lte-first-visit",
    ),
    pytest.param(
        {"behavior.topic_articles.growth": {"$lt": 2}},
        [
            (
                "behavior.topic_articles.growth",
                "'behavior.topic_articles.growth' is absent until the visitor has read a guide on growth, and "
                f"$lt: 2 matches those visitors too (a missing value counts as 0); {MISSING}",
            )
        ],
        id="lt-topic",
    ),
    pytest.param(
        {"$nor": [{"referrer": "google.com"}]},
        [
            (
                "$nor[0].referrer",
                "'referrer' is absent on direct and internal visits, and this condition lets those visitors "
                "through; add {referrer: {$exists: true}} outside the '$not' or '$nor' to leave them out",
            )
        ],
        id="nor-missing",
    ),
    pytest.param(
        {"$not": {"score.churn": {"$gt": 0.5}}},
        [
            (
                "$not.score.churn",
                "'score.churn' is absent when there is no fresh churn score, and this condition lets those visitors "
                "through (a missing value counts as 0); add {score.churn: {$exists: true}} outside the '$not' or "
                "'$nor' to leave them out",
            )
        ],
        id="not-missing",
    ),
    pytest.param(
        {"referrer": {"$notRegex": "google"}},
        [
            (
                "referrer",
                "'referrer' is absent on direct and internal visits, and '$notRegex' never matches a missing value, "
                "so those visitors are left out; "
                "to include them, put {referrer: {$exists: false}} beside it in an '$or'",
            )
        ],
        id="not-regex-missing",
    ),
    pytest.param(
        {"referrer": {"$not": {"$regex": "google"}}},
        [
            (
                "referrer",
                "'referrer' is absent on direct and internal visits, and $not: {$regex: 'google'} matches those "
                f"visitors too; {MISSING}",
            )
        ],
        id="not-regex-the-old-way",
    ),
]


@pytest.mark.parametrize(("condition", "expected"), WARNINGS)
def test_warning(condition: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert check_condition(condition, attribute_kinds()) == []  # warnings are for conditions without errors
    assert warn_condition(condition) == expected


@pytest.mark.parametrize(
    "condition",
    [
        # Everything the demo content uses, and other sensible conditions.
        {"device": "mobile"},
        {"daypart": {"$in": ["evening", "night"]}},
        {"hour": {"$gte": 22}},
        {"hour": {"$gte": 9, "$lt": 17}},
        {"country": {"$in": ["AT", "BE", "DE"]}},
        {"country": {"$ini": ["at", "de"]}},
        {"language": "de"},
        {"referrer": {"$in": ["github.com", "lobste.rs"]}},
        {"referrer": {"$regex": "google\\."}},
        {"returning": True},
        {"weekend": {"$ne": True}},
        {"behavior.top_topic": "privacy"},
        {"behavior.pricing_views": {"$gte": 2}},
        {"behavior.scroll_depth": {"$gte": 70}, "behavior.articles_read": {"$gte": 2}},
        {"behavior.topic_articles.privacy": {"$gte": 1}},
        {"behavior.visits": {"$lt": 3}},  # always there for a visitor with a profile
        {"score.convert": {"$gte": 0.6}},
        {"score.top_topic": "growth"},
        # Saying what happens without the attribute silences the missing-value warning.
        {"country": {"$exists": True, "$ne": "US"}},
        {"$or": [{"country": {"$exists": False}}, {"country": {"$ne": "US"}}]},
        {"$or": [{"country": None}, {"country": {"$nin": ["US", "CA"]}}]},
        {"behavior.topic_articles.privacy": {"$exists": False}},
        {"score.convert": {"$type": "number", "$lt": 0.3}},
        {"$or": [{"referrer": {"$exists": False}}, {"referrer": {"$notRegex": "google"}}]},
        {"referrer": {"$exists": True}, "$nor": [{"referrer": "google.com"}]},
    ],
)
def test_no_warning(condition: dict[str, Any]) -> None:
    assert check_condition(condition, attribute_kinds()) == []
    assert warn_condition(condition) == []


def test_only_the_first_kind_of_warning_for_a_clause() -> None:
    # A value the attribute never holds explains the clause; "always matches" would only repeat it.
    assert [path for path, _ in warn_condition({"country": {"$ne": "de"}})] == ["country.$ne"]
    assert [path for path, _ in warn_condition({"hour": {"$nin": [24, 25]}})] == ["hour.$nin[0]", "hour.$nin[1]"]


def test_warnings_come_in_the_order_of_the_condition() -> None:
    condition = {
        "$or": [{"hour": {"$gt": 25}}, {"country": "de"}],
        "$and": [],
        "score.convert": {"$lt": 0.2},
    }
    assert [path for path, _ in warn_condition(condition)] == ["$or[0].hour", "$or[1].country", "$and", "score.convert"]


def test_every_documented_attribute_has_lint_facts() -> None:
    """A new attribute needs a decision here: its range, its form, and when it is absent."""
    assert set(_FACTS) == set(DOCUMENTED)


def _brute_force(condition: dict[str, Any], values: list[Any]) -> set[bool]:
    matches = compile_condition(condition)
    return {matches({} if v is None else {"hour": v, "score": {"convert": v}}) for v in values}


CLAUSE_OPERATORS = ["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"]


def _clauses(constants: list[float]) -> list[dict[str, Any]]:
    one = [{op: c} for op in CLAUSE_OPERATORS for c in constants]
    two = [{a: c, b: d} for a, b in itertools.combinations(CLAUSE_OPERATORS, 2) for c in constants for d in constants]
    negated = [{"$not": clause} for clause in one]
    lists = [{"$in": [c, d]} for c, d in itertools.combinations(constants, 2)]
    return one + two + negated + lists + [{"$nin": [c]} for c in constants]


def test_never_and_always_are_exact_for_a_whole_number_range() -> None:
    """'hour' (0-23, always there): the verdict matches trying every hour, for thousands of clauses."""
    judged = 0
    for value in _clauses([-1, 0, 0.5, 5, 22.5, 23, 24, 30]):
        warnings = warn_condition({"hour": value})
        if any(path != "hour" for path, _ in warnings):
            continue  # a value 'hour' never holds (24, 0.5) is reported instead of a verdict
        judged += 1
        answers = _brute_force({"hour": value}, list(range(24)))
        messages = [message for _, message in warnings]
        never = any(m.endswith("never matches") for m in messages)
        always = any(m.endswith("always matches and narrows nothing") for m in messages)
        assert never == (answers == {False}), value
        assert always == (answers == {True}), value
    assert judged > 500


def test_never_and_always_hold_for_a_share_that_may_be_missing() -> None:
    """'score.convert' (0-1, or absent): whatever the lint says never/always matches does, on a fine grid."""
    grid = [i / 200 for i in range(201)]
    for value in _clauses([-0.5, 0, 0.25, 0.3, 1, 1.5]):
        condition = {"score.convert": value}
        warnings = warn_condition(condition)
        if any(path != "score.convert" for path, _ in warnings):
            continue  # a value the score never holds is reported instead of a verdict
        messages = [message for _, message in warnings]
        answers = _brute_force(condition, [*grid, 0.25, 0.3, None])
        if any(m.endswith("never matches") for m in messages):
            assert answers == {False}, value
        if any(m.endswith("always matches and narrows nothing") for m in messages):
            assert answers == {True}, value
        if answers == {False} or answers == {True}:
            assert messages, value


@pytest.mark.parametrize(
    "condition",
    [None, [], "mobile", {1: 2}, {"$or": "x"}, {"$not": ["x"]}, {"hour": {"$in": "x"}}, {"hour": {"$elemMatch": 3}}],
)
def test_warn_never_raises(condition: Any) -> None:
    assert isinstance(warn_condition(condition), list)


def test_warn_never_raises_on_conformance_conditions() -> None:
    for condition in _conformance_conditions():
        for path, message in warn_condition(condition):
            assert isinstance(path, str) and isinstance(message, str) and message


@pytest.mark.parametrize(
    ("warned", "fixed"),
    [
        ({"country": {"$ne": "US"}}, {"country": {"$exists": True, "$ne": "US"}}),
        ({"score.convert": {"$lt": 0.3}}, {"score.convert": {"$exists": True, "$lt": 0.3}}),
        ({"$nor": [{"referrer": "google.com"}]}, {"referrer": {"$exists": True}, "$nor": [{"referrer": "google.com"}]}),
    ],
)
def test_the_missing_value_advice_does_what_it_says(warned: dict[str, Any], fixed: dict[str, Any]) -> None:
    nobody = {"score": {"churn": 0.5}}  # no country, no referrer, no convert score
    assert compile_condition(warned)(nobody) is True
    assert warn_condition(warned) != []
    assert compile_condition(fixed)(nobody) is False
    assert warn_condition(fixed) == []


def test_the_not_regex_advice_does_what_it_says() -> None:
    warned = {"referrer": {"$notRegex": "google"}}
    fixed = {"$or": [{"referrer": {"$exists": False}}, {"referrer": {"$notRegex": "google"}}]}
    assert compile_condition(warned)({}) is False and warn_condition(warned) != []
    assert compile_condition(fixed)({}) is True and warn_condition(fixed) == []
    assert compile_condition(fixed)({"referrer": "www.google.com"}) is False
