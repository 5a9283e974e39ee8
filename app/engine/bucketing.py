"""Deterministic bucketing: the same visitor always lands in the same bucket."""

from __future__ import annotations


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a hash of the UTF-8 bytes of ``text``."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def bucket(seed: str, visitor_id: str) -> float:
    """Map a visitor to [0, 1) for a seed, as GrowthBook's v2 hash does (hash of a hash)."""
    return (fnv1a32(str(fnv1a32(seed + visitor_id))) % 10000) / 10000


def in_holdout(visitor_id: str, share: float, seed: str = "tessera-holdout") -> bool:
    """True when the visitor belongs to the holdout that always sees the default site."""
    return share > 0 and bucket(seed, visitor_id) < share
