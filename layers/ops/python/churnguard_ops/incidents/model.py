"""The incident, its alarms and its timeline (pure data; the service changes them, the store keeps them)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.contracts import ALARM_SEVERITIES

Status = Literal["open", "acknowledged", "resolved"]
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
#: Remembered per incident so a redelivered command changes nothing (bounded: older ids drop out).
MAX_EVENT_IDS = 100


def severity_rank(severity: str) -> int:
    """critical > warning > info; an unknown severity ranks below info."""
    order = list(reversed(ALARM_SEVERITIES))
    return order.index(severity) if severity in order else -1


class IncidentAlarm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    arn: str = ""
    state: AlarmState
    since: datetime
    severity: str = "warning"
    team: str = ""
    runbook_url: str = ""
    group: str = ""
    reason: str = ""


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    kind: str  # opened, alarm_state, attached, action, notification, escalation, ack, note, resolved
    detail: str
    by: str = "system"

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "detail": self.detail, "by": self.by}


class Incident(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident_id: str
    title: str
    severity: str
    status: Status = "open"
    team: str = ""
    group: str = ""
    alarms: list[IncidentAlarm] = Field(default_factory=list)
    opened_at: datetime
    updated_at: datetime  # the last alarm activity: the group window runs from here
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolve_reason: str | None = None
    escalated: bool = False
    escalated_at: datetime | None = None
    postmortem: str | None = None
    event_ids: list[str] = Field(default_factory=list)
    version: int = 0  # optimistic concurrency: a write succeeds only over the version it read

    @property
    def active(self) -> bool:
        return self.status != "resolved"

    def alarm(self, name: str) -> IncidentAlarm | None:
        return next((a for a in self.alarms if a.name == name), None)

    def remember(self, event_id: str) -> None:
        self.event_ids = [*self.event_ids, event_id][-MAX_EVENT_IDS:]

    def summary(self) -> dict[str, Any]:
        """The list view of the contract."""
        return {
            "incident_id": self.incident_id, "title": self.title, "severity": self.severity, "status": self.status,
            "opened_at": _iso(self.opened_at), "acknowledged_at": _iso(self.acknowledged_at),
            "resolved_at": _iso(self.resolved_at), "team": self.team, "group": self.group,
            "alarms": [{"name": a.name, "state": a.state, "since": _iso(a.since), "severity": a.severity}
                       for a in self.alarms],
        }

    def detail(self) -> dict[str, Any]:
        """The show view: everything but the bookkeeping."""
        return {**self.summary(), "updated_at": _iso(self.updated_at), "acknowledged_by": self.acknowledged_by,
                "resolved_by": self.resolved_by, "resolve_reason": self.resolve_reason,
                "escalated": self.escalated, "escalated_at": _iso(self.escalated_at), "postmortem": self.postmortem,
                "alarms": [{**a.model_dump(mode="json"), "since": _iso(a.since)} for a in self.alarms]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
