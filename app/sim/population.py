"""The synthetic population: hidden traits, and how what a visitor is shown moves them.

Every number that shapes behaviour is a named constant here, and each is
documented in ``app/sim/__init__.py`` and the README. The visitor model reads
only generic signals off the rendered page (``app.sim.reader.Page``): topics of
the blocks above the fold, the number of visible words, the currency of the
prices. It never looks at a variant id, a layer name or a rule, so it rewards
relevance and fit, not particular variants of the demo content.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from app.sim.reader import Block, Link, Page

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

#: Country mix: an address the offline lookup places there, time zones,
#: Accept-Language choices (weight, header) and the local currency symbol.
COUNTRIES: dict[str, tuple[float, str, tuple[str, ...], tuple[tuple[float, str], ...], str]] = {
    "US": (0.35, "8.8.8.8", ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
           ((1.0, "en-US,en;q=0.9"),), "$"),
    "DE": (0.25, "5.9.0.1", ("Europe/Berlin",),
           ((0.7, "de-DE,de;q=0.9,en;q=0.8"), (0.3, "en-US,en;q=0.9")), "€"),
    "GB": (0.20, "81.2.69.160", ("Europe/London",), ((1.0, "en-GB,en;q=0.9"),), "£"),
    "IN": (0.20, "49.44.0.1", ("Asia/Kolkata",), ((1.0, "en-IN,en;q=0.9,hi;q=0.8"),), "₹"),
}  # fmt: skip

#: Where a first visit comes from when it does not land on a guide from search (weight, Referer).
SOURCES: tuple[tuple[float, str | None], ...] = (
    (0.60, None),
    (0.15, "https://www.google.com/"),
    (0.10, "https://news.ycombinator.com/"),
    (0.08, "https://www.producthunt.com/"),
    (0.07, "https://www.indiehackers.com/"),
)

#: Base propensity to sign up once on the form: Beta(2, 14), mean 0.125.
PROPENSITY_BETA = (2.0, 14.0)
#: Chance to come back on each later day: uniform in this range, per visitor.
RETURN_CHANCE = (0.10, 0.60)
#: Pages per visit before leaving: a whole number, uniform in this range.
PATIENCE = (2, 6)
#: Share of night owls, whose usual local hour is 22-01 (others: 07-21).
NIGHT_OWLS = 0.15

#: Landing page, first visit and later visits (weights).
LANDING_FIRST = {"home": 0.45, "guide": 0.35, "pricing": 0.20}
LANDING_RETURN = {"home": 0.35, "pricing": 0.35, "guides": 0.15, "guide": 0.15}

# ------------------------------------------------------------------ effects

#: Blocks that count as "above the fold": the first three on the page.
FOLD = 3
#: Visible words: a page up to LIGHT_WORDS is light (about 1.5 minutes of
#: reading on a phone), from LONG_WORDS on it is very long (2.5+ minutes).
LIGHT_WORDS = 300
LONG_WORDS = 500

#: Conversion chance on the sign-up form, added to the visitor's propensity:
EFFECT_RELEVANCE = 0.40  # x mean above-the-fold relevance of this visit's pages (0-1)
EFFECT_LIGHT_PHONE = 0.20  # x share of this visit's pages that were light, on a phone
EFFECT_LONG_PHONE = -0.20  # x share of this visit's pages that were very long, on a phone
EFFECT_LOCAL_PRICE = 0.30  # the last pricing page they saw showed their own currency
SUBMIT_BOUNDS = (0.01, 0.90)
#: The same signals on the page they are on make a call to action more tempting:
#: its link weight is multiplied by 1 + CTA_FIT x the page's fit (see ``page_fit``).
CTA_FIT = 3.0
#: A visit that suited them brings them back: the day's return chance is
#: multiplied by 1 + RETURN_FIT x the mean fit of their last visit (at most RETURN_CAP).
RETURN_FIT = 2.0
RETURN_CAP = 0.9

#: Leaving early: after a very long page on a phone, and after prices in a currency not theirs.
BOUNCE_LONG_PHONE = 0.50
ABANDON_FOREIGN_PRICE = 0.60

#: Reading: words per minute, by device.
READING_WPM = {"phone": 190, "tablet": 220, "desktop": 240}
#: Relevant pages are read further (+ this x relevance, in scroll percent) and longer (x (1 + this x relevance)).
RELEVANT_DEPTH = 20
RELEVANT_DWELL = 0.5
#: Very long pages on a phone: scroll depth multiplied by this.
LONG_PAGE_DEPTH_PHONE = 0.75

#: Link choice weights (relative).
WEIGHT_TOPIC_LINK = 3.0  # extra weight x topic match of the block a link sits in (0-1)
WEIGHT_OWN_TOPIC_GUIDE = 2.0  # a link to a guide on their topic (they read the title)
WEIGHT_READ_AGAIN = 0.3  # a guide they already read this visit
WEIGHT_CTA = (0.4, 3.0)  # a call to action: 0.4 + 3.0 x propensity
WEIGHT_NAV = {"/pricing": 0.8, "/guides": 0.8, "/": 0.3}
WEIGHT_NAV_SIGNUP = (0.2, 2.0)  # the navigation's sign-up button: 0.2 + 2.0 x propensity
WEIGHT_PRICING_UNSEEN = 2.0  # pricing links count double until pricing was seen this visit


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
    currency: str
    interest: str
    propensity: float
    return_chance: float
    patience: int
    usual_hour: int
    source: str | None
    arrival_day: int
    cookies: dict[str, str] = field(default_factory=dict)
    converted: bool = False
    visits: int = 0
    #: Whether the last pricing page they saw showed their currency (None: never saw one).
    local_price: bool | None = None
    #: Mean page fit of their last visit (see ``page_fit``).
    last_fit: float = 0.0
    #: When their last visit ended (the next one starts at least 31 minutes later).
    last_end: datetime | None = None


def make_population(seed: int, count: int, days: int, topics: tuple[str, ...], arms: tuple[str, ...]) -> list[Visitor]:
    """``count`` visitors, each with their own seeded random stream."""
    people = []
    for index in range(count):
        rng = random.Random(f"tessera-sim:{seed}:{index}")
        device = str(_pick(rng, {k: v[0] for k, v in DEVICES.items()}))
        country = str(_pick(rng, {k: v[0] for k, v in COUNTRIES.items()}))
        _, address, zones, languages, currency = COUNTRIES[country]
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
                currency=currency,
                interest=rng.choice(topics),
                propensity=rng.betavariate(*PROPENSITY_BETA),
                return_chance=rng.uniform(*RETURN_CHANCE),
                patience=rng.randint(*PATIENCE),
                usual_hour=(22 + rng.randrange(4)) % 24 if night else rng.randint(7, 21),
                source=_pick(rng, SOURCES),  # type: ignore[arg-type]
                arrival_day=rng.randrange(days),
            )
        )
    return people


# ------------------------------------------------------------- perception


def topic_match(block: Block, interest: str) -> float:
    """1 for a block about exactly their topic, 1/n for a block about n topics including it, else 0."""
    if interest not in block.topics:
        return 0.0
    return 1.0 / len(block.topics)


def relevance(page: Page, interest: str) -> float:
    """How clearly the top of the page is about what they care about (0-1)."""
    return max((topic_match(b, interest) for b in page.above_the_fold(FOLD)), default=0.0)


@dataclass
class Impression:
    """What one page left with the visitor."""

    relevance: float
    light: bool
    long: bool


def impression(page: Page, visitor: Visitor) -> Impression:
    phone = visitor.device == "phone"
    return Impression(
        relevance=relevance(page, visitor.interest),
        light=phone and page.words <= LIGHT_WORDS,
        long=phone and page.words >= LONG_WORDS,
    )


def shows_local_price(page: Page, currency: str) -> bool | None:
    """True when every price on the page is in their currency; None without prices."""
    if not page.prices:
        return None
    return all(currency in price for price in page.prices)


def page_fit(shown: Impression, local_price: bool | None) -> float:
    """How well one page suits the visitor, on the scale of the sign-up effects."""
    fit = EFFECT_RELEVANCE * shown.relevance
    fit += EFFECT_LIGHT_PHONE * shown.light + EFFECT_LONG_PHONE * shown.long
    if local_price:
        fit += EFFECT_LOCAL_PRICE
    return fit


def leaves_now(visitor: Visitor, shown: Impression, local_price: bool | None) -> bool:
    """Whether what this page showed makes them leave the site right away."""
    if shown.long and visitor.rng.random() < BOUNCE_LONG_PHONE:
        return True
    return local_price is False and visitor.rng.random() < ABANDON_FOREIGN_PRICE


def returns_today(visitor: Visitor) -> bool:
    """Whether they come back on a later day."""
    chance = visitor.return_chance * max(0.0, 1 + RETURN_FIT * visitor.last_fit)
    return visitor.rng.random() < min(RETURN_CAP, chance)


def submit_chance(visitor: Visitor, seen: list[Impression]) -> float:
    """The chance to complete the sign-up form, from what this visit showed them."""
    p = visitor.propensity
    if seen:
        n = len(seen)
        p += EFFECT_RELEVANCE * sum(i.relevance for i in seen) / n
        p += EFFECT_LIGHT_PHONE * sum(i.light for i in seen) / n
        p += EFFECT_LONG_PHONE * sum(i.long for i in seen) / n
    if visitor.local_price:
        p += EFFECT_LOCAL_PRICE
    low, high = SUBMIT_BOUNDS
    return min(high, max(low, p))


def reading(page: Page, visitor: Visitor, seen: Impression) -> tuple[int, int]:
    """Scroll depth (percent) and visible time (ms) on a page."""
    rng = visitor.rng
    depth = rng.uniform(35, 100) + RELEVANT_DEPTH * seen.relevance
    if seen.long:
        depth *= LONG_PAGE_DEPTH_PHONE
    depth_pct = int(min(100, max(5, depth)))
    words = page.words * depth_pct / 100
    seconds = words / READING_WPM[visitor.device] * 60 * (1 + RELEVANT_DWELL * seen.relevance)
    seconds *= rng.lognormvariate(0, 0.3)
    return depth_pct, int(min(30 * 60 * 1000, max(2000, seconds * 1000)))


# ---------------------------------------------------------------- choices


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
    fit: float = 0.0,
) -> Link | None:
    """The next link to follow, weighted by what the visitor cares about; None if nothing fits."""
    blocks = {b.block: b for b in page.blocks}
    candidates: list[tuple[Link, str, float]] = []
    for link in page.links:
        path = path_of(link.href)
        if path is None or path == page.path or path not in pages:
            continue
        block = blocks.get(link.block) if link.block else None
        if block is None:
            if path == "/signup":
                weight = WEIGHT_NAV_SIGNUP[0] + WEIGHT_NAV_SIGNUP[1] * visitor.propensity
            else:
                weight = WEIGHT_NAV.get(path, 0.5)
        elif link.target in ("cta", "secondary"):
            weight = (WEIGHT_CTA[0] + WEIGHT_CTA[1] * visitor.propensity) * max(0.0, 1 + CTA_FIT * fit)
        else:
            weight = 1.0 + WEIGHT_TOPIC_LINK * topic_match(block, visitor.interest)
        if path in guides and visitor.interest in guides[path]:
            weight *= WEIGHT_OWN_TOPIC_GUIDE
        if path in read:
            weight *= WEIGHT_READ_AGAIN
        if path == "/pricing" and not pricing_seen:
            weight *= WEIGHT_PRICING_UNSEEN
        candidates.append((link, path, weight))
    if not candidates:
        return None
    total = sum(w for _, _, w in candidates)
    x = visitor.rng.random() * total
    for link, _path, weight in candidates:
        x -= weight
        if x < 0:
            return link
    return candidates[-1][0]
