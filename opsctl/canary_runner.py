"""Start a canary release and follow it: one line per state the operator cares about, decisions as they come."""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3

from opsctl.console import progress
from opsctl.errors import UsageError
from opsctl.executions import execution_history

CANARY_STATE_MACHINE_SUFFIX = "canary-release"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
#: Tasks whose result carries a new decision (the approval branch keeps judging under its own name).
JUDGING_STATES = ("Evaluate", "WatchWhileWaiting")


@dataclass
class ReleaseRun:
    execution_arn: str
    status: str
    outcome: str  # promoted | rolled_back | aborted | refused | failed
    reason: str | None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    final_state: dict[str, Any] | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"execution_arn": self.execution_arn, "status": self.status, "outcome": self.outcome,
                "reason": self.reason, "decisions": self.decisions, "states": self.states,
                "final_state": self.final_state, "seconds": round(self.seconds, 1)}


def state_machine_arn(prefix: str, region: str | None = None) -> str:
    sfn = boto3.client("stepfunctions", region_name=region)
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == f"{prefix}-{CANARY_STATE_MACHINE_SUFFIX}":
                return str(machine["stateMachineArn"])
    raise UsageError(f"no state machine named {prefix}-{CANARY_STATE_MACHINE_SUFFIX}: is the canary stack deployed, "
                     "and is --prefix right?")


def execution_name(request: dict[str, Any]) -> str:
    """Readable and unique: the release id is the execution's name (its lock and decision records carry it)."""
    stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    if request.get("kind") == "feature_flag":
        subject = f"flag-{request['flag']['environment']}-{request['flag']['key']}"
    else:
        subject = f"{request['function_name']}-{request['alias']}-v{request['new_version']}"
    return f"{subject[:59]}-{stamp}-{secrets.token_hex(2)}"  # at most 80 characters


def decision_line(decision: dict[str, Any], steps: list[int]) -> str:
    """One evaluation: weight, step, the canary's and the stable version's error rate and p99, the business
    change, the verdict and what follows (``25 %  step 2/5  canary 143 inv  err 0.00 %  p99 61 ms  | ...``)."""
    def pct(value: Any) -> str:
        return "-" if value is None else f"{value:.2f} %"

    def ms(value: Any) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    step = decision.get("step_index", -1) + 1
    business = decision.get("business_change_pct")
    business_text = "" if business is None else f"  business {business:+.1f} %"
    canary = (f"canary {decision.get('canary_invocations', 0):.0f} inv  "
              f"err {pct(decision.get('canary_error_rate_pct'))}  p99 {ms(decision.get('canary_p99_ms'))}")
    stable = f"stable err {pct(decision.get('baseline_error_rate_pct'))} p99 {ms(decision.get('baseline_p99_ms'))}"
    line = (f"{decision.get('weight', 0):>3} %  step {step}/{len(steps)}  {canary}  | {stable}{business_text}  "
            f"{decision.get('verdict')} -> {decision.get('action')}")
    reasons = decision.get("reasons") or []
    if decision.get("verdict") != "PASS" and reasons:
        line += "\n        " + "\n        ".join(reasons)
    return line


def follow(arn: str, steps: list[int], *, poll_interval: float = 0.5, timeout_seconds: float = 24 * 3600,
           on_event: Callable[[dict[str, Any]], None] | None = None,
           on_poll: Callable[[dict[str, Any]], None] | None = None) -> ReleaseRun:
    """Print the release as it goes: shifts, each decision, waits for a human, the end."""
    sfn = boto3.client("stepfunctions")
    started = time.monotonic()
    seen = 0
    run = ReleaseRun(arn, "RUNNING", "running", None)
    while True:
        description = sfn.describe_execution(executionArn=arn)
        status = description["status"]
        if on_poll:
            on_poll(description)
        events = execution_history(sfn, arn)
        for event in events[seen:]:
            _show(event, run, steps)
            if on_event:
                on_event(event)
        seen = len(events)
        if status in TERMINAL:
            break
        if time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"release {arn} still {status} after {timeout_seconds:.0f} s")
        time.sleep(poll_interval)
    description = sfn.describe_execution(executionArn=arn)
    run.status, run.seconds = status, time.monotonic() - started
    _conclude(run, description, events)
    return run


def _show(event: dict[str, Any], run: ReleaseRun, steps: list[int]) -> None:
    kind = event["type"]
    if kind.endswith("StateEntered"):
        name = event["stateEnteredEventDetails"]["name"]
        run.states.append(name)
        if name in ("AwaitApproval", "AwaitOperator"):
            progress(f"  waiting for a human ({name}): opsctl canary approve|reject --execution {run.execution_arn}")
        return
    if kind != "TaskStateExited":
        return
    details = event.get("stateExitedEventDetails") or {}
    name = details.get("name")
    try:
        output = json.loads(details.get("output") or "{}")
    except json.JSONDecodeError:
        return
    run.final_state = output if isinstance(output, dict) and "request" in output else run.final_state
    target = output.get("target") or {}
    if name == "Validate" and target.get("kind") == "feature_flag":
        progress(f"  validated: {target.get('name')} at {target.get('stable')} -> {target.get('new')}, "
                 f"steps {steps}")
    elif name == "Validate":
        progress(f"  validated: {output.get('request', {}).get('function_name')}:"
                 f"{output.get('request', {}).get('alias')} stable v{output.get('stable_version')} -> "
                 f"v{output.get('request', {}).get('new_version')}, steps {steps}")
    elif name == "SmokeTest":
        smoke = output.get("smoke") or []
        progress(f"  smoke tests: {len(smoke)} passed on the new version" if smoke
                 else "  smoke tests: none configured")
    elif name == "ShiftTraffic" and target.get("kind") == "feature_flag":
        progress(f"  shifted: {target.get('name')} rollout at {output.get('weight')} %")
    elif name == "ShiftTraffic":
        progress(f"  shifted: {output.get('weight')} % of traffic on v{output.get('request', {}).get('new_version')}")
    elif name in JUDGING_STATES:
        decision = output.get("last_decision")
        known = {(d.get("evaluated_at"), d.get("step_index")) for d in run.decisions}
        if decision and (decision.get("evaluated_at"), decision.get("step_index")) not in known:
            run.decisions.append(decision)
            progress("  " + decision_line(decision, steps))
        elif output.get("action") == "bake":
            progress(f"  {output.get('weight')} % baking: not enough time or invocations yet")
    elif name in ("Promote", "Rollback"):
        progress(f"  {name.lower()}: {output.get('outcome')} ({output.get('reason') or 'all steps passed'})")


def _conclude(run: ReleaseRun, description: dict[str, Any], events: list[dict[str, Any]]) -> None:
    error, cause = description.get("error"), description.get("cause")
    if run.status == "SUCCEEDED":
        run.outcome, run.reason = "promoted", "every step passed"
        return
    if run.status == "ABORTED":
        run.outcome, run.reason = "aborted", cause or error
        return
    if error == "ReleaseRolledBack":
        run.outcome = "rolled_back"
        try:
            run.reason = json.loads(cause or "{}").get("reason")
        except json.JSONDecodeError:
            run.reason = cause
    elif error == "ReleaseAborted":
        run.outcome, run.reason = "aborted", cause
    elif error == "ReleaseRefused":
        run.outcome, run.reason = "refused", cause
    else:
        run.outcome, run.reason = "failed", f"{error}: {cause}"


def start(machine_arn: str, request: dict[str, Any]) -> str:
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine_arn, name=execution_name(request),
                                    input=json.dumps(request))
    return str(execution["executionArn"])


def pending_token(execution_arn: str) -> tuple[str, str]:
    """The task token of the human decision the release waits for: (state name, token).

    Read from the execution's history (the task's input), so nothing but Step Functions holds it.
    """
    sfn = boto3.client("stepfunctions")
    try:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        raise UsageError(f"--execution {execution_arn}: no such execution") from None
    if status != "RUNNING":
        raise UsageError(f"--execution {execution_arn}: the release is {status}, nothing waits for an answer")
    events = execution_history(sfn, execution_arn)
    latest: tuple[int, str, str] | None = None  # (event id, state, token) of the newest token task
    entered = ""
    for event in events:
        if event["type"] == "TaskStateEntered":
            entered = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and entered in ("AwaitApproval", "AwaitOperator"):
            parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
            token = (parameters.get("Payload") or {}).get("token")
            if token:
                latest = (event["id"], entered, token)
    if latest is not None:
        event_id, state, token = latest
        answered = any(e["id"] > event_id and (
            (e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == state)
            or e["type"] in ("ParallelStateExited", "ParallelStateFailed")) for e in events)
        if not answered:
            return state, token
    raise UsageError(f"--execution {execution_arn}: the release is running but not waiting for a human")
