"""Incidents handler: the router's ``alarm_state_change`` and ``record_actions``, the operators' ``list``,
``show``, ``ack``, ``note`` and ``resolve``, and ``sweep`` (its schedule's "Scheduled Event" means sweep).

A command the function cannot act on (bad shape, unknown incident, ack of a resolved one) is answered with
``{"error": "..."}``; a failure of AWS raises, so the caller sees the function error.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.incidents.events import BadCommand, parse_command

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        command = parse_command(event)
    except BadCommand as exc:
        logger.warning(f"refused: {exc}")
        return {"error": str(exc)}
    from churnguard_ops.incidents import wiring
    from churnguard_ops.incidents.service import InvalidTransition, UnknownIncident, execute

    try:
        result = execute(wiring.service(), command)
    except (UnknownIncident, InvalidTransition) as exc:
        logger.warning(f"{command.command}: {exc}")
        return {"error": str(exc)}
    # The answer's headline only: a list or a timeline can be long, and the function returns it anyway.
    logger.info(f"{command.command} done", extra={"result": {k: v for k, v in result.items()
                                                             if k not in ("incidents", "incident", "timeline")}})
    return result
