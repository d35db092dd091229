"""Time as the domain sees it: always timezone-aware UTC, injectable for tests."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator

Clock = Callable[[], datetime]


def _iso_time(value: Any) -> datetime:
    """ISO 8601 text (or a datetime); a number is refused: pydantic would read it as a Unix time."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError(f"must be an ISO 8601 time string such as 2026-11-28T10:00:00Z, not {type(value).__name__}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


#: A time field of an event or an execution input: ISO 8601 text only, naive read as UTC.
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


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
