"""Powertools wiring shared by every handler: logging, metrics (EMF) and X-Ray tracing.

``ops_handler`` applies Powertools' own decorators. The Tracer is built on the first invocation
rather than at import, because importing the X-Ray SDK costs more than importing boto3 itself;
this keeps module import (and test collection, and ``opsctl invoke``) fast.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

Handler = Callable[[dict, Any], Any]


def ops_handler(logger: Logger, metrics: Metrics) -> Callable[[Handler], Handler]:
    def decorate(func: Handler) -> Handler:
        @functools.cache
        def instrumented() -> Handler:
            from aws_lambda_powertools import Tracer

            tracer = Tracer()
            return logger.inject_lambda_context(log_event=False)(
                tracer.capture_lambda_handler(metrics.log_metrics(func)))

        @functools.wraps(func)
        def handler(event: dict, context: Any) -> Any:
            return instrumented()(event, context)

        return handler

    return decorate
