"""Alarm router handler: EventBridge delivers every CloudWatch alarm state change here (async, DLQ).

Parse the event, route it (first matching route; each action once per event id), log and count each
action's outcome, and raise when an action failed so Lambda retries the event (completed actions are
replayed from the idempotency table, only failed ones run again) and it ends in the DLQ if one still fails.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.alarms.events import AlarmStateChangeEvent
from churnguard_ops.core.observability import ops_handler

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def route(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(event=event, model=AlarmStateChangeEvent).change()
    from churnguard_ops.alarms import wiring
    from churnguard_ops.alarms.service import ActionsFailed

    result = wiring.router(context).route(change)
    for outcome in result.outcomes:
        log = logger.info if outcome.ok else logger.error
        log(f"{outcome.action}: {outcome.detail}", extra={"alarm": change.name, "state": change.state,
                                                          "route": result.route, "ok": outcome.ok,
                                                          "replayed": outcome.replayed, "event_id": change.event_id})
    if result.failed:
        raise ActionsFailed(f"{len(result.failed)} action(s) failed for {change.name} ({change.state}): "
                            + "; ".join(f"{o.action}: {o.detail}" for o in result.failed))
    return result.model_dump(mode="json")
