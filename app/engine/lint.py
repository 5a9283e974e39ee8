"""The editors' lint for targeting conditions: errors, and warnings.

:mod:`app.engine.conditions` evaluates conditions as GrowthBook does, quietly:
an unknown operator or a broken regex simply never matches. Editors need the
opposite, every doubt said out loud with its place in the condition, so this
module reads a condition without running it on visitors.

- :func:`check_condition` reports **errors**, what cannot be right: an unknown
  attribute or operator, an argument of the wrong type, a regex that does not
  compile. The loader does not serve a variant whose condition has one.
- :func:`warn_condition` reports **warnings**, conditions GrowthBook runs fine
  but that are probably not what the editor meant, given what Tessera's
  attributes hold: a clause that never matches (``hour > 25``) or always
  matches (``hour >= 0``), a value an attribute never takes (``country: de``),
  a version operator on a number, or a comparison that also lets in visitors
  for whom the attribute is missing. A variant with only warnings is served.
"""

from __future__ import annotations

import difflib
import math
import re
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.engine.attributes import Attribute, lookup
from app.engine.conditions import (
    _LOGICAL_OPERATORS,
    _ORDER_OPERATORS,
    _REGEX_OPERATORS,
    _TYPE_NAMES,
    _VALUE_OPERATORS,
    _VERSION_OPERATORS,
    ConditionError,
    _compile_value,
    _describe,
    _is_array,
    _is_operator_object,
    _join,
)

__all__ = ["check_condition", "warn_condition"]

# --------------------------------------------------------------------------
# Errors
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
    allows any one further path segment.  Unlike
    :func:`~app.engine.conditions.compile_condition`, which quietly turns such
    things into "never matches", this reports
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
        elif op in _REGEX_OPERATORS:
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


# --------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    """The numbers an attribute holds when present: ``low`` to ``high`` (None: no upper limit)."""

    low: int
    high: int | None = None
    whole: bool = True

    def __str__(self) -> str:
        return f"{self.low} or more" if self.high is None else f"{self.low}-{self.high}"

    def within(self, number: float) -> bool:
        return self.low <= number and (self.high is None or number <= self.high)

    def holds(self, number: float) -> bool:
        return self.within(number) and (not self.whole or float(number).is_integer())

    def samples(self, constants: list[float]) -> list[float]:
        """One number from every stretch of the range that ``constants`` cut it into.

        A comparison with the constants gives the same answer all along a
        stretch, so these samples give every answer a clause of comparisons can.
        """
        inside = sorted({c for c in constants if math.isfinite(c) and self.within(c)})
        top = self.high if self.high is not None else math.floor(max([self.low, *inside])) + 1
        if self.whole:
            found = {self.low, top}
            for c in inside:
                found.update((math.floor(c), math.floor(c) + 1))
            return sorted(n for n in found if self.low <= n <= top)
        edges = sorted({self.low, top, *inside})
        return sorted({*edges, *((a + b) / 2 for a, b in zip(edges, edges[1:], strict=False))})


@dataclass(frozen=True)
class _Text:
    """The form of a present text attribute."""

    pattern: re.Pattern[str]
    description: str
    #: The likely intended value for one that does not fit.
    fix: Callable[[str], str]
    #: Every value it can take, when there are few enough to try them all.
    every: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Facts:
    """What the warnings know of an attribute beyond its kind and values in attributes.py."""

    #: When it is absent, finishing "'x' is absent ..." ("{topic}": the last path
    #: segment); "" when it is always there.
    absent: str = ""
    numbers: _Range | None = None
    text: _Text | None = None


_COUNTRY = _Text(
    re.compile("[A-Z]{2}"),
    "a two-letter code in upper case, like 'DE'",
    lambda value: value.strip().upper(),
    every=tuple(a + b for a in string.ascii_uppercase for b in string.ascii_uppercase),
)
_LANGUAGE = _Text(
    re.compile("[a-z]{1,8}"),
    "the first part of a language tag, in lower case, like 'de'",
    lambda value: re.split("[-_]", value.strip(), maxsplit=1)[0].lower(),
)
_COUNT = _Range(0)
_SHARE = _Range(0, 1, whole=False)

#: One entry per documented attribute (a test keeps them in step). behavior.* and
#: score.* rules are only evaluated for a visitor who has a profile or scores at
#: all, so "absent" there means absent within them.
_FACTS: dict[str, _Facts] = {
    "device": _Facts(),
    "daypart": _Facts(),
    "hour": _Facts(numbers=_Range(0, 23)),
    "weekend": _Facts(),
    "country": _Facts(absent="when the visitor's country is unknown", text=_COUNTRY),
    "language": _Facts(absent="when the browser asks for no language", text=_LANGUAGE),
    "referrer": _Facts(absent="on direct and internal visits"),
    "returning": _Facts(),
    "behavior.visits": _Facts(numbers=_Range(1)),
    "behavior.pages_viewed": _Facts(numbers=_COUNT),
    "behavior.pricing_views": _Facts(numbers=_COUNT),
    "behavior.articles_read": _Facts(numbers=_COUNT),
    "behavior.top_topic": _Facts(absent="when no topic clearly leads"),
    "behavior.topic_articles.*": _Facts(absent="until the visitor has read a guide on {topic}", numbers=_Range(1)),
    "behavior.affinity.*": _Facts(absent="until the visitor has shown interest in {topic}", numbers=_SHARE),
    "behavior.scroll_depth": _Facts(
        absent="until a scroll depth has been measured", numbers=_Range(0, 100, whole=False)
    ),
    "behavior.dwell_seconds": _Facts(absent="until a visible time has been measured", numbers=_Range(0, whole=False)),
    "behavior.clicks": _Facts(numbers=_COUNT),
    "behavior.converted": _Facts(),
    "behavior.last_article": _Facts(absent="until the visitor has read a guide"),
    "behavior.recent_pages": _Facts(),
    "behavior.days_since_last_visit": _Facts(absent="on a first visit", numbers=_COUNT),
    "score.convert": _Facts(absent="when there is no fresh convert score", numbers=_SHARE),
    "score.churn": _Facts(absent="when there is no fresh churn score", numbers=_SHARE),
    "score.affinity.*": _Facts(absent="when there is no fresh affinity score", numbers=_SHARE),
    "score.top_topic": _Facts(absent="when the affinity model gives no topic 0.5 or more"),
}

_EMPTY_LIST = {
    "$or": "an empty '$or' matches every visitor (GrowthBook reads no alternatives as no restriction); "
    "list the alternatives or remove it",
    "$and": "an empty '$and' matches every visitor; list the conditions or remove it",
    "$nor": "an empty '$nor' never matches; list the conditions or remove it",
}
_EMPTY_ENTRY = {
    "$or": "an empty condition matches every visitor, so this '$or' always matches",
    "$and": "an empty condition matches every visitor, so it narrows nothing",
    "$nor": "an empty condition matches every visitor, so this '$nor' never matches",
}
_PLAIN = {"$veq": "$eq", "$vne": "$ne", "$vgt": "$gt", "$vgte": "$gte", "$vlt": "$lt", "$vlte": "$lte"}
#: Operators whose answer on a number only changes at the numbers they name.
_COMPARISONS = frozenset({"$eq", "$ne", *_ORDER_OPERATORS, "$in", "$nin", "$exists", "$type", "$not"})


def warn_condition(condition: Any) -> list[tuple[str, str]]:
    """Warn about a condition that runs but is probably not what the editor meant, as ``(path, message)``.

    For a condition :func:`check_condition` accepts, over the documented
    attributes; what it cannot judge it leaves alone, and it never raises.
    It warns about

    - a clause that never matches, or always matches and so narrows nothing,
      given the values the attribute holds (``hour`` is 0-23, scores 0-1,
      ``device`` one of four, ``country`` an upper-case code, ...);
    - a value the attribute never takes (``country: de``, ``hour: 24``, a
      topic count of 0, which is absent rather than 0);
    - a version operator on a number, an empty ``$in``/``$nin``, empty
      ``$or``/``$and``/``$nor`` lists and empty conditions inside them;
    - a clause that lets in visitors for whom the attribute is missing
      (``$ne``, ``$nin``, ``$lt``: GrowthBook counts a missing value as 0), or
      a ``$notRegex`` that leaves them out, unless the condition tests the
      attribute's presence itself (``$exists``, ``null``, ``$type``).
    """
    if not isinstance(condition, Mapping):
        return []
    explicit = {key for key, value in _clauses(condition) if _tests_presence(value)}
    return list(_walk(condition, "", False, explicit))


def _clauses(cond: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """Every ``attribute: value`` clause of a condition document, however deep."""
    for key, value in cond.items():
        if key in ("$and", "$or", "$nor") and _is_array(value):
            for sub in value:
                if isinstance(sub, Mapping):
                    yield from _clauses(sub)
        elif key == "$not" and isinstance(value, Mapping):
            yield from _clauses(value)
        elif isinstance(key, str):
            yield key, value


def _walk(cond: Mapping[Any, Any], path: str, negated: bool, explicit: set[str]) -> Iterator[tuple[str, str]]:
    """The warnings of a condition document; ``negated``: under an odd number of $not/$nor."""
    for key, value in cond.items():
        if not isinstance(key, str):
            continue
        key_path = _join(path, key)
        if key in ("$and", "$or", "$nor"):
            if not _is_array(value):
                continue
            if not value:
                yield key_path, _EMPTY_LIST[key]
            for i, sub in enumerate(value):
                if isinstance(sub, Mapping) and not sub:
                    yield f"{key_path}[{i}]", _EMPTY_ENTRY[key]
                elif isinstance(sub, Mapping):
                    yield from _walk(sub, f"{key_path}[{i}]", negated != (key == "$nor"), explicit)
        elif key == "$not":
            if isinstance(value, Mapping) and not value:
                yield key_path, "'$not' of an empty condition never matches: the empty condition matches every visitor"
            elif isinstance(value, Mapping):
                yield from _walk(value, key_path, not negated, explicit)
        else:
            yield from _clause(key, value, key_path, negated, key in explicit)


def _clause(key: str, value: Any, path: str, negated: bool, explicit: bool) -> list[tuple[str, str]]:
    """The warnings of one ``attribute: value`` clause: at most the first kind that applies."""
    attribute = lookup(key)
    if attribute is None:
        return []
    facts = _FACTS.get(attribute.name, _Facts())
    subject = f"'{key}'"
    absent = facts.absent.format(topic=key.rpartition(".")[2])
    found = [
        *_operator_warnings(value, path, attribute, subject),
        *_value_warnings(value, path, facts, subject, absent),
    ]
    if found:
        return found
    try:
        test = _compile_value(value, path, {})
    except ConditionError:
        return []
    clause = _render_clause(value)
    domain = _domain(attribute, facts, value)
    if domain is not None:
        samples, description = domain
        answers = {bool(test(sample)) for sample in samples}
        if absent:
            answers.add(bool(test(None)))
        if answers == {False}:
            return [(path, f"{subject} is {description}, so {clause} never matches")]
        if answers == {True}:
            also = " or absent" if absent else ""
            return [(path, f"{subject} is {description}{also}, so {clause} always matches and narrows nothing")]
    if not absent or explicit:
        return []
    operators = [op for op, _arg, _path in _operators(value, path)]
    if bool(test(None)) != negated:
        as_zero = " (a missing value counts as 0)" if any(op in _ORDER_OPERATORS for op in operators) else ""
        if negated:
            # $exists inside the negation would be negated too.
            advice = (
                f"and this condition lets those visitors through{as_zero}; "
                f"add {{{key}: {{$exists: true}}}} outside the '$not' or '$nor' to leave them out"
            )
        else:
            advice = (
                f"and {clause} matches those visitors too{as_zero}; "
                "add $exists: true to leave them out (or $exists: false in an '$or' to keep them on purpose)"
            )
        return [(path, f"{subject} is absent {absent}, {advice}")]
    negations = [op for op in operators if op in ("$notRegex", "$notRegexi")]
    if negations and not negated:
        return [
            (
                path,
                f"{subject} is absent {absent}, and '{negations[0]}' never matches a missing value, "
                f"so those visitors are left out; to include them, put {{{key}: {{$exists: false}}}} "
                "beside it in an '$or'",
            )
        ]
    return []


def _operator_warnings(value: Any, path: str, attribute: Attribute, subject: str) -> Iterator[tuple[str, str]]:
    for op, arg, op_path in _operators(value, path):
        if op in _VERSION_OPERATORS and attribute.kind == "number":
            yield (
                op_path,
                f"'{op}' compares versions like \"1.2.3\", but {subject} holds a number: "
                f"use '{_PLAIN[op]}' (as versions, 0.25 is above 0.3)",
            )
        elif op in ("$in", "$ini") and _is_array(arg) and not arg:
            yield op_path, f"'{op}' with an empty list never matches"
        elif op in ("$nin", "$nini") and _is_array(arg) and not arg:
            yield op_path, f"'{op}' with an empty list matches everything, so it narrows nothing"


def _value_warnings(value: Any, path: str, facts: _Facts, subject: str, absent: str) -> Iterator[tuple[str, str]]:
    """Values compared with the attribute that it never holds."""
    numbers, text = facts.numbers, facts.text
    for item, item_path in _compared(value, path):
        if numbers is not None and _is_number(item) and not numbers.holds(item):
            if item == 0 and absent and numbers.low > 0:
                yield item_path, f"{subject} is never 0: it is absent {absent}, so test for that with $exists"
            elif numbers.within(item):
                yield item_path, f"{subject} is a whole number, never {_render(item)}"
            else:
                yield item_path, f"{subject} is {numbers}, never {_render(item)}"
        elif text is not None and isinstance(item, str) and not text.pattern.fullmatch(item):
            fixed = text.fix(item)
            hint = f" (did you mean '{fixed}'?)" if text.pattern.fullmatch(fixed) else ""
            yield item_path, f"{subject} is {text.description}, never {_render(item)}{hint}"


def _domain(attribute: Attribute, facts: _Facts, value: Any) -> tuple[tuple[Any, ...] | list[Any], str] | None:
    """Values to try the clause on, covering every answer it can give, and how to say what they are."""
    if attribute.values:
        return attribute.values, f"one of {', '.join(attribute.values)}"
    if attribute.kind == "boolean":
        return (True, False), "true or false"
    if facts.text is not None and facts.text.every:
        return facts.text.every, facts.text.description
    if facts.numbers is not None and _comparisons_only(value):
        return facts.numbers.samples(list(_numbers_in(value))), str(facts.numbers)
    return None


def _operators(value: Any, path: str) -> Iterator[tuple[str, Any, str]]:
    """The operators of a value condition, through ``$not``: (operator, argument, path)."""
    if _is_operator_object(value):
        for op, arg in value.items():
            op_path = _join(path, op)
            yield op, arg, op_path
            if op == "$not":
                yield from _operators(arg, op_path)


def _compared(value: Any, path: str) -> Iterator[tuple[Any, str]]:
    """Values the attribute is compared with for (in)equality, case-sensitively: (value, path)."""
    if not _is_operator_object(value):
        yield value, path
        return
    for op, arg in value.items():
        op_path = _join(path, op)
        if op in ("$eq", "$ne"):
            yield arg, op_path
        elif op in ("$in", "$nin") and _is_array(arg):
            for i, item in enumerate(arg):
                yield item, f"{op_path}[{i}]"
        elif op == "$not":
            yield from _compared(arg, op_path)


def _tests_presence(value: Any) -> bool:
    """Does the clause say itself what happens without the attribute ($exists, $type or null)?"""
    if any(op in ("$exists", "$type") for op, _arg, _path in _operators(value, "")):
        return True
    return any(item is None for item, _path in _compared(value, ""))


def _comparisons_only(value: Any) -> bool:
    """Is this a clause of comparisons with numbers, whose answer only changes at those numbers?"""
    if not _is_operator_object(value):
        return value is None or _is_number(value)
    for op, arg in value.items():
        if op not in _COMPARISONS:
            return False
        if op == "$not":
            if not _comparisons_only(arg):
                return False
        elif op in ("$in", "$nin"):
            if not (_is_array(arg) and all(item is None or _is_number(item) for item in arg)):
                return False
        elif op not in ("$exists", "$type") and not (arg is None or _is_number(arg)):
            return False
    return True


def _numbers_in(value: Any) -> Iterator[float]:
    if _is_number(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _numbers_in(item)
    elif _is_array(value):
        for item in value:
            yield from _numbers_in(item)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _render_clause(value: Any) -> str:
    """A clause's value as an editor wrote it: ``$gt: 25``, ``{$gt: 5, $lt: 9}``, ``'de'``."""
    if _is_operator_object(value) and len(value) == 1:
        ((op, arg),) = value.items()
        return f"{op}: {_render(arg)}"
    return _render(value)


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"
    if _is_array(value):
        shown = [_render(item) for item in value[:3]] + (["..."] if len(value) > 3 else [])
        return f"[{', '.join(shown)}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_render(item)}" for key, item in value.items()) + "}"
    return _describe(value)
