"""Drill steps on a fake RDS: recovery-point choice, guards, wait loop, cleanup and the sweeper."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from churnguard_ops.drill.errors import GuardViolation, NoRecoveryPoint, RestoreFailed, RestoreTimedOut
from churnguard_ops.drill.model import DrillState, PollRequest
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.workflow import DrillWorkflow
from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

NOW = T0 + timedelta(minutes=20)
EXECUTION = execution("t1")
INSTANCE = "churnguard-ops-drill-" + EXECUTION.drill_id
SNAPSHOT = "churnguard-ops-dr-test-" + EXECUTION.drill_id


@pytest.fixture
def world():
    regions = {"us-east-1": FakeDrillRds("us-east-1"), "us-west-2": FakeDrillRds("us-west-2")}
    regions["us-east-1"].add_instance(source_instance())
    settings = DrillSettings(db_instance_ids=["churnguard-prod"], dr_region="us-west-2",
                             dr_subnet_group="dr-db-subnets", dr_security_group_ids=["sg-dr"])
    clock = {"now": NOW}
    workflow = DrillWorkflow(settings, regions.__getitem__, "us-east-1", clock=lambda: clock["now"])
    return workflow, regions, clock


def _planned(workflow, run=EXECUTION, **state):
    base = {"poll_seconds": 10, "max_wait_seconds": 60, **state}
    plan = workflow.plan(DrillState.model_validate(base), run)
    return DrillState.model_validate({**base, "plan": plan.model_dump(mode="json")})


def test_latest_mode_picks_the_newest_backup_snapshot_not_foreign_or_drill_ones(world):
    workflow, regions, _ = world
    rds = regions["us-east-1"]
    rds.add_snapshot("old", "churnguard-prod", T0 - timedelta(hours=2))
    rds.add_snapshot("newest", "churnguard-prod", T0)
    rds.add_snapshot("foreign-newer", "churnguard-prod", T0 + timedelta(minutes=5), ours=False)
    rds.add_snapshot("dr-test-newer", "churnguard-prod", T0 + timedelta(minutes=6), Purpose="RestoreDrill")
    state = _planned(workflow)
    assert state.plan.recovery_point.snapshot_id == "newest"
    assert state.plan.temp_instance_id == INSTANCE
    assert state.plan.wait.ready is True


def test_dr_target_uses_the_copy_in_the_dr_region_and_the_dr_network(world):
    workflow, regions, _ = world
    regions["us-west-2"].add_snapshot("copy", "churnguard-prod", T0)
    state = _planned(workflow, target_region="dr")
    assert state.plan.region == "us-west-2"
    workflow.restore(state)
    call = regions["us-west-2"].restore_calls[0]
    assert call["subnet_group"] == "dr-db-subnets" and call["security_group_ids"] == ["sg-dr"]


def test_restore_uses_source_network_drill_class_and_drill_tags(world):
    workflow, regions, _ = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = _planned(workflow)
    info = workflow.restore(state)
    call = regions["us-east-1"].restore_calls[0]
    assert call["subnet_group"] == "prod-db-subnets" and call["security_group_ids"] == ["sg-prod-db"]
    assert call["instance_class"] == "db.t3.micro"
    tags = regions["us-east-1"].instance(info.instance_id).tags
    assert tags["Purpose"] == "RestoreDrill" and tags["DrillId"] == EXECUTION.drill_id
    assert tags["Expiry"] == (NOW + timedelta(hours=6)).isoformat()


def test_no_backup_snapshot_is_a_clear_no_recovery_point_error(world):
    workflow, _, _ = world
    with pytest.raises(NoRecoveryPoint, match="no available backup snapshot of churnguard-prod"):
        _planned(workflow)


def test_unconfigured_source_is_refused_before_anything_is_created(world):
    workflow, regions, _ = world
    with pytest.raises(GuardViolation, match="not a configured drill source"):
        _planned(workflow, source_instance="someone-elses-db", mode="fresh")
    assert regions["us-east-1"].snapshots_by_id == {}


def test_restore_never_targets_the_source_instance(world):
    workflow, regions, _ = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = _planned(workflow)
    state.plan.temp_instance_id = "churnguard-prod"  # a bug upstream
    with pytest.raises(GuardViolation):
        workflow.restore(state)
    assert regions["us-east-1"].restore_calls == []


def test_wait_loop_backs_off_then_times_out_cleanly(world):
    workflow, regions, clock = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = _planned(workflow)
    state.restore = workflow.restore(state)
    waits = []
    with pytest.raises(RestoreTimedOut, match="still 'creating'"):
        for _ in range(20):
            state.restore.wait = workflow.poll(PollRequest(target="instance", drill=state))
            waits.append(state.restore.wait.next_wait_seconds)
    assert waits[0] == 16 and waits[1] > waits[0]  # 10s poll, x1.5 back-off
    # The last wait is cut to what is left of the 60 s budget, and the poll after it times out.
    assert state.restore.wait.waited_seconds + waits[-1] == 60


def test_instance_available_ends_the_wait_and_failed_state_raises(world):
    workflow, regions, _ = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = _planned(workflow)
    state.restore = workflow.restore(state)
    regions["us-east-1"].set_status(INSTANCE, "available")
    assert workflow.poll(PollRequest(target="instance", drill=state)).ready is True
    regions["us-east-1"].set_status(INSTANCE, "incompatible-restore")
    with pytest.raises(RestoreFailed):
        workflow.poll(PollRequest(target="instance", drill=state))


def test_fresh_mode_snapshot_is_waited_for_and_deleted_by_cleanup(world):
    workflow, regions, _ = world
    state = _planned(workflow, mode="fresh")
    assert state.plan.drill_snapshot_id == SNAPSHOT
    assert state.plan.wait.ready is False
    state.restore = workflow.restore(state)
    result = workflow.cleanup(EXECUTION)
    assert result["deleted_instance"] == INSTANCE
    assert result["deleted_snapshot"] == SNAPSHOT
    assert workflow.cleanup(EXECUTION)["already_gone"] == [INSTANCE, SNAPSHOT]


def test_cleanup_after_a_failed_plan_has_nothing_to_do_and_succeeds(world):
    workflow, _, _ = world
    result = workflow.cleanup(EXECUTION)
    assert result["deleted_instance"] is None and result["deleted_snapshot"] is None
    assert result["already_gone"] == [INSTANCE, SNAPSHOT]


def test_cleanup_refuses_an_instance_that_is_not_tagged_by_this_drill(world):
    workflow, regions, _ = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    _planned(workflow)
    regions["us-east-1"].add_instance(source_instance(INSTANCE))  # same name, no drill tags
    with pytest.raises(GuardViolation):
        workflow.cleanup(EXECUTION)
    assert regions["us-east-1"].deleted_instances == []


def test_sweeper_deletes_only_expired_drill_resources_in_every_region(world):
    workflow, regions, clock = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = _planned(workflow, mode="fresh")
    workflow.restore(state)
    regions["us-west-2"].add_snapshot("churnguard-ops-dr-test-old", "churnguard-prod", T0, Purpose="RestoreDrill",
                                      Expiry=(NOW - timedelta(hours=1)).isoformat())
    assert workflow.sweep() == {"instances": [], "snapshots": ["us-west-2/churnguard-ops-dr-test-old"], "errors": []}
    clock["now"] = NOW + timedelta(hours=7)  # the killed drill's resources have expired
    swept = workflow.sweep()
    assert swept["instances"] == [f"us-east-1/{INSTANCE}"]
    assert swept["snapshots"] == [f"us-east-1/{SNAPSHOT}"]
    assert "snap" in regions["us-east-1"].snapshots_by_id and "churnguard-prod" in regions["us-east-1"].instances_by_id


def test_latest_mode_is_the_newest_by_creation_time_not_by_a_future_dated_slot(world):
    workflow, regions, _ = world
    rds = regions["us-east-1"]
    # A tick dated a year ahead (a typo'd year) made this one first; the real hourly backups came after.
    rds.add_snapshot("typo-year", "churnguard-prod", T0 - timedelta(hours=2),
                     Slot=(T0 + timedelta(days=365)).isoformat())
    rds.add_snapshot("this-hour", "churnguard-prod", T0, Slot=T0.isoformat())
    assert _planned(workflow).plan.recovery_point.snapshot_id == "this-hour"


def test_snapshots_created_in_the_same_second_are_ordered_by_their_slot(world):
    workflow, regions, _ = world
    rds = regions["us-east-1"]
    rds.add_snapshot("earlier-slot", "churnguard-prod", T0, Slot=(T0 - timedelta(hours=1)).isoformat())
    rds.add_snapshot("later-slot", "churnguard-prod", T0, Slot=T0.isoformat())
    assert _planned(workflow).plan.recovery_point.snapshot_id == "later-slot"


def test_a_naive_restore_time_is_read_as_utc():
    state = DrillState.model_validate({"mode": "point_in_time", "restore_time": "2026-11-28T09:00:00"})
    assert state.restore_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("restore_time", [12345, 1.7e9, True])
def test_a_numeric_restore_time_is_refused_not_read_as_a_unix_time(restore_time):
    with pytest.raises(ValidationError, match="restore_time"):
        DrillState.model_validate({"mode": "point_in_time", "restore_time": restore_time})


def test_a_retried_fresh_plan_reuses_its_own_drill_snapshot(world):
    workflow, regions, _ = world
    first = _planned(workflow, mode="fresh")
    second = _planned(workflow, mode="fresh")  # Step Functions retried Plan after the snapshot was made
    assert second.plan.drill_snapshot_id == first.plan.drill_snapshot_id
    assert [s for s in regions["us-east-1"].snapshots_by_id if "dr-test" in s] == [SNAPSHOT]


def test_restore_and_snapshot_waits_share_one_budget(world):
    workflow, regions, _ = world
    state = _planned(workflow, mode="fresh", max_wait_seconds=60)
    state.plan.wait = state.plan.wait.model_copy(update={"waited_seconds": 55})
    info = workflow.restore(state)
    assert info.wait.next_wait_seconds == 5  # not the full poll interval past the budget


def test_a_dr_copy_is_a_recovery_point_of_its_source_snapshots_time_not_of_the_copy(world):
    from dataclasses import replace

    workflow, regions, _ = world
    dr = regions["us-west-2"]
    copy = dr.add_snapshot("copy", "churnguard-prod", T0)  # copied at T0 ...
    dr.put_snapshot(replace(copy, original_created_at=T0 - timedelta(minutes=50)))  # ... of data 50 min older
    plan = _planned(workflow, target_region="dr").plan
    assert plan.recovery_point.time == T0 - timedelta(minutes=50)
