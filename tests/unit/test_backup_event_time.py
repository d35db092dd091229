"""A backup tick's time is checked before anything is done with it, and "newest" means newest by RDS."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.core.errors import InvalidEvent
from tests.events import load_event
from tests.unit.test_backup_service import NOW, SLOT_ID, World


@pytest.mark.parametrize("time", [12345, 1764324000.0, True, None, "yesterday", ""])
def test_a_time_that_is_not_iso_text_is_refused_naming_the_field(time):
    with pytest.raises(ValidationError) as exc:
        BackupTick.model_validate(load_event("backup/scheduled-tick-database.json", time=time))
    assert [e["loc"][0] for e in exc.value.errors()] == ["time"]


@pytest.mark.parametrize(("offset", "reason"), [(timedelta(days=365), "in the future"),
                                                (timedelta(minutes=10), "in the future"),
                                                (-timedelta(hours=4), "old"),
                                                (-timedelta(days=2), "old")])
def test_a_tick_from_the_future_or_a_replay_is_refused_before_any_aws_call(offset, reason):
    world = World()
    with pytest.raises(InvalidEvent, match=f"^time: .* {reason}"):
        world.tick(time=(NOW + offset).isoformat())
    assert world.primary.snapshots_by_id == {} and world.primary.deleted_snapshots == []
    assert world.metrics.points == []


def test_a_late_retry_within_the_retry_window_still_runs():
    world = World()
    report = world.tick(time=(NOW - timedelta(hours=2, minutes=50)).isoformat())
    assert not report.failures


@pytest.mark.parametrize("detail", [{"policy": "configuration", "on_demand": True},
                                    {"policy": "database", "retention_days": 7},
                                    {"policy": "database", "db_instance_id": ["db1"]},
                                    {"policy": "database", "on_demand": "yes"}])
def test_detail_typos_and_contradictions_are_refused(detail):
    with pytest.raises(ValidationError):
        BackupTick.model_validate(load_event("backup/scheduled-tick-database.json", detail=detail))


def test_an_on_demand_run_makes_a_fresh_recovery_point_beside_the_hours_backup():
    world = World()
    world.tick()  # the hour's scheduled backup (10:00 slot)
    later = NOW.replace(minute=50)
    on_demand = {"policy": "database", "db_instance_ids": ["db1"], "on_demand": True, "retention_days": 7}
    world.service.clock = lambda: later

    report = world.tick("backup/manual-run-database.json", time=later.isoformat(), detail=on_demand)

    snapshot_id = "churnguard-ops-db1-database-od-20261128t105000"
    assert [(o.action, o.status) for o in report.outcomes if o.target == "db1"][0] == ("snapshot", "succeeded")
    snapshot = world.primary.snapshots_by_id[snapshot_id]
    assert snapshot.tags["OnDemand"] == "true" and snapshot.tags["Slot"] == later.isoformat()
    assert snapshot.tags["RetentionDate"] == (later + timedelta(days=7)).isoformat()
    assert SLOT_ID.format("db1") in world.primary.snapshots_by_id  # the schedule's own backup is untouched
    assert snapshot_id in world.dr.snapshots_by_id  # the newest recovery point goes to DR at once


def test_dr_copies_the_newest_by_creation_time_not_a_future_dated_slot():
    world = World()
    typo = world.primary.add_backup("db1", NOW + timedelta(days=365), created_at=NOW - timedelta(hours=3),
                                    RetentionDate=(NOW + timedelta(days=400)).isoformat())
    world.dr.put_snapshot(world.dr.copy_from(typo, None, dict(typo.tags)))
    world.tick()
    assert SLOT_ID.format("db1") in world.dr.snapshots_by_id


def test_dr_freshness_is_the_age_of_the_newest_restorable_recovery_point_there():
    world = World()
    old = world.primary.add_backup("db1", NOW - timedelta(hours=4), created_at=NOW - timedelta(hours=4),
                                   RetentionDate=(NOW + timedelta(days=30)).isoformat())
    world.dr.copy_from(old, None, dict(old.tags))  # copied later, but its data is 4 h old
    world.dr.copy_status = "copying"  # this tick's copies are still in flight
    world.tick()
    assert world.metrics.value("DrRecoveryPointAgeSeconds", DBInstanceIdentifier="db1") == 4 * 3600
    with pytest.raises(AssertionError):  # db2 has nothing restorable in DR: no datapoint, the alarm breaches
        world.metrics.value("DrRecoveryPointAgeSeconds", DBInstanceIdentifier="db2")
