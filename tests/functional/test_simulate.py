"""``flask simulate``: seeded traffic through the real app, and a lift report from its own records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.sim import lift_report, run_simulation
from app.sim.report import newcombe, wilson
from app.store.models import Conversion, Exposure, Visitor
from tests.conftest import dispose, make_app

FAST = {"RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9}

#: Big enough that the lift is clear for every seed tried (seeds 1-10 with 300 visitors, and again
#: with 400: the lower bound of the 95% interval was +2.5 to +10.8 points; seed 7 here: +4.9),
#: small enough to run in about 15 s.
POWERED = {"visitors": 300, "days": 3, "seed": 7, "holdout": 0.5}


def stored_counts() -> dict[str, int]:
    """What the database itself says, counted independently of the report's queries."""
    return {
        "visitors": db.session.scalar(select(func.count(func.distinct(Exposure.visitor_id)))) or 0,
        "holdout": db.session.scalar(
            select(func.count(func.distinct(Exposure.visitor_id))).where(Exposure.holdout.is_(True))
        )
        or 0,
        "converted": db.session.scalar(
            select(func.count(func.distinct(Conversion.visitor_id))).where(Conversion.goal == "signup")
        )
        or 0,
        "visitor_rows": db.session.scalar(select(func.count()).select_from(Visitor)) or 0,
    }


@pytest.fixture(scope="module")
def powered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
    """One well-powered run; the report and the database's own counts, taken right after it."""
    app = make_app(tmp_path_factory.mktemp("powered"), HOLDOUT_SHARE=POWERED["holdout"], **FAST)
    report = run_simulation(app, **POWERED)  # type: ignore[arg-type]
    with app.app_context():
        counts = stored_counts()
    dispose(app)
    yield report, counts


def test_personalized_visitors_convert_better_than_the_holdout(powered: tuple[dict[str, Any], dict[str, int]]) -> None:
    report, _ = powered
    lift = report["lift"]["personalized"]
    holdout, personalized = report["groups"]["holdout"], report["groups"]["personalized"]
    # A statistical check, not a number: the whole 95% interval of the lift is above zero.
    assert lift["low"] > 0, report
    assert personalized["conversion"]["rate"] > holdout["conversion"]["rate"]
    assert lift["low"] < lift["difference"] < lift["high"]
    # Both groups are well populated, and so is every arm.
    assert holdout["visitors"] > 100 and personalized["visitors"] > 100
    for arm in ("all layers", "contextual+behavioral", "contextual only"):
        assert report["groups"][arm]["visitors"] > 30
        assert report["lift"][arm] is not None


def test_the_report_matches_the_database(powered: tuple[dict[str, Any], dict[str, int]]) -> None:
    report, counts = powered
    groups = report["groups"]
    assert report["visitors"] == counts["visitors"] == counts["visitor_rows"] == POWERED["visitors"]
    assert groups["holdout"]["visitors"] == counts["holdout"]
    assert groups["holdout"]["visitors"] + groups["personalized"]["visitors"] == counts["visitors"]
    arms = [name for name in groups if name not in ("holdout", "personalized")]
    assert sum(groups[a]["visitors"] for a in arms) == groups["personalized"]["visitors"]
    assert report["converted"] == counts["converted"] == report["simulation"]["signups"]
    assert groups["holdout"]["converted"] + groups["personalized"]["converted"] == counts["converted"]
    # Every beacon event the simulated browsers sent was valid for the pages they were on.
    assert report["simulation"]["events_sent"] > 0 and report["simulation"]["events_rejected"] == 0
    # Contextual-only visitors allow no behavioral layer: their pages carry no beacon, so no dwell.
    assert groups["contextual only"]["dwell_seconds"] is None
    assert groups["all layers"]["dwell_seconds"]["n"] == groups["all layers"]["visitors"]


def test_the_same_seed_gives_the_same_report(tmp_path: Path) -> None:
    reports = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        app = make_app(folder, HOLDOUT_SHARE=0.25, **FAST)
        reports.append(run_simulation(app, visitors=40, days=2, seed=11, holdout=0.25))
        assert lift_report(app) == {k: v for k, v in reports[-1].items() if k != "simulation"}
        dispose(app)
    assert reports[0] == reports[1]
    assert reports[0]["visitors"] == 40 and reports[0]["simulation"]["requests"] > 40


def test_the_command_fills_the_database_and_prints_the_table(tmp_path: Path) -> None:
    app = make_app(tmp_path, **FAST)
    result = app.test_cli_runner().invoke(args=["simulate", "--visitors", "40", "--days", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Simulating 40 visitors over 2 days (seed 7, holdout 25%)" in out
    assert "0 rejected" in out
    for heading in ("group", "visitors", "conversion [95% CI]", "pages/visitor", "dwell s/visitor"):
        assert heading in out
    for group in ("holdout", "personalized", "all layers", "contextual+behavioral", "contextual only"):
        assert group in out
    assert "Lift by layer" in out and " pts [" in out
    report = lift_report(app)
    assert report["visitors"] == 40
    # --report-only reads the same records and prints the same table, without adding traffic.
    again = app.test_cli_runner().invoke(args=["simulate", "--report-only"])
    assert again.exit_code == 0, again.output
    assert "Simulating" not in again.output
    assert out.split("Report over", 1)[1] == again.output.split("Report over", 1)[1]
    assert lift_report(app) == report
    dispose(app)


def test_intervals_match_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17: 56/70 vs 48/80 -> +0.2000 [0.0524, 0.3339].
    difference, low, high = newcombe(56, 70, 48, 80)  # type: ignore[misc]
    assert (round(difference, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)
    # Wilson: 0 of 10 -> [0, 0.2775]; an empty group has no interval.
    rate, low, high = wilson(0, 10)  # type: ignore[misc]
    assert (rate, low, round(high, 4)) == (0.0, 0.0, 0.2775)
    assert wilson(0, 0) is None and newcombe(1, 2, 0, 0) is None
