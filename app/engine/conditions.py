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

:func:`check_condition` is the strict, editor-facing lint: it reports every
problem with its location instead of quietly compiling to "never matches".
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

__all__ = ["ConditionError", "Predicate", "check_condition", "compile_condition"]

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
        "$regex",
        "$regexi",
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
    if op in ("$regex", "$regexi"):
        return _compile_regex(arg, re.IGNORECASE if op == "$regexi" else 0)
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


def _compile_regex(pattern: Any, flags: int) -> Predicate:
    if not isinstance(pattern, str):
        return _always_false
    try:
        search = re.compile(pattern, flags).search
    except (re.error, OverflowError, RecursionError):  # GrowthBook: never matches
        return _always_false

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


# --------------------------------------------------------------------------
# Checking (editors' lint)
# --------------------------------------------------------------------------

_KINDS = {
    "string": "text",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
}


def check_condition(condition: Any, attributes: Mapping[str, str]) -> list[tuple[str, str]]:
    """Report every problem in ``condition`` as ``(path, message)``; ``[]`` when fine.

    ``attributes`` maps documented attribute names to their kind (``"string"``,
    ``"number"``, ``"boolean"`` or ``"array"``); a name ending in ``.*``
    allows any one further path segment.  Unlike :func:`compile_condition`,
    which quietly turns such things into "never matches", this reports
    unknown attributes and operators (with close matches), operator arguments
    of the wrong type, regexes that do not compile and values whose type can
    never match the attribute.  Paths look like ``"$and[0].device.$in"``.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(condition, Mapping):
        problems.append(
            (
                "",
                f"a condition must be an object of attribute names and values, not {_describe(condition)}",
            )
        )
        return problems
    _Checker(attributes, problems).document(condition, "", documented=True)
    return problems


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


def _did_you_mean(matches: list[str]) -> str:
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    if len(quoted) == 1:
        return f" (did you mean {quoted[0]}?)"
    return f" (did you mean {', '.join(quoted[:-1])} or {quoted[-1]}?)"


def _fits_kind(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return _is_array(value)


class _Checker:
    """Walks a condition and collects problems; one instance per check."""

    def __init__(self, attributes: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        self.exact: dict[str, str | None] = {}
        self.wildcards: dict[str, str | None] = {}
        for name, kind in attributes.items():
            normal = str(kind).lower() if kind is not None else ""
            # An undocumented kind still makes the name known, just unchecked.
            known_kind = normal if normal in _KINDS else None
            name = str(name)
            if name.endswith(".*"):
                self.wildcards[name[:-2]] = known_kind
            else:
                self.exact[name] = known_kind

    def report(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def resolve(self, name: str) -> tuple[bool, str | None]:
        """Is ``name`` documented, and with which kind (None: unchecked)?"""
        if name in self.exact:
            return True, self.exact[name]
        prefix, dot, last = name.rpartition(".")
        if dot and last and prefix in self.wildcards:
            return True, self.wildcards[prefix]
        return False, None

    def suggest_attribute(self, name: str) -> list[str]:
        last = name.rpartition(".")[2]
        candidates = list(self.exact)
        candidates += [f"{prefix}.{last}" if "." in name else f"{prefix}.*" for prefix in self.wildcards]
        return difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)

    def document(self, cond: Mapping[Any, Any], path: str, documented: bool) -> None:
        """Check a condition document; ``documented``: keys must be documented attributes."""
        for key, value in cond.items():
            if not isinstance(key, str):
                self.report(path, f"condition keys must be text, not {_describe(key)}")
                continue
            key_path = _join(path, key)
            if key in ("$and", "$or", "$nor"):
                self.condition_list(key, value, key_path, documented)
            elif key == "$not":
                if isinstance(value, Mapping):
                    self.document(value, key_path, documented)
                else:
                    self.report(
                        key_path,
                        f"'$not' needs a condition object, not {_describe(value)}",
                    )
            else:
                self.field(key, value, key_path, documented)

    def condition_list(self, op: str, value: Any, path: str, documented: bool) -> None:
        if not _is_array(value):
            self.report(path, f"'{op}' needs a list of conditions, not {_describe(value)}")
            return
        for i, sub in enumerate(value):
            sub_path = f"{path}[{i}]"
            if isinstance(sub, Mapping):
                self.document(sub, sub_path, documented)
            else:
                self.report(
                    sub_path,
                    f"each entry of '{op}' must be a condition object, not {_describe(sub)}",
                )

    def field(self, key: str, value: Any, path: str, documented: bool) -> None:
        kind: str | None = None
        if documented:
            found, kind = self.resolve(key)
            if not found:
                if key in _VALUE_OPERATORS:
                    self.report(
                        path,
                        f'operator \'{key}\' must be placed under an attribute, like {{"device": {{"{key}": ...}}}}',
                    )
                    return
                if key.startswith("$"):
                    close = difflib.get_close_matches(key, _LOGICAL_OPERATORS, n=1, cutoff=0.6)
                    self.report(path, f"unknown operator '{key}'{_did_you_mean(close)}")
                    return
                close = self.suggest_attribute(key)
                self.report(path, f"unknown attribute '{key}'{_did_you_mean(close)}")
        elif key in _VALUE_OPERATORS:
            self.report(
                path,
                f"operator '{key}' cannot be mixed with field names in the same object",
            )
            return
        self.value(value, kind, path, f"'{key}'")

    def value(self, value: Any, kind: str | None, path: str, subject: str) -> None:
        """Check a value condition for ``subject`` (e.g. "'device'") of ``kind``."""
        if isinstance(value, Mapping) and value:
            operators = [k for k in value if isinstance(k, str) and k.startswith("$")]
            if len(operators) == len(value):
                for op, arg in value.items():
                    self.operator(op, arg, kind, _join(path, op), subject)
                return
            if operators:
                self.report(
                    path,
                    f"operators ({', '.join(operators)}) are mixed with plain keys; "
                    "GrowthBook then compares the whole object literally and ignores the operators",
                )
                return
        self.literal(value, kind, path, subject)

    def literal(self, value: Any, kind: str | None, path: str, subject: str) -> None:
        # null means "missing or null", which any attribute can be.
        if kind is None or value is None or _fits_kind(value, kind):
            return
        self.report(
            path,
            f"{subject} holds {_KINDS[kind]}, but this is {_describe(value)}, so it never matches",
        )

    def operator(self, op: str, arg: Any, kind: str | None, path: str, subject: str) -> None:
        if op not in _VALUE_OPERATORS:
            if op in _LOGICAL_OPERATORS:
                self.report(
                    path,
                    f"'{op}' combines whole conditions and cannot be used under an attribute; "
                    "move it up to the condition itself",
                )
                return
            close = difflib.get_close_matches(op, sorted(_VALUE_OPERATORS), n=1, cutoff=0.6)
            self.report(path, f"unknown operator '{op}'{_did_you_mean(close)}")
            return
        if op in ("$eq", "$ne"):
            self.literal(arg, kind, path, subject)
        elif op in _ORDER_OPERATORS:
            self.order(op, arg, kind, path, subject)
        elif op in ("$in", "$nin", "$ini", "$nini"):
            self.value_list(op, arg, kind, path, subject)
        elif op in ("$all", "$alli"):
            self.needs_array(op, kind, path, subject)
            if not _is_array(arg):
                self.report(path, f"'{op}' needs a list of values, not {_describe(arg)}")
                return
            for i, item in enumerate(arg):
                self.value(item, None, f"{path}[{i}]", f"each element of {subject}")
        elif op == "$elemMatch":
            self.needs_array(op, kind, path, subject)
            if _is_operator_object(arg):
                self.value(arg, None, path, f"each element of {subject}")
            elif isinstance(arg, Mapping):
                self.document(arg, path, documented=False)
            else:
                self.report(path, f"'$elemMatch' needs a condition object, not {_describe(arg)}")
        elif op == "$size":
            self.needs_array(op, kind, path, subject)
            if _is_operator_object(arg):
                self.value(arg, "number", path, f"the length of {subject}")
            elif not (isinstance(arg, int) and not isinstance(arg, bool) and arg >= 0):
                self.report(
                    path,
                    f"'$size' needs a whole number or a comparison like {{\"$gt\": 2}}, not {_describe(arg)}",
                )
        elif op == "$exists":
            if not isinstance(arg, bool):
                self.report(path, f"'$exists' needs true or false, not {_describe(arg)}")
        elif op == "$type":
            if arg not in _TYPE_NAMES:
                close = difflib.get_close_matches(str(arg), _TYPE_NAMES, n=1, cutoff=0.6)
                names = ", ".join(_TYPE_NAMES)
                self.report(
                    path,
                    f"'$type' needs one of {names}, not {_describe(arg)}{_did_you_mean(close)}",
                )
        elif op in ("$regex", "$regexi"):
            self.regex(op, arg, kind, path, subject)
        elif op in _VERSION_OPERATORS:
            if not isinstance(arg, str) or not arg:
                self.report(path, f"'{op}' needs a version like \"1.2.3\", not {_describe(arg)}")
            self.needs_scalar(op, kind, path, subject)
        elif op in ("$inGroup", "$notInGroup"):
            if not isinstance(arg, str) or not arg:
                self.report(path, f"'{op}' needs the id of a saved group, not {_describe(arg)}")
        else:  # "$not": the remaining value operator
            self.value(arg, kind, path, subject)

    def order(self, op: str, arg: Any, kind: str | None, path: str, subject: str) -> None:
        is_number = isinstance(arg, (int, float)) and not isinstance(arg, bool)
        if kind in ("boolean", "array"):
            self.report(path, f"'{op}' cannot compare {subject}, which holds {_KINDS[kind]}")
        elif kind == "number" and not is_number:
            self.report(path, f"'{op}' on {subject} needs a number, not {_describe(arg)}")
        elif not (is_number or isinstance(arg, str)):
            self.report(path, f"'{op}' needs a number or text, not {_describe(arg)}")

    def value_list(self, op: str, arg: Any, kind: str | None, path: str, subject: str) -> None:
        if not _is_array(arg):
            self.report(path, f"'{op}' needs a list of values, not {_describe(arg)}")
            return
        # For an array attribute the entries are matched against its elements,
        # whose kind is not documented.
        entry_kind = None if kind == "array" else kind
        for i, item in enumerate(arg):
            item_path = f"{path}[{i}]"
            if _is_array(item) or isinstance(item, Mapping):
                self.report(
                    item_path,
                    f"entries of '{op}' must be plain values, not {_describe(item)}",
                )
            else:
                self.literal(item, entry_kind, item_path, subject)

    def regex(self, op: str, arg: Any, kind: str | None, path: str, subject: str) -> None:
        if not isinstance(arg, str):
            self.report(path, f"'{op}' needs a pattern written as text, not {_describe(arg)}")
            return
        try:
            re.compile(arg)
        except (re.error, OverflowError, RecursionError) as exc:
            self.report(path, f"'{op}' pattern {arg!r} is not a valid regular expression: {exc}")
            return
        if kind not in (None, "string"):
            self.report(path, f"'{op}' only matches text, but {subject} holds {_KINDS[kind]}")

    def needs_array(self, op: str, kind: str | None, path: str, subject: str) -> None:
        if kind not in (None, "array"):
            self.report(path, f"'{op}' only works on lists, but {subject} holds {_KINDS[kind]}")

    def needs_scalar(self, op: str, kind: str | None, path: str, subject: str) -> None:
        if kind in ("boolean", "array"):
            self.report(path, f"'{op}' compares versions, but {subject} holds {_KINDS[kind]}")
