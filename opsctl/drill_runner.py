"""Start a restore-drill execution, follow it state by state, and fetch its report.

The same calls work against AWS and the embedded default (only the endpoint differs).
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3

from churnguard_ops.core.contracts import DRILL_INSTANCE_PREFIX, DRILL_SNAPSHOT_PREFIX
from opsctl.console import HEARTBEAT_SECONDS, progress
from opsctl.errors import UsageError
from opsctl.executions import execution_history

DRILL_STATE_MACHINE_SUFFIX = "restore-drill"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class DrillRun:
    execution_arn: str
    drill_id: str  # the execution's (churnguard_ops.drill.model.drill_id_for)
    status: str
    states: list[str]
    transitions: int
    report: dict[str, Any] | None
    seconds: float


def state_machine_arn(prefix: str, region: str | None = None) -> str:
    sfn = boto3.client("stepfunctions", region_name=region)
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == f"{prefix}-{DRILL_STATE_MACHINE_SUFFIX}":
                return machine["stateMachineArn"]
    raise UsageError(f"no state machine named {prefix}-{DRILL_STATE_MACHINE_SUFFIX}: is the drill stack deployed, "
                     "and is --prefix right?")


def new_drill_id() -> str:
    """A unique execution name suffix. The drill's id is derived from the execution, not from this."""
    return f"{datetime.now(timezone.utc):%Y%m%dt%H%M%S}-{secrets.token_hex(2)}"


def run_drill(machine_arn: str, drill_input: dict[str, Any], *, on_start: Callable[[str], None] | None = None,
              poll_interval: float = 0.5, timeout_seconds: float = 4 * 3600) -> DrillRun:
    from churnguard_ops.drill.model import drill_id_for

    sfn = boto3.client("stepfunctions")
    started = time.monotonic()
    # A drill_id in the input would be ignored by the drill (its id is the execution's): it names the execution.
    drill_input = dict(drill_input)
    name = f"drill-{drill_input.pop('drill_id', None) or new_drill_id()}"
    execution = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(drill_input))
    arn = execution["executionArn"]
    drill_id = drill_id_for(arn, execution["startDate"])
    progress(f"started {arn.rsplit(':', 1)[-1]} (drill {drill_id})")
    if on_start:
        on_start(arn)
    seen, states = 0, []
    entered = last_line = time.monotonic()
    while True:
        status = sfn.describe_execution(executionArn=arn)["status"]
        events = execution_history(sfn, arn)
        for event in events[seen:]:
            if event["type"].endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                states.append(name)
                progress(f"  -> {name}")
                entered = last_line = time.monotonic()
        seen = len(events)
        if status not in TERMINAL and states and time.monotonic() - last_line >= HEARTBEAT_SECONDS:
            # On AWS a restore sits in one wait state for minutes: say so rather than go quiet.
            progress(f"  ... still in {states[-1]} ({time.monotonic() - entered:.0f} s)")
            last_line = time.monotonic()
        if status in TERMINAL:
            break
        if time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"drill {arn} still {status} after {timeout_seconds}s")
        time.sleep(poll_interval)
    progress(f"execution {status} after {time.monotonic() - started:.1f}s, {len(states)} state transitions")
    return DrillRun(arn, drill_id, status, states, len(states), _report(events), time.monotonic() - started)


def _report(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Report task's result carries where the report is; read the full document from S3."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails") or {}
        if event["type"] == "TaskStateExited" and details.get("name") == "Report":
            location = (json.loads(details.get("output") or "{}").get("report") or {}).get("report_s3")
            if location:
                bucket, _, key = location.removeprefix("s3://").partition("/")
                return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return None


def leftovers(regions: list[str]) -> list[str]:
    """Drill instances and drill snapshots that still exist (anything here after a drill is a leak)."""
    found = []
    for region in regions:
        rds = boto3.client("rds", region_name=region)
        for page in rds.get_paginator("describe_db_instances").paginate():
            found += [f"{region}/instance/{i['DBInstanceIdentifier']}" for i in page["DBInstances"]
                      if i["DBInstanceIdentifier"].startswith(DRILL_INSTANCE_PREFIX)]
        for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
            found += [f"{region}/snapshot/{s['DBSnapshotIdentifier']}" for s in page["DBSnapshots"]
                      if s["DBSnapshotIdentifier"].startswith(DRILL_SNAPSHOT_PREFIX)]
    return found


def report_summary(report: dict[str, Any]) -> str:
    verdicts = report["verdicts"]
    lines = [f"Restore drill {report['drill_id']} of {report['source_instance']} "
             f"({report['mode']}, {report['target_region']} region): {'PASSED' if report['passed'] else 'FAILED'}"]
    point = report.get("recovery_point") or {}
    if point:
        lines.append(f"  recovery point: {point.get('snapshot_id') or point.get('kind')} at {point.get('time')}")
    lines.append("  verdicts: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in verdicts.items()))
    rto, rpo = report["rto"], report["rpo"]
    source = {"rds_event": "from the RDS restore event", "poll": "from polling"}.get(report.get("rto_source") or "")
    lines.append(f"  RTO {rto['seconds']}s (target {rto['target_seconds']:.0f}s, {rto['measured_as']}"
                 + (f"; {source}" if source else "") + ")")
    if rto.get("note"):
        lines.append(f"    {rto['note']}")
    lines.append(f"  RPO {rpo['seconds']}s (target {rpo['target_seconds']:.0f}s, {rpo['measured_as']})"
                 + (f": {rpo['reason']}" if rpo.get("reason") else ""))
    lines.extend(_check_outcome_lines(report))
    for check in report.get("checks", []):
        lines.append(f"  [{check['status']:>7}] {check['name']}: {check['detail']}")
    lines.extend("  " + query_line(query) for query in report.get("queries", []))
    lines.extend(_proof_lines(report.get("index_proof")))
    if report.get("failure"):
        lines.append(f"  failure: {report['failure']}")
    if report.get("cleanup_failure"):
        lines.append(f"  cleanup failure: {report['cleanup_failure']}")
    timings = report["timings"]
    lines.append(f"  stages: restore {timings['restore_seconds']}s, validate {timings['validate_seconds']}s, "
                 f"cleanup {timings['cleanup_seconds']}s")
    return "\n".join(lines)


def _check_outcome_lines(report: dict[str, Any]) -> list[str]:
    """Which checks ran, which had nothing to check (and why), which were skipped (and why), the baseline."""
    details = {c["name"]: str(c.get("detail", "")) for c in report.get("checks", [])}

    def with_reasons(names: list[str]) -> str:
        return "; ".join(f"{n} ({_reason(details.get(n, ''))})" if details.get(n) else n for n in names)

    lines = []
    if "checks_ran" in report:
        lines.append("  checks ran: " + (", ".join(report["checks_ran"]) or "none"))
    if report.get("checks_not_applicable"):
        lines.append("  not applicable: " + with_reasons(report["checks_not_applicable"]))
    if report.get("checks_skipped"):
        lines.append("  skipped: " + with_reasons(report["checks_skipped"]))
    baseline = report.get("baseline")
    if isinstance(baseline, dict):
        required = "required" if baseline.get("required") else "not required"
        state = "present" if baseline.get("present") else f"MISSING ({baseline.get('reason', 'unknown')})"
        lines.append(f"  baseline: {state}, {required}")
    return lines


def _proof_lines(section: dict[str, Any] | None) -> list[str]:
    """The index proof: one line per proposal (speed-up, sizes), statements it could not replay and why."""
    from churnguard_ops.drill.report import proof_lines

    lines = [f"  index proof: {line}" for line in proof_lines(section)]
    for proposal in (section or {}).get("proposals", []) if (section or {}).get("status") == "proven" else []:
        if proposal.get("sql"):
            lines.append(f"    proposed: {proposal['sql']}")
        for statement in proposal.get("statements", []):
            if statement.get("replayed"):
                lines.append(f"    {statement.get('before_ms')} ms -> {statement.get('after_ms')} ms "
                             f"({', '.join(statement.get('before_plan', [])) or '-'} -> "
                             f"{', '.join(statement.get('after_plan', [])) or '-'}): {statement['text'][:80]}")
            else:
                lines.append(f"    not replayed: {statement['text'][:80]} ({statement.get('reason')})")
    return lines


def _reason(detail: str) -> str:
    for prefix in ("not applicable: ", "skipped: "):
        detail = detail.removeprefix(prefix)
    return detail


def _ms(value: float) -> str:
    return f"{value:g}"


def query_line(query: dict[str, Any]) -> str:
    """One timed query: the median against its limit (what passes or fails it), the slowest run labelled."""
    limit = f"limit {_ms(query['threshold_ms'])} ms" if query.get("threshold_ms") is not None else "no limit"
    if query.get("error") or query.get("median_ms") is None:
        return f"[  error] query {query['name']}: {query.get('error') or 'not timed'} ({limit})"
    verdict = "ok" if query.get("passed") else "SLOW"
    slowest = f", slowest run {_ms(query['max_ms'])} ms" if query.get("max_ms") is not None else ""
    return f"[{verdict:>7}] query {query['name']}: {_ms(query['median_ms'])} ms median ({limit}{slowest})"
