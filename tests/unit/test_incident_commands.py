"""The function's commands: the contract's examples and samples parse; bad commands get one clear message."""
from __future__ import annotations

import pytest

from churnguard_ops.incidents.events import (
    Acknowledge,
    AlarmStateChange,
    BadCommand,
    ListIncidents,
    RecordActions,
    Sweep,
    parse_command,
)
from tests.events import event_files, load_event


def test_every_sample_event_parses_as_a_command():
    parsed = {path.name: parse_command(load_event(f"incidents/{path.name}")) for path in event_files("incidents")}
    assert isinstance(parsed["alarm-state-change-alarm.json"], AlarmStateChange)
    assert isinstance(parsed["record-actions.json"], RecordActions)
    assert isinstance(parsed["ack.json"], Acknowledge)
    assert isinstance(parsed["scheduled-sweep.json"], Sweep)  # EventBridge's scheduled event means sweep


def test_the_contract_alarm_example_keeps_its_metadata():
    command = parse_command(load_event("incidents/alarm-state-change-alarm.json"))
    assert isinstance(command, AlarmStateChange)
    alarm = command.alarm
    assert (alarm.state, alarm.severity, alarm.team, alarm.group) == ("ALARM", "critical", "platform", "api")
    assert alarm.time.isoformat() == "2026-11-30T10:00:00+00:00"


def test_list_defaults_to_active_incidents():
    assert parse_command({"command": "list"}) == ListIncidents(command="list", status="active")


@pytest.mark.parametrize(("event", "message"), [
    ({}, "missing 'command'"),
    ([], "must be a JSON object"),
    ({"command": "explode"}, "unknown command 'explode'"),
    ({"command": "list", "status": "sleeping"}, "list: status: Input should be"),
    ({"command": "ack", "incident_id": "inc-1"}, "ack: by: Field required"),
    ({"command": "note", "incident_id": "inc-1", "by": "a", "text": "   "}, "note: text: String should have at least"),
    ({"command": "show", "incident_id": "../etc"}, "show: incident_id: String should match pattern"),
    ({"command": "sweep", "extra": 1}, "sweep: extra: Extra inputs are not permitted"),
    ({"command": "alarm_state_change", "event_id": "e", "alarm": {"name": "A", "state": "RED", "time": "x"}},
     "alarm_state_change: alarm.state: Input should be"),
])
def test_a_bad_command_is_refused_in_one_line_naming_the_field(event, message):
    with pytest.raises(BadCommand) as refused:
        parse_command(event)
    assert message in str(refused.value) and "\n" not in str(refused.value)
