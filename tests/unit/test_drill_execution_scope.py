"""A drill acts only on its own execution's resources: the drill id is the execution's, never the input's."""
from __future__ import annotations

from datetime import timedelta

import pytest

from churnguard_ops.core.fakes import MemoryRecords, RecordingMetrics
from churnguard_ops.drill.errors import NoRecoveryPoint
from churnguard_ops.drill.model import DrillState, LenientExecutionTask, drill_id_for
from churnguard_ops.drill.report import build_report
from churnguard_ops.drill.reporter import DrillReporter
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.workflow import DrillWorkflow
from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

NOW = T0 + timedelta(minutes=20)
A, B = execution("drill-a"), execution("drill-b", started_at=T0 + timedelta(minutes=5))


@pytest.fixture
def world():
    regions = {"us-east-1": FakeDrillRds("us-east-1"), "us-west-2": FakeDrillRds("us-west-2")}
    regions["us-east-1"].add_instance(source_instance())
    settings = DrillSettings(db_instance_ids=["churnguard-prod"], dr_region="us-west-2",
                             dr_subnet_group="dr-db-subnets", dr_security_group_ids=["sg-dr"])
    workflow = DrillWorkflow(settings, regions.__getitem__, "us-east-1", clock=lambda: NOW)
    return workflow, regions, settings


def _drill_a_in_flight(workflow: DrillWorkflow) -> DrillState:
    """Drill A has taken its fresh snapshot and restored its instance."""
    state = DrillState.model_validate({"mode": "fresh", "poll_seconds": 10, "max_wait_seconds": 60})
    state.plan = workflow.plan(state, A)
    state.restore = workflow.restore(state)
    return state


def _b_payload(a: DrillState, error: str = "NoRecoveryPoint") -> dict:
    """What Cleanup/Report of execution B receive when B's input carried A's plan, restore and id and
    B's Plan failed (so $.plan is still the input's)."""
    drill = {"mode": "snapshot", "snapshot_id": "nope", "drill_id": a.plan.drill_id,
             "plan": a.plan.model_dump(mode="json"), "restore": a.restore.model_dump(mode="json"),
             "error": {"Error": error, "Cause": '{"errorMessage": "snapshot nope not found"}'}}
    return {"execution": B.model_dump(mode="json"), "drill": drill}


def test_the_drill_id_is_derived_from_the_execution_deterministically_and_differs_between_executions():
    assert A.drill_id == execution("drill-a").drill_id  # a retried task of the same execution
    assert A.drill_id != B.drill_id
    # The same name reused later (Step Functions allows it 90 days after the first closed) is another drill.
    assert execution("drill-a", started_at=T0 + timedelta(days=91)).drill_id != A.drill_id
    assert A.drill_id.startswith("20261128t100000-") and len(A.drill_id) <= 31
    assert drill_id_for(A.id, T0) == A.drill_id


def test_an_input_drill_id_does_not_name_the_plan(world):
    workflow, regions, _ = world
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    state = DrillState.model_validate({"drill_id": "someone-elses", "poll_seconds": 10})
    plan = workflow.plan(state, B)
    assert plan.drill_id == B.drill_id and plan.temp_instance_id == "churnguard-ops-drill-" + B.drill_id


def test_cleanup_of_an_execution_whose_input_carries_another_drills_plan_leaves_that_drill_alone(world):
    workflow, regions, _ = world
    a = _drill_a_in_flight(workflow)
    regions["us-east-1"].add_snapshot("snap", "churnguard-prod", T0)
    with pytest.raises(NoRecoveryPoint):  # B's own Plan fails: $.plan stays what B's input said (A's)
        workflow.plan(DrillState.model_validate(_b_payload(a)["drill"]), B)

    result = workflow.cleanup(LenientExecutionTask.parse(_b_payload(a)).execution)

    assert result["drill_id"] == B.drill_id
    assert result["deleted_instance"] is None and result["deleted_snapshot"] is None
    assert regions["us-east-1"].deleted_instances == [] and regions["us-east-1"].deleted_snapshots == []
    assert a.plan.temp_instance_id in regions["us-east-1"].instances_by_id
    assert a.plan.drill_snapshot_id in regions["us-east-1"].snapshots_by_id
    # A's own Cleanup still deletes A's resources.
    own = workflow.cleanup(A)
    assert (own["deleted_instance"], own["deleted_snapshot"]) == (a.plan.temp_instance_id, a.plan.drill_snapshot_id)


def test_cleanup_without_an_execution_in_its_payload_deletes_nothing(world):
    workflow, regions, _ = world
    a = _drill_a_in_flight(workflow)
    payload = _b_payload(a)
    del payload["execution"]
    task = LenientExecutionTask.parse(payload)
    assert task.execution is None
    assert workflow.cleanup(task.execution)["deleted_instance"] is None
    assert regions["us-east-1"].deleted_instances == [] and regions["us-east-1"].deleted_snapshots == []


def test_cleanup_finds_a_drill_snapshot_plan_made_but_never_returned(world):
    """Plan died after CreateDBSnapshot (timeout): $.plan was never written, the snapshot is still this drill's."""
    workflow, regions, _ = world
    workflow.plan(DrillState.model_validate({"mode": "fresh", "poll_seconds": 10}), A)  # result lost
    result = workflow.cleanup(A)
    assert result["deleted_snapshot"] == "churnguard-ops-dr-test-" + A.drill_id


def test_cleanup_deletes_its_instance_in_the_dr_region(world):
    workflow, regions, _ = world
    regions["us-west-2"].add_snapshot("copy", "churnguard-prod", T0)
    state = DrillState.model_validate({"target_region": "dr", "poll_seconds": 10})
    state.plan = workflow.plan(state, A)
    workflow.restore(state)
    assert workflow.cleanup(A)["deleted_instance"] == state.plan.temp_instance_id
    assert regions["us-west-2"].deleted_instances == [state.plan.temp_instance_id]


def test_the_report_of_that_execution_is_filed_under_its_own_id_not_the_other_drills(world):
    workflow, _, settings = world
    a = _drill_a_in_flight(workflow)
    task = LenientExecutionTask.parse(_b_payload(a))
    own = task.own()
    assert own.plan is None and own.restore is None  # A's plan and restore are not B's
    report = build_report(own, settings, NOW, drill_id=task.execution.drill_id, execution_arn=task.execution.id)
    history = MemoryRecords()
    DrillReporter(None, history, None, RecordingMetrics()).publish(report)
    (item,) = history.items
    assert item["drill_id"] == B.drill_id != a.plan.drill_id
    assert item["execution_arn"] == B.id
    assert report["temp_instance_id"] is None and report["passed"] is False
    assert report["failure"] == "NoRecoveryPoint: snapshot nope not found"


def test_the_report_keeps_its_own_plan_and_restore(world):
    workflow, _, _ = world
    a = _drill_a_in_flight(workflow)
    payload = {"execution": A.model_dump(mode="json"),
               "drill": {"mode": "fresh", "plan": a.plan.model_dump(mode="json"),
                         "restore": a.restore.model_dump(mode="json")}}
    own = LenientExecutionTask.parse(payload).own()
    assert own.plan == a.plan and own.restore == a.restore


def test_sample_task_payloads_with_the_execution_are_what_plan_cleanup_and_report_receive():
    import json

    from churnguard_ops.drill.model import ExecutionTask
    from tests.events import EVENTS_DIR

    plan = ExecutionTask.model_validate(json.loads((EVENTS_DIR / "drill/task-plan.json").read_text()))
    later = LenientExecutionTask.parse(json.loads((EVENTS_DIR / "drill/task-execution-state.json").read_text()))
    assert plan.execution == later.execution
    own = later.own()  # the sample's plan is the sample execution's own
    assert own.plan is not None and own.plan.drill_id == later.execution.drill_id and own.restore is not None


def test_an_invalid_drill_state_still_leaves_cleanup_its_execution():
    task = LenientExecutionTask.parse({"execution": A.model_dump(mode="json"), "drill": {"mode": "nonsense"}})
    assert task.execution == A and task.drill.error["Error"] == "InvalidInput"
