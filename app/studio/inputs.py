"""A preview's inputs: every field of the form, read from query parameters, so that a preview is a URL.

Each field has a default, and a value that is not valid is reported by field
in words (the form shows it again with the message), never guessed.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode, urlsplit

from app.content import Site
from app.web.context import country_names, country_zones, daypart, valid_zone

DEVICES = ("mobile", "tablet", "desktop", "other", "bot")
DEVICE_WORDS = {"mobile": "a phone", "tablet": "a tablet", "desktop": "a computer", "other": "an unknown device",
                "bot": "a bot"}  # fmt: skip
#: How the preview meets the rules' tests: everyone treated, everyone in control, or one visitor id's sticky arms.
ARMS = ("treated", "control", "visitor")
LAYERS = ("contextual", "behavioral", "predictive")
DEFAULT_VISITOR = "studio-preview"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,8}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_WHY = re.compile(r"^[\w-]{1,80}/[\w-]{1,80}$")


@dataclass(frozen=True)
class Persona:
    """What the visitor did before this page: the behavioral layer's raw facts."""

    guides: int = 0
    topic: str | None = None
    pricing_views: int = 0
    converted: bool = False


@dataclass(frozen=True)
class ScoreInputs:
    """What the models would say about the visitor (empty: no fresh score)."""

    convert: float | None = None
    churn: float | None = None
    next_topic: str | None = None
    next_topic_p: float = 0.6


@dataclass(frozen=True)
class PreviewInputs:
    """Everything a preview is made from. ``zone`` is the zone used; ``tz`` the one asked for ("" for the country's)."""

    page: str = "/"
    device: str = "desktop"
    day: date = date(2026, 1, 1)
    clock: time = time(12, 0)
    tz: str = ""
    country: str = ""
    language: str = ""
    referrer: str = ""
    returning: bool = False
    layers: tuple[bool, bool, bool] = (True, True, True)
    holdout: bool = False
    arm: str = "treated"
    visitor: str = DEFAULT_VISITOR
    persona: Persona = field(default_factory=Persona)
    scores: ScoreInputs = field(default_factory=ScoreInputs)
    why: str = ""

    @property
    def zone(self) -> str:
        return self.tz or country_zones().get(self.country, "") or "UTC"

    @property
    def local(self) -> datetime:
        return datetime.combine(self.day, self.clock, tzinfo=zoneinfo.ZoneInfo(self.zone))

    @property
    def now_utc(self) -> datetime:
        """The chosen moment in naive UTC: the engine's ``now`` (schedules)."""
        return self.local.astimezone(UTC).replace(tzinfo=None)

    def query(self, **changes: str) -> dict[str, str]:
        """The query parameters that give this preview again (empty fields left out)."""
        persona, scores = self.persona, self.scores
        values = {
            "page": self.page,
            "device": self.device,
            "date": self.day.isoformat(),
            "time": self.clock.strftime("%H:%M"),
            "tz": self.tz,
            "country": self.country,
            "language": self.language,
            "referrer": self.referrer,
            "returning": "yes" if self.returning else "no",
            **{name: "on" if on else "off" for name, on in zip(LAYERS, self.layers, strict=True)},
            "holdout": "on" if self.holdout else "off",
            "arm": self.arm,
            "visitor": self.visitor if self.visitor != DEFAULT_VISITOR else "",
            "guides": str(persona.guides) if persona.guides else "",
            "topic": persona.topic or "",
            "pricing": str(persona.pricing_views) if persona.pricing_views else "",
            "converted": "yes" if persona.converted else "",
            "convert": _number(scores.convert),
            "churn": _number(scores.churn),
            "next": scores.next_topic or "",
            "next_p": _number(scores.next_topic_p) if scores.next_topic else "",
            "why": self.why,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value != ""}

    def url(self, path: str, **changes: str) -> str:
        return f"{path}?{urlencode(self.query(**changes))}"

    def describe(self) -> str:
        """One line for people: who is previewed, where and when."""
        where = country_names().get(self.country, self.country) if self.country else "an unknown country"
        local = self.local
        parts = [
            f"{DEVICE_WORDS[self.device]} in {where}",
            f"{local:%A %Y-%m-%d %H:%M} ({self.zone}, {daypart(local.hour)})",
        ]
        if self.language:
            parts.append(f"language {self.language}")
        if self.referrer:
            parts.append(f"from {self.referrer}")
        parts.append("returning" if self.returning else "first visit")
        persona = self.persona
        if persona.guides:
            parts.append(f"read {persona.guides} guides" + (f" mostly about {persona.topic}" if persona.topic else ""))
        if persona.pricing_views:
            parts.append(f"saw pricing {persona.pricing_views}×")
        if persona.converted:
            parts.append("signed up")
        scores = self.scores
        for name, value in (("convert", scores.convert), ("churn", scores.churn)):
            if value is not None:
                parts.append(f"score {name} {value:g}")
        if scores.next_topic:
            parts.append(f"model expects {scores.next_topic} ({scores.next_topic_p:g})")
        off = [name for name, on in zip(LAYERS, self.layers, strict=True) if not on]
        if off:
            parts.append("off: " + ", ".join(off))
        if self.holdout:
            parts.append("in the holdout")
        parts.append({"treated": "treated in every test", "control": "in every rule's control group",
                      "visitor": f"arms of visitor {self.visitor}"}[self.arm])  # fmt: skip
        return " · ".join(parts)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def parse(args: Mapping[str, str], site: Site, now_utc: datetime) -> tuple[PreviewInputs, dict[str, str]]:
    """Read the query; missing fields take their defaults, invalid ones are reported by field."""
    errors: dict[str, str] = {}

    def text(name: str, limit: int = 100) -> str:
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = f"may be at most {limit} characters"
            return ""
        return value

    def choice(name: str, options: tuple[str, ...], default: str) -> str:
        value = text(name) or default
        if value not in options:
            errors[name] = f"must be one of {', '.join(options)}"
            return default
        return value

    def count(name: str) -> int:
        value = text(name)
        if not value:
            return 0
        if not value.isdigit() or int(value) > 10_000:
            errors[name] = "must be a whole number from 0 to 10000"
            return 0
        return int(value)

    def share(name: str) -> float | None:
        value = text(name)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0.0 <= number <= 1.0:
            errors[name] = "must be a number from 0 to 1, such as 0.8"
            return None
        return number

    def topic(name: str) -> str | None:
        value = text(name)
        if value and value not in site.topics:
            errors[name] = f"must be one of the site's topics: {', '.join(site.topics)}"
            return None
        return value or None

    page = text("page", 200) or "/"
    if page not in site.pages:
        errors["page"] = f"there is no page at {page}"
    tz = text("tz", 64)
    if tz and valid_zone(tz) is None:
        errors["tz"] = f"'{tz}' is not a time zone such as Europe/Berlin"
        tz = ""
    country = text("country").upper()
    if country and not _COUNTRY.match(country):
        errors["country"] = "must be a two-letter country code such as DE, or empty for unknown"
        country = ""
    language = text("language").lower()
    if language and not _LANGUAGE.match(language):
        errors["language"] = "must be a language code such as de, or empty"
        language = ""
    referrer = _host(text("referrer", 200).lower())
    if referrer is None:
        errors["referrer"] = "must be a host name such as news.ycombinator.com, or empty for a direct visit"
        referrer = ""
    # Unless chosen, the date and time are now, in the visitor's zone.
    zone = tz or country_zones().get(country, "") or "UTC"
    local = now_utc.replace(tzinfo=UTC).astimezone(zoneinfo.ZoneInfo(zone))
    day, clock = local.date(), time(local.hour, local.minute)
    if args.get("date"):
        try:
            day = date.fromisoformat(text("date"))
        except ValueError:
            errors["date"] = "must be a date such as 2026-12-05"
    if args.get("time"):
        try:
            clock = time.fromisoformat(text("time")).replace(second=0, microsecond=0, tzinfo=None)
        except ValueError:
            errors["time"] = "must be a time such as 23:00"
    arm = choice("arm", ARMS, "treated")
    visitor = text("visitor", 64) or DEFAULT_VISITOR
    why = text("why", 170)
    if why and not _WHY.match(why):
        errors["why"] = "must name a variant as block/variant"
        why = ""
    next_topic = topic("next")
    inputs = PreviewInputs(
        page=page,
        device=choice("device", DEVICES, "desktop"),
        day=day,
        clock=clock,
        tz=tz,
        country=country,
        language=language,
        referrer=referrer,
        returning=choice("returning", ("yes", "no"), "no") == "yes",
        layers=tuple(choice(name, ("on", "off"), "on") == "on" for name in LAYERS),  # type: ignore[arg-type]
        holdout=choice("holdout", ("on", "off"), "off") == "on",
        arm=arm,
        visitor=visitor,
        persona=Persona(
            guides=count("guides"),
            topic=topic("topic"),
            pricing_views=count("pricing"),
            converted=choice("converted", ("yes", "no"), "no") == "yes",
        ),
        scores=ScoreInputs(
            convert=share("convert"),
            churn=share("churn"),
            next_topic=next_topic,
            next_topic_p=(share("next_p") or 0.6) if next_topic else 0.6,
        ),
        why=why,
    )
    return inputs, errors


def _host(value: str) -> str | None:
    """A referrer as the engine sees it: the host name only ("" for none, None when it is not one)."""
    if not value:
        return ""
    host = urlsplit(value if "//" in value else "//" + value).hostname or ""
    return host if _HOST.match(host) else None


# ---------------------------------------------------------------- personas


@dataclass(frozen=True)
class Preset:
    """A named visitor for the preview's shortcuts and the coverage matrix."""

    name: str
    persona: Persona = field(default_factory=Persona)
    scores: ScoreInputs = field(default_factory=ScoreInputs)
    returning: bool = False

    def apply(self, inputs: PreviewInputs) -> PreviewInputs:
        return replace(inputs, persona=self.persona, scores=self.scores, returning=self.returning)


def presets(topics: tuple[str, ...]) -> list[Preset]:
    """The common visitors beyond context: new, returning, a reader of each topic, plan comparers, customers,
    and what the models may say."""
    found = [Preset("new visitor"), Preset("returning visitor", returning=True)]
    found += [Preset(f"reads {t} guides", Persona(guides=3, topic=t), returning=True) for t in topics]
    found += [
        Preset("compares plans", Persona(guides=1, pricing_views=2), returning=True),
        Preset("signed up", Persona(guides=2, pricing_views=1, converted=True), returning=True),
        Preset("likely to convert", scores=ScoreInputs(convert=0.8)),
        Preset("likely to churn", scores=ScoreInputs(churn=0.75), returning=True),
    ]
    found += [Preset(f"model expects {t}", scores=ScoreInputs(next_topic=t, next_topic_p=0.7)) for t in topics]
    return found


def next_weekday(day: date, weekend: bool) -> date:
    """``day`` itself when it is the right kind of day, else the next one that is."""
    while (day.weekday() >= 5) != weekend:
        day += timedelta(days=1)
    return day
