"""Deterministic bucketing: the same visitor always lands in the same bucket."""

from __future__ import annotations

import hashlib


def bucket(seed: str, visitor_id: str) -> float:
    """Map a visitor to [0, 1) for a seed: the first 8 bytes of SHA-256, uniform and stable."""
    digest = hashlib.sha256(f"{seed}:{visitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(visitor_id: str, share: float, seed: str = "tessera-holdout") -> bool:
    """True when the visitor belongs to the holdout that always sees the default site."""
    return share > 0 and bucket(seed, visitor_id) < share
