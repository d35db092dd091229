"""The security domain: the application's event, the engine's normalized event, and the alert.

``SecurityEvent`` is what the application publishes (the seed's shape). The engine never sees it: every
source (application events, CloudTrail records) is normalized into one cheap, frozen :class:`Event` first,
so detectors judge one shape. ``Alert`` is what a detector's verdict becomes once suppression and dedup
have let it through.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from churnguard_ops.core.clock import IsoTime

Severity = Literal["low", "medium", "high", "critical"]
EventKind = Literal["app", "cloudtrail"]


class SecurityEvent(BaseModel):
    """One application security event (published by the app on EventBridge as the event's ``detail``).

    ``timestamp`` is ISO 8601 text (naive means UTC); a number is refused, as it would be read as a Unix
    time silently. Keys the app adds later are ignored, so a newer app never breaks the analyzer.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(min_length=1, max_length=256)
    timestamp: IsoTime
    event_type: str = Field(min_length=1, max_length=128)
    source_ip: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    severity: str = "info"
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


@dataclass(frozen=True, slots=True)
class Event:
    """The engine's normalized event: an application event or a CloudTrail record.

    ``time`` is timezone-aware (event time: when it happened, never when we received it). For CloudTrail,
    ``type`` is the ``eventName`` (``ConsoleLogin`` for a console sign-in), ``user_id`` the principal,
    ``source_ip`` the ``sourceIPAddress``, ``details`` the record's fields and ``raw`` the record.
    """

    event_id: str
    time: datetime
    kind: EventKind
    type: str
    source_ip: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError(f"event {self.event_id}: time must be timezone-aware, got {self.time.isoformat()}")
        if not self.event_id:
            raise ValueError("event_id must not be empty")

    @classmethod
    def from_app(cls, event: SecurityEvent) -> Event:
        return cls(event_id=event.event_id, time=event.timestamp, kind="app", type=event.event_type,
                   source_ip=event.source_ip or None, user_id=event.user_id or None,
                   organization_id=event.organization_id or None, details=event.details)


class Alert(BaseModel):
    """A detection that passed suppression and dedup: what goes to EventBridge, SNS and the alert table.

    ``event_id`` and ``timestamp`` are those of the triggering event (event time). ``alert_id`` is derived
    from detector, entity and triggering event, so a redelivered event re-yields the identical alert and a
    store can write it conditionally (at least once in, exactly once stored).
    """

    model_config = ConfigDict(frozen=True)

    alert_id: str
    detector: str
    severity: Severity
    entity: str
    count: int = Field(ge=1)
    window_seconds: int = Field(ge=0)
    event_id: str
    timestamp: datetime
    recommended_action: str
    organization_id: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def make_id(detector: str, entity: str, event_id: str) -> str:
        return hashlib.sha256(f"{detector}\x1f{entity}\x1f{event_id}".encode()).hexdigest()[:24]

    def line(self) -> dict[str, Any]:
        """The JSON-able form written to alert files and published (times as ISO 8601 UTC)."""
        return self.model_dump(mode="json")
