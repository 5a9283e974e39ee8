"""The simulator's hidden world and what its visitors see: drawn effects, identities from visible text."""

from __future__ import annotations

import math
import random
import statistics

from app.sim.effects import SEGMENT_KEYS, SPREADS, HiddenEffects, Segment, identity
from app.sim.reader import read_page

SEGMENT = Segment("phone", "IN", False, "night")


def _identities(count: int) -> list[str]:
    rng = random.Random(1)
    return [identity(f"headline {rng.random()} body {rng.random()}") for _ in range(count)]


def test_an_identity_is_the_visible_text_with_whitespace_collapsed() -> None:
    assert identity("Start  your\n free trial ") == identity("Start your free trial")
    assert identity("Start your free trial") != identity("Start your trial")


def test_effects_are_drawn_from_the_seed_alone() -> None:
    ids = _identities(50)
    first = HiddenEffects(3)
    forward = [first.shift("click", i, SEGMENT) for i in ids]
    second = HiddenEffects(3)
    backward = [second.shift("click", i, SEGMENT) for i in reversed(ids)]
    assert forward == backward[::-1]  # the order of the questions changes nothing
    assert forward != [HiddenEffects(4).shift("click", i, SEGMENT) for i in ids]
    # Clicks and sign-ups are separate draws; so is every segment value.
    assert forward != [first.shift("signup", i, SEGMENT) for i in ids]
    assert forward != [first.shift("click", i, SEGMENT._replace(country="DE")) for i in ids]


def test_effects_are_centred_on_zero_helpful_and_harmful_alike() -> None:
    effects = HiddenEffects(11)
    for kind, (overall, by_segment) in SPREADS.items():
        shifts = [effects.shift(kind, i, SEGMENT) for i in _identities(3000)]
        expected_sd = math.sqrt(overall.sd**2 + len(SEGMENT_KEYS) * by_segment.sd**2)
        assert abs(statistics.fmean(shifts)) < 0.1 * expected_sd
        assert 0.45 < sum(s > 0 for s in shifts) / len(shifts) < 0.55
        assert 0.9 < statistics.pstdev(shifts) / expected_sd < 1.1
        # A small share of larger effects, in both directions.
        big = [s for s in shifts if abs(s) > 2 * expected_sd]
        assert 0.01 < len(big) / len(shifts) < 0.15
        assert min(big) < 0 < max(big)


def test_the_reader_sees_text_and_links_not_names() -> None:
    page = """<html><body data-beacon="/events"><nav data-locked><a href="/pricing">Pricing</a></nav><main>
    <p>Intro words here</p>
    <section data-block="home-cta" data-variant="{variant}" data-layer="{layer}" data-topics="growth">
      <h2>Start  your free trial</h2><a href="/signup" data-target="cta">Start</a>
      <details class="why" data-why><summary>Why am I seeing this?</summary><p>{why}</p>
        <a href="/preferences">Change</a></details>
    </section></main></body></html>"""
    seen = [
        read_page("/", page.format(variant=variant, layer=layer, why=why))
        for variant, layer, why in (("phone", "contextual", "Because you are on a phone."),
                                    ("x1", "default", "Something else entirely"))
    ]  # fmt: skip
    a, b = seen
    assert [blk.identity for blk in a.blocks] == [blk.identity for blk in b.blocks]
    (block,) = a.blocks
    assert block.identity == identity("Start your free trial Start")
    assert block.start == 3 and block.words == 5
    assert [link.href for link in block.links] == ["/signup"]  # the folded note's link is not visible
    assert [link.href for link in a.links] == ["/pricing", "/signup"]
    assert [link.block for link in a.links] == [None, 0]
