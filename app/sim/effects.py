"""The hidden world: what each piece of content does to each kind of visitor, drawn from a seed.

Nothing here knows the demo content. A block is what a person sees: its
identity is a hash of its visible text (``app.sim.reader``), so two versions
with different copy are two unrelated things, and the same copy under another
file name is the same thing. For every identity the seed draws, independently:

- a **click** effect: a shift of the log-odds that a visitor who reads the
  block follows its link or button;
- a **sign-up** effect: a shift of the log-odds that a visitor who read it
  during the visit completes the sign-up form, once they are on it.

Each effect is a sum of terms, one overall and one per value of each segment
key (device, country, returning, daypart), every term drawn on its own from a
mixture centred on zero (``Spread``): mostly small, a share larger, helpful and
harmful alike. So a version may help phones in India, do nothing on desktops
and hurt at night; which, nobody chose.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import NamedTuple

#: The visitor traits the effects vary by: what the app could observe too.
SEGMENT_KEYS = ("device", "country", "returning", "daypart")


class Segment(NamedTuple):
    """A visit's segment: the sim's own hidden values, not what the app inferred."""

    device: str  # phone, tablet, desktop
    country: str  # US, DE, GB, IN
    returning: bool  # an earlier visit happened
    daypart: str  # of the visit's start, local time: morning 05-12, afternoon 12-17, evening 17-22, night 22-05


@dataclass(frozen=True)
class Spread:
    """A mixture centred on zero: Normal(0, ``small``), or with chance ``large_share`` Normal(0, ``large``)."""

    small: float
    large: float
    large_share: float

    def draw(self, rng: random.Random) -> float:
        sigma = self.large if rng.random() < self.large_share else self.small
        return rng.gauss(0.0, sigma)

    @property
    def sd(self) -> float:
        """The standard deviation of one draw."""
        return math.sqrt((1 - self.large_share) * self.small**2 + self.large_share * self.large**2)


#: Log-odds spreads: (the overall term, each segment key's term). A block's effect for one
#: segment is the overall term plus one term per segment key: for clicks a standard deviation
#: of about 0.55 (a 10% click rate becomes 6-16% at one sd), for sign-ups about 0.3 per block
#: read (a visit reads several, and their sign-up effects add up).
SPREADS: dict[str, tuple[Spread, Spread]] = {
    "click": (Spread(0.20, 0.80, 0.15), Spread(0.12, 0.50, 0.15)),
    "signup": (Spread(0.10, 0.50, 0.10), Spread(0.07, 0.30, 0.10)),
}


def identity(text: str) -> str:
    """A block's identity: a hash of its visible text with whitespace collapsed."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


class HiddenEffects:
    """The effects of every identity, drawn lazily and reproducibly from ``seed``.

    A term depends only on (seed, kind, identity, segment key and value): never
    on the order of the questions, the traffic or any name.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._terms: dict[tuple[str, str, str], float] = {}
        self._shifts: dict[tuple[str, str, Segment], float] = {}

    def term(self, kind: str, ident: str, key: str) -> float:
        """One term: ``key`` is ``*`` (overall) or ``<segment key>=<value>``."""
        found = self._terms.get((kind, ident, key))
        if found is None:
            overall, by_segment = SPREADS[kind]
            rng = random.Random(f"tessera-sim-effects:{self.seed}:{kind}:{ident}:{key}")
            found = self._terms[(kind, ident, key)] = (overall if key == "*" else by_segment).draw(rng)
        return found

    def shift(self, kind: str, ident: str, segment: Segment) -> float:
        """The log-odds shift of ``kind`` (click or signup) that content ``ident`` has on ``segment``."""
        found = self._shifts.get((kind, ident, segment))
        if found is None:
            found = self.term(kind, ident, "*")
            for key, value in zip(SEGMENT_KEYS, segment, strict=True):
                found += self.term(kind, ident, f"{key}={str(value).lower()}")
            self._shifts[(kind, ident, segment)] = found
        return found
