"""Canary release handlers, called by the release state machine and by EventBridge.

``release``: one task of the release workflow ({"task": name, "state": <release state>}); returns the
whole state with ``action`` set to what the state machine does next. A release moves a Lambda alias's
weights or, with ``"kind": "feature_flag"``, a flag's rollout percentage in one AppConfig environment.
Exceptions propagate: their class name is the Step Functions error the state machine catches (a failure
anywhere rolls back).
``await_decision``: the release waits for a human (approval, or a hold): notify, and let the task
token wait. ``abort``: a CloudWatch alarm went to ALARM (roll back every release it gates at once), the alarm
router asked to abort a function's release (``{"abort_release": {"function_name", "reason"}}``; a flag's:
``{"abort_release": {"flag": {"environment", "key"}, "reason"}}``), or a release's execution ended while
holding its target (stopped by hand, timed out): roll that one back.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.canary.events import (
    AbortRelease,
    AlarmStateChange,
    DecisionRequest,
    ReleaseTask,
    abort_trigger,
)
from churnguard_ops.core.observability import ops_handler

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def release(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(event=event, model=ReleaseTask)
    from churnguard_ops.canary import wiring

    result = wiring.workflow().task(task.task, task.payload())
    if result.get("outcome") in ("rolled_back", "aborted"):
        from churnguard_ops.canary.reporting import failure_summary

        result["summary"] = failure_summary(result)  # the failed execution's Cause: why, and on what evidence
    logger.info(f"canary {task.task}: next {result.get('action')}",
                extra={"release_id": result.get("release_id"), "weight": result.get("weight"),
                       "last_decision": result.get("last_decision")})
    _count(result)
    return result


@ops_handler(logger, metrics)
def await_decision(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=DecisionRequest)
    from churnguard_ops.canary import wiring

    wiring.decision_requests().announce(request)
    return {"waiting_for": request.kind}


@ops_handler(logger, metrics)
def abort(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A gating alarm went to ALARM, or a release's execution ended: roll back what is still shifted."""
    trigger = abort_trigger(event)  # pydantic: a malformed event is refused naming the field
    from churnguard_ops.canary import wiring

    flow = wiring.workflow()
    if isinstance(trigger, AbortRelease):
        result = flow.abort_function(trigger.abort_release)
    elif isinstance(trigger, AlarmStateChange):
        result = flow.abort(trigger)
    else:
        result = flow.execution_ended(trigger)
    if result["aborted"]:
        logger.warning(f"rolled back {len(result['aborted'])} release(s)", extra={"aborted": result["aborted"]})
        metrics.add_metric(name="ReleasesRolledBack", unit="Count", value=len(result["aborted"]))
    return result


def _count(result: dict[str, Any]) -> None:
    """Releases started / promoted / rolled back, and how long each took to a decision (EMF)."""
    from churnguard_ops.canary.reporting import release_metrics

    for name, unit, value in release_metrics(result):
        metrics.add_metric(name=name, unit=unit, value=value)
