"""The synthesized restore-drill state machine, run by moto with the real handlers, on real PostgreSQL.

One embedded default (moto server + PostgreSQL + our deployed stacks) serves the whole module.
"""
from __future__ import annotations

import json
import time

import boto3
import pytest

from opsctl.drill_runner import leftovers, new_drill_id, run_drill, state_machine_arn
from opsctl.environment import LocalEnvironment
from opsctl.lambda_calls import backup_tick, invoke
from opsctl.local.churnguard_schema import corrupt, seed_churnguard
from opsctl.local.faults import Fault
from tests.events import load_event

pytestmark = pytest.mark.integration
SOURCE = "churnguard-prod"


@pytest.fixture(scope="module")
def env():
    with LocalEnvironment() as local:
        result = invoke(local.function_name("backup"), backup_tick("database"))
        assert result.ok, result.payload
        yield local


@pytest.fixture
def source_dsn(env):
    dsn = env.postgres.dsn(env.world.databases[SOURCE])
    yield dsn
    seed_churnguard(dsn, replace=True)  # undo whatever a test broke


def _drill(env, **overrides):
    drill_input = {"drill_id": new_drill_id(), "source_instance": SOURCE, "mode": "latest",
                   "poll_seconds": 1, "max_wait_seconds": 120, **overrides}
    return run_drill(state_machine_arn(env.context.prefix), drill_input, timeout_seconds=300)


def _left(env):
    return leftovers([env.region, env.context.backup.dr_region])


def _restored_databases(env):
    return [db for db in env.aws.rds_dataplane.describe()["instances"].values() if db.startswith("rds_")]


def test_healthy_backup_passes_with_every_check_and_is_cleaned_up(env):
    run = _drill(env)
    assert run.status == "SUCCEEDED", run.report
    assert run.report["passed"] and run.report["verdicts"]["data_integrity"]
    assert {c["status"] for c in run.report["checks"]} == {"passed"}
    assert run.states[0] == "Plan" and run.states[-1] == "DrillSucceeded"
    assert _left(env) == [] and _restored_databases(env) == []


@pytest.mark.parametrize("case, check", [
    ("orphan_fk", "foreign_key_orphans"),
    ("empty_critical_table", "critical_tables_non_empty"),
    ("sequence_behind", "sequences_not_behind"),
])
def test_corrupted_data_fails_the_drill_naming_check_and_table_and_still_cleans_up(env, source_dsn, case, check):
    broken = corrupt(source_dsn, case)
    run = _drill(env, mode="fresh")  # a fresh snapshot carries the corruption into the restored copy
    assert run.status == "FAILED"
    report = run.report
    assert report["verdicts"]["data_integrity"] is False and report["passed"] is False
    failing = [c for c in report["checks"] if c["status"] == "failed"]
    assert [c["name"] for c in failing] == [check]
    assert broken["table"].split(".")[-1] in failing[0]["detail"]
    assert report["verdicts"]["cleaned_up"] and _left(env) == [] and _restored_databases(env) == []


def test_a_failing_restore_call_is_caught_cleaned_up_and_reported(env):
    env.aws.faults.add(Fault(operation="rds:RestoreDBInstanceFromDBSnapshot", code="InsufficientDBInstanceCapacity"))
    try:
        run = _drill(env)
    finally:
        env.aws.faults.clear()
    assert run.status == "FAILED"
    assert "InsufficientDBInstanceCapacity" in run.report["failure"]
    assert run.report["verdicts"]["can_restore"] is False and "Cleanup" in run.states
    assert _left(env) == []


def test_drill_of_the_dr_region_copy_restores_in_the_dr_region(env):
    run = _drill(env, target_region="dr")
    assert run.status == "SUCCEEDED", run.report
    assert run.report["region"] == env.context.backup.dr_region
    assert run.report["recovery_point"]["snapshot_id"].startswith(f"churnguard-ops-{SOURCE}-database-")
    assert _left(env) == []


def test_killed_execution_leaves_resources_that_the_sweeper_removes_once_expired(env):
    plan = env.aws.lambdas.lookup(env.function_name("drill-plan"))
    saved = dict(plan.environment)
    plan.environment["DRILL_EXPIRY_HOURS"] = "0.0005"  # ~2 s, so the test need not wait 6 hours
    sfn = boto3.client("stepfunctions")
    started: list[str] = []
    try:
        drill_input = {"drill_id": new_drill_id(), "source_instance": SOURCE, "mode": "fresh",
                       "poll_seconds": 60, "max_wait_seconds": 600}
        arn = sfn.start_execution(stateMachineArn=state_machine_arn(env.context.prefix),
                                  input=json.dumps(drill_input))["executionArn"]
        started.append(arn)
        deadline = time.monotonic() + 60
        while not any(i.startswith(f"{env.region}/instance/") for i in _left(env)):
            assert time.monotonic() < deadline, "the drill never restored an instance"
            time.sleep(0.2)
        sfn.stop_execution(executionArn=arn, cause="test: killed mid-drill")
    finally:
        plan.environment.clear()
        plan.environment.update(saved)
    left = _left(env)
    assert any("/instance/churnguard-ops-drill-" in r for r in left)
    assert any("/snapshot/churnguard-ops-dr-test-" in r for r in left)
    time.sleep(2.5)
    swept = invoke(env.function_name("drill-sweeper"), load_event("drill/sweeper-scheduled-tick.json"))
    assert swept.ok, swept.payload
    assert len(swept.payload["instances"]) == 1 and len(swept.payload["snapshots"]) == 1
    assert _left(env) == [] and _restored_databases(env) == []
