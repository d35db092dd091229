"""The postmortem draft: its sections, the impact window and the TTA/TTR it states."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from churnguard_ops.incidents.model import Incident, IncidentAlarm, TimelineEntry
from churnguard_ops.incidents.postmortem import duration, render_postmortem

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def _incident(**changes: object) -> Incident:
    base = Incident(
        incident_id="inc-20261130-100000-3d0b2f1e", title="HighErrorRate in ALARM", severity="critical",
        status="resolved", team="platform", group="api", opened_at=T0, updated_at=T0,
        acknowledged_at=T0 + timedelta(minutes=4, seconds=5), acknowledged_by="alice",
        resolved_at=T0 + timedelta(hours=1, minutes=2, seconds=3), resolved_by="bob", resolve_reason="rollback",
        alarms=[IncidentAlarm(name="HighErrorRate", state="OK", since=T0 + timedelta(minutes=50),
                              severity="critical", runbook_url="https://runbooks.example.com/high-error-rate")])
    return base.model_copy(update=changes)


TIMELINE = [
    TimelineEntry(at=T0, kind="opened", detail="HighErrorRate OK -> ALARM"),
    TimelineEntry(at=T0 + timedelta(seconds=2), kind="notification", detail="notify: ok: published", by="router"),
    TimelineEntry(at=T0 + timedelta(seconds=3), kind="action", detail="start_backup: FAILED: Throttled", by="router"),
    TimelineEntry(at=T0 + timedelta(minutes=4, seconds=5), kind="ack", detail="acknowledged", by="alice"),
    TimelineEntry(at=T0 + timedelta(minutes=9), kind="note", detail="rolled back | v42", by="alice"),
    TimelineEntry(at=T0 + timedelta(hours=1, minutes=2, seconds=3), kind="resolved", detail="rollback", by="bob"),
]


def test_durations_read_as_hours_minutes_seconds():
    assert duration(timedelta(seconds=42)) == "42 s"
    assert duration(timedelta(minutes=4, seconds=5)) == "4 min 05 s"
    assert duration(timedelta(hours=1, minutes=2, seconds=3)) == "1 h 02 min 03 s"
    assert duration(None) == "-"


def test_the_draft_states_the_impact_window_tta_ttr_and_every_section():
    text = render_postmortem(_incident(), TIMELINE)
    for section in ("# Postmortem (draft): HighErrorRate in ALARM", "## Summary", "## Impact window", "## Alarms",
                    "## Timeline", "## Actions taken", "## Root cause", "## Follow-ups"):
        assert section in text
    assert "- Start: 2026-11-30 10:00:00 UTC" in text and "- End: 2026-11-30 11:02:03 UTC" in text
    assert "- Time to acknowledge: 4 min 05 s" in text and "- Time to resolve: 1 h 02 min 03 s" in text
    assert "severity **critical**" in text
    row = "| HighErrorRate | critical | OK | 2026-11-30 10:50:00 UTC | https://runbooks.example.com/high-error-rate |"
    assert row in text


def test_the_timeline_is_a_table_and_actions_are_listed_with_their_outcome():
    text = render_postmortem(_incident(), TIMELINE)
    assert "| 2026-11-30 10:04:05 | ack | acknowledged | alice |" in text
    assert "rolled back \\| v42" in text  # a pipe in a note does not break the table
    actions = text.split("## Actions taken")[1].split("##")[0]
    assert "notification: notify: ok: published" in actions and "action: start_backup: FAILED: Throttled" in actions
    assert "acknowledged" not in actions


def test_an_incident_never_acknowledged_says_so():
    text = render_postmortem(_incident(acknowledged_at=None, acknowledged_by=None), TIMELINE[:1])
    assert "never acknowledged" in text and "- Time to acknowledge: -" in text
    assert "- none recorded" in text
