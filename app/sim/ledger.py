"""What really happened in a run, kept for the hidden truth and never read by a visitor.

The driver writes one ``PersonLog`` per synthetic visitor: their visits, each
page they saw (when, which blocks, read or not, clicked or not) and their
sign-up decision. Each block also carries its ``data-block`` and
``data-variant`` (read by ``app.sim.beacon``), so the truth side can join the
ledger with the app's own records; the visitor's choices never used them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from app.sim.effects import Segment


@dataclass(frozen=True, slots=True)
class SeenBlock:
    name: str  # data-block
    variant: str  # data-variant
    identity: str
    links: bool
    reached: bool
    clicked: bool


@dataclass(slots=True)
class PageLog:
    at: datetime
    path: str
    #: The page ran the beacon: a click here reaches the app's records.
    beacon: bool
    #: They could still follow a link here (not the last page a visit allows).
    clickable: bool
    blocks: list[SeenBlock]


@dataclass(slots=True)
class FormLog:
    """The sign-up decision on the form (taken whether or not they submitted)."""

    #: When the conversion is (or would have been) recorded.
    at: datetime
    #: The log-odds of submitting before any block's sign-up effect: logit(propensity).
    base: float
    submitted: bool


@dataclass(slots=True)
class VisitLog:
    segment: Segment
    pages: list[PageLog] = field(default_factory=list)
    form: FormLog | None = None

    def read(self) -> dict[str, set[str]]:
        """Identities read during the visit -> the blocks (``data-block``) they were read in."""
        found: dict[str, set[str]] = {}
        for page in self.pages:
            for block in page.blocks:
                if block.reached:
                    found.setdefault(block.identity, set()).add(block.name)
        return found


@dataclass(slots=True)
class PersonLog:
    index: int
    clickiness: float
    app_id: str | None = None
    visits: list[VisitLog] = field(default_factory=list)


@dataclass
class Ledger:
    """Everything a run did, by synthetic visitor."""

    people: list[PersonLog] = field(default_factory=list)

    def views(self) -> Iterator[tuple[PersonLog, VisitLog, PageLog]]:
        for person in self.people:
            for visit in person.visits:
                for page in visit.pages:
                    yield person, visit, page

    def identities(self) -> dict[tuple[str, str], str]:
        """(block, variant) -> the identity of its visible text, as seen most often."""
        seen: dict[tuple[str, str], Counter[str]] = {}
        for _, _, page in self.views():
            for block in page.blocks:
                seen.setdefault((block.name, block.variant), Counter())[block.identity] += 1
        return {key: counts.most_common(1)[0][0] for key, counts in seen.items()}

    def linked(self) -> dict[str, bool]:
        """Identity -> whether that block has a link to follow."""
        return {block.identity: block.links for _, _, page in self.views() for block in page.blocks}

    def trace(self) -> list[tuple[object, ...]]:
        """The behaviour, without any name the app gave: for checking that names change nothing."""
        return [
            (person.index, page.at, page.path, tuple((b.identity, b.reached, b.clicked) for b in page.blocks),
             visit.form.submitted if visit.form is not None else None)
            for person, visit, page in self.views()
        ]  # fmt: skip
