"""Composition root of vulnerability management: settings + AWS adapters -> the runs of each function."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.stores import SnsNotifier
from churnguard_ops.vulns import report, report_markdown, report_sarif
from churnguard_ops.vulns.adapters import S3ExceptionsFile, S3ReportSink
from churnguard_ops.vulns.adapters_build import S3BuildReports
from churnguard_ops.vulns.adapters_inspector import InspectorSource
from churnguard_ops.vulns.adapters_ledger import DynamoLedger
from churnguard_ops.vulns.model import Finding, ScanResult
from churnguard_ops.vulns.normalize import inspector
from churnguard_ops.vulns.runs import Renderer, ReportRun, VulnRuns
from churnguard_ops.vulns.settings import VulnsSettings

#: The report's formats: JSON (machines), Markdown (people), SARIF 2.1.0 (code scanning tools).
RENDERERS: tuple[Renderer, ...] = (
    ("report.json", "application/json", report.to_json),
    ("report.md", "text/markdown; charset=utf-8", report_markdown.render),
    ("report.sarif", "application/sarif+json", report_sarif.render),
)


def settings() -> VulnsSettings:
    return VulnsSettings()  # the table and bucket come from the environment (VULNS_LEDGER_TABLE, VULNS_BUCKET)


def normalizer(config: VulnsSettings) -> Any:
    """One Inspector finding (ListFindings' or the event's shape) -> its normalized findings."""
    return functools.partial(inspector.normalize_finding, layer_resources=config.layer_resources)


def normalize_event_finding(detail: Mapping[str, Any], config: VulnsSettings | None = None) -> list[Finding]:
    """What ``on_finding`` normalizes before any AWS call (a bad detail is refused first)."""
    result: list[Finding] = normalizer(config or settings())(detail)
    return result


def runs(config: VulnsSettings | None = None) -> VulnRuns:
    config = config or settings()
    region = aws.default_region()
    exceptions = S3ExceptionsFile(config.bucket, config.exceptions_key, region)
    source = InspectorSource(normalizer(config), function_prefix=config.function_prefix, region=region,
                             overlap=timedelta(seconds=config.overlap_seconds), page_size=config.page_size)
    return VulnRuns(DynamoLedger(config.ledger_table, region), policy=config.sla_policy(), exceptions=exceptions.load,
                    clock=utcnow, inspector=source)


def build_report(bucket: str, key: str, source: str) -> ScanResult:
    """A build report object -> its scan (bucket and key from the S3 event)."""
    return S3BuildReports(aws.default_region()).load(bucket, key, source=source)


def weekly_report(config: VulnsSettings | None = None) -> ReportRun:
    from churnguard_ops.vulns.runs import report as run_report

    config = config or settings()
    region = aws.default_region()
    return run_report(runs(config), S3ReportSink(config.bucket, config.kms_key_arn, region), RENDERERS,
                      SnsNotifier(config.topic_arn, region) if config.topic_arn else None,
                      expiring_days=config.expiring_within_days)
