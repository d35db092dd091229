"""Time as the domain sees it: always timezone-aware UTC, injectable for tests."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(raw: str | None) -> datetime | None:
    """An ISO-8601 time from a tag a human may have edited: naive means UTC; garbage means unknown."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
