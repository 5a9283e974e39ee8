"""The synthetic population: hidden traits, and how a visitor reads, clicks, moves on and signs up.

Every number that shapes behaviour is a named constant here, documented in
``app/sim/__init__.py`` and the README. A visitor acts only on what it sees
(``app.sim.reader.Page``: visible text, where sections begin, links) and on
the hidden effects of what it read (``app.sim.effects``), which are keyed by
the visible text and drawn from a seed. Nothing here names a page's block,
variant, layer or rule, and nothing is tuned to the demo content.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from app.sim.effects import HiddenEffects, Segment, logit, sigmoid
from app.sim.reader import Link, Page

# ------------------------------------------------------------------ traits

#: Device mix and a real User-Agent string for each (several per class).
DEVICES: dict[str, tuple[float, tuple[str, ...]]] = {
    "phone": (0.50, (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    )),
    "desktop": (0.40, (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    )),
    "tablet": (0.10, (
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    )),
}  # fmt: skip

#: Country mix: an address the offline lookup places there, time zones and
#: Accept-Language choices (weight, header).
COUNTRIES: dict[str, tuple[float, str, tuple[str, ...], tuple[tuple[float, str], ...]]] = {
    "US": (0.35, "8.8.8.8", ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
           ((1.0, "en-US,en;q=0.9"),)),
    "DE": (0.25, "5.9.0.1", ("Europe/Berlin",), ((0.7, "de-DE,de;q=0.9,en;q=0.8"), (0.3, "en-US,en;q=0.9"))),
    "GB": (0.20, "81.2.69.160", ("Europe/London",), ((1.0, "en-GB,en;q=0.9"),)),
    "IN": (0.20, "49.44.0.1", ("Asia/Kolkata",), ((1.0, "en-IN,en;q=0.9,hi;q=0.8"),)),
}  # fmt: skip

#: Where a first visit comes from when it does not land on a guide from search (weight, Referer).
SOURCES: tuple[tuple[float, str | None], ...] = (
    (0.60, None),
    (0.15, "https://www.google.com/"),
    (0.10, "https://news.ycombinator.com/"),
    (0.08, "https://www.producthunt.com/"),
    (0.07, "https://www.indiehackers.com/"),
)

#: The chance to complete the sign-up form once on it, before what they read: Beta(2, 8), mean 0.2.
PROPENSITY_BETA = (2.0, 8.0)
#: How readily someone follows links: a log-odds offset per visitor, Normal(0, this).
CLICKINESS_SD = 0.5
#: Chance to come back on each later day: uniform in this range, per visitor.
RETURN_CHANCE = (0.10, 0.60)
#: Pages per visit after which they stop browsing on their own (a whole number, uniform).
PATIENCE = (2, 6)
#: Pages per visit at most, following links in blocks included; on the last one they click nothing.
MAX_PAGES = 10
#: Share of night owls, whose usual local hour is 22-01 (others: 07-21).
NIGHT_OWLS = 0.15

#: Landing page, first visit and later visits (weights).
LANDING_FIRST = {"home": 0.45, "guide": 0.35, "pricing": 0.20}
LANDING_RETURN = {"home": 0.35, "pricing": 0.35, "guides": 0.15, "guide": 0.15}

# ------------------------------------------------------------------ reading and clicking

#: Words read down a page, per page view: log-normal with this median and sigma. A block is
#: read when it begins within them (blocks lower down are read less, whatever they say).
READ_WORDS = (500.0, 0.6)
#: The chance to follow a link or button in a block they read, before its hidden effect and their clickiness.
BASE_CLICK = 0.10
#: Reading speed, words a minute, by device; visible time is the words read at that speed x log-normal(0, 0.3).
READING_WPM = {"phone": 190, "tablet": 220, "desktop": 240}

#: Links outside blocks (navigation, guide cards, back links), when they did not follow one in a
#: block and have patience left (relative weights).
WEIGHT_NAV = {"/guides": 0.8, "/": 0.3}
#: Intent shows: those likelier to sign up look at prices and the sign-up button more (base + slope x propensity).
WEIGHT_NAV_PRICING = (0.4, 2.0)
WEIGHT_NAV_SIGNUP = (0.1, 1.0)
WEIGHT_OTHER = 0.5  # any other page of the site
WEIGHT_OWN_TOPIC_GUIDE = 2.0  # a guide on their topic
WEIGHT_READ_AGAIN = 0.3  # a guide they already read this visit
WEIGHT_PRICING_UNSEEN = 2.0  # pricing counts double until seen this visit


def _pick(rng: random.Random, weighted: dict[str, float] | tuple[tuple[float, object], ...]) -> object:
    items = list(weighted.items()) if isinstance(weighted, dict) else [(v, w) for w, v in weighted]
    total = sum(w for _, w in items)
    x = rng.random() * total
    for value, weight in items:
        x -= weight
        if x < 0:
            return value
    return items[-1][0]


@dataclass
class Visitor:
    """One simulated person: hidden traits, an arm and a private random stream."""

    index: int
    rng: random.Random
    arm: str
    device: str
    user_agent: str
    country: str
    address: str
    zone: str
    language: str
    interest: str
    propensity: float
    clickiness: float
    return_chance: float
    patience: int
    usual_hour: int
    source: str | None
    arrival_day: int
    cookies: dict[str, str] = field(default_factory=dict)
    converted: bool = False
    visits: int = 0
    #: When their last visit ended (the next one starts at least 31 minutes later).
    last_end: datetime | None = None


def make_population(seed: int, count: int, days: int, topics: tuple[str, ...], arms: tuple[str, ...]) -> list[Visitor]:
    """``count`` visitors, each with their own seeded random stream."""
    people = []
    for index in range(count):
        rng = random.Random(f"tessera-sim:{seed}:{index}")
        device = str(_pick(rng, {k: v[0] for k, v in DEVICES.items()}))
        country = str(_pick(rng, {k: v[0] for k, v in COUNTRIES.items()}))
        _, address, zones, languages = COUNTRIES[country]
        night = rng.random() < NIGHT_OWLS
        people.append(
            Visitor(
                index=index,
                rng=rng,
                arm=arms[rng.randrange(len(arms))],
                device=device,
                user_agent=rng.choice(DEVICES[device][1]),
                country=country,
                address=address,
                zone=rng.choice(zones),
                language=str(_pick(rng, languages)),
                interest=rng.choice(topics),
                propensity=rng.betavariate(*PROPENSITY_BETA),
                clickiness=rng.gauss(0.0, CLICKINESS_SD),
                return_chance=rng.uniform(*RETURN_CHANCE),
                patience=rng.randint(*PATIENCE),
                usual_hour=(22 + rng.randrange(4)) % 24 if night else rng.randint(7, 21),
                source=_pick(rng, SOURCES),  # type: ignore[arg-type]
                arrival_day=rng.randrange(days),
            )
        )
    return people


def daypart(hour: int) -> str:
    """morning 05-12, afternoon 12-17, evening 17-22, night 22-05 (local time)."""
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


# ------------------------------------------------------------- reading and choices


def words_read(visitor: Visitor) -> float:
    """How far down this page they read, in words."""
    median, sigma = READ_WORDS
    return median * visitor.rng.lognormvariate(0.0, sigma)


def click_chance(clickiness: float, ident: str, segment: Segment, effects: HiddenEffects) -> float:
    """The chance that someone that clicky follows a link in a block with identity ``ident`` that they read."""
    return sigmoid(logit(BASE_CLICK) + clickiness + effects.shift("click", ident, segment))


@dataclass
class Walk:
    """One page read top to bottom: which blocks they read, and the link they followed in one, if any."""

    reached: list[bool]
    clicked: int | None = None
    link: Link | None = None


def walk(page: Page, visitor: Visitor, segment: Segment, effects: HiddenEffects, budget: float,
         clickable: bool) -> Walk:  # fmt: skip
    """Read the blocks that begin within ``budget`` words, top to bottom; in each one with a link,
    follow it with its click chance (then the rest of the page is not read)."""
    result = Walk(reached=[])
    for index, block in enumerate(page.blocks):
        if result.clicked is not None or block.start >= budget:
            result.reached.append(False)
            continue
        result.reached.append(True)
        chance = click_chance(visitor.clickiness, block.identity, segment, effects) if block.links else 0.0
        if clickable and block.links and visitor.rng.random() < chance:
            result.clicked = index
            result.link = visitor.rng.choice(block.links)
    return result


def signup_chance(base: float, read: Iterable[str], segment: Segment, effects: HiddenEffects) -> float:
    """The chance to complete the sign-up form: sigmoid of ``base`` (the log-odds of their propensity)
    plus the sign-up effects of every distinct block (by identity) they read during this visit."""
    return sigmoid(base + sum(effects.shift("signup", ident, segment) for ident in read))


def reading(page: Page, visitor: Visitor, budget: float) -> tuple[int, int]:
    """Scroll depth (percent) and visible time (ms) on a page."""
    words = min(budget, float(page.words))
    depth = 100 if page.words == 0 else int(max(5, min(100, 100 * budget / page.words)))
    seconds = words / READING_WPM[visitor.device] * 60 * visitor.rng.lognormvariate(0, 0.3)
    return depth, int(min(20 * 60 * 1000, max(2000, seconds * 1000)))


def landing(visitor: Visitor, guides: dict[str, tuple[str, ...]]) -> str:
    """Where a visit starts: home, pricing, the guides index or a guide on their topic."""
    choice = _pick(visitor.rng, LANDING_FIRST if visitor.visits == 0 else LANDING_RETURN)
    if choice == "guide":
        own = sorted(path for path, topics in guides.items() if visitor.interest in topics)
        return visitor.rng.choice(own) if own else "/"
    return {"home": "/", "pricing": "/pricing", "guides": "/guides"}[str(choice)]


def path_of(href: str) -> str | None:
    """The site path a link leads to (None for another site, a mail link or a same-page anchor)."""
    if not href.startswith("/") or href.startswith("//"):
        return None
    path = href.split("#", 1)[0].split("?", 1)[0]
    return path.rstrip("/") or "/"


def choose_link(
    page: Page,
    visitor: Visitor,
    *,
    pages: set[str],
    guides: dict[str, tuple[str, ...]],
    read: set[str],
    pricing_seen: bool,
) -> Link | None:
    """A link outside the blocks to go on with (navigation, guide cards), by plain preferences; None if none fits.

    A guide's topic stands for what a person gathers from its title (``pages/``'s topics, not a block's).
    """
    candidates: list[tuple[Link, float]] = []
    for link in page.links:
        path = path_of(link.href)
        if link.block is not None or path is None or path == page.path or path not in pages:
            continue
        if path == "/signup":
            weight = WEIGHT_NAV_SIGNUP[0] + WEIGHT_NAV_SIGNUP[1] * visitor.propensity
        elif path == "/pricing":
            weight = WEIGHT_NAV_PRICING[0] + WEIGHT_NAV_PRICING[1] * visitor.propensity
        else:
            weight = WEIGHT_NAV.get(path, WEIGHT_OTHER)
        if path in guides and visitor.interest in guides[path]:
            weight *= WEIGHT_OWN_TOPIC_GUIDE
        if path in read:
            weight *= WEIGHT_READ_AGAIN
        if path == "/pricing" and not pricing_seen:
            weight *= WEIGHT_PRICING_UNSEEN
        candidates.append((link, weight))
    if not candidates:
        return None
    total = sum(w for _, w in candidates)
    x = visitor.rng.random() * total
    for link, weight in candidates:
        x -= weight
        if x < 0:
            return link
    return candidates[-1][0]


def returns_today(visitor: Visitor) -> bool:
    """Whether they come back on a later day (a trait: what they saw does not change it)."""
    return visitor.rng.random() < visitor.return_chance
