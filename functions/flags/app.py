"""Flags evaluate handler: which value each flag has for a context, and why.

Event: ``{"flags": ["new_dashboard_ui"], "context": {"user_id": "u-42", "subscription_tier": "free"}}``
(``flags`` absent: every flag). Answer: ``{"evaluations": [{"flag", "value", "reason", "variant", "bucket",
"threshold", "version", "stale"}]}``. A flag the store cannot answer for gets ``null`` with reason
``store_error``.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.flags.events import EvaluateRequest

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def evaluate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = EvaluateRequest.parse_event(event)
    from churnguard_ops.flags import wiring

    client = wiring.client()
    if request.flags is None:
        results = client.evaluate_all(request.context)
    else:
        results = [client.evaluate(key, request.context, None) for key in request.flags]
    # the context may identify a user: log only what was decided
    logger.info("flags evaluated", extra={"decisions": {r.flag: [r.reason, r.variant] for r in results}})
    return {"evaluations": [result.to_dict() for result in results]}
