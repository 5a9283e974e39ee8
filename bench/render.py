"""Page-render benchmark: personalized vs the same page with every layer off, in one run.

    python bench/render.py [--rounds 300]

Renders the home page through the real app (WSGI in process, SQLite in a
temporary folder, exposures written as in production) for a spread of visitor
contexts. Each context is rendered by two visitors: one with personalization
on, one who switched every layer off on /preferences, and the same page's
bytes and headers come from a bare Flask view (``bench/bare.py``) through the
same test client: the floor. Requests take turns between the three so
machine noise hits them alike. Also times the engine's decision alone.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.content import current_site  # noqa: E402
from app.engine import Preferences, Profile, Scores, decide  # noqa: E402
from app.web.context import RequestInfo, build_context  # noqa: E402
from bench import bare  # noqa: E402

UAS = {
    "phone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
}
IPS = {"US": "8.8.8.8", "DE": "5.9.0.1", "IN": "49.44.0.1"}
ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/Los_Angeles")
LANGS = ("en-US,en;q=0.9", "de-DE,de;q=0.8")


def contexts() -> list[dict[str, str]]:
    return [
        {"ua": ua, "ip": ip, "tz": tz, "lang": lang}
        for ua, ip, tz, lang in itertools.product(UAS.values(), IPS.values(), ZONES, LANGS)
    ]


TOPIC_GUIDES = (
    ("/guides/cookieless-measurement", "/guides/consent-without-dark-patterns"),
    ("/guides/reading-your-first-dashboard", "/guides/funnels-that-tell-the-truth"),
    ("/guides/experiments-for-small-teams", "/guides/retention-before-acquisition"),
)


def browse_as_reader(client, ctx: dict[str, str], topic: int) -> None:  # type: ignore[no-untyped-def]
    """Browse like a reader of one topic, twice on pricing, with beacon events."""
    import uuid

    headers = {"User-Agent": ctx["ua"]}
    guides = TOPIC_GUIDES[topic]
    for path in (*guides, guides[0], "/pricing", "/pricing", "/guides"):
        client.get(path, headers=headers, environ_base={"REMOTE_ADDR": ctx["ip"]})
    events = [{"id": str(uuid.uuid4()), "type": "dwell", "page": guides[0], "ms": 40_000},
              {"id": str(uuid.uuid4()), "type": "scroll", "page": guides[0], "depth": 90}]  # fmt: skip
    client.post("/events", json={"events": events}, headers={**headers, "Origin": "http://localhost"})


def give_scores(app, client, i: int) -> None:  # type: ignore[no-untyped-def]
    """Fresh batch scores for the visitor behind ``client``, as the score job writes them."""
    import json
    from datetime import UTC, datetime

    from app.extensions import db
    from app.store.models import Score

    visitor_id = json.loads(client.get("/preferences/export").get_data(as_text=True))["visitor_id"]
    affinity = [{"analytics": 0.6, "privacy": 0.2, "growth": 0.2}, {"analytics": 0.2, "privacy": 0.3, "growth": 0.5},
                {"analytics": 0.34, "privacy": 0.33, "growth": 0.33}][i % 3]  # fmt: skip
    with app.app_context():
        app.extensions["tessera.writer"].flush()  # the visitor's row, which the writer may still hold
        db.session.merge(Score(visitor_id=visitor_id, convert=(0.2, 0.8)[i % 2], churn=(0.1, 0.7)[i % 2 == 0],
                               affinity=affinity, models={"convert": 1, "churn": 1, "affinity": 1},
                               scored_at=datetime.now(UTC).replace(tzinfo=None)))  # fmt: skip
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="renders per mode")
    parser.add_argument("--path", default="/")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="give every visitor a full behavioral profile first (guides read, pricing, events)",
    )
    parser.add_argument(
        "--scores",
        action="store_true",
        help="also give every personalized visitor fresh model scores (convert, churn, affinity)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "HOLDOUT_SHARE": 0.0,
            }
        )
        pairs = []
        for ctx in contexts():
            on, off = app.test_client(), app.test_client()
            for client in (on, off):
                client.set_cookie("tz", ctx["tz"])
            off.post("/preferences", data={}, headers={"User-Agent": ctx["ua"]})  # every layer off
            if args.profile:
                for client in (on, off):
                    browse_as_reader(client, ctx, topic=len(pairs) % 3)
            if args.scores:
                give_scores(app, on, len(pairs))
            pairs.append((ctx, on, off))

        def render(client, ctx) -> float:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            response = client.get(
                args.path,
                headers={"User-Agent": ctx["ua"], "Accept-Language": ctx["lang"]},
                environ_base={"REMOTE_ADDR": ctx["ip"]},
            )
            elapsed = time.perf_counter() - start
            assert response.status_code == 200
            return elapsed

        # Warm up: content loaded, UA cache filled, SQLite pages cached.
        for ctx, on, off in pairs:
            render(on, ctx), render(off, ctx)
        # The floor: the same page's bytes and headers from a bare Flask view, through the same test client.
        sample = pairs[0][1].get(args.path, headers={"User-Agent": pairs[0][0]["ua"]},
                                 environ_base={"REMOTE_ADDR": pairs[0][0]["ip"]})  # fmt: skip
        kept = [(n, v) for n, v in sample.headers.items() if n.lower() not in ("content-length", "set-cookie")]
        floor_client = bare.make_app(sample.get_data(), kept).test_client()
        personalized, plain, floor = [], [], []
        for i in range(args.rounds):
            ctx, on, off = pairs[i % len(pairs)]
            order = ((on, personalized), (off, plain), (floor_client, floor))
            for client, times in order if i % 2 else reversed(order):
                times.append(render(client, ctx))

        with app.test_request_context("/"):
            site = current_site()
            page = site.pages[args.path]
            from datetime import UTC, datetime

            now = datetime.now(UTC).replace(tzinfo=None)
            engine_inputs = []
            for ctx in contexts():
                device = "mobile" if "iPhone" in ctx["ua"] else "tablet" if "iPad" in ctx["ua"] else "desktop"
                country = next(k for k, v in IPS.items() if v == ctx["ip"])
                info = RequestInfo(
                    method="GET",
                    path=args.path,
                    device=device,
                    visitor_id=None,
                    gpc=False,
                    timezone=ctx["tz"],
                    country=country,
                    language=ctx["lang"][:2],
                    referrer=None,
                )
                engine_inputs.append(
                    build_context(
                        info,
                        visitor_id=f"{len(engine_inputs):032x}",
                        returning=False,
                        now_utc=now,
                        server_zone=None,
                    )
                )
            prefs, profile, scores = Preferences(), Profile(), Scores()
            if args.profile:
                from app.engine.profile import ProfileFacts, build_profile, growth

                interests = {"privacy": (3.0 * growth(now), 3), "growth": (1.0 * growth(now), 1)}
                facts = ProfileFacts(visits=3, page_views=8, pricing_views=2, articles_read=3, clicks=4,
                                     scroll_total=240, scroll_samples=3, dwell_ms_total=90_000, dwell_samples=3,
                                     recent_pages=("/guides", "/pricing"), interests=interests,
                                     last_article="/guides/cookieless-measurement")  # fmt: skip
                profile = build_profile(facts, now, min_evidence=3)
            if args.scores:
                from app.engine.scores import build_scores

                scores = build_scores({"convert": 0.7, "churn": 0.2, "affinity": {"analytics": 0.2, "privacy": 0.3,
                                       "growth": 0.5}}, {"convert": 1, "churn": 1, "affinity": 1})  # fmt: skip
            # The measurement loop as it runs: every rule a test with a 10% control group, and every
            # learning block drawing from a published allocation with a segment per device.
            from app.engine.model import Allocation, Experiments

            allocations = {}
            for block, settings in site.catalog.settings.items():
                if settings.strategy != "learn":
                    continue
                ids = [site.catalog.defaults[block].id, *(v.id for v in site.catalog.conditional.get(block, ()))]
                shares = {v: 1 / len(ids) for v in ids}
                allocations[block] = Allocation(block, 1, settings.by, {f"device={d}": shares for d in
                                                ("mobile", "tablet", "desktop")}, shares)  # fmt: skip
            experiments = Experiments(control_share=0.1, allocations=allocations)
            n = len(engine_inputs) * 200
            # Best of five: the least disturbed measurement of the same work.
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                for i in range(n):
                    decide(page.spec, site.catalog, engine_inputs[i % len(engine_inputs)], profile, scores,
                           prefs, holdout_share=0.1, experiments=experiments)  # fmt: skip
                runs.append((time.perf_counter() - start) / n * 1e6)
            engine_us, engine_median = min(runs), statistics.median(runs)

    med_on, med_off, med_floor = statistics.median(personalized), statistics.median(plain), statistics.median(floor)
    kind = "with a full behavioral profile" if args.profile else "new visitors"
    if args.scores:
        kind += " and fresh model scores"
    print(f"page {args.path}: {len(pairs)} visitor contexts ({kind}), {args.rounds} renders per mode")
    for label, times in (("personalized", personalized), ("personalization off", plain),
                         ("bare bytes (floor)", floor)):  # fmt: skip
        p90 = statistics.quantiles(times, n=10)[8]
        print(f"{label:>20}: median {statistics.median(times) * 1e3:7.3f} ms   p90 {p90 * 1e3:7.3f} ms")
    print(f"ratio personalized / off (medians): {med_on / med_off:.3f}  (target <= 1.10)")
    print(f"ratio personalized / bare bytes (medians): {med_on / med_floor:.2f}  (half the floor's speed: <= 2.0)")
    print(
        f"engine decision: {engine_us:.1f} us per page, best of 5 runs of {n} "
        f"(median run {engine_median:.1f} us; with control groups and learning blocks; target < 100 us)"
    )


if __name__ == "__main__":
    main()
