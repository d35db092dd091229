"""RTO ends when RDS logged the restore as complete, not when a poll happened to see it."""
from __future__ import annotations

from datetime import timedelta

from churnguard_ops.core.errors import AccessDenied
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.ports import RdsEvent
from churnguard_ops.drill.report import build_report, summary_line
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.timing import RestoreTimer
from tests.unit.drill_fakes import T0, FakeInstanceEvents

SETTINGS = DrillSettings(rto_minutes=30, rpo_minutes=15)
INSTANCE = "churnguard-ops-drill-d1"
REQUESTED = T0 + timedelta(minutes=10)
POLLED = REQUESTED + timedelta(minutes=16)  # the poll after a long back-off wait
RESTORED = REQUESTED + timedelta(minutes=9)  # what RDS logged


def _state() -> DrillState:
    wait = {"ready": True, "status": "available"}
    return DrillState.model_validate({
        "mode": "latest",
        "plan": {"drill_id": "d1", "source_instance": "churnguard-prod", "region": "us-east-1",
                 "target_region": "primary", "temp_instance_id": INSTANCE,
                 "expires_at": (T0 + timedelta(hours=6)).isoformat(), "requested_at": REQUESTED.isoformat(),
                 "poll_seconds": 60, "max_wait_seconds": 5400, "wait": {**wait, "observed_at": REQUESTED.isoformat()},
                 "recovery_point": {"kind": "snapshot", "snapshot_id": "s1", "time": T0.isoformat()}},
        "restore": {"instance_id": INSTANCE, "requested_at": REQUESTED.isoformat(),
                    "wait": {**wait, "waited_seconds": 960, "observed_at": POLLED.isoformat()}},
        "validation": {"data_integrity": True, "validated_at": (POLLED + timedelta(minutes=2)).isoformat(),
                       "checks": [{"name": "foreign_key_orphans", "status": "passed", "detail": "ok"}]},
        "performance": {"performance_acceptable": True, "queries": []},
        "cleanup": {"cleaned_at": (POLLED + timedelta(minutes=5)).isoformat()},
    })


def _event(message: str, when, instance: str = INSTANCE) -> RdsEvent:
    return RdsEvent(source_identifier=instance, date=when, message=message, categories=("restoration",))


def _report(events: FakeInstanceEvents) -> dict:
    state = _state()
    timer = RestoreTimer(lambda region: events, clock=lambda: POLLED + timedelta(minutes=6))
    return build_report(state, SETTINGS, POLLED + timedelta(minutes=6), timing=timer.timing(state))


def test_rto_is_taken_from_the_rds_restore_event_not_from_the_poll():
    events = FakeInstanceEvents(events=[
        _event("DB instance created", REQUESTED + timedelta(seconds=5)),  # the start, not the end
        _event("Restored from snapshot s1", RESTORED),
        _event("DB instance restarted", RESTORED + timedelta(minutes=1)),
    ])
    report = _report(events)
    assert report["rto_source"] == "rds_event"
    assert report["rto"]["seconds"] == 9 * 60  # not 16 min: the poll's slack is gone
    assert report["rto"]["event"] == "Restored from snapshot s1"
    assert report["timings"]["available_at"] == RESTORED.isoformat()
    assert report["timings"]["available_polled_at"] == POLLED.isoformat()
    assert report["timings"]["validate_seconds"] == 120  # validation starts after the poll
    assert "from the RDS event" in summary_line(report)
    # Asked for the restored instance's events since the restore request, in the plan's region.
    assert events.queries[0][:2] == (INSTANCE, REQUESTED)


def test_a_point_in_time_restore_is_complete_at_its_restored_from_db_instance_event():
    events = FakeInstanceEvents(events=[
        _event("Restored from DB instance churnguard-prod to 2026-11-28 10:00:00", RESTORED)])
    report = _report(events)
    assert (report["rto_source"], report["rto"]["seconds"]) == ("rds_event", 9 * 60)


def test_without_a_restore_event_rto_falls_back_to_the_poll_and_says_so():
    events = FakeInstanceEvents(events=[_event("DB instance created", REQUESTED + timedelta(seconds=5))])
    report = _report(events)
    assert report["rto_source"] == "poll"
    assert report["rto"]["seconds"] == 16 * 60
    assert "no restore-complete RDS event" in report["rto"]["note"]
    assert "(first poll that saw it)" in report["rto"]["measured_as"]
    assert "from polling" in summary_line(report)


def test_an_event_from_before_the_restore_request_is_not_this_restores_completion():
    # A previous instance of the same name (a retried or recycled id) was restored earlier.
    events = FakeInstanceEvents(events=[_event("Restored from snapshot s0", REQUESTED - timedelta(minutes=1))])
    events.instance_events = lambda instance_id, start, end: list(events.events)  # type: ignore[method-assign]
    assert _report(events)["rto_source"] == "poll"


def test_unreadable_rds_events_fall_back_to_the_poll_and_the_report_still_goes_out():
    class Denied(FakeInstanceEvents):
        def instance_events(self, instance_id, start, end):
            raise AccessDenied("describe events of x: not authorized to perform rds:DescribeEvents")

    report = _report(Denied())
    assert report["rto_source"] == "poll" and "rds:DescribeEvents" in report["rto"]["note"]


def test_a_restore_that_never_became_available_has_no_rto_and_asks_rds_nothing():
    events = FakeInstanceEvents(events=[_event("Restored from snapshot s1", RESTORED)])
    state = _state()
    state.restore = state.restore.model_copy(update={"wait": state.restore.wait.model_copy(update={"ready": False})})
    timing = RestoreTimer(lambda region: events).timing(state)
    report = build_report(state, SETTINGS, POLLED, timing=timing)
    assert report["rto"]["seconds"] is None and report["rto_source"] is None and events.queries == []
