"""Plain-words explanations, rendered from a decision's trace.

Nothing here is written per variant: the text comes from the signals a rule
used, so an explanation can never claim a reason the engine did not use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.engine.model import BlockDecision, Choice, Signal

_DEVICE = {
    "mobile": "you're on a phone",
    "tablet": "you're on a tablet",
    "desktop": "you're on a computer",
    "other": "we couldn't tell what device you're on",
}
_DAYPART = {
    "morning": "it's morning where you are",
    "afternoon": "it's afternoon where you are",
    "evening": "it's evening where you are",
    "night": "it's late at night where you are",
}
_LAYER_LABEL = {
    "contextual": "Contextual personalization",
    "behavioral": "Behavioral personalization",
    "predictive": "Predictive personalization",
}


@dataclass(frozen=True)
class Explanation:
    """What the visitor reads under "Why am I seeing this?"."""

    sentence: str
    details: tuple[str, ...]
    source: str


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: Any, one: str, many: str) -> str:
    """ "three guides", "one guide", "12 guides"."""
    number = int(n)
    word = _NUMBERS[number] if 0 <= number < len(_NUMBERS) else str(number)
    return f"{word} {one if number == 1 else many}"


def _times(n: Any) -> str:
    number = int(n)
    return {1: "once", 2: "twice"}.get(number, f"{_count(number, 'time', 'times').split(' ', 1)[0]} times")


def _behavior(attribute: str, value: Any, names: Mapping[str, str]) -> str | None:
    """Plain, non-creepy words for what the visitor did."""
    name = attribute.removeprefix("behavior.")
    if name.startswith("topic_articles."):
        return f"you've read {_count(value, 'guide', 'guides')} about {name.split('.', 1)[1]}"
    if name.startswith("affinity."):
        return f"you've shown interest in {name.split('.', 1)[1]}"
    phrases: dict[str, Callable[[], str]] = {
        "visits": lambda: f"you've visited {_times(value)}",
        "pages_viewed": lambda: f"you've looked at {_count(value, 'page', 'pages')} here",
        "pricing_views": lambda: f"you've looked at our pricing {_times(value)}",
        "articles_read": lambda: f"you've read {_count(value, 'of our guides', 'of our guides')}",
        "top_topic": lambda: f"you've mostly been reading about {value}",
        "scroll_depth": lambda: (
            "you tend to read pages to the end" if float(value) >= 70 else "of how far you usually read"
        ),
        "dwell_seconds": lambda: "you take your time on our pages",
        "clicks": lambda: "you've explored several sections",
        "converted": lambda: "you've already signed up" if value else "you haven't signed up yet",
        "last_article": lambda: f"you were last reading “{names.get('page:' + str(value), value)}”",
        "recent_pages": lambda: "of the pages you viewed recently",
        "days_since_last_visit": lambda: f"you're back after {_count(value, 'day', 'days')}",
    }
    make = phrases.get(name)
    return make() if make else None


def _prediction(attribute: str, value: Any) -> str | None:
    """Plain words for what a model estimates; never more certain than it is."""
    name = attribute.removeprefix("score.")
    if name.startswith("affinity."):
        return f"our model expects {name.split('.', 1)[1]} to interest you next"
    likely = float(value) >= 0.5 if isinstance(value, int | float) else False
    phrases = {
        "convert": "our model estimates a free trial may suit you now"
        if likely
        else "our model estimates you're still exploring",
        "churn": "our model estimates it may be a while before your next visit"
        if likely
        else "our model expects you back soon",
        "top_topic": f"our model expects {value} to interest you next",
    }
    return phrases.get(name)


def _country(value: Any, names: Mapping[str, str]) -> str:
    return f"you seem to be browsing from {names.get(str(value), str(value))}"


def _phrase(signal: Signal, names: Mapping[str, str]) -> str:
    attribute, value = signal.attribute, signal.value
    if attribute.startswith("behavior."):
        said = _behavior(attribute, value, names)
        if said is not None:
            return said
    if attribute.startswith("score."):
        said = _prediction(attribute, value)
        if said is not None:
            return said
    phrases: dict[str, Callable[[], str]] = {
        "device": lambda: _DEVICE.get(str(value), "of the device you're using"),
        "daypart": lambda: _DAYPART.get(str(value), "of the time of day where you are"),
        "hour": lambda: f"it's {int(value):02d}:00 where you are",
        "weekend": lambda: "it's the weekend where you are" if value else "it's a weekday where you are",
        "country": lambda: _country(value, names),
        "language": lambda: f"your browser asks for {names.get('lang:' + str(value), str(value))}",
        "referrer": lambda: f"you came here from {value}",
        "returning": lambda: "you've been here before" if value else "this is your first visit",
    }
    make = phrases.get(attribute)
    return make() if make else f"of your {attribute.replace('.', ' ').replace('_', ' ')}"


def _models(choice: Choice) -> str:
    versions = sorted({str(s.value) for s in choice.signals if s.attribute.startswith("score.model.")})
    return "".join(f" · model {v}" for v in versions)


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _reasons(choice: Choice, names: Mapping[str, str]) -> list[str]:
    attributes = {s.attribute for s in choice.signals}
    signals = [
        s
        for s in choice.signals
        # "you've read three guides about privacy" says more than "you've mostly been reading about privacy".
        if not (s.attribute == "behavior.top_topic" and f"behavior.topic_articles.{s.value}" in attributes)
        # Model versions go in the source line, not the sentence.
        and not s.attribute.startswith("score.model.")
    ]
    return list(dict.fromkeys(_phrase(s, names) for s in signals))


_SEGMENT_WORDS: dict[str, Callable[[Any, Mapping[str, str]], str]] = {
    "device": lambda v, _: {"mobile": "on a phone", "tablet": "on a tablet", "desktop": "on a computer"}.get(
        str(v), "on your kind of device"
    ),
    "daypart": lambda v, _: {
        "morning": "in the morning",
        "afternoon": "in the afternoon",
        "evening": "in the evening",
        "night": "late at night",
    }.get(str(v), "at this time of day"),  # fmt: skip
    "weekend": lambda v, _: "at the weekend" if v else "on a weekday",
    "country": lambda v, names: f"in {names.get(str(v), str(v))}",
    "language": lambda v, names: f"who read {names.get('lang:' + str(v), str(v))}",
    "returning": lambda v, _: "coming back" if v else "here for the first time",
    "behavior.top_topic": lambda v, _: f"reading about {v}",
    "score.top_topic": lambda v, _: f"likely to be interested in {v}",
}


def _learning(choice: Choice, names: Mapping[str, str]) -> str:
    """A learning block: say that versions are being compared, and name the segment, never more."""
    parts = [_SEGMENT_WORDS[s.attribute](s.value, names) for s in choice.signals if s.attribute in _SEGMENT_WORDS]
    if not parts:
        return "We're comparing versions of this section to find what helps visitors most."
    return f"We're comparing versions of this section to find what helps visitors like you ({_join(parts)})."


def explain(
    decision: BlockDecision, names: Mapping[str, str] | None = None, *, placement: str = "here"
) -> Explanation | None:
    """Explain a personalized block in one plain sentence; None for a block shown as everyone sees it.

    ``names`` maps country codes (and ``lang:<code>``) to display names.
    ``placement`` says where a moved block went ("first", "higher", "here").
    The sentence names no block, rule or variant: the technical trace (layer,
    rule, model version) is ``source``, for the studio, not for visitors.
    """
    names = names or {}
    if decision.chose is None and decision.moved is None:
        return None
    parts: list[str] = []
    details: list[str] = []
    sources: list[str] = []
    if decision.chose is not None and decision.chose.kind == "learn":
        parts.append(_learning(decision.chose, names).removesuffix("."))
        sources.append(f"{_LAYER_LABEL[decision.chose.layer]} · {decision.chose.rule}")
    elif decision.chose is not None:
        reasons = _reasons(decision.chose, names)
        parts.append(f"Shown because {_join(reasons)}" if reasons else "Shown for where and when you are browsing")
        if decision.chose.layer == "predictive":
            details.append("This is an estimate from a model trained on visits to this site only.")
        sources.append(f"{_LAYER_LABEL[decision.chose.layer]} · rule {decision.chose.rule}{_models(decision.chose)}")
    if decision.moved is not None:
        reasons = _reasons(decision.moved, names)
        if (
            reasons
            and decision.chose is not None
            and decision.chose.kind == "rule"
            and reasons == _reasons(decision.chose, names)
        ):
            parts = [f"Shown and placed {placement} because {_join(reasons)}"]  # one reason, said once
        else:
            moved = f"placed {placement} because {_join(reasons)}" if reasons else f"placed {placement} for you"
            parts.append(moved if parts else moved[0].upper() + moved[1:])
        sources.append(f"{_LAYER_LABEL[decision.moved.layer]} · rule {decision.moved.rule}{_models(decision.moved)}")
    sentence = ", and ".join(parts) + "."
    return Explanation(sentence=sentence, details=tuple(details), source="; ".join(sources))
