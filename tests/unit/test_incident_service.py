"""Incident use cases on fakes: grouping, flapping, the window's edge, idempotency, escalation, auto-resolve,
manual resolve, TTA/TTR."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.core.errors import Conflict
from churnguard_ops.core.fakes import RecordingEvents, RecordingMetrics, RecordingNotifier
from churnguard_ops.incidents.events import AlarmStateChange, parse_command
from churnguard_ops.incidents.service import IncidentService, InvalidTransition, Policy, UnknownIncident
from tests.unit.incidents_fakes import MemoryIncidentStore, MemoryPostmortems

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class World:
    def __init__(self, **policy: Any) -> None:
        self.clock = Clock()
        self.store = MemoryIncidentStore()
        self.postmortems = MemoryPostmortems()
        self.metrics = RecordingMetrics()
        self.pager = RecordingNotifier()
        self.events = RecordingEvents()
        minutes: dict[str, Any] = {"group_window": 15, "escalate_after": {"critical": 5, "warning": 30, "info": None},
                                   "auto_resolve": 10, "retention_days": 90, **policy}
        self.service = IncidentService(self.store, self.postmortems, self.metrics, self.clock,
                                       Policy.from_minutes(**minutes), escalation=self.pager, events=self.events)
        self._n = 0

    def alarm(self, name: str = "HighErrorRate", state: str = "ALARM", *, group: str = "api",
              severity: str = "critical", event_id: str | None = None) -> dict[str, Any]:
        self._n += 1
        command = AlarmStateChange.model_validate({
            "command": "alarm_state_change", "event_id": event_id or f"evt{self._n:05d}",
            "alarm": {"name": name, "state": state, "reason": f"{name} is {state}", "time": self.clock.now.isoformat(),
                      "severity": severity, "team": "platform", "group": group}})
        return self.service.alarm_state_change(command)

    def timeline_kinds(self, incident_id: str) -> list[str]:
        return [e.kind for e in self.store.timeline(incident_id)]


def test_an_alarm_opens_an_incident_named_after_its_time_and_event():
    w = World()
    result = w.alarm(event_id="3d0b2f1e-6c1a")
    assert result == {"incident_id": "inc-20261130-100000-3d0b2f1e", "outcome": "opened", "status": "open"}
    incident = w.store.get(result["incident_id"])
    assert incident is not None and incident.severity == "critical" and incident.team == "platform"
    assert [a.name for a in incident.alarms] == ["HighErrorRate"]
    assert w.timeline_kinds(result["incident_id"]) == ["opened"]
    assert w.events.events[0][0] == "Incident Opened"


def test_the_same_event_twice_changes_nothing_the_second_time():
    w = World()
    first = w.alarm(event_id="same")
    w.clock.advance(seconds=5)
    again = w.alarm(event_id="same")
    assert again == {**first, "outcome": "ignored"}
    assert len(w.store.incidents) == 1
    assert w.timeline_kinds(first["incident_id"]) == ["opened"]


def test_a_flapping_alarm_attaches_to_its_open_incident_even_outside_the_group_window():
    w = World()
    opened = w.alarm()
    w.clock.advance(minutes=1)
    assert w.alarm(state="OK")["outcome"] == "updated"
    w.clock.advance(minutes=30)
    again = w.alarm()
    assert again == {"incident_id": opened["incident_id"], "outcome": "attached", "status": "open"}
    assert len(w.store.incidents) == 1


def test_a_second_alarm_of_the_group_within_the_window_attaches_and_raises_the_severity():
    w = World()
    opened = w.alarm("HighResponseTime", severity="warning")
    w.clock.advance(minutes=15)  # exactly at the window's edge: still the same incident
    attached = w.alarm("HighErrorRate", severity="critical")
    assert attached["outcome"] == "attached" and attached["incident_id"] == opened["incident_id"]
    incident = w.store.get(opened["incident_id"])
    assert incident is not None and incident.severity == "critical"
    assert {a.name for a in incident.alarms} == {"HighResponseTime", "HighErrorRate"}
    assert w.store.pointers["alarm:HighErrorRate"] == opened["incident_id"]


def test_an_alarm_of_the_group_after_the_window_opens_a_new_incident():
    w = World()
    first = w.alarm("HighResponseTime")
    w.clock.advance(minutes=15, seconds=1)
    second = w.alarm("HighErrorRate")
    assert second["outcome"] == "opened" and second["incident_id"] != first["incident_id"]
    assert w.store.pointers["group:api"] == second["incident_id"]


def test_alarms_of_different_groups_open_separate_incidents():
    w = World()
    assert w.alarm("A", group="api")["incident_id"] != w.alarm("B", group="db")["incident_id"]


def test_an_alarm_without_a_group_never_joins_another_alarms_incident():
    w = World()
    assert w.alarm("A", group="")["incident_id"] != w.alarm("B", group="")["incident_id"]


def test_ok_of_an_alarm_no_incident_holds_is_ignored():
    w = World()
    assert w.alarm(state="OK") == {"incident_id": None, "outcome": "ignored", "status": None}
    assert w.store.incidents == {}


def test_a_lost_race_for_the_group_pointer_attaches_to_the_winner_instead_of_opening_a_second():
    w = World()
    store = w.store
    real_claim = store.claim

    def racing_claim(key: str, incident_id: str, replacing: str | None) -> bool:
        if key == "group:api" and "inc-other" not in store.incidents:  # another alarm of the group got there first
            winner = w.store.get(incident_id).model_copy(  # type: ignore[union-attr]
                update={"incident_id": "inc-other", "event_ids": ["the-other-alarms-event"]})
            store.incidents["inc-other"] = winner
            store.pointers["group:api"] = "inc-other"
            return False
        return real_claim(key, incident_id, replacing)

    store.claim = racing_claim  # type: ignore[method-assign]
    result = w.alarm("HighErrorRate")
    assert result["outcome"] == "attached" and result["incident_id"] == "inc-other"
    assert set(store.incidents) == {"inc-other"}  # the loser's incident was discarded


def test_a_conflicting_save_is_retried_over_a_fresh_read():
    w = World()
    opened = w.alarm("A")
    real_save, failures = w.store.save, []

    def save_once_stale(incident: Any) -> None:
        if not failures:
            failures.append(incident.incident_id)
            raise Conflict("changed")
        real_save(incident)

    w.store.save = save_once_stale  # type: ignore[method-assign]
    assert w.alarm("B")["outcome"] == "attached"
    incident = w.store.get(opened["incident_id"])
    assert failures and incident is not None and {a.name for a in incident.alarms} == {"A", "B"}


def test_escalation_pages_once_when_unacknowledged_at_the_severity_threshold():
    w = World()
    incident_id = w.alarm(severity="critical")["incident_id"]
    w.clock.advance(minutes=4, seconds=59)
    assert w.service.sweep()["escalated"] == []
    w.clock.advance(seconds=1)
    assert w.service.sweep()["escalated"] == [incident_id]
    w.clock.advance(minutes=10)
    assert w.service.sweep()["escalated"] == []
    assert len(w.pager.messages) == 1 and incident_id in w.pager.messages[0][1]
    assert w.timeline_kinds(incident_id).count("escalation") == 1


def test_an_acknowledged_or_info_incident_is_never_escalated():
    w = World()
    acked = w.alarm("A", group="a", severity="critical")["incident_id"]
    w.alarm("B", group="b", severity="info")
    w.service.ack(acked, "alice")
    w.clock.advance(hours=5)
    assert w.service.sweep()["escalated"] == []
    assert w.pager.messages == []


def test_auto_resolve_waits_until_every_alarm_has_been_ok_for_the_configured_time():
    w = World()
    incident_id = w.alarm("A")["incident_id"]
    w.alarm("B")
    w.clock.advance(minutes=2)
    w.alarm("A", state="OK")
    w.clock.advance(minutes=20)
    assert w.service.sweep()["resolved"] == []  # B is still in ALARM
    w.alarm("B", state="OK")
    w.clock.advance(minutes=9, seconds=59)
    assert w.service.sweep()["resolved"] == []
    w.clock.advance(seconds=1)
    assert w.service.sweep() == {"active": 0, "escalated": [], "resolved": [incident_id]}
    incident = w.store.get(incident_id)
    assert incident is not None and incident.status == "resolved" and incident.resolved_by == "auto"
    assert w.metrics.value("IncidentsOpen") == 0
    assert w.store.pointers == {}  # the alarms and the group are free for the next incident


def test_insufficient_data_keeps_an_incident_from_resolving_itself():
    w = World()
    w.alarm("A")
    w.alarm("A", state="INSUFFICIENT_DATA")
    w.clock.advance(hours=1)
    assert w.service.sweep()["resolved"] == []


def test_after_resolve_the_same_alarm_opens_a_new_incident():
    w = World()
    first = w.alarm()["incident_id"]
    w.service.resolve(first, "alice", "fixed")
    w.clock.advance(minutes=1)
    second = w.alarm()
    assert second["outcome"] == "opened" and second["incident_id"] != first


def test_manual_resolve_records_who_and_why_writes_the_postmortem_and_ttr():
    w = World()
    incident_id = w.alarm(severity="warning")["incident_id"]
    w.clock.advance(minutes=3)
    w.service.ack(incident_id, "alice")
    w.clock.advance(minutes=7)
    result = w.service.resolve(incident_id, "bob", "fixed by rollback")
    assert result["time_to_resolve_seconds"] == 600
    assert w.metrics.value("TimeToAcknowledge", Severity="warning") == 180
    assert w.metrics.value("TimeToResolve", Severity="warning") == 600
    incident = w.store.get(incident_id)
    assert incident is not None and (incident.resolved_by, incident.resolve_reason) == ("bob", "fixed by rollback")
    assert result["postmortem"] == f"s3://ops-bucket/incidents/postmortems/{incident_id}.md"
    assert w.store.expiry[incident_id] == w.clock.now + timedelta(days=90)
    last = w.store.timeline(incident_id)[-1]
    assert (last.kind, last.by, last.detail) == ("resolved", "bob", "fixed by rollback")


def test_ack_and_resolve_of_a_resolved_incident_are_refused_and_unknown_ids_too():
    w = World()
    incident_id = w.alarm()["incident_id"]
    w.service.resolve(incident_id, "alice", "fixed")
    with pytest.raises(InvalidTransition, match="resolved"):
        w.service.ack(incident_id, "bob")
    with pytest.raises(InvalidTransition, match="already resolved"):
        w.service.resolve(incident_id, "bob", "again")
    with pytest.raises(UnknownIncident, match="no incident inc-nope"):
        w.service.show("inc-nope")


def test_a_second_ack_changes_nothing_and_says_who_acknowledged():
    w = World()
    incident_id = w.alarm()["incident_id"]
    w.service.ack(incident_id, "alice")
    again = w.service.ack(incident_id, "bob")
    assert again["changed"] is False and "alice" in again["detail"]
    assert w.timeline_kinds(incident_id).count("ack") == 1


def test_record_actions_puts_notifications_and_actions_on_the_timeline_once_per_event():
    w = World()
    incident_id = w.alarm()["incident_id"]
    command = parse_command({"command": "record_actions", "incident_id": incident_id, "event_id": "evt-r",
                             "actions": [{"action": "notify", "ok": True, "detail": "published"},
                                         {"action": "start_backup", "ok": False, "detail": "Throttled"}]})
    assert w.service.record_actions(command) == {"incident_id": incident_id, "recorded": 2}  # type: ignore[arg-type]
    assert w.service.record_actions(command)["recorded"] == 0  # type: ignore[arg-type]
    entries = w.store.timeline(incident_id)[1:]
    assert [(e.kind, e.detail) for e in entries] == [("notification", "notify: ok: published"),
                                                    ("action", "start_backup: FAILED: Throttled")]


def test_list_filters_by_status_newest_first_and_show_returns_the_timeline():
    w = World()
    a = w.alarm("A", group="a")["incident_id"]
    w.clock.advance(minutes=1)
    b = w.alarm("B", group="b")["incident_id"]
    w.service.ack(b, "alice")
    w.service.note(b, "alice", "looking")
    assert [i["incident_id"] for i in w.service.list("active")["incidents"]] == [b, a]
    assert [i["incident_id"] for i in w.service.list("open")["incidents"]] == [a]
    assert [i["incident_id"] for i in w.service.list("acknowledged")["incidents"]] == [b]
    shown = w.service.show(b)
    assert shown["incident"]["acknowledged_by"] == "alice"
    assert [e["kind"] for e in shown["timeline"]] == ["opened", "ack", "note"]


def test_actions_recorded_under_the_alarm_events_own_id_are_not_mistaken_for_a_redelivery():
    w = World()
    incident_id = w.alarm(event_id="evt-1")["incident_id"]
    command = parse_command({"command": "record_actions", "incident_id": incident_id, "event_id": "evt-1",
                             "actions": [{"action": "notify", "ok": True}]})
    assert w.service.record_actions(command)["recorded"] == 1  # type: ignore[arg-type]


def test_an_incident_opens_when_its_alarm_fired_so_tta_counts_from_there():
    w = World()
    fired = w.clock.now
    w.clock.advance(seconds=40)  # the router delivers the change 40 s after the alarm fired
    command = AlarmStateChange.model_validate({
        "command": "alarm_state_change", "event_id": "late",
        "alarm": {"name": "A", "state": "ALARM", "time": fired.isoformat(), "severity": "warning"}})
    incident_id = w.service.alarm_state_change(command)["incident_id"]
    w.clock.advance(seconds=20)
    assert w.service.ack(incident_id, "alice")["time_to_acknowledge_seconds"] == 60
