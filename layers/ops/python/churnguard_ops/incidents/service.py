"""The incident use cases: open or attach on alarms, record actions, ack/note/resolve, and the sweep
(escalation, auto-resolve, the open-incidents gauge). Pure logic over the ports; the clock is injected."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import AlreadyExists, Conflict, OpsError
from churnguard_ops.core.ports import EventPublisher, MetricsSink, Notifier
from churnguard_ops.incidents import events as ev
from churnguard_ops.incidents.model import Incident, IncidentAlarm, TimelineEntry, severity_rank
from churnguard_ops.incidents.ports import IncidentStore, Postmortems
from churnguard_ops.incidents.postmortem import render_postmortem

log = logging.getLogger(__name__)
#: Attempts of a command whose conditional writes lost a race (it re-reads and decides again).
MAX_ATTEMPTS = 5
T = TypeVar("T")


class UnknownIncident(OpsError):
    """No incident has this id."""


class InvalidTransition(OpsError):
    """The incident's status does not allow the command (ack or resolve of a resolved incident)."""


@dataclass(frozen=True)
class Policy:
    group_window: timedelta
    escalate_after: dict[str, timedelta | None]  # per severity; None: never
    auto_resolve: timedelta
    retention: timedelta

    @classmethod
    def from_minutes(cls, *, group_window: int, escalate_after: dict[str, int | None], auto_resolve: int,
                     retention_days: int) -> Policy:
        return cls(timedelta(minutes=group_window),
                   {k: None if v is None else timedelta(minutes=v) for k, v in escalate_after.items()},
                   timedelta(minutes=auto_resolve), timedelta(days=retention_days))


def alarm_key(name: str) -> str:
    return f"alarm:{name}"


def group_key(group: str) -> str:
    return f"group:{group}"


def incident_id_for(time: datetime, event_id: str) -> str:
    """Deterministic per event, so a redelivered event cannot open a second incident."""
    tail = "".join(c for c in event_id if c.isalnum())[:8].lower() or "event"
    return f"inc-{time:%Y%m%d-%H%M%S}-{tail}"


class IncidentService:
    def __init__(self, store: IncidentStore, postmortems: Postmortems, metrics: MetricsSink, clock: Clock,
                 policy: Policy, *, escalation: Notifier | None = None, events: EventPublisher | None = None) -> None:
        self.store = store
        self.postmortems = postmortems
        self.metrics = metrics
        self.clock = clock
        self.policy = policy
        self.escalation = escalation
        self.events = events

    # --- the router's commands -------------------------------------------------------------------------------
    def alarm_state_change(self, command: ev.AlarmStateChange) -> dict[str, Any]:
        return _retrying(lambda: self._alarm_change(command))

    def record_actions(self, command: ev.RecordActions) -> dict[str, Any]:
        return _retrying(lambda: self._record_actions(command))

    # --- the operators' commands -----------------------------------------------------------------------------
    def list(self, status: str) -> dict[str, Any]:
        statuses = {"active": ["open", "acknowledged"], "all": ["open", "acknowledged", "resolved"]}.get(
            status, [status])
        found = [i for s in statuses for i in self.store.by_status(s)]
        found.sort(key=lambda i: i.opened_at, reverse=True)
        return {"incidents": [i.summary() for i in found]}

    def show(self, incident_id: str) -> dict[str, Any]:
        incident = self._get(incident_id)
        return {"incident": incident.detail(),
                "timeline": [e.to_json() for e in self.store.timeline(incident_id)]}

    def ack(self, incident_id: str, by: str) -> dict[str, Any]:
        return _retrying(lambda: self._ack(incident_id, by))

    def note(self, incident_id: str, by: str, text: str) -> dict[str, Any]:
        incident = self._get(incident_id)
        entry = TimelineEntry(at=self.clock(), kind="note", detail=text, by=by)
        self.store.append(incident.incident_id, [entry])
        return {"incident_id": incident_id, "status": incident.status, "entry": entry.to_json()}

    def resolve(self, incident_id: str, by: str, reason: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            incident = self._get(incident_id)
            if not incident.active:
                raise InvalidTransition(f"incident {incident_id} is already resolved (by {incident.resolved_by} at "
                                        f"{incident.resolved_at:%Y-%m-%d %H:%M:%S} UTC)")
            return self._resolve(incident, by, reason)

        return _retrying(attempt)

    def sweep(self) -> dict[str, Any]:
        """Escalate the overdue, resolve the recovered, then report how many stay open (the gauge)."""
        escalated, resolved = [], []
        for incident in [*self.store.by_status("open"), *self.store.by_status("acknowledged")]:
            try:
                if self._auto_resolve_due(incident):
                    self._resolve(incident, "auto", "all alarms OK for "
                                  f"{_minutes(self.policy.auto_resolve)} (auto-resolved)")
                    resolved.append(incident.incident_id)
                elif self._escalation_due(incident):
                    self._escalate(incident)
                    escalated.append(incident.incident_id)
            except Conflict:
                continue  # changed under us (an ack, another sweep): the next sweep looks again
        active = len(self.store.by_status("open")) + len(self.store.by_status("acknowledged"))
        self.metrics.put("IncidentsOpen", active, "Count", {})
        return {"active": active, "escalated": escalated, "resolved": resolved}

    # --- alarm changes ---------------------------------------------------------------------------------------
    def _alarm_change(self, command: ev.AlarmStateChange) -> dict[str, Any]:
        alarm, now = command.alarm, self.clock()
        held_id = self.store.pointer(alarm_key(alarm.name))
        held = self._active(held_id)
        seen = f"alarm:{command.event_id}"  # the router sends record_actions under the same event id
        if held is not None and seen in held.event_ids:
            return _result(held, "ignored")
        if alarm.state != "ALARM":
            if held is None:
                return {"incident_id": None, "outcome": "ignored", "status": None}
            self._apply(held, command, now, attached=False)
            return _result(held, "updated")
        if held is not None:  # flapping: the same alarm again while its incident is open
            self._apply(held, command, now, attached=False)
            return _result(held, "attached")
        if alarm.group:
            group_id = self.store.pointer(group_key(alarm.group))
            grouped = self._active(group_id)
            if grouped is not None and now - grouped.updated_at <= self.policy.group_window:
                if seen in grouped.event_ids:
                    return _result(grouped, "ignored")
                self._apply(grouped, command, now, attached=True)
                self.store.claim(alarm_key(alarm.name), grouped.incident_id, replacing=held_id)
                return _result(grouped, "attached")
            return self._open(command, now, held_id, group_id)
        return self._open(command, now, held_id, None)

    def _open(self, command: ev.AlarmStateChange, now: datetime, held_id: str | None,
              group_id: str | None) -> dict[str, Any]:
        alarm = command.alarm
        incident = Incident(
            incident_id=incident_id_for(alarm.time, command.event_id), title=f"{alarm.name} in ALARM",
            severity=alarm.severity, team=alarm.team, group=alarm.group, alarms=[_incident_alarm(alarm, now)],
            # Opened when the alarm fired (the impact window, TTA and TTR start there), not when we heard of it.
            opened_at=min(alarm.time, now), updated_at=now, event_ids=[f"alarm:{command.event_id}"])
        try:
            self.store.create(incident)
        except AlreadyExists:  # this very event opened it already (a concurrent redelivery)
            existing = self._get(incident.incident_id)
            return _result(existing, "ignored")
        # Pointers are claimed after the incident exists, so a reader never follows one to nothing; a lost claim
        # means another alarm of the group opened one at the same moment: discard ours and attach to theirs.
        claims = [(alarm_key(alarm.name), held_id)]
        if alarm.group:
            claims.insert(0, (group_key(alarm.group), group_id))
        claimed: list[str] = []
        for key, replacing in claims:
            if not self.store.claim(key, incident.incident_id, replacing=replacing):
                for done in claimed:
                    self.store.release(done, incident.incident_id)
                self.store.discard(incident.incident_id)
                raise Conflict(f"{key} was claimed by another incident at the same time")
            claimed.append(key)
        self.store.append(incident.incident_id, [TimelineEntry(
            at=now, kind="opened", detail=f"{alarm.name} {alarm.previous_state or '?'} -> ALARM "
                                          f"({alarm.severity}): {alarm.reason}".rstrip(": "))])
        self._publish("Incident Opened", incident)
        return _result(incident, "opened")

    def _apply(self, incident: Incident, command: ev.AlarmStateChange, now: datetime, *, attached: bool) -> None:
        alarm = command.alarm
        known = incident.alarm(alarm.name)
        if known is None:
            incident.alarms.append(_incident_alarm(alarm, now))
        else:
            known.state, known.since, known.reason = alarm.state, min(alarm.time, now), alarm.reason
        if alarm.state == "ALARM" and severity_rank(alarm.severity) > severity_rank(incident.severity):
            incident.severity = alarm.severity
        incident.updated_at = now
        incident.remember(f"alarm:{command.event_id}")
        self.store.save(incident)
        kind = "attached" if attached else "alarm_state"
        detail = (f"{alarm.name} joined (group {alarm.group}, {alarm.severity})" if attached
                  else f"{alarm.name} {alarm.previous_state or '?'} -> {alarm.state}")
        self.store.append(incident.incident_id, [TimelineEntry(
            at=now, kind=kind, detail=f"{detail}: {alarm.reason}" if alarm.reason else detail)])

    def _record_actions(self, command: ev.RecordActions) -> dict[str, Any]:
        incident = self._get(command.incident_id)
        seen = f"actions:{command.event_id}"
        if seen in incident.event_ids:
            return {"incident_id": incident.incident_id, "recorded": 0}
        incident.remember(seen)
        self.store.save(incident)
        now = self.clock()
        entries = [TimelineEntry(at=now, kind="notification" if a.action == "notify" else "action",
                                 detail=f"{a.action}: {'ok' if a.ok else 'FAILED'}: {a.detail}".rstrip(": "),
                                 by="router") for a in command.actions]
        self.store.append(incident.incident_id, entries)
        return {"incident_id": incident.incident_id, "recorded": len(entries)}

    # --- ack, escalation, resolve ----------------------------------------------------------------------------
    def _ack(self, incident_id: str, by: str) -> dict[str, Any]:
        incident = self._get(incident_id)
        if not incident.active:
            raise InvalidTransition(f"incident {incident_id} is resolved; there is nothing to acknowledge")
        if incident.status == "acknowledged":
            return {"incident_id": incident_id, "status": incident.status, "changed": False,
                    "detail": f"already acknowledged by {incident.acknowledged_by}"}
        now = self.clock()
        incident.status, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, by
        self.store.save(incident)
        self.store.append(incident_id, [TimelineEntry(at=now, kind="ack", detail="acknowledged", by=by)])
        tta = (now - incident.opened_at).total_seconds()
        self.metrics.put("TimeToAcknowledge", tta, "Seconds", {"Severity": incident.severity})
        self._publish("Incident Acknowledged", incident)
        return {"incident_id": incident_id, "status": incident.status, "changed": True,
                "time_to_acknowledge_seconds": tta}

    def _escalation_due(self, incident: Incident) -> bool:
        after = self.policy.escalate_after.get(incident.severity)
        return (incident.status == "open" and not incident.escalated and after is not None
                and self.clock() - incident.opened_at >= after)

    def _escalate(self, incident: Incident) -> None:
        now = self.clock()
        incident.escalated, incident.escalated_at = True, now
        self.store.save(incident)  # conditional: of two sweeps at once, one pages
        waited = _minutes(now - incident.opened_at)
        if self.escalation is not None:
            self.escalation.publish(
                f"ESCALATED [{incident.severity}] {incident.title}",
                f"Incident {incident.incident_id} ({incident.severity}, team {incident.team or '-'}) has not been "
                f"acknowledged for {waited}.\nAlarms: {', '.join(a.name for a in incident.alarms)}\n"
                f"Acknowledge: opsctl incident ack {incident.incident_id}")
            detail = f"unacknowledged for {waited}: paged the escalation topic"
        else:
            detail = f"unacknowledged for {waited}: no escalation topic configured"
        self.store.append(incident.incident_id, [TimelineEntry(at=now, kind="escalation", detail=detail)])
        self._publish("Incident Escalated", incident)

    def _auto_resolve_due(self, incident: Incident) -> bool:
        if not incident.alarms or any(a.state != "OK" for a in incident.alarms):
            return False
        return self.clock() - max(a.since for a in incident.alarms) >= self.policy.auto_resolve

    def _resolve(self, incident: Incident, by: str, reason: str) -> dict[str, Any]:
        now = self.clock()
        incident.status, incident.resolved_at, incident.resolved_by, incident.resolve_reason = \
            "resolved", now, by, reason
        entry = TimelineEntry(at=now, kind="resolved", detail=reason, by=by)
        timeline = [*self.store.timeline(incident.incident_id), entry]
        incident.postmortem = self.postmortems.write(incident.incident_id, render_postmortem(incident, timeline))
        self.store.save(incident)
        self.store.append(incident.incident_id, [entry])
        for alarm in incident.alarms:
            self.store.release(alarm_key(alarm.name), incident.incident_id)
        if incident.group:
            self.store.release(group_key(incident.group), incident.incident_id)
        self.store.expire(incident.incident_id, now + self.policy.retention)
        ttr = (now - incident.opened_at).total_seconds()
        self.metrics.put("TimeToResolve", ttr, "Seconds", {"Severity": incident.severity})
        self._publish("Incident Resolved", incident)
        return {"incident_id": incident.incident_id, "status": "resolved", "time_to_resolve_seconds": ttr,
                "postmortem": incident.postmortem}

    # --- helpers ---------------------------------------------------------------------------------------------
    def _get(self, incident_id: str) -> Incident:
        incident = self.store.get(incident_id)
        if incident is None:
            raise UnknownIncident(f"no incident {incident_id}")
        return incident

    def _active(self, incident_id: str | None) -> Incident | None:
        incident = self.store.get(incident_id) if incident_id else None
        return incident if incident is not None and incident.active else None

    def _publish(self, detail_type: str, incident: Incident) -> None:
        if self.events is None:
            return
        try:
            self.events.publish(detail_type, incident.summary())
        except OpsError as exc:  # the incident is recorded; a lost event must not fail (and replay) the command
            log.warning("could not publish %s for %s: %s", detail_type, incident.incident_id, exc)


def _incident_alarm(alarm: ev.AlarmChange, now: datetime) -> IncidentAlarm:
    return IncidentAlarm(name=alarm.name, arn=alarm.arn, state=alarm.state, since=min(alarm.time, now),
                         severity=alarm.severity, team=alarm.team, runbook_url=alarm.runbook_url, group=alarm.group,
                         reason=alarm.reason)


def _result(incident: Incident, outcome: str) -> dict[str, Any]:
    return {"incident_id": incident.incident_id, "outcome": outcome, "status": incident.status}


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes >= 1 or minutes == 0 else f"{delta.total_seconds():.0f} s"


def _retrying(attempt: Callable[[], T]) -> T:
    """Run a read-decide-write step again when a conditional write lost a race."""
    for _ in range(MAX_ATTEMPTS - 1):
        try:
            return attempt()
        except Conflict:
            continue
    return attempt()


def execute(service: IncidentService, command: ev.Command) -> dict[str, Any]:
    """One command of the contract -> its answer."""
    if isinstance(command, ev.AlarmStateChange):
        return service.alarm_state_change(command)
    if isinstance(command, ev.RecordActions):
        return service.record_actions(command)
    if isinstance(command, ev.ListIncidents):
        return service.list(command.status)
    if isinstance(command, ev.ShowIncident):
        return service.show(command.incident_id)
    if isinstance(command, ev.Acknowledge):
        return service.ack(command.incident_id, command.by)
    if isinstance(command, ev.AddNote):
        return service.note(command.incident_id, command.by, command.text)
    if isinstance(command, ev.Resolve):
        return service.resolve(command.incident_id, command.by, command.reason)
    return service.sweep()
