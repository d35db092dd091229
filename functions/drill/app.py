"""Restore-drill task handlers, one Lambda each, called by the restore-drill state machine.

Each handler parses the execution state, runs one workflow step, and returns its part of the
state (Step Functions stores it at the task's ResultPath). Exceptions propagate: their class name
is the Step Functions error that Catch routes to Cleanup. Plan, Cleanup and Report also get the
execution ({"execution": ..., "drill": <state>}): the drill id is the execution's, never the input's.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.drill.model import DrillState, ExecutionTask, LenientExecutionTask, PollRequest

logger = Logger()
metrics = Metrics()


def _state(event: dict[str, Any]) -> DrillState:
    return parse(event=event, model=DrillState)


@ops_handler(logger, metrics)
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    task = parse(event=event, model=ExecutionTask)
    result = wiring.workflow().plan(task.drill, task.execution)
    logger.info("drill planned", extra={"drill_id": result.drill_id,
                                        "recovery_point": result.recovery_point.model_dump(mode="json")})
    return result.model_dump(mode="json")


@ops_handler(logger, metrics)
def poll(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    return wiring.workflow().poll(parse(event=event, model=PollRequest)).model_dump(mode="json")


@ops_handler(logger, metrics)
def restore(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    result = wiring.workflow().restore(_state(event))
    logger.info("restore requested", extra={"instance_id": result.instance_id})
    return result.model_dump(mode="json")


@ops_handler(logger, metrics)
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    result = wiring.validator().validate(_state(event))
    failed = [c["name"] for c in result["checks"] if c["status"] in ("failed", "error")]
    logger.info("validated", extra={"data_integrity": result["data_integrity"], "failed": failed})
    return result


@ops_handler(logger, metrics)
def measure(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    return wiring.validator().measure(_state(event))


@ops_handler(logger, metrics)
def prove_indexes(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The advisor's index proposals proven on the copy; advisory, so its errors are in its result."""
    from churnguard_ops.drill import wiring

    # Leave time to report: a proposal is not started when the invocation's time is nearly gone.
    result = wiring.validator().prove_indexes(_state(event),
                                              time_left=lambda: context.get_remaining_time_in_millis() / 1000.0)
    logger.info("index proof", extra={"status": result["status"], "outcome": result["message"]})
    return result


@ops_handler(logger, metrics)
def cleanup(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    # Cleanup must run even when the execution input itself was invalid (every step before it failed on it).
    result = wiring.workflow().cleanup(LenientExecutionTask.parse(event).execution)
    logger.info("cleaned up", extra=result)
    return result


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring
    from churnguard_ops.drill.report import build_report

    task = LenientExecutionTask.parse(event)
    state = task.own()  # a plan that came in with the input is another drill's: not reported as this one
    config = wiring.settings()
    document = build_report(state, config, datetime.now(timezone.utc),
                            drill_id=task.execution.drill_id if task.execution else None,
                            execution_arn=task.execution.id if task.execution else None,
                            timing=wiring.restore_timer().timing(state))
    result = wiring.reporter(config).publish(document)
    logger.info(result["summary"])
    return result


@ops_handler(logger, metrics)
def sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled: delete expired drill instances and snapshots. Fails if any could not be deleted."""
    from churnguard_ops.drill import wiring

    result = wiring.workflow().sweep()
    logger.info("sweep finished", extra=result)
    if result["errors"]:
        raise RuntimeError(f"sweeper could not delete {len(result['errors'])} resource(s): {result['errors']}")
    return result


@ops_handler(logger, metrics)
def freshness(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled: emit SecondsSinceLastSuccessfulDrill per drill source (the no-success alarm's metric)."""
    from churnguard_ops.drill import wiring

    result = wiring.freshness().emit()
    logger.info("drill freshness", extra=result)
    return result
