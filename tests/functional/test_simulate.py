"""``flask simulate``: seeded traffic through the real app, blind to names, and the truth next to the measurements."""

from __future__ import annotations

import ast
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import app.sim.driver as driver_module
from app import create_app
from app.extensions import db
from app.sim import run_simulation
from app.sim.driver import SimulationError, simulate
from app.sim.effects import HiddenEffects
from app.sim.report import format_report
from app.store.models import Conversion, Decision, Exposure, Visitor
from tests.conftest import ROOT, dispose, make_app

FAST = {"RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9}
#: Rules run with a control group, so that the report has tests to put next to the truth.
MEASURED = {**FAST, "RULE_CONTROL_SHARE": 0.3, "RULE_MIN_SAMPLE": 30}
SMALL = {"visitors": 200, "days": 2, "seed": 5, "effects_seed": 318, "holdout": 0.25}
SIM = ROOT / "app" / "sim"


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
        "tested": db.session.scalar(select(func.count()).select_from(Decision).where(Decision.test.is_not(None))) or 0,
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
    """One small seeded run: the report and the database's own counts, taken right after it."""
    app = make_app(tmp_path_factory.mktemp("small"), **MEASURED)
    report = run_simulation(app, **SMALL)  # type: ignore[arg-type]
    with app.app_context():
        counts = stored_counts()
    dispose(app)
    yield report, counts


# ------------------------------------------------------------------ blind to names


def _code(path: Path) -> tuple[list[str], list[str]]:
    """A module's string literals (docstrings left out) and identifiers."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and id(n) not in docstrings]  # fmt: skip
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    names += [n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)]
    return strings, names


def test_the_visitor_model_reads_no_names() -> None:
    """What decides a simulated visitor's behaviour never reads a name the app gave (a static check)."""
    for module in ("reader.py", "population.py", "effects.py"):
        strings, names = _code(SIM / module)
        for text in strings:
            for name in ("data-variant", "data-layer", "data-why", "data-topics", "data-target", "data-component",
                         "content_variants", ".yaml"):  # fmt: skip
                assert name not in text, f"{module} reads {name}"
        for name in names:
            for word in ("variant", "layer", "rule", "catalog", "beacon", "ledger"):
                assert word not in name.lower(), f"{module} uses {name}"
    # The reader uses data-block only to find where a block's element begins, never its value.
    strings, _ = _code(SIM / "reader.py")
    assert "data-block" in strings
    assert 'a["data-block"]' not in (SIM / "reader.py").read_text()
    assert 'get("data-block"' not in (SIM / "reader.py").read_text()


def _scrambled(text: str) -> str:
    """The same page with every name the app gave replaced by gibberish of the same length."""
    rng = random.Random(0)

    def garble(match: re.Match[str]) -> str:
        value = "".join(rng.choice("qxzjkv") for _ in match[2])
        return f'{match[1]}="{value}"'

    return re.sub(r'(data-(?:block|variant|layer|topics|target|component))="([^"]*)"', garble, text)


def test_names_on_the_page_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scramble every data-* name in what the visitor reads: the visits are exactly the same.

    (The page script, ``app.sim.beacon``, still reads the real page: the beacon contract needs the names.)
    """
    traces = []
    plain = driver_module.read_page
    for name, read in (("plain", plain), ("scrambled", lambda path, text: plain(path, _scrambled(text)))):
        monkeypatch.setattr(driver_module, "read_page", read)
        folder = tmp_path / name
        folder.mkdir()
        app = make_app(folder, HOLDOUT_SHARE=0.25, **FAST)
        tally, ledger = simulate(app, visitors=60, days=2, seed=3, effects=HiddenEffects(3), jobs=False)
        dispose(app)
        assert tally.events_rejected == 0
        traces.append(ledger.trace())
    assert traces[0] == traces[1]
    assert len(traces[0]) > 60 and any(any(clicked for _, _, clicked in t[3]) for t in traces[0])


def test_renaming_a_variant_file_keeps_the_behaviour(tmp_path: Path, content_root: Path) -> None:
    """Same visible text under another file name: the same hidden effects, the same visits."""
    traces, shown = [], []
    for name in ("before", "after"):
        if name == "after":
            folder = content_root / "content_variants" / "home-hero"
            shutil.move(folder / "morning.yaml", folder / "early-bird.yaml")
        base = tmp_path / name
        base.mkdir()
        app = make_app(base, HOLDOUT_SHARE=0.0, CONTENT_ROOT=str(content_root), **FAST)
        _, ledger = simulate(app, visitors=80, days=2, seed=9, effects=HiddenEffects(9), jobs=False)
        traces.append(ledger.trace())
        shown.append({b.variant for _, _, page in ledger.views() for b in page.blocks if b.name == "home-hero"})
        dispose(app)
    assert traces[0] == traces[1]
    assert "morning" in shown[0] and "early-bird" in shown[1] and "morning" not in shown[1]


# ------------------------------------------------------------------ the report


def test_the_report_puts_the_truth_next_to_the_measurements(small: tuple[dict[str, Any], dict[str, int]]) -> None:
    report, counts = small
    truth = report["truth"]
    assert truth["unmatched_rows"] == 0  # every decision the app logged was found in the run's ledger
    rules = truth["rules"]
    assert rules and counts["tested"] > 0
    measured = [r for r in rules if r["measured"] is not None and r["true"] is not None]
    assert measured
    for rule in measured:
        assert rule["measured"]["low"] <= rule["measured"]["difference"] <= rule["measured"]["high"]
        # The status follows the always-valid interval, which is never narrower than the one-look one.
        sequence = rule["sequence"]
        assert sequence["low"] <= rule["measured"]["low"] and sequence["high"] >= rule["measured"]["high"]
        assert -1 <= rule["true"] <= 1
        assert rule["segments"]
    coverage = truth["coverage"]
    assert coverage["rules"]["of"] > 0 and 0 <= coverage["rules"]["covered"] <= coverage["rules"]["of"]
    learning = {b["block"]: b for b in truth["learning"]}
    assert set(learning) == {"home-cta", "pricing-testimonial"}
    overall = learning["home-cta"]["segments"][0]
    assert overall["segment"] == "*" and overall["best"] is not None
    assert any(c["true"] is not None and c["visitors"] > 0 for c in overall["candidates"])
    assert abs(sum(c["share"] for c in overall["candidates"]) - 1) < 1e-6  # the served allocation

    text = format_report(report)
    assert text.startswith("SYNTHETIC TRAFFIC: every visitor below was simulated")
    for heading in ("How often the app's 95% intervals contained the hidden truth", "Rules the learn job paused:",
                    "Helpful rules wrongly paused:", "Holdout vs personalized", "their choice, not a randomized",
                    "Blocks shown to personalized visitors, by the layer", "measured lift [95% CI]",
                    "always-valid [95%]", "true lift", "Learning blocks:", "posterior [95%]", "true rate", "true gain",
                    "truly best"):  # fmt: skip
        assert heading in text, heading
    rule = measured[0]
    assert re.search(rf"^{re.escape(rule['rule'])} .* pts \[.*\] .* pts ", text, re.M)
    assert f"rule tests still running, lift against control:  {coverage['rules']['covered']} of " in text


def test_the_report_matches_the_database(small: tuple[dict[str, Any], dict[str, int]]) -> None:
    report, counts = small
    groups = report["groups"]
    assert report["visitors"] == counts["visitors"] == counts["visitor_rows"] == SMALL["visitors"]
    assert groups["holdout"]["visitors"] == counts["holdout"]
    assert groups["holdout"]["visitors"] + groups["personalized"]["visitors"] == counts["visitors"]
    arms = [name for name in groups if name not in ("holdout", "personalized")]
    assert sum(groups[a]["visitors"] for a in arms) == groups["personalized"]["visitors"]
    assert report["converted"] == counts["converted"] == report["simulation"]["signups"]
    # Every beacon event the simulated browsers sent was valid for the pages they were on.
    assert report["simulation"]["events_sent"] > 0 and report["simulation"]["events_rejected"] == 0
    # Contextual-only visitors allow no behavioral layer: their pages carry no beacon, so no dwell.
    assert groups["contextual only"]["dwell_seconds"] is None
    # The jobs ran every simulated night, as the scheduler would.
    assert [name for name in report["simulation"]["jobs"]] == [
        f"day {d} {job}" for d in (1, 2) for job in ("train", "score", "learn")
    ]
    assert report["layers"]["contextual"] > 0


def test_the_same_seeds_give_the_same_report(tmp_path: Path) -> None:
    reports = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        app = make_app(folder, **MEASURED)
        report = run_simulation(app, visitors=60, days=2, seed=11, effects_seed=4, holdout=0.25)
        dispose(app)
        assert report.pop("timing")["total_seconds"] > 0
        reports.append(report)
    assert reports[0] == reports[1]
    assert format_report(reports[0]) == format_report(reports[1])
    assert reports[0]["visitors"] == 60 and reports[0]["simulation"]["requests"] > 60


def test_the_command_writes_into_a_fresh_temporary_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    app = make_app(site, **FAST)
    result = app.test_cli_runner().invoke(args=["simulate", "--visitors", "40", "--days", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    match = re.search(r"Writing into a fresh database: (\S+)", out)
    assert match, out
    path = Path(match[1])
    assert path.is_file() and path.parent.parent == scratch and path.parent.name.startswith("tessera-sim-")
    assert "Simulating 40 visitors over 2 days (seed 7, effects seed 7, holdout 25%" in out
    assert re.search(r"day 1/2 done: \d+/40 visitors arrived, \d+ visits, \d+ sign-ups; \d+ s elapsed, about", out)
    assert re.search(r"Done in \d+ s: visits [\d.]+ s \(\d+ ms each, \d+ ms of it CPU\), jobs [\d.]+ s", out)
    assert "0 rejected" in out and "SYNTHETIC TRAFFIC" in out
    # The site's own database is untouched; the fresh one holds the run.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 0
    dispose(app)
    other = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "x", "SCHEDULER": "off"})
    with other.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 40
    dispose(other)


def test_a_simulation_refuses_writes_that_leave_the_request_path(tmp_path: Path) -> None:
    """Buffered writes would land after the visitor's next request: the run stops before it starts."""
    app = make_app(tmp_path, **{**FAST, "WRITES": "buffer"})
    with pytest.raises(SimulationError, match="WRITES=direct"):
        run_simulation(app, visitors=5, days=1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 0
    dispose(app)
