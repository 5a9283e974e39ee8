"""GrowthBook targeting conditions, compiled once into fast predicates.

A condition is GrowthBook's MongoDB-like document (``{"device": "mobile"}``,
``{"behavior.visits": {"$gte": 3}}``, ``{"$or": [...]}``).  Variant files are
loaded rarely and evaluated on every request, so :func:`compile_condition`
does all the parsing up front (paths split, regexes compiled, ``$in`` lists
turned into sets, saved groups resolved) and returns a closure that only
looks values up and compares them.

Evaluation follows GrowthBook's semantics (the ``evalCondition`` conformance
suite): a missing attribute is ``None``, arrays are matched element-wise by
``$in``/``$nin``, numbers and numeric strings compare numerically, unknown
operators and invalid regexes never match, and no attribute value makes a
predicate raise.

This module evaluates quietly, as GrowthBook does; :mod:`app.engine.lint` is
the editors' side, which says out loud what this one quietly turns into "no
match" and warns about conditions that cannot be what the editor meant.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

__all__ = ["ConditionError", "Predicate", "compile_condition"]

#: A compiled condition: takes the (nested) attributes and says whether they match.
Predicate = Callable[[Any], bool]

_LOGICAL_OPERATORS = ("$and", "$or", "$nor", "$not")
_ORDER_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_VERSION_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$veq": operator.eq,
    "$vne": operator.ne,
    "$vgt": operator.gt,
    "$vgte": operator.ge,
    "$vlt": operator.lt,
    "$vlte": operator.le,
}
#: Pattern operators: their regex flags and whether they are negated.
_REGEX_OPERATORS: dict[str, tuple[int, bool]] = {
    "$regex": (0, False),
    "$regexi": (re.IGNORECASE, False),
    "$notRegex": (0, True),
    "$notRegexi": (re.IGNORECASE, True),
}
_VALUE_OPERATORS = frozenset(
    {
        "$eq",
        "$ne",
        *_ORDER_OPERATORS,
        *_VERSION_OPERATORS,
        "$in",
        "$nin",
        "$ini",
        "$nini",
        "$all",
        "$alli",
        "$elemMatch",
        "$size",
        "$exists",
        "$type",
        *_REGEX_OPERATORS,
        "$not",
        "$inGroup",
        "$notInGroup",
    }
)
_TYPE_NAMES = ("string", "number", "boolean", "array", "object", "null")


class ConditionError(ValueError):
    """A condition that cannot be compiled.

    ``path`` is the dotted location inside the condition (``"device.$elemMatch"``,
    ``"$or[1]"``; ``""`` is the condition itself) and ``message`` says what is
    wrong in plain words.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# --------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------


def compile_condition(condition: Mapping[str, Any], saved_groups: Mapping[str, list[Any]] | None = None) -> Predicate:
    """Compile ``condition`` once into a predicate over an attributes mapping.

    ``saved_groups`` maps group ids to member lists for ``$inGroup`` and
    ``$notInGroup``; they are frozen into the predicate.  Raises
    :class:`ConditionError` only for a shape no evaluator could run (a
    condition that is not an object, ``$and``/``$or``/``$nor`` without a list
    of conditions, ``$not``/``$elemMatch`` without a condition).  Anything
    GrowthBook evaluates to "no match" (unknown operator, invalid regex,
    ``$in`` without a list) compiles to exactly that.  The predicate never
    raises for JSON-like attributes (mappings, lists or tuples, text, numbers,
    booleans, None), whatever their shape.
    """
    return _compile_document(condition, "", saved_groups or {})


def _always_true(_value: Any) -> bool:
    return True


def _always_false(_value: Any) -> bool:
    return False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_array(value: Any) -> bool:
    return type(value) is list or type(value) is tuple


def _is_operator_object(value: Any) -> bool:
    # GrowthBook's rule: an object whose keys all start with "$" holds
    # operators; any other object (including {}) is a literal to compare with.
    return (
        isinstance(value, Mapping) and len(value) > 0 and all(isinstance(k, str) and k.startswith("$") for k in value)
    )


def _all_of(preds: list[Predicate]) -> Predicate:
    """AND of predicates, with constants folded away and small arities unrolled."""
    if any(p is _always_false for p in preds):
        return _always_false
    ps = [p for p in preds if p is not _always_true]
    if not ps:
        return _always_true
    if len(ps) == 1:
        return ps[0]
    if len(ps) == 2:
        p, q = ps

        def both(x: Any) -> bool:
            return p(x) and q(x)

        return both
    if len(ps) == 3:
        p, q, r = ps

        def all_three(x: Any) -> bool:
            return p(x) and q(x) and r(x)

        return all_three
    frozen = tuple(ps)

    def all_of(x: Any) -> bool:
        for pred in frozen:
            if not pred(x):
                return False
        return True

    return all_of


def _any_of(preds: list[Predicate]) -> Predicate:
    """OR of predicates; an empty list is "no match" (callers handle $or: [])."""
    if any(p is _always_true for p in preds):
        return _always_true
    ps = tuple(p for p in preds if p is not _always_false)
    if not ps:
        return _always_false
    if len(ps) == 1:
        return ps[0]

    def any_of(x: Any) -> bool:
        for pred in ps:
            if pred(x):
                return True
        return False

    return any_of


def _negate(pred: Predicate) -> Predicate:
    if pred is _always_true:
        return _always_false
    if pred is _always_false:
        return _always_true

    def negated(x: Any) -> bool:
        return not pred(x)

    return negated


def _compile_document(cond: Any, path: str, groups: Mapping[str, Any]) -> Predicate:
    """Compile a condition document (attribute paths and $and/$or/$nor/$not)."""
    if not isinstance(cond, Mapping):
        raise ConditionError(path, f"a condition must be an object, not {_describe(cond)}")
    # (rank, clause): cheap literal comparisons run first so a failing one
    # short-circuits the costlier clauses; all clauses are pure, so order
    # never changes the result.
    ranked: list[tuple[int, Predicate]] = []
    for key, value in cond.items():
        if not isinstance(key, str):
            raise ConditionError(path, f"condition keys must be text, not {_describe(key)}")
        key_path = _join(path, key)
        if key in ("$and", "$or", "$nor"):
            if not _is_array(value):
                raise ConditionError(key_path, f"'{key}' needs a list of conditions")
            subs = [_compile_document(sub, f"{key_path}[{i}]", groups) for i, sub in enumerate(value)]
            if key == "$and":
                ranked.append((2, _all_of(subs)))
            elif not subs:
                # GrowthBook: an empty $or matches everyone, so an empty $nor nobody.
                ranked.append((2, _always_true if key == "$or" else _always_false))
            else:
                either = _any_of(subs)
                ranked.append((2, either if key == "$or" else _negate(either)))
        elif key == "$not":
            ranked.append((2, _negate(_compile_document(value, key_path, groups))))
        else:
            # Any other key, even one starting with "$" (GrowthBook's own
            # "$groups" case), is an attribute path.
            ranked.append(_compile_field(key, value, key_path, groups))
    ranked.sort(key=lambda item: item[0])
    return _all_of([clause for _rank, clause in ranked])


def _lookup(value: Any, segments: tuple[str, ...]) -> Any:
    """Follow a split path through nested mappings; anything missing is None."""
    for segment in segments:
        # The exact-type test first: it is the common case and much cheaper.
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(segment)
        else:
            return None
    return value


_SCALAR_LITERALS = (str, int, float, bool)


def _compile_field(key: str, value: Any, path: str, groups: Mapping[str, Any]) -> tuple[int, Predicate]:
    """Compile ``key: value`` into a clause over the attributes; returns (rank, clause)."""
    segments = tuple(key.split("."))
    if type(value) in _SCALAR_LITERALS:
        # The overwhelmingly common case ({"device": "mobile"}): compare inline
        # instead of calling a separate value predicate.
        return 0, _literal_field(segments, value)
    test = _compile_value(value, path, groups)
    if test is _always_false or test is _always_true:
        return 0, test
    if len(segments) == 1:
        (name,) = segments

        def field(attrs: Any) -> bool:
            if type(attrs) is dict:
                return test(attrs.get(name))
            return test(_lookup(attrs, segments))

        return 1, field
    if len(segments) == 2:
        first, second = segments

        def field2(attrs: Any) -> bool:
            if type(attrs) is dict:
                inner = attrs.get(first)
                if type(inner) is dict:
                    return test(inner.get(second))
            return test(_lookup(attrs, segments))

        return 1, field2

    def field_n(attrs: Any) -> bool:
        return test(_lookup(attrs, segments))

    return 1, field_n


def _literal_field(segments: tuple[str, ...], expected: Any) -> Predicate:
    if len(segments) == 1:
        (name,) = segments

        def equals(attrs: Any) -> bool:
            # Annotated locals: the comparison of JSON scalars is a bool.
            if type(attrs) is dict:
                same: bool = attrs.get(name) == expected
                return same
            same = _lookup(attrs, segments) == expected
            return same

        return equals

    def equals_n(attrs: Any) -> bool:
        same: bool = _lookup(attrs, segments) == expected
        return same

    return equals_n


def _compile_value(cond: Any, path: str, groups: Mapping[str, Any], insensitive: bool = False) -> Predicate:
    """Compile a value condition: a literal to compare with, or an operator object."""
    if _is_operator_object(cond):
        return _all_of([_compile_operator(op, arg, _join(path, op), groups) for op, arg in cond.items()])
    if insensitive and isinstance(cond, str):
        folded = cond.lower()

        def equals_folded(value: Any) -> bool:
            return isinstance(value, str) and value.lower() == folded

        return equals_folded
    return _compile_literal(cond)


def _compile_literal(expected: Any) -> Predicate:
    if expected is None:
        # Missing and null are the same thing to GrowthBook.
        return partial(operator.is_, None)
    if type(expected) in _SCALAR_LITERALS:
        return partial(operator.eq, expected)

    def deep_equals(value: Any) -> bool:
        return _deep_equal(value, expected)

    return deep_equals


def _deep_equal(a: Any, b: Any) -> bool:
    """JSON equality: tuples count as arrays, any Mapping as an object."""
    if _is_array(a) and _is_array(b):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if _is_array(a) or _is_array(b) or isinstance(a, Mapping) or isinstance(b, Mapping):
        return False
    return bool(a == b)


def _compile_operator(op: str, arg: Any, path: str, groups: Mapping[str, Any]) -> Predicate:
    if op == "$eq":
        return _compile_equals(arg)
    if op == "$ne":
        return _negate(_compile_equals(arg))
    if op in _ORDER_OPERATORS:
        return _compile_order(_ORDER_OPERATORS[op], arg)
    if op in _VERSION_OPERATORS:
        return _compile_version(_VERSION_OPERATORS[op], arg)
    if op in ("$in", "$nin", "$ini", "$nini"):
        if not _is_array(arg):
            return _always_false  # GrowthBook: $in/$nin without a list never match
        found = _compile_in(arg, insensitive=op in ("$ini", "$nini"))
        return found if op in ("$in", "$ini") else _negate(found)
    if op in ("$inGroup", "$notInGroup"):
        return _compile_group(op == "$inGroup", arg, groups)
    if op in ("$all", "$alli"):
        return _compile_all(arg, path, groups, insensitive=op == "$alli")
    if op == "$elemMatch":
        return _compile_elem_match(arg, path, groups)
    if op == "$size":
        return _compile_size(_compile_value(arg, path, groups))
    if op == "$exists":
        return partial(operator.is_not if arg else operator.is_, None)
    if op == "$type":
        if arg not in _TYPE_NAMES:
            return _always_false
        type_name: str = arg

        def has_type(value: Any) -> bool:
            return _type_name(value) == type_name

        return has_type
    if op in _REGEX_OPERATORS:
        flags, negated = _REGEX_OPERATORS[op]
        return _compile_regex(arg, flags, negated)
    if op == "$not":
        return _negate(_compile_value(arg, path, groups))
    return _always_false  # unknown operator: GrowthBook never matches


def _to_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _compile_equals(expected: Any) -> Predicate:
    """$eq: like a literal, but numbers and numeric strings compare numerically.

    Unlike growthbook-python, a missing attribute never equals 0 (so
    ``$ne: 0`` matches a missing attribute), as in the JavaScript SDK.
    """
    if type(expected) in (int, float):

        def equals_number(value: Any) -> bool:
            if type(value) is str:
                return bool(_to_float(value) == expected)
            return value is not None and bool(value == expected)

        return equals_number
    if type(expected) is str:
        number = _to_float(expected)

        def equals_text(value: Any) -> bool:
            if type(value) in (int, float) and number is not None:
                return bool(value == number)
            return bool(value == expected)

        return equals_text
    return _compile_literal(expected)


def _compile_order(op: Callable[[Any, Any], bool], expected: Any) -> Predicate:
    """$gt/$gte/$lt/$lte with GrowthBook's coercion.

    If one side is a number, the other is converted with ``float`` (a missing
    attribute counts as 0); otherwise the values compare as they are (text
    lexicographically).  A comparison that cannot be made is "no match".
    """
    if type(expected) in (int, float):

        def order_number(value: Any) -> bool:
            t = type(value)
            if t is int or t is float:
                return op(value, expected)
            if value is None:
                return op(0, expected)
            number = _to_float(value)
            return number is not None and op(number, expected)

        return order_number
    expected_number = 0.0 if expected is None else _to_float(expected)

    def order_other(value: Any) -> bool:
        t = type(value)
        if t is int or t is float:
            return expected_number is not None and op(value, expected_number)
        try:
            return bool(op(value, expected))
        except TypeError:  # e.g. text against null or a list: no match
            return False

    return order_other


def _compile_version(op: Callable[[Any, Any], bool], expected: Any) -> Predicate:
    padded = _padded_version(expected)

    def compare_version(value: Any) -> bool:
        return op(_padded_version(value), padded)

    return compare_version


def _padded_version(value: Any) -> str:
    if type(value) is str:
        return _pad_version_text(value)
    if type(value) in (int, float):
        return _pad_version_text(str(value))
    return _pad_version_text("0")


@lru_cache(maxsize=4096)
def _pad_version_text(text: str) -> str:
    """GrowthBook's comparable form of a version string.

    Drop a leading ``v`` and any ``+build``; split on ``.`` and ``-``; a bare
    ``x.y.z`` gets a ``~`` part so it sorts after its pre-releases; numeric
    parts are right-aligned to width 5 so text comparison orders them
    numerically (numbers over 99999 therefore compare as text, as in
    GrowthBook).  Cached: request attributes repeat a handful of versions.
    """
    if not text:
        text = "0"
    text = text.removeprefix("v")
    build = text.find("+")
    if build != -1:
        text = text[:build]
    parts = text.replace("-", ".").split(".")
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5) if p.isascii() and p.isdigit() else p for p in parts)


def _compile_in(items: Any, insensitive: bool) -> Predicate:
    """Is the value (or, for an array value, any of its elements) among ``items``?"""
    if insensitive:
        candidates = [_fold(item) for item in items]
        fold: Callable[[Any], Any] = _fold
    else:
        candidates = list(items)
        fold = _identity
    if not candidates:
        return _always_false
    try:
        lookup: frozenset[Any] | None = frozenset(candidates)
    except TypeError:  # unhashable entries: fall back to a linear scan
        lookup = None

    def contains(value: Any) -> bool:
        if lookup is not None:
            try:
                return value in lookup
            except TypeError:
                pass
        return value in candidates

    if not insensitive:

        def is_in(value: Any) -> bool:
            if type(value) is list or type(value) is tuple:
                for element in value:
                    if contains(element):
                        return True
                return False
            return contains(value)

        if lookup is not None:
            # Fast path for the common case: a hashable scalar against a set.
            def is_in_set(value: Any) -> bool:
                t = type(value)
                if t is str or t is int or t is float or t is bool or value is None:
                    return value in lookup
                return is_in(value)

            return is_in_set
        return is_in

    def is_in_folded(value: Any) -> bool:
        if type(value) is list or type(value) is tuple:
            for element in value:
                if contains(fold(element)):
                    return True
            return False
        return contains(fold(value))

    return is_in_folded


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _identity(value: Any) -> Any:
    return value


def _compile_group(inside: bool, group_id: Any, groups: Mapping[str, Any]) -> Predicate:
    if not isinstance(group_id, str):
        return _always_false
    if group_id not in groups:
        # An unknown group has no members.
        return _always_false if inside else _always_true
    members = groups[group_id]
    if isinstance(members, (set, frozenset)):
        members = list(members)
    found = _compile_in(members if _is_array(members) else [], insensitive=False)
    return found if inside else _negate(found)


def _compile_all(items: Any, path: str, groups: Mapping[str, Any], insensitive: bool) -> Predicate:
    if not _is_array(items):
        return _always_false
    wanted = tuple(_compile_value(item, f"{path}[{i}]", groups, insensitive) for i, item in enumerate(items))

    def has_all(value: Any) -> bool:
        if not (type(value) is list or type(value) is tuple):
            return False
        for pred in wanted:
            for element in value:
                if pred(element):
                    break
            else:
                return False
        return True

    return has_all


def _compile_elem_match(arg: Any, path: str, groups: Mapping[str, Any]) -> Predicate:
    if not isinstance(arg, Mapping):
        raise ConditionError(path, f"'$elemMatch' needs a condition object, not {_describe(arg)}")
    # Operators test each element itself; any other object is a condition
    # document over each element's fields.
    inner = _compile_value(arg, path, groups) if _is_operator_object(arg) else _compile_document(arg, path, groups)

    def elem_match(value: Any) -> bool:
        if not (type(value) is list or type(value) is tuple):
            return False
        for element in value:
            if inner(element):
                return True
        return False

    return elem_match


def _compile_size(length_test: Predicate) -> Predicate:
    def size(value: Any) -> bool:
        if type(value) is list or type(value) is tuple:
            return length_test(len(value))
        return False

    return size


def _compile_regex(pattern: Any, flags: int, negated: bool) -> Predicate:
    """``$regex``/``$regexi`` and their negations ``$notRegex``/``$notRegexi``.

    Only text is searched: a missing attribute, or one that is not text,
    matches neither a pattern nor its negation, and nothing matches a pattern
    that is not valid (as in growthbook-python, which has the negations; the
    JavaScript SDK has none and GrowthBook's own editor writes them as
    ``{"$not": {"$regex": ...}}``, which does match a missing attribute).
    """
    if not isinstance(pattern, str):
        return _always_false
    try:
        search = re.compile(pattern, flags).search
    except (re.error, OverflowError, RecursionError):  # GrowthBook: never matches
        return _always_false
    if negated:

        def does_not_match(value: Any) -> bool:
            return isinstance(value, str) and search(value) is None

        return does_not_match

    def matches(value: Any) -> bool:
        return isinstance(value, str) and search(value) is not None

    return matches


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if t is list or t is tuple:
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def _describe(value: Any) -> str:
    """Name a value the way an editor would read it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the value {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if _is_array(value):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__} value"
