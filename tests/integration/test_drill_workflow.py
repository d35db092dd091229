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
    # The drill id is the execution's, and the report is filed under it.
    assert run.report["drill_id"] == run.drill_id and run.report["execution_arn"] == run.execution_arn


PROPOSALS = {"schema_version": 1, "db_instance_id": SOURCE, "database": "churnguard", "proposals": [{
    "id": "missing_index:public.predictions:churn_score", "schema": "public", "table": "predictions",
    "columns": ["churn_score"], "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS predictions_churn_score_idx "
                                       "ON public.predictions USING btree (churn_score);",
    "statements": [{"queryid": "1", "calls": 50, "text": "SELECT count(*) FROM predictions WHERE churn_score = $1",
                    "parameters": [{"position": 1, "schema": "public", "table": "predictions",
                                    "column": "churn_score"}]}]}]}


def test_the_drill_proves_the_advisors_index_proposal_on_its_copy_and_never_on_the_source(env):
    import psycopg2

    from churnguard_ops.core.contracts import DBADVISOR_PROPOSALS_PREFIX, PROOF_INDEX_PREFIX

    bucket = env.aws.lambdas.lookup(env.function_name("drill-prove")).environment["DRILL_BUCKET"]
    key = f"{DBADVISOR_PROPOSALS_PREFIX}{SOURCE}.json"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(PROPOSALS).encode())
    try:
        run = _drill(env)
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
    assert run.status == "SUCCEEDED", run.report
    assert run.states.index("MeasurePerformance") < run.states.index("ProveIndexes") < run.states.index("Cleanup")
    proof = run.report["index_proof"]
    assert proof["status"] == "proven", proof
    (proposal,) = proof["proposals"]
    assert proposal["speedup"] > 1 and proposal["uses_index"] and proposal["dropped"] is True, proposal
    source_dsn = env.postgres.dsn(env.world.databases[SOURCE])  # read only: no reseed needed
    with psycopg2.connect(source_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE %s", (PROOF_INDEX_PREFIX + "%",))
        assert cur.fetchone()[0] == 0
    conn.close()
    assert _left(env) == [] and _restored_databases(env) == []


def test_rto_ends_at_the_rds_restore_event_not_at_the_poll(env):
    run = _drill(env, poll_seconds=3)  # moto is available at once; the first poll still comes 3 s later
    report = run.report
    assert run.status == "SUCCEEDED", report
    assert report["rto_source"] == "rds_event" and report["rto"]["event"].startswith("Restored from snapshot ")
    timings = report["timings"]
    assert timings["restore_requested_at"] <= timings["available_at"] <= timings["available_polled_at"]
    assert report["rto"]["seconds"] == report["timings"]["restore_seconds"]


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


def _plant_drill(env, drill_id: str) -> dict:
    """Another drill's temporary instance and drill snapshot, tagged as that drill's, as if it were running."""
    from datetime import datetime, timedelta, timezone

    rds = boto3.client("rds", region_name=env.region)
    expires = (datetime.now(timezone.utc) + timedelta(hours=6)).isoformat()
    tags = [{"Key": k, "Value": v} for k, v in {"Purpose": "RestoreDrill", "CreatedBy": "churnguard-ops",
                                                "DrillId": drill_id, "Expiry": expires,
                                                "SourceInstance": SOURCE}.items()]
    backups = [s for s in rds.describe_db_snapshots(DBInstanceIdentifier=SOURCE, SnapshotType="manual")["DBSnapshots"]
               if s["DBSnapshotIdentifier"].startswith(f"churnguard-ops-{SOURCE}-")]
    instance, snapshot = f"churnguard-ops-drill-{drill_id}", f"churnguard-ops-dr-test-{drill_id}"
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=instance, DBInstanceClass="db.t3.micro",
                                             DBSnapshotIdentifier=backups[0]["DBSnapshotIdentifier"], Tags=tags)
    rds.create_db_snapshot(DBInstanceIdentifier=SOURCE, DBSnapshotIdentifier=snapshot, Tags=tags)
    now = datetime.now(timezone.utc).isoformat()
    wait = {"ready": True, "waited_seconds": 0, "next_wait_seconds": 1, "status": "available", "observed_at": now}
    plan = {"drill_id": drill_id, "source_instance": SOURCE, "region": env.region, "target_region": "primary",
            "recovery_point": {"kind": "snapshot", "snapshot_id": snapshot, "time": now},
            "temp_instance_id": instance, "expires_at": expires, "requested_at": now, "drill_snapshot_id": snapshot,
            "poll_seconds": 1, "max_wait_seconds": 120, "wait": wait}
    return {"plan": plan, "restore": {"instance_id": instance, "requested_at": now, "wait": wait}}


def test_an_execution_whose_input_carries_another_drills_plan_cleans_up_and_reports_only_itself(env):
    other = "20261101t030000-0badf00d"
    planted = _plant_drill(env, other)
    try:
        # Plan fails (no such snapshot), so $.plan is still what the input said when Cleanup runs.
        run = _drill(env, mode="snapshot", snapshot_id="churnguard-ops-no-such-snapshot", drill_id=other, **planted)
        assert run.status == "FAILED" and "Cleanup" in run.states and run.states[-1] == "DrillFailed"
        assert "NoRecoveryPoint" in run.report["failure"]
        # The other drill's instance, data and snapshot are untouched ...
        assert sorted(_left(env)) == [f"{env.region}/instance/churnguard-ops-drill-{other}",
                                      f"{env.region}/snapshot/churnguard-ops-dr-test-{other}"]
        assert len(_restored_databases(env)) == 1
        # ... and the report and history are this execution's, not the other drill's.
        assert run.report["drill_id"] == run.drill_id != other
        assert run.report["temp_instance_id"] is None
        history = boto3.client("dynamodb", region_name=env.region).query(
            TableName=f"{env.context.prefix}-drill-history", KeyConditionExpression="source_instance = :s",
            ExpressionAttributeValues={":s": {"S": SOURCE}})["Items"]
        ids = {item["drill_id"]["S"] for item in history}
        assert run.drill_id in ids and other not in ids
    finally:
        rds = boto3.client("rds", region_name=env.region)
        rds.modify_db_instance(DBInstanceIdentifier=f"churnguard-ops-drill-{other}", DeletionProtection=False,
                               ApplyImmediately=True)  # restored copies inherit it
        rds.delete_db_instance(DBInstanceIdentifier=f"churnguard-ops-drill-{other}", SkipFinalSnapshot=True)
        rds.delete_db_snapshot(DBSnapshotIdentifier=f"churnguard-ops-dr-test-{other}")
    assert _left(env) == [] and _restored_databases(env) == []
