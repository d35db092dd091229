"""Restore-drill task handlers, one Lambda each, called by the restore-drill state machine.

Each handler parses the execution state, runs one workflow step, and returns its part of the
state (Step Functions stores it at the task's ResultPath). Exceptions propagate: their class name
is the Step Functions error that Catch routes to Cleanup.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.drill.model import DrillState, PollRequest

logger = Logger()
metrics = Metrics()


def _state(event: dict[str, Any]) -> DrillState:
    return parse(event=event, model=DrillState)


def _state_or_invalid_input(event: dict[str, Any]) -> DrillState:
    """Cleanup and Report must run even when the execution input itself was invalid (every step
    before them failed on it): they then see a state with only the error."""
    try:
        return _state(event)
    except ValidationError as exc:
        cause = json.dumps({"errorMessage": f"invalid drill input: {exc}"})
        return DrillState(error={"Error": "InvalidInput", "Cause": cause})


@ops_handler(logger, metrics)
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    result = wiring.workflow().plan(_state(event))
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
def cleanup(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring

    result = wiring.workflow().cleanup(_state_or_invalid_input(event))
    logger.info("cleaned up", extra=result)
    return result


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.drill import wiring
    from churnguard_ops.drill.report import build_report

    config = wiring.settings()
    document = build_report(_state_or_invalid_input(event), config, datetime.now(timezone.utc))
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
