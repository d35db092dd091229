"""The router's domain: one alarm state change, the alarm's metadata, and what each action did."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlarmState = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
Severity = Literal["critical", "warning", "info"]


class AlarmChange(BaseModel):
    """One "CloudWatch Alarm State Change", reduced to what routing and the actions read."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arn: str = Field(min_length=1)
    state: AlarmState
    previous_state: AlarmState | None = None
    reason: str = ""
    time: str = ""
    #: Metric dimensions of the alarm's metrics (FunctionName, DBInstanceIdentifier, ...), first value wins.
    dimensions: dict[str, str] = Field(default_factory=dict)


class AlarmMeta(BaseModel):
    """Severity, team, runbook and incident group: the alarm's tags, overridden by its route."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    team: str
    runbook_url: str
    group: str


class ActionOutcome(BaseModel):
    """What one action did: ``ok`` False means it failed (and the event is retried)."""

    action: str
    ok: bool
    detail: str
    skipped: bool = False
    replayed: bool = False  # done by an earlier delivery of the same event (idempotency)
    data: dict[str, Any] = Field(default_factory=dict)


class RouteResult(BaseModel):
    event_id: str
    alarm: str
    state: AlarmState
    route: str | None
    outcomes: list[ActionOutcome] = Field(default_factory=list)
    incident_id: str | None = None

    @property
    def failed(self) -> list[ActionOutcome]:
        return [o for o in self.outcomes if not o.ok]
