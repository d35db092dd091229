"""Security analysis handlers.

``analyze``: an SQS batch of EventBridge events (application security events, CloudTrail records).
Each record is processed on its own (Powertools batch processing): a malformed one is quarantined in the
dead-letter queue with its reason, a failing one is reported in ``batchItemFailures`` and redelivered,
and the rest of the batch proceeds. ``remediate``: a brute-force alert from EventBridge (block the IP
for a TTL, dry-run by default), or the hourly ``{"action": "sweep"}``. ``report``: the weekly
per-organization reports (``{"action": "report"}``, optionally with ``"week_start"``).
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core.observability import ops_handler
from churnguard_ops.security.events import AlertEvent, ReportRequest, SweepTick

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@ops_handler(logger, metrics)
def analyze(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.security import wiring

    analyzer = wiring.analyzer()

    def handle(record: SQSRecord) -> None:
        analyzer.record(record.body, record.message_id)

    response = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    stats = analyzer.take_stats()
    for name, value in (("SecurityRecords", stats.records), ("SecurityEvents", stats.events),
                        ("SecurityAlerts", stats.published), ("SecurityRecordsQuarantined", stats.quarantined),
                        ("SecurityRecordsFailed", len(response.get("batchItemFailures", [])))):
        metrics.add_metric(name=name, unit="Count", value=value)
    if stats.quarantined:
        logger.warning(f"{stats.quarantined} malformed record(s) quarantined in the dead-letter queue")
    if stats.alerts:
        logger.info(f"{stats.alerts} alert(s)", extra={"by_detector": stats.alerts_by_detector})
    return response


@ops_handler(logger, metrics)
def remediate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from churnguard_ops.security import wiring

    remediation = wiring.remediation()
    if isinstance(event, dict) and event.get("action") == "sweep":
        parse(event=event, model=SweepTick)
        actions = remediation.sweep()
    else:
        actions = remediation.on_alert(parse(event=event, model=AlertEvent).detail)
    lines = [action.line() for action in actions]
    for line in lines:
        logger.info(f"remediation {line['action']} {line['ip']}: {line['reason']}", extra={"action": line})
    metrics.add_metric(name="SecurityRemediationActions", unit="Count", value=len(lines))
    return {"actions": lines}


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ReportRequest)
    from churnguard_ops.security import wiring

    run = wiring.weekly_reports().run(request.week_start)
    summary = run.line()
    metrics.add_metric(name="SecurityReportsWritten", unit="Count", value=summary["organizations"])
    logger.info(f"security reports for the week of {summary['week_start']}: {summary['organizations']} "
                "organization(s)", extra={"summary": summary})
    return summary
