"""Vulnerability management handlers: one ledger of findings from Inspector and the build-time scanners.

``poll``: the schedule (``{"action": "poll"}``): Inspector's findings of our functions updated since the
watermark, whatever their status (closed and suppressed ones too), and Inspector's coverage -> the ledger.
``on_finding``: an "Inspector2 Finding" EventBridge event -> the ledger at once. ``ingest_build``: a build
report uploaded under the build reports prefix (S3 "Object Created" on EventBridge) -> its normalizer -> the
ledger, as a complete scan of that source. ``report``: the weekly schedule (``{"action": "report"}``): the
ledger refreshed for the day -> JSON, Markdown and SARIF in S3, an SNS summary, and the metrics
``VulnOpenFindings`` (per severity) and ``VulnSlaBreaches``.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from churnguard_ops.core import contracts
from churnguard_ops.core.errors import InvalidEvent
from churnguard_ops.core.observability import ops_handler
from churnguard_ops.vulns.events import BuildReportCreated, InspectorFindingEvent, PollRequest, ReportRequest

logger = Logger()
metrics = Metrics()


def _log(what: str, result: Any) -> dict[str, Any]:
    line: dict[str, Any] = result.model_dump(mode="json")
    logger.info(f"{what}: {line['findings']} finding(s), {line['created']} new, transitions {line['transitions']}",
                extra={"result": line})
    if line.get("exception_problems"):
        logger.warning(f"vulnerability exceptions file: {len(line['exception_problems'])} problem(s)",
                       extra={"problems": line["exception_problems"]})
    return line


@ops_handler(logger, metrics)
def poll(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=PollRequest)
    from churnguard_ops.vulns import wiring

    result = wiring.runs().poll()
    for gap in result.not_checked:
        logger.warning(f"not scanned by Inspector: {gap.resource}: {gap.reason}")
    metrics.add_metric(name=contracts.VULNS_METRIC_NOT_SCANNED, unit=MetricUnit.Count,
                       value=len({g.resource for g in result.not_checked}))
    return _log("inspector poll", result)


@ops_handler(logger, metrics)
def on_finding(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse(event=event, model=InspectorFindingEvent)
    from churnguard_ops.vulns import wiring
    from churnguard_ops.vulns.normalize.common import ReportFormatError

    try:  # before any AWS call: a detail the ledger cannot use is refused, naming it
        findings = wiring.normalize_event_finding(parsed.detail.model_dump(exclude_none=True))
    except (ReportFormatError, ValueError) as exc:  # ValueError: pydantic's, a value out of the model's range
        raise InvalidEvent(f"detail: {exc}") from None
    logger.info(f"Inspector finding {parsed.detail.findingArn}: {parsed.detail.status}")
    return _log("inspector event", wiring.runs().on_finding(findings, arn=parsed.detail.findingArn))


@ops_handler(logger, metrics)
def ingest_build(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse(event=event, model=BuildReportCreated)
    from churnguard_ops.vulns import wiring
    from churnguard_ops.vulns.normalize.common import ReportFormatError

    config = wiring.settings()
    if parsed.bucket != config.bucket:
        raise InvalidEvent(f"detail.bucket.name: {parsed.bucket!r} is not the ops bucket {config.bucket!r}")
    try:
        scan = wiring.build_report(parsed.bucket, parsed.key, parsed.report_source)
    except ReportFormatError as exc:  # the object is not a build report: retrying will not help
        raise InvalidEvent(f"detail.object.key: s3://{parsed.bucket}/{parsed.key}: {exc}") from None
    return _log(f"{parsed.report_source} build report {parsed.run_id}", wiring.runs(config).apply(scan))


@ops_handler(logger, metrics)
def report(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=ReportRequest)
    from aws_lambda_powertools.metrics import single_metric

    from churnguard_ops.vulns import wiring

    run = wiring.weekly_report()
    for severity in ("critical", "high", "medium", "low", "informational", "unknown"):
        with single_metric(name=contracts.VULNS_METRIC_OPEN, unit=MetricUnit.Count,
                           value=run.open_by_severity.get(severity, 0)) as metric:
            metric.add_dimension(name="Severity", value=severity)
    metrics.add_metric(name=contracts.VULNS_METRIC_SLA_BREACHES, unit=MetricUnit.Count, value=run.sla_breaches)
    summary = run.model_dump(mode="json")
    logger.info(f"vulnerability report: {sum(run.open_by_severity.values())} open, {run.sla_breaches} past SLA",
                extra={"report": summary})
    return summary
