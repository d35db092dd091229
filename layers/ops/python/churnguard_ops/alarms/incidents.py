"""The router's side of the incidents contract (``<prefix>-incidents``, JSON commands); it never imports
the incidents capability: it invokes its function and checks the answers against these models."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.alarms.model import ActionOutcome, AlarmChange, AlarmMeta, AlarmState
from churnguard_ops.core import contracts
from churnguard_ops.core.errors import OpsError


class IncidentAlarm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arn: str
    state: AlarmState
    previous_state: AlarmState | None
    reason: str
    time: str
    severity: str
    team: str
    runbook_url: str
    group: str


class AlarmStateChangeCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: Literal["alarm_state_change"] = "alarm_state_change"
    event_id: str
    alarm: IncidentAlarm


class AlarmStateChangeAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident_id: str | None = None
    outcome: Literal["opened", "attached", "updated", "ignored"]
    status: str | None = None


class RecordedAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    ok: bool
    detail: str


class RecordActionsCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: Literal["record_actions"] = "record_actions"
    incident_id: str = Field(min_length=1)
    event_id: str
    actions: list[RecordedAction] = Field(min_length=1)


class RecordActionsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident_id: str
    recorded: int = Field(ge=0)


def incidents_function(prefix: str) -> str:
    return f"{prefix}-{contracts.INCIDENTS_FUNCTION_SUFFIX}"


def alarm_state_change(change: AlarmChange, meta: AlarmMeta) -> dict[str, Any]:
    alarm = IncidentAlarm(name=change.name, arn=change.arn, state=change.state, previous_state=change.previous_state,
                          reason=change.reason, time=change.time, **meta.model_dump())
    return AlarmStateChangeCommand(event_id=change.event_id, alarm=alarm).model_dump()


def record_actions(incident_id: str, event_id: str, outcomes: list[ActionOutcome]) -> dict[str, Any]:
    actions = [RecordedAction(action=o.action, ok=o.ok, detail=o.detail) for o in outcomes]
    return RecordActionsCommand(incident_id=incident_id, event_id=event_id, actions=actions).model_dump()


def checked(answer: dict[str, Any]) -> dict[str, Any]:
    """The incidents function answers a bad command with ``{"error": ...}`` (HTTP 200): that is a failure."""
    if "error" in answer:
        raise OpsError(f"incidents refused the command: {answer['error']}")
    return answer
