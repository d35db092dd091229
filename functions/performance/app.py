"""Performance handlers: ``check`` (every 5 minutes: graded, deduplicated alerts) and ``report`` (daily, or on
demand with ``{"hours": N, "end": "<ISO time>"}``). Each returns its headline."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.performance.events import CheckRequest, ReportRequest

logger = Logger()
metrics = Metrics()


@ops_handler(logger, metrics)
def check(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=CheckRequest)
    from churnguard_ops.performance import wiring

    result = wiring.monitor().check()
    headline = result.headline()
    for alert in result.alerts:
        logger.warning(alert.line(), extra={"alert": alert.detail()})
    logger.info(f"performance check: {len(result.readings)} of {result.series} series with data, "
                f"{len(headline['breaching'])} breaching, {len(result.alerts)} alert(s)", extra={"check": headline})
    metrics.add_metric(name="PerformanceBreaching", unit="Count", value=len(headline["breaching"]))
    metrics.add_metric(name="PerformanceAlerts", unit="Count", value=len(result.alerts))
    return headline


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ReportRequest)
    from churnguard_ops.performance import wiring

    run = wiring.generate_performance_report(hours=request.hours, end=request.end)
    headline = run.headline()
    logger.info(f"performance report {headline['hours']} h: {len(headline['breaching'])} series over threshold, "
                f"{headline['recommendations']} recommendation(s)", extra={"report": headline})
    metrics.add_metric(name="PerformanceViolations", unit="Count", value=headline["violations"])
    return headline
