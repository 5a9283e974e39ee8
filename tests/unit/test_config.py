"""Configuration: one generated key however many workers start at once, and key rotation."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from app import config


def _generate(path: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    results.put(config._generated_key(Path(path)))


def test_workers_started_together_agree_on_one_generated_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(12):
        path = tmp_path / f"instance-{round_}" / "secret_key"
        barrier, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=_generate, args=(str(path), barrier, results)) for _ in range(8)]
        for w in workers:
            w.start()
        keys = {results.get(timeout=30) for _ in workers}
        for w in workers:
            w.join(timeout=30)
        assert len(keys) == 1, f"round {round_}: workers made {len(keys)} different keys"
        assert keys == {path.read_text()} and len(path.read_text()) == 64
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left


def test_secret_keys_are_read_newest_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEYS", " newest , older,oldest ")
    monkeypatch.setenv("SECRET_KEY", "ignored when SECRET_KEYS is set")
    settings = config.from_environment(tmp_path)
    assert settings["SECRET_KEY"] == "newest"
    assert settings["SECRET_KEY_FALLBACKS"] == ["older", "oldest"]
    monkeypatch.delenv("SECRET_KEYS")
    assert config.from_environment(tmp_path)["SECRET_KEY"] == "ignored when SECRET_KEYS is set"
    monkeypatch.delenv("SECRET_KEY")
    generated = config.from_environment(tmp_path)["SECRET_KEY"]
    assert generated == (tmp_path / "secret_key").read_text()
    assert config.from_environment(tmp_path)["SECRET_KEY"] == generated  # kept across restarts
