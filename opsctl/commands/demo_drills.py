"""Demo steps for restore drills: a healthy drill (with the index proof), a corrupted backup, the DR copy, a killed
drill."""
from __future__ import annotations

import json
import time
from typing import Any

import boto3

from opsctl.commands.demo_steps import Step
from opsctl.console import progress, write_json
from opsctl.drill_runner import DrillRun, leftovers, new_drill_id, report_summary, run_drill, state_machine_arn
from opsctl.lambda_calls import invoke


def _source(env: Any) -> str:
    return next(iter(env.world.databases))


def _drill(env: Any, out: str | None, name: str, **overrides: Any) -> DrillRun:
    drill_input = {"drill_id": new_drill_id(), "source_instance": _source(env), "mode": "latest",
                   "poll_seconds": 1, "max_wait_seconds": 300, **overrides}
    run = run_drill(state_machine_arn(env.context.prefix), drill_input)
    if run.report:
        print(report_summary(run.report))
    write_json(out, f"drill-{name}.json", {"status": run.status, "states": run.states, "report": run.report})
    return run


def _left(env: Any) -> list[str]:
    return leftovers([env.region, env.context.backup.dr_region])


def healthy_drill(env: Any, out: str | None) -> Step:
    step = Step("Restore drill: the latest backup restored, proven with SQL, timed, index advice proven, cleaned up")
    run = _drill(env, out, "healthy")
    report = run.report or {}
    verdicts = report.get("verdicts", {})
    step.expect("execution succeeded", run.status == "SUCCEEDED", f"{run.transitions} state transitions")
    for verdict in ("snapshot_exists", "can_restore", "data_integrity", "performance_acceptable"):
        step.expect(verdict, bool(verdicts.get(verdict)))
    step.expect("row counts match the backup-time baseline",
                any(c["name"] == "row_counts_vs_baseline" and c["status"] == "passed"
                    for c in report.get("checks", [])))
    step.expect("RTO measured within target", bool(verdicts.get("rto_met")), f"{report.get('rto', {}).get('seconds')}s")
    step.expect("RPO measured", report.get("rpo", {}).get("seconds") is not None,
                f"{report.get('rpo', {}).get('seconds')}s")
    _expect_index_proof(env, step, report)
    step.expect("nothing left behind", _left(env) == [])
    return step


def _expect_index_proof(env: Any, step: Step, report: dict[str, Any]) -> None:
    """The advisor's demo step (earlier) wrote proposals for this instance: at least one is proven on the copy."""
    import psycopg2

    from churnguard_ops.core.contracts import PROOF_INDEX_PREFIX
    from churnguard_ops.drill.report import proof_lines

    proof = report.get("index_proof") or {}
    proven = [p for p in proof.get("proposals", []) if p.get("status") == "proven" and (p.get("speedup") or 0) > 1]
    step.expect("an index proposal proven on the copy with a measured speed-up > 1", bool(proven),
                "; ".join(proof_lines(proof)) or "no index proof in the report")
    connection = psycopg2.connect(env.postgres.dsn(env.world.databases[_source(env)]))
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE %s", (PROOF_INDEX_PREFIX + "%",))
            on_source = cur.fetchone()[0]
    finally:
        connection.close()
    step.expect("every proof index dropped from the copy, none ever on the source",
                all(p.get("dropped") is True for p in proof.get("proposals", []) if p.get("index_name"))
                and on_source == 0, f"{on_source} proof index(es) on the source")


def corrupted_backup(env: Any, out: str | None) -> Step:
    from opsctl.local.churnguard_schema import corrupt, seed_churnguard

    step = Step("Restore drill catches corruption: orphaned rows in the backup fail the drill, cleanup still runs")
    dsn = env.postgres.dsn(env.world.databases[_source(env)])
    broken = corrupt(dsn, "orphan_fk")
    progress(f"inserted orphan rows into {broken['table']} (FK checks off for that session), then a fresh drill")
    try:
        run = _drill(env, out, "corrupted", mode="fresh")
    finally:
        seed_churnguard(dsn, replace=True)
    report = run.report or {}
    failing = [c for c in report.get("checks", []) if c["status"] == "failed"]
    step.expect("execution failed", run.status == "FAILED")
    step.expect("data_integrity is false", report.get("verdicts", {}).get("data_integrity") is False)
    step.expect("the failing check and table are named",
                [c["name"] for c in failing] == ["foreign_key_orphans"]
                and broken["table"].split(".")[-1] in failing[0]["detail"], failing[0]["detail"] if failing else "")
    step.expect("cleanup ran anyway: nothing left behind", "Cleanup" in run.states and _left(env) == [])
    return step


def dr_region_drill(env: Any, out: str | None) -> Step:
    step = Step(f"Restore drill of the copy in the DR region ({env.context.backup.dr_region})")
    run = _drill(env, out, "dr-region", target_region="dr")
    report = run.report or {}
    step.expect("execution succeeded", run.status == "SUCCEEDED")
    step.expect("restored in the DR region", report.get("region") == env.context.backup.dr_region)
    step.expect("nothing left behind", _left(env) == [])
    return step


def killed_drill(env: Any, out: str | None) -> Step:
    step = Step("Killed drill: the hourly sweeper deletes what it left once its expiry passes")
    plan = env.aws.lambdas.lookup(env.function_name("drill-plan"))
    saved = dict(plan.environment)
    plan.environment["DRILL_EXPIRY_HOURS"] = "0.0005"  # expire in ~2 s instead of 6 h, for the demo only
    sfn = boto3.client("stepfunctions")
    try:
        drill_input = {"drill_id": new_drill_id(), "source_instance": _source(env), "mode": "fresh",
                       "poll_seconds": 60, "max_wait_seconds": 600}
        arn = sfn.start_execution(stateMachineArn=state_machine_arn(env.context.prefix),
                                  input=json.dumps(drill_input))["executionArn"]
        deadline = time.monotonic() + 60
        while not any("/instance/" in r for r in _left(env)) and time.monotonic() < deadline:
            time.sleep(0.2)
        sfn.stop_execution(executionArn=arn, cause="demo: killed mid-drill")
        progress("stopped the execution while it waited for the restored instance")
    finally:
        plan.environment.clear()
        plan.environment.update(saved)
    left = _left(env)
    step.expect("the killed drill left an instance and its snapshot", len(left) == 2, ", ".join(left))
    time.sleep(2.5)
    swept = invoke(env.function_name("drill-sweeper"), {"detail-type": "Scheduled Event", "detail": {}})
    step.expect("sweeper succeeded", swept.ok, json.dumps(swept.payload)[:200])
    step.expect("nothing left behind after the sweep", _left(env) == [])
    return step


DRILL_SCENARIOS = [healthy_drill, corrupted_backup, dr_region_drill, killed_drill]
