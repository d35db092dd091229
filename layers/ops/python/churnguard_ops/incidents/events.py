"""The function's commands (the router <-> incidents contract) and the schedule's event, which means ``sweep``."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.incidents.model import AlarmState

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]  # alarm names: 255
IncidentId = Annotated[str, StringConstraints(pattern=r"^inc-[A-Za-z0-9-]{1,80}$")]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlarmChange(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the router may add fields; these are the ones used

    name: Name
    arn: str = ""
    state: AlarmState
    previous_state: AlarmState | None = None
    reason: str = ""
    time: IsoTime
    severity: str = "warning"
    team: str = ""
    runbook_url: str = ""
    group: str = ""


class AlarmStateChange(_Command):
    command: Literal["alarm_state_change"]
    event_id: Name
    alarm: AlarmChange


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Name
    ok: bool
    detail: str = ""


class RecordActions(_Command):
    command: Literal["record_actions"]
    incident_id: IncidentId
    event_id: Name
    actions: list[Action] = Field(min_length=1, max_length=50)


class ListIncidents(_Command):
    command: Literal["list"]
    status: Literal["open", "acknowledged", "resolved", "active", "all"] = "active"


class ShowIncident(_Command):
    command: Literal["show"]
    incident_id: IncidentId


class Acknowledge(_Command):
    command: Literal["ack"]
    incident_id: IncidentId
    by: Name


class AddNote(_Command):
    command: Literal["note"]
    incident_id: IncidentId
    by: Name
    text: Text


class Resolve(_Command):
    command: Literal["resolve"]
    incident_id: IncidentId
    by: Name
    reason: Text


class Sweep(_Command):
    command: Literal["sweep"]


Command = Annotated[AlarmStateChange | RecordActions | ListIncidents | ShowIncident | Acknowledge | AddNote | Resolve
                    | Sweep, Field(discriminator="command")]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
COMMANDS = ("alarm_state_change", "record_actions", "list", "show", "ack", "note", "resolve", "sweep")


class BadCommand(ValueError):
    """A command the function cannot act on; the message says why in one line."""


def parse_command(event: Any) -> Command:
    """A contract command, or ``Sweep`` for EventBridge's "Scheduled Event"; anything else is ``BadCommand``."""
    if not isinstance(event, dict):
        raise BadCommand(f"command: a command must be a JSON object, not {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event":
        return Sweep(command="sweep")
    if "command" not in event:
        raise BadCommand(f"command: missing 'command' (one of: {', '.join(COMMANDS)})")
    if event["command"] not in COMMANDS:
        raise BadCommand(f"command: unknown command {event['command']!r} (one of: {', '.join(COMMANDS)})")
    try:
        return _COMMAND.validate_python(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "command"
        raise BadCommand(f"{event['command']}: {where}: {first['msg']}") from None
